// rai's safetensors container for ternary (BitNet b1.58) weights, written by `rai quantize
// --format bitnet|i2_s` and read by `rai inspect` (documented in docs/cli.md). For a weight N:
//   N                             u8 packed trits: BYTE2 [out, ceil(in/4)] (tritter-accel) or
//                                 I2_S [out*in/4 + 32] (bitnet.cpp x86, tensor scale inside)
//   N.scale                       f32 scales in the BitNet scale shape [1], [out] or [out, G]
//                                 (BYTE2 only: the I2_S bytes carry their scale)
//   N.quant_state.rai_ternary     u8 UTF-8 JSON, following bitsandbytes' quant_state convention:
//                                 {"layout": "byte2", "shape": [out, in], "dtype": "bfloat16",
//                                  "granularity": "group", "group_size": 64}
#pragma once
#include <cstdint>
#include <string>

#include "rai.h"

constexpr const char *kTernaryStateSuffix = ".quant_state.rai_ternary";
constexpr const char *kTernaryScaleSuffix = ".scale";

struct TernaryState {
    std::string layout;       // "byte2" or "i2_s"
    int64_t out = 0, in = 0;  // the logical weight shape
    std::string dtype;        // torch name of the original dtype: float32, float16, bfloat16
    std::string granularity;  // "tensor", "row" or "group"
    uint64_t group_size = 0;  // columns per scale (in for row and tensor)
};

std::string ternary_state_json(const TernaryState &state);
// Parses and checks a blob (known layout and granularity, positive shape, group size dividing in).
bool parse_ternary_state(const std::string &json, TernaryState *out, std::string *why);
// RAI_TERNARY_LAYOUT_BYTE2 / _I2_S for "byte2" / "i2_s", else 0.
int32_t ternary_layout_id(const std::string &layout);
// torch's dtype name ("float32", "float16", "bfloat16") as bitsandbytes' quant_state writes it.
std::string torch_dtype_name(const rai_dtype &dtype);
// rai_bitnet_granularity -> "group" / "row" / "tensor".
const char *granularity_name(int32_t granularity);
