// rai against files produced by bitsandbytes' CUDA kernels (tests/quant/golden/*_cuda.safetensors,
// made on an H100 by make_bnb_golden.py --device cuda; versions and GPU in the __metadata__).
//
// rai implements the CUDA rules: on the quantize_4bit fixtures rai's codes, absmax, nested 8-bit
// state and dequantised values equal bitsandbytes' bit for bit. The one float computed in a
// different order, the double-quant offset (a mean of the absmax), is compared within 2 ulp, and
// the nested state is checked with bitsandbytes' own offset. One difference remains by design
// (docs/quant.md): bitsandbytes' fast-math reciprocal of the absmax (codes_differing_by_reciprocal).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "json.h"
#include "q4_kernels.h"
#include "q4_state.h"
#include "q4_test_util.h"
#include "bnb_golden.h"
#include "safetensors_file.h"

#ifndef RAI_Q4_GOLDEN_DIR
#error "RAI_Q4_GOLDEN_DIR must be defined by the build"
#endif

namespace {

const std::string kDir = RAI_Q4_GOLDEN_DIR;

bool within_ulps(float a, float b, int ulps) {
    for (int i = 0; i < ulps; ++i) b = std::nextafterf(b, a);
    return a == b;
}

// bitsandbytes builds its CUDA kernels with --use_fast_math, so 1.0f / absmax is the hardware's
// approximate reciprocal (rcp.approx, within 1 ulp); rai uses the correctly rounded one. Codes can
// then differ where x·(1/absmax) falls within 1 ulp of a code threshold. Returns how many codes
// differ, after requiring that each one is bitsandbytes' code under a reciprocal 1 ulp away.
int64_t codes_differing_by_reciprocal(const rai_tensor &w, int64_t n, int32_t type, const std::vector<uint8_t> &mine,
                                      const uint8_t *theirs) {
    std::vector<float> x(static_cast<size_t>(n));
    rai::q4::to_f32(w.data, elem_of(w.dtype), n, x.data());
    int64_t diffs = 0;
    for (int64_t i = 0; i < n; ++i) {
        const int shift = (i & 1) ? 0 : 4;
        const uint8_t a = (mine[static_cast<size_t>(i / 2)] >> shift) & 15, b = (theirs[i / 2] >> shift) & 15;
        if (a == b) continue;
        float am = 0.0f;
        for (int64_t k = i / 64 * 64; k < std::min(n, i / 64 * 64 + 64); ++k) am = std::max(am, std::fabs(x[static_cast<size_t>(k)]));
        const float r = 1.0f / am;
        const bool explained = rai::q4::quantize_4bit(type, x[static_cast<size_t>(i)] * std::nextafterf(r, 0.0f)) == b ||
                               rai::q4::quantize_4bit(type, x[static_cast<size_t>(i)] * std::nextafterf(r, INFINITY)) == b;
        EXPECT_TRUE(explained) << "element " << i << ": rai " << int(a) << ", bitsandbytes " << int(b);
        EXPECT_EQ(a, rai::q4::quantize_4bit(type, x[static_cast<size_t>(i)] * r)) << "element " << i;
        ++diffs;
    }
    return diffs;
}

class GoldenCuda : public CpuContextTest {};

}  // namespace

