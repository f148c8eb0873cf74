// Format name and options -> the output that implements it, with the option checks that do
// not depend on any tensor (so a bad command line fails before any work is done).
#include "quantize_output.h"

const char *const kQuantizeFormats = "nf4|fp4|nf4-dq|tq2_0|tq1_0|i2_s|bitnet";

std::unique_ptr<QuantizeOutput> make_quantize_output(const QuantizeOptions &o, std::string *why) {
    const std::string &f = o.format;
    const bool q4 = f == "nf4" || f == "fp4" || f == "nf4-dq";
    const bool tq = f == "tq1_0" || f == "tq2_0";
    if (!q4 && !tq && f != "i2_s" && f != "bitnet") {
        *why = "unknown --format '" + f + "' (expected one of " + kQuantizeFormats + ")";
        return nullptr;
    }
    if (q4) {
        if (o.granularity >= 0 || o.group_size != 0) {
            *why = "--granularity and --group-size apply to the ternary formats (tq2_0, tq1_0, i2_s, bitnet)";
            return nullptr;
        }
        const int32_t b = o.blocksize;
        if (b != 0 && (b < 32 || b > 4096 || (b & (b - 1)) != 0)) {
            *why = "--blocksize must be a power of two from 32 to 4096, got " + std::to_string(b);
            return nullptr;
        }
        return make_q4_output(f == "fp4" ? RAI_Q4_FP4 : RAI_Q4_NF4, f == "nf4-dq", b);
    }
    if (o.blocksize != 0) {
        *why = "--blocksize applies to the 4-bit formats (nf4, fp4, nf4-dq)";
        return nullptr;
    }
    rai_bitnet_weight_params p;
    rai_bitnet_weight_params_init(&p);
    // Defaults: bitnet-quantize's groups of 64; the largest scale resolution TQ1_0 / TQ2_0 hold
    // (one per 256 columns); I2_S holds a single tensor scale.
    const int32_t fallback = f == "i2_s" ? RAI_BITNET_GRANULARITY_TENSOR : RAI_BITNET_GRANULARITY_GROUP;
    p.granularity = o.granularity >= 0 ? o.granularity : fallback;
    if (o.group_size != 0 && p.granularity != RAI_BITNET_GRANULARITY_GROUP) {
        *why = "--group-size needs --granularity group";
        return nullptr;
    }
    p.group_size = o.group_size != 0 ? o.group_size : tq ? 256 : 64;
    if (f == "i2_s" && p.granularity != RAI_BITNET_GRANULARITY_TENSOR) {
        *why = "i2_s holds one scale per tensor: --granularity must be tensor";
        return nullptr;
    }
    if (tq) {
        if (p.granularity == RAI_BITNET_GRANULARITY_GROUP && p.group_size % 256 != 0) {
            *why = f + " holds one scale per 256-column block: --group-size must be a multiple of 256, got " +
                   std::to_string(p.group_size);
            return nullptr;
        }
        return make_gguf_output(f == "tq1_0" ? RAI_GGML_TYPE_TQ1_0 : RAI_GGML_TYPE_TQ2_0, p);
    }
    return make_ternary_safetensors_output(f == "i2_s" ? RAI_TERNARY_LAYOUT_I2_S : RAI_TERNARY_LAYOUT_BYTE2, p);
}
