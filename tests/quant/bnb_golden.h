// The bitsandbytes golden files (tests/quant/golden): one quantize_4bit case's settings, and
// rai's dequantisation of the state bitsandbytes stored for it.
#pragma once
#include <string>
#include <vector>

#include "json.h"
#include "q4_format.h"
#include "q4_test_util.h"
#include "safetensors_file.h"

// The quantize_4bit cases make_bnb_golden.py writes (the same names in the CPU and CUDA files).
inline constexpr const char *kBnbQuantizeCases[] = {"nf4_b64_f32",   "fp4_b64_f32",     "nf4_b32_bf16",
                                                    "fp4_b128_f16",  "nf4_b4096_f32",   "nf4_b64_bf16_dq",
                                                    "fp4_b256_f32_dq"};

struct BnbCase {
    int64_t blocksize = 0, n = 0;
    int32_t type = RAI_Q4_NF4;
    bool double_quant = false;
};

// The case's settings from the file's __metadata__ entry `name` (written by make_bnb_golden.py).
inline BnbCase bnb_case(const File &g, const std::string &name) {
    const std::string js = g.meta(name);
    const rai::json::Value info = rai::json::parse(js.data(), js.size(), name);
    BnbCase c;
    EXPECT_TRUE(info.find("blocksize")->as_int64(c.blocksize));
    EXPECT_TRUE(info.find("n")->as_int64(c.n));
    c.type = info.find("quant_type")->text == "nf4" ? RAI_Q4_NF4 : RAI_Q4_FP4;
    c.double_quant = info.find("double_quant")->boolean;
    return c;
}

// rai_q4_dequantize of bitsandbytes' own state for case `name` (its codes, absmax and, with
// double quant, nested absmax, nested quant map and offset), in `dtype`; empty on failure.
inline std::vector<uint8_t> dequantize_bnb_state(rai_context *ctx, const File &g, const std::string &name,
                                                 const BnbCase &c, rai_dtype dtype) {
    rai_q4_state_params sp;
    rai_q4_state_params_init(&sp);
    sp.type = c.type;
    sp.blocksize = static_cast<int32_t>(c.blocksize);
    sp.ndim = 1;
    sp.shape[0] = c.n;
    sp.dtype = dtype;
    rai_tensor absmax = g.view(name + ".absmax");
    rai_tensor n2{}, nq{};
    if (c.double_quant) {
        n2 = g.view(name + ".nested_absmax");
        nq = g.view(name + ".nested_quant_map");
        sp.offset = g.values<float>(name + ".offset")[0];
    }
    Q4Run theirs;
    theirs.codes = g.values<uint8_t>(name + ".codes");
    EXPECT_EQ(rai_q4_state_create(ctx, &sp, &absmax, c.double_quant ? &n2 : nullptr, c.double_quant ? &nq : nullptr,
                                  &theirs.state),
              RAI_OK)
        << rai_last_error_message();
    if (theirs.state == nullptr) return {};
    std::vector<uint8_t> out(static_cast<size_t>(c.n) * rai::q4::elem_size(elem_of(dtype)));
    int64_t sn[1] = {c.n}, sc[1] = {static_cast<int64_t>(theirs.codes.size())};
    rai_tensor tout = make_tensor(out.data(), dtype, sn, 1), tcodes = make_tensor(theirs.codes.data(), kU8, sc, 1);
    if (rai_q4_dequantize(ctx, theirs.state, &tcodes, &tout) != RAI_OK) {
        ADD_FAILURE() << rai_last_error_message();
        return {};
    }
    return out;
}