TEST_F(GoldenCuda, QuantizeDequantizeMatchBitsandbytesCudaBitForBit) {
    File g(kDir + "/bnb_quantize_4bit_cuda.safetensors");
    ASSERT_NE(g.f, nullptr);
    EXPECT_EQ(g.meta("device"), "cuda");
    RecordProperty("bitsandbytes", g.meta("bitsandbytes"));
    RecordProperty("gpu", g.meta("gpu"));
    for (const char *c : kBnbQuantizeCases) {
        SCOPED_TRACE(c);
        const std::string name = c;
        const BnbCase bc = bnb_case(g, name);
        const int64_t bs = bc.blocksize, n = bc.n;
        const int32_t type = bc.type;
        const bool dq = bc.double_quant;
        rai_tensor in = g.view(name + ".input");
        ASSERT_EQ(in.shape[0], n);
        Q4Run plain, mine;
        ASSERT_RAI_OK(q4_quantize_host(ctx, in.data, in.dtype, {n}, type, static_cast<int32_t>(bs), 0, plain));
        ASSERT_RAI_OK(q4_quantize_host(ctx, in.data, in.dtype, {n}, type, static_cast<int32_t>(bs), dq ? 1 : 0, mine));
        // Codes: every byte.
        const std::vector<uint8_t> bnb_codes = g.values<uint8_t>(name + ".codes");
        ASSERT_EQ(mine.codes.size(), bnb_codes.size());
        int64_t code_diffs = 0;
        for (size_t i = 0; i < bnb_codes.size(); ++i) code_diffs += mine.codes[i] != bnb_codes[i];
        EXPECT_EQ(code_diffs, 0);
        const int64_t nb = (n + bs - 1) / bs;
        std::vector<float> absmax(static_cast<size_t>(nb));
        int64_t snb[1] = {nb};
        rai_tensor ta = make_tensor(absmax.data(), kF32, snb, 1);
        ASSERT_RAI_OK(rai_q4_state_read(ctx, plain.state, RAI_Q4_FIELD_ABSMAX, &ta));
        if (!dq) {
            const std::vector<float> bnb_absmax = g.values<float>(name + ".absmax");
            ASSERT_EQ(bnb_absmax.size(), absmax.size());
            EXPECT_EQ(0, std::memcmp(absmax.data(), bnb_absmax.data(), absmax.size() * 4));
        } else {
            const float bnb_offset = g.values<float>(name + ".offset")[0];
            rai_q4_state_info si;
            rai_q4_state_info_init(&si);
            ASSERT_RAI_OK(rai_q4_state_get_info(mine.state, &si));
            EXPECT_TRUE(within_ulps(si.offset, bnb_offset, 2)) << si.offset << " vs " << bnb_offset;
            // With bitsandbytes' offset, rai's 8-bit blockwise step gives its nested state exactly.
            const std::vector<uint8_t> bnb_a8 = g.values<uint8_t>(name + ".absmax");
            const std::vector<float> bnb_a2 = g.values<float>(name + ".nested_absmax");
            std::vector<float> centred(absmax.size());
            for (size_t b = 0; b < absmax.size(); ++b) centred[b] = absmax[b] - bnb_offset;
            std::vector<uint8_t> a8(absmax.size());
            std::vector<float> a2(bnb_a2.size());
            rai::q4::quantize_8bit_blockwise(centred.data(), nb, 256, rai::q4::kDynamicMap, a8.data(), a2.data());
            EXPECT_EQ(0, std::memcmp(a2.data(), bnb_a2.data(), a2.size() * 4));
            ASSERT_EQ(a8.size(), bnb_a8.size());
            int64_t a8_diffs = 0;
            for (size_t b = 0; b < a8.size(); ++b) a8_diffs += a8[b] != bnb_a8[b];
            EXPECT_EQ(a8_diffs, 0);
        }
        // Dequantise bitsandbytes' own state with rai: bit-identical to its dequantize_4bit.
        const std::vector<uint8_t> out = dequantize_bnb_state(ctx, g, name, bc, in.dtype);
        ASSERT_FALSE(out.empty());
        rai_tensor bnb_deq = g.view(name + ".dequant");
        EXPECT_EQ(0, std::memcmp(out.data(), bnb_deq.data, out.size())) << "dequantised values differ";
    }
}

