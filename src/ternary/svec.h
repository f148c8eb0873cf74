// rai_svec: a sparse trit vector in COO form, two sorted lists of the indices holding +1 and -1.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rai.h"
#include "tvec.h"

struct rai_svec {
    std::size_t dim = 0;
    std::vector<uint64_t> pos;  // sorted, unique, < dim
    std::vector<uint64_t> neg;  // sorted, unique, < dim, disjoint from pos
};

namespace rai::ternary {

rai_svec *svec_create(std::size_t dim);
// Sorts copies of the lists; OUT_OF_RANGE for an index >= dim, INVALID_ARGUMENT for a duplicate
// within a list or an index in both lists. s is unchanged on error.
void svec_import(rai_svec &s, const uint64_t *pos, std::size_t npos, const uint64_t *neg, std::size_t nneg);
int8_t svec_get(const rai_svec &s, std::size_t index);
void svec_set(rai_svec &s, std::size_t index, int8_t value);
// Bytes used: the struct plus 8 bytes per index of capacity (as trit-vsa counts it).
std::size_t svec_memory_bytes(const rai_svec &s);
void svec_from_tvec(const rai_tvec &v, rai_svec &out);
void svec_to_tvec(const rai_svec &s, rai_tvec &out);
int64_t svec_dot(const rai_svec &a, const rai_svec &b);
int64_t svec_dot_tvec(const rai_svec &a, const rai_tvec &b);
float svec_cosine(const rai_svec &a, const rai_svec &b);
float svec_cosine_tvec(const rai_svec &a, const rai_tvec &b);

}  // namespace rai::ternary
