#include "svec.h"

#include <algorithm>
#include <memory>
#include <string>

#include "error.h"
#include "scalar.h"
#include "similarity.h"
#include "error.h"

namespace rai::ternary {

rai_svec *svec_create(std::size_t dim) {
    auto s = std::make_unique<rai_svec>();
    s->dim = dim;
    return s.release();
}

namespace {
std::vector<uint64_t> sorted_list(const uint64_t *idx, std::size_t n, std::size_t dim, const char *name) {
    if (n != 0) require_not_null(idx, name);
    std::vector<uint64_t> v(idx, idx + n);
    for (std::size_t i = 0; i < n; ++i)
        RAI_CHECK(v[i] < dim, RAI_ERROR_OUT_OF_RANGE,
                std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(v[i]) +
                    " is out of range for dimension " + std::to_string(dim));
    std::sort(v.begin(), v.end());
    const auto dup = std::adjacent_find(v.begin(), v.end());
    RAI_CHECK(dup == v.end(), RAI_ERROR_INVALID_ARGUMENT,
            dup == v.end() ? std::string() : std::string(name) + ": index " + std::to_string(*dup) + " appears twice");
    return v;
}

// Size of the intersection of two sorted lists.
std::size_t intersect(const std::vector<uint64_t> &a, const std::vector<uint64_t> &b) {
    std::size_t i = 0, j = 0, n = 0;
    while (i < a.size() && j < b.size()) {
        if (a[i] < b[j]) ++i;
        else if (b[j] < a[i]) ++j;
        else {
            ++n;
            ++i;
            ++j;
        }
    }
    return n;
}

void erase_sorted(std::vector<uint64_t> &v, uint64_t x) {
    const auto it = std::lower_bound(v.begin(), v.end(), x);
    if (it != v.end() && *it == x) v.erase(it);
}

void insert_sorted(std::vector<uint64_t> &v, uint64_t x) {
    const auto it = std::lower_bound(v.begin(), v.end(), x);
    if (it == v.end() || *it != x) v.insert(it, x);
}

bool contains(const std::vector<uint64_t> &v, uint64_t x) { return std::binary_search(v.begin(), v.end(), x); }
}  // namespace

void svec_import(rai_svec &s, const uint64_t *pos, std::size_t npos, const uint64_t *neg, std::size_t nneg) {
    std::vector<uint64_t> p = sorted_list(pos, npos, s.dim, "positive");
    std::vector<uint64_t> n = sorted_list(neg, nneg, s.dim, "negative");
    std::size_t i = 0, j = 0;
    while (i < p.size() && j < n.size()) {
        RAI_CHECK(p[i] != n[j], RAI_ERROR_INVALID_ARGUMENT,
                "index " + std::to_string(p[i]) + " is in both the positive and the negative list");
        if (p[i] < n[j]) ++i;
        else ++j;
    }
    s.pos = std::move(p);
    s.neg = std::move(n);
}

int8_t svec_get(const rai_svec &s, std::size_t index) {
    check_index(index, s.dim, "index");
    return static_cast<int8_t>(contains(s.pos, index) - contains(s.neg, index));
}

void svec_set(rai_svec &s, std::size_t index, int8_t value) {
    check_index(index, s.dim, "index");
    check_trit(value, "value");
    // Reserve first so that nothing changes if the insertion would fail for lack of memory.
    s.pos.reserve(s.pos.size() + 1);
    s.neg.reserve(s.neg.size() + 1);
    erase_sorted(s.pos, index);
    erase_sorted(s.neg, index);
    if (value == 1) insert_sorted(s.pos, index);
    if (value == -1) insert_sorted(s.neg, index);
}

std::size_t svec_memory_bytes(const rai_svec &s) {
    return sizeof(rai_svec) + 8 * (s.pos.capacity() + s.neg.capacity());
}

void svec_from_tvec(const rai_tvec &v, rai_svec &out) {
    std::vector<uint64_t> p, n;
    p.reserve(tvec_count_positive(v));
    n.reserve(tvec_count_negative(v));
    for (std::size_t w = 0; w < words_for(v.dim); ++w) {
        for (u64 x = v.plus()[w]; x != 0; x &= x - 1) p.push_back(w * 64 + static_cast<unsigned>(__builtin_ctzll(x)));
        for (u64 x = v.minus()[w]; x != 0; x &= x - 1) n.push_back(w * 64 + static_cast<unsigned>(__builtin_ctzll(x)));
    }
    out.pos = std::move(p);
    out.neg = std::move(n);
}

void svec_to_tvec(const rai_svec &s, rai_tvec &out) {
    std::fill(out.words.data(), out.words.data() + 2 * out.wpad, u64{0});
    for (uint64_t i : s.pos) out.plus()[i / 64] |= u64{1} << (i % 64);
    for (uint64_t i : s.neg) out.minus()[i / 64] |= u64{1} << (i % 64);
}

int64_t svec_dot(const rai_svec &a, const rai_svec &b) {
    return static_cast<int64_t>(intersect(a.pos, b.pos) + intersect(a.neg, b.neg)) -
           static_cast<int64_t>(intersect(a.pos, b.neg) + intersect(a.neg, b.pos));
}

int64_t svec_dot_tvec(const rai_svec &a, const rai_tvec &b) {
    auto at = [&](uint64_t i) {
        const u64 bit = u64{1} << (i % 64);
        return static_cast<int64_t>((b.plus()[i / 64] & bit) != 0) - static_cast<int64_t>((b.minus()[i / 64] & bit) != 0);
    };
    int64_t d = 0;
    for (uint64_t i : a.pos) d += at(i);
    for (uint64_t i : a.neg) d -= at(i);
    return d;
}

float svec_cosine(const rai_svec &a, const rai_svec &b) {
    return cosine_from(svec_dot(a, b), a.pos.size() + a.neg.size(), b.pos.size() + b.neg.size());
}

float svec_cosine_tvec(const rai_svec &a, const rai_tvec &b) {
    return cosine_from(svec_dot_tvec(a, b), a.pos.size() + a.neg.size(),
                       tvec_count_positive(b) + tvec_count_negative(b));
}

}  // namespace rai::ternary