TEST_F(GoldenCuda, Linear4bitFromCudaLoadsAndForwards) {
    File ck(kDir + "/bnb_linear4bit_cuda.safetensors");
    File io(kDir + "/bnb_linear4bit_io_cuda.safetensors");
    ASSERT_NE(ck.f, nullptr);
    ASSERT_NE(io.f, nullptr);
    struct Module {
        const char *prefix, *short_name;
        int32_t type, dq;
        int64_t N, K;
    };
    const Module mods[] = {{"model.layers.0.mlp.down_proj", "down_proj", RAI_Q4_NF4, 1, 48, 64},
                           {"model.layers.0.self_attn.q_proj", "q_proj", RAI_Q4_FP4, 0, 40, 96}};
    for (const Module &m : mods) {
        SCOPED_TRACE(m.prefix);
        const std::string p = m.prefix, s = m.short_name;
        rai_q4_state *st = nullptr;
        ASSERT_RAI_OK(rai_q4_state_load_bnb(ctx, ck.f, m.prefix, &st));
        rai_tensor codes = ck.view(p + ".weight");
        // rai quantising the same bf16 weight gives the codes bitsandbytes' CUDA kernel wrote.
        rai_tensor wsrc = io.view(s + ".weight");
        Q4Run mine;
        ASSERT_RAI_OK(q4_quantize_host(ctx, wsrc.data, wsrc.dtype, {m.N, m.K}, m.type, 64, m.dq, mine));
        ASSERT_EQ(mine.codes.size(), static_cast<size_t>(m.N * m.K / 2));
        const int64_t rcp_ties = codes_differing_by_reciprocal(wsrc, m.N * m.K, m.type, mine.codes,
                                                               static_cast<const uint8_t *>(codes.data));
        std::printf("%s: %lld of %lld codes differ, each by bitsandbytes' approximate reciprocal\n", m.prefix,
                    static_cast<long long>(rcp_ties), static_cast<long long>(m.N * m.K));
        // Forward, fp32 compute (3 rows) and bf16 compute (1 row: bitsandbytes' gemv_4bit path).
        std::vector<float> wd(static_cast<size_t>(m.N * m.K));
        int64_t sw[1] = {m.N * m.K};
        rai_tensor twd = make_tensor(wd.data(), kF32, sw, 1);
        ASSERT_RAI_OK(rai_q4_dequantize(ctx, st, &codes, &twd));
        rai_tensor bias_bf16 = ck.view(p + ".bias");
        std::vector<float> bias(static_cast<size_t>(m.N));
        rai::q4::to_f32(bias_bf16.data, rai::q4::Elem::BF16, m.N, bias.data());
        int64_t bshape[1] = {m.N};
        rai_tensor tb = make_tensor(bias.data(), kF32, bshape, 1);
        struct Case {
            const char *x, *y;
            int64_t rows;
            double tol;
        };
        for (const Case &c : {Case{".x", ".y", 3, 8e-3}, Case{".x_row", ".y_row", 1, 2e-2}}) {
            SCOPED_TRACE(c.x);
            rai_tensor x = io.view(s + c.x);
            std::vector<float> xf(static_cast<size_t>(c.rows * m.K));
            rai::q4::to_f32(x.data, elem_of(x.dtype), c.rows * m.K, xf.data());
            int64_t xs[2] = {c.rows, m.K}, ys[2] = {c.rows, m.N};
            rai_tensor tx = make_tensor(xf.data(), kF32, xs, 2);
            std::vector<float> y(static_cast<size_t>(c.rows * m.N));
            rai_tensor ty = make_tensor(y.data(), kF32, ys, 2);
            ASSERT_RAI_OK(rai_q4_linear_forward(ctx, st, &codes, &tx, &tb, &ty));
            rai_tensor yb_t = io.view(s + c.y);
            std::vector<float> yb(static_cast<size_t>(c.rows * m.N));
            rai::q4::to_f32(yb_t.data, elem_of(yb_t.dtype), c.rows * m.N, yb.data());
            for (int64_t r = 0; r < c.rows; ++r)
                for (int64_t j = 0; j < m.N; ++j) {
                    double mag = std::fabs(bias[j]);
                    for (int64_t k = 0; k < m.K; ++k) mag += std::fabs(double(xf[r * m.K + k]) * wd[j * m.K + k]);
                    EXPECT_LE(std::fabs(y[r * m.N + j] - yb[r * m.N + j]), c.tol * mag) << r << "," << j;
                }
        }
        rai_q4_state_destroy(st);
    }
}
