#include "dtype.h"

namespace rai::dtype {

namespace {
struct Entry {
    rai_dtype dtype;
    const char *name;
};
constexpr Entry kSupported[] = {
    {f32, "f32"}, {f16, "f16"}, {bf16, "bf16"}, {f64, "f64"}, {i8, "i8"},
    {u8, "u8"},   {i32, "i32"}, {i64, "i64"},   {u32, "u32"}, {u64, "u64"},
};
}  // namespace

const char *name(const rai_dtype &d) {
    for (const Entry &e : kSupported)
        if (equal(e.dtype, d)) return e.name;
    return nullptr;
}

std::string describe(const rai_dtype &d) {
    if (const char *n = name(d)) return n;
    return "unsupported dtype (code " + std::to_string(d.code) + ", bits " + std::to_string(d.bits) + ", lanes " +
           std::to_string(d.lanes) + ")";
}

std::size_t size(const rai_dtype &d) { return name(d) ? d.bits / 8u : 0u; }

}  // namespace rai::dtype
