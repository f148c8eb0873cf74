// Little-endian serialisation of training state into caller buffers, with a size-only mode (so
// a size query copies nothing from the device) and a bounds-checked reader. Blobs end with an
// FNV-1a 64 checksum of everything before it.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../core/error.h"
#include "ops.h"

namespace rai::train {

inline uint64_t fnv1a64(const uint8_t *p, std::size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

class Writer {
public:
    explicit Writer(bool count_only) : count_only_(count_only) {}

    std::size_t size() const { return size_; }
    std::vector<uint8_t> &bytes() { return buf_; }

    void raw(const void *p, std::size_t n) {
        size_ += n;
        if (!count_only_) {
            const auto *b = static_cast<const uint8_t *>(p);
            buf_.insert(buf_.end(), b, b + n);
        }
    }
    template <class T>
    void le(T v) {  // integers
        uint8_t b[sizeof(T)];
        for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
        raw(b, sizeof(T));
    }
    void u8(uint8_t v) { le<uint8_t>(v); }
    void u32(uint32_t v) { le<uint32_t>(v); }
    void i32(int32_t v) { le<uint32_t>(static_cast<uint32_t>(v)); }
    void u64(uint64_t v) { le<uint64_t>(v); }
    void f32(float v) {
        uint32_t u;
        std::memcpy(&u, &v, 4);
        u32(u);
    }
    void f64(double v) {
        uint64_t u;
        std::memcpy(&u, &v, 8);
        u64(u);
    }
    void str(const std::string &s) {
        u32(static_cast<uint32_t>(s.size()));
        raw(s.data(), s.size());
    }
    // n floats, as little-endian f32.
    void floats_host(const float *p, std::size_t n) {
        u64(n);
        if (count_only_) {
            size_ += n * 4;
            return;
        }
        for (std::size_t i = 0; i < n; ++i) f32(p[i]);
    }
    // A DevVec (copied to the host unless counting).
    void floats(Ops &ops, const float *p, std::size_t n) {
        if (count_only_) {
            u64(n);
            size_ += n * 4;
            return;
        }
        std::vector<float> h(n);
        if (n) ops.to_host(n, h.data(), p);
        floats_host(h.data(), n);
    }
    void finish() {  // appends the checksum
        if (count_only_) {
            size_ += 8;
            return;
        }
        u64(fnv1a64(buf_.data(), buf_.size()));
    }

private:
    bool count_only_;
    std::size_t size_ = 0;
    std::vector<uint8_t> buf_;
};

class Reader {
public:
    Reader(const void *p, std::size_t n, const char *what) : p_(static_cast<const uint8_t *>(p)), n_(n), what_(what) {}

    // Checks the trailing checksum and excludes it from what is read.
    void verify_checksum() {
        if (n_ < 8) fail("is truncated");
        uint64_t stored = 0;
        for (int i = 0; i < 8; ++i) stored |= static_cast<uint64_t>(p_[n_ - 8 + i]) << (8 * i);
        if (fnv1a64(p_, n_ - 8) != stored) fail("is corrupt (checksum mismatch)");
        n_ -= 8;
    }
    void raw(void *dst, std::size_t n) {
        if (n > n_ - pos_) fail("is truncated");
        std::memcpy(dst, p_ + pos_, n);
        pos_ += n;
    }
    template <class T>
    T le() {
        uint8_t b[sizeof(T)];
        raw(b, sizeof(T));
        uint64_t v = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<uint64_t>(b[i]) << (8 * i);
        return static_cast<T>(v);
    }
    uint8_t u8() { return le<uint8_t>(); }
    uint32_t u32() { return le<uint32_t>(); }
    int32_t i32() { return static_cast<int32_t>(le<uint32_t>()); }
    uint64_t u64() { return le<uint64_t>(); }
    float f32() {
        const uint32_t u = u32();
        float v;
        std::memcpy(&v, &u, 4);
        return v;
    }
    double f64() {
        const uint64_t u = u64();
        double v;
        std::memcpy(&v, &u, 8);
        return v;
    }
    std::string str() {
        const uint32_t n = u32();
        if (n > n_ - pos_) fail("is truncated");
        std::string s(reinterpret_cast<const char *>(p_ + pos_), n);
        pos_ += n;
        return s;
    }
    // Reads a float array whose length must be `expect`.
    std::vector<float> floats(std::size_t expect, const std::string &field) {
        const uint64_t n = u64();
        if (n != expect)
            fail("has " + std::to_string(n) + " values for " + field + ", expected " + std::to_string(expect),
                 RAI_ERROR_SHAPE_MISMATCH);
        if (n > (n_ - pos_) / 4) fail("is truncated");
        std::vector<float> v(n);
        for (std::size_t i = 0; i < n; ++i) v[i] = f32();
        return v;
    }
    void expect_end() {
        if (pos_ != n_) fail("has " + std::to_string(n_ - pos_) + " unexpected trailing bytes");
    }
    [[noreturn]] void fail(const std::string &msg, rai_status st = RAI_ERROR_FORMAT) const {
        throw Error(st, std::string(what_) + " " + msg);
    }

private:
    const uint8_t *p_;
    std::size_t n_;
    std::size_t pos_ = 0;
    const char *what_;
};

// Serialises with `serialize(Writer&)` into the caller's buffer: a counting pass first (so a
// too-small buffer costs no device copies), then the real one. *written gets the size either way.
template <class F>
void save_blob(F &&serialize, void *buffer, std::size_t capacity, std::size_t *written) {
    require_not_null(written, "written");
    Writer count(true);
    serialize(count);
    count.finish();
    *written = count.size();
    if (capacity < count.size())
        throw Error(RAI_ERROR_BUFFER_TOO_SMALL, "buffer: capacity " + std::to_string(capacity) +
                                                    " bytes, the state needs " + std::to_string(count.size()) +
                                                    " (returned in *written)");
    require_not_null(buffer, "buffer");
    Writer w(false);
    serialize(w);
    w.finish();
    if (w.size() != count.size()) throw Error(RAI_ERROR_INTERNAL, "state size changed between passes");
    std::memcpy(buffer, w.bytes().data(), w.size());
}

}  // namespace rai::train
