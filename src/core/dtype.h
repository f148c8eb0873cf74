// Dtype helpers: the supported set, sizes and names.
#pragma once
#include <cstddef>
#include <string>

#include "rai.h"

namespace rai::dtype {

constexpr rai_dtype make(uint8_t code, uint8_t bits) { return rai_dtype{code, bits, 1}; }
constexpr rai_dtype f32 = make(RAI_DTYPE_FLOAT, 32);
constexpr rai_dtype f16 = make(RAI_DTYPE_FLOAT, 16);
constexpr rai_dtype bf16 = make(RAI_DTYPE_BFLOAT, 16);
constexpr rai_dtype f64 = make(RAI_DTYPE_FLOAT, 64);
constexpr rai_dtype i8 = make(RAI_DTYPE_INT, 8);
constexpr rai_dtype u8 = make(RAI_DTYPE_UINT, 8);
constexpr rai_dtype i32 = make(RAI_DTYPE_INT, 32);
constexpr rai_dtype i64 = make(RAI_DTYPE_INT, 64);
constexpr rai_dtype u32 = make(RAI_DTYPE_UINT, 32);
constexpr rai_dtype u64 = make(RAI_DTYPE_UINT, 64);

inline bool equal(const rai_dtype &a, const rai_dtype &b) {
    return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}
// Static name of a supported dtype, or nullptr.
const char *name(const rai_dtype &d);
// Name for messages, also for unsupported dtypes ("code 7 bits 3 lanes 1").
std::string describe(const rai_dtype &d);
// Bytes per element; 0 for an unsupported dtype.
std::size_t size(const rai_dtype &d);

}  // namespace rai::dtype
