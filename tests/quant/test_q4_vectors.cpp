// The reference test vectors of the 4-bit formats (docs/quant.md, reference section 4), the
// per-element rules, and round-trip bounds. Each test runs on the backend the CPU mask selects
// (the suite runs once with all features and once with RAI_CPU_MASK=0).
#include <algorithm>
#include <cfloat>
#include <cstring>

#include "q4_kernels.h"
#include "q4_test_util.h"

namespace {

class Q4 : public CpuContextTest {};

}  // namespace

TEST_F(Q4, Nf4ExactCodesVector) {
    std::vector<float> x(64);
    for (int i = 0; i < 16; ++i) x[i] = rai::q4::kNF4Code[i];
    for (int i = 0; i < 15; ++i) x[16 + i] = rai::q4::kNF4Thresholds[i];
    for (int i = 0; i < 15; ++i) x[31 + i] = std::nextafterf(rai::q4::kNF4Thresholds[i], INFINITY);
    for (int i = 46; i < 64; ++i) x[i] = static_cast<float>(i - 55) / 9.0f;
    Q4Run r;
    ASSERT_RAI_OK(q4_quantize_host(ctx, x.data(), kF32, {64}, RAI_Q4_NF4, 64, 0, r));
    EXPECT_EQ(to_hex(r.codes.data(), r.codes.size()), "0123456789abcdef0123456789abcde123456789abcdef00112345678abcdeef");
    float absmax = 0;
    int64_t s[1] = {1};
    rai_tensor t = make_tensor(&absmax, kF32, s, 1);
    ASSERT_RAI_OK(rai_q4_state_read(ctx, r.state, RAI_Q4_FIELD_ABSMAX, &t));
    EXPECT_EQ(absmax, 1.0f);
}

TEST_F(Q4, Nf4ZeroBlockAndRamp) {
    std::vector<float> x(128, 0.0f);
    for (int i = 0; i < 64; ++i) x[64 + i] = 3.5f * static_cast<float>(i - 32) / 32.0f;
    Q4Run r;
    ASSERT_RAI_OK(q4_quantize_host(ctx, x.data(), kF32, {128}, RAI_Q4_NF4, 64, 0, r));
    EXPECT_EQ(to_hex(r.codes.data(), r.codes.size()),
              std::string(64, '0') + "000001111111122222333344455566677788999aaabbbccccddddeeeeeeeffff");
    float absmax[2];
    int64_t s[1] = {2};
    rai_tensor t = make_tensor(absmax, kF32, s, 1);
    ASSERT_RAI_OK(rai_q4_state_read(ctx, r.state, RAI_Q4_FIELD_ABSMAX, &t));
    EXPECT_EQ(absmax[0], 0.0f);
    EXPECT_EQ(absmax[1], 3.5f);
    const std::vector<float> y = q4_dequantize_host(ctx, r, 128);
    float max_err = 0;
    for (int i = 0; i < 64; ++i) EXPECT_EQ(y[i], 0.0f) << i;  // the zero block dequantises to 0 (code 0 * 0)
    for (int i = 64; i < 128; ++i) max_err = std::max(max_err, std::fabs(y[i] - x[i]));
    EXPECT_NEAR(max_err, 0.516f, 0.0005f);
    EXPECT_LE(max_err, 0.5317f);
}

TEST_F(Q4, Fp4ExactCodesVector) {
    const float mags[8] = {0.0f, .0052083333f, .16666667f, .25f, .33333333f, .5f, .66666667f, 1.0f};
    std::vector<float> x;
    for (float m : mags) x.push_back(m);
    for (int i = 1; i < 8; ++i) x.push_back(-mags[i]);
    x.push_back(-0.0f);
    for (float t : rai::q4::kFP4Thresholds) x.push_back(t);
    for (float t : rai::q4::kFP4Thresholds) x.push_back(-t);
    x.push_back(0.7f);
    x.push_back(-0.05f);
    ASSERT_EQ(x.size(), 32u);
    for (int bs : {32, 64}) {
        Q4Run r;
        ASSERT_RAI_OK(q4_quantize_host(ctx, x.data(), kF32, {32}, RAI_Q4_FP4, bs, 0, r));
        EXPECT_EQ(to_hex(r.codes.data(), r.codes.size()), "016745239efcdab0016745289efcda29") << bs;
    }
}

TEST_F(Q4, CodebooksMatchBitsandbytes) {
    float v[16];
    ASSERT_RAI_OK(rai_q4_codebook(RAI_Q4_NF4, v));
    EXPECT_EQ(v[0], -1.0f);
    EXPECT_EQ(v[7], 0.0f);
    EXPECT_EQ(v[8], 0.07958029955625534f);
    EXPECT_EQ(v[15], 1.0f);
    ASSERT_RAI_OK(rai_q4_codebook(RAI_Q4_FP4, v));
    const float fp4[8] = {0.0f, 0.0052083334885537624f, 0.6666666865348816f, 1.0f,
                          0.3333333432674408f, 0.5f, 0.1666666716337204f, 0.25f};
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(v[i], fp4[i]) << i;
        EXPECT_EQ(v[i + 8], -fp4[i]) << i;
    }
    EXPECT_TRUE(std::signbit(v[8]));  // code 8 is -0 on dequantisation (bnb's CUDA tree)
    // Each NF4 threshold literal sits within 2 ulp of the midpoint of its neighbours.
    for (int i = 0; i < 15; ++i) {
        const float mid = (rai::q4::kNF4Code[i] + rai::q4::kNF4Code[i + 1]) / 2;
        EXPECT_LE(std::fabs(mid - rai::q4::kNF4Thresholds[i]), 2.5f * (std::nextafterf(std::fabs(mid), INFINITY) - std::fabs(mid))) << i;
    }
    EXPECT_EQ(rai_q4_codebook(3, v), RAI_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(rai_q4_codebook(RAI_Q4_NF4, nullptr), RAI_ERROR_INVALID_ARGUMENT);
}

TEST_F(Q4, DynamicMapIsBitsandbytes) {
    const float *c = rai::q4::kDynamicMap;
    EXPECT_EQ(c[0], -0.992968738079071f);
    EXPECT_EQ(c[127], 0.0f);
    EXPECT_EQ(c[128], 5.500000384017767e-07f);
    EXPECT_EQ(c[255], 1.0f);
    for (int i = 1; i < 256; ++i) EXPECT_LT(c[i - 1], c[i]) << i;
}

TEST_F(Q4, NibbleOrderAndOddN) {
    std::vector<float> x = normal_floats(65, 7);
    Q4Run r;
    ASSERT_RAI_OK(q4_quantize_host(ctx, x.data(), kF32, {65}, RAI_Q4_NF4, 64, 0, r));
    ASSERT_EQ(r.codes.size(), 33u);
    EXPECT_EQ(r.codes[32] & 0xf, 7);  // the pad element is 0.0 -> NF4 code 7
    uint64_t bytes = 0;
    ASSERT_RAI_OK(rai_q4_codes_size(65, &bytes));
    EXPECT_EQ(bytes, 33u);
    // The first element of each pair is the high nibble.
    std::vector<float> y = {1.0f, -1.0f};
    Q4Run r2;
    ASSERT_RAI_OK(q4_quantize_host(ctx, y.data(), kF32, {2}, RAI_Q4_NF4, 64, 0, r2));
    EXPECT_EQ(r2.codes[0], 0xf0);
    // n = 130, block 64: 3 blocks, the last covering 2 elements.
    std::vector<float> z = normal_floats(130, 8);
    z[128] = 0.25f;
    z[129] = -0.5f;
    Q4Run r3;
    ASSERT_RAI_OK(q4_quantize_host(ctx, z.data(), kF32, {130}, RAI_Q4_NF4, 64, 0, r3));
    rai_q4_state_info info;
    rai_q4_state_info_init(&info);
    ASSERT_RAI_OK(rai_q4_state_get_info(r3.state, &info));
    EXPECT_EQ(info.blocks, 3);
    float absmax[3];
    int64_t s[1] = {3};
    rai_tensor t = make_tensor(absmax, kF32, s, 1);
    ASSERT_RAI_OK(rai_q4_state_read(ctx, r3.state, RAI_Q4_FIELD_ABSMAX, &t));
    EXPECT_EQ(absmax[2], 0.5f);
    EXPECT_EQ(r3.codes[64], 0xc0);  // 0.25/0.5 = 0.5 exceeds t0..t11 (t12 = 0.5017): code 12; -1 -> 0
}

TEST_F(Q4, OddNWithAllZeroLastBlockPadsWithCodeZero) {
    // bnb CUDA: the pad element of an all-zero block is 0 * inf = NaN -> code 0, not 7.
    std::vector<float> x(65, 0.0f);
    x[0] = 1.0f;
    Q4Run r;
    ASSERT_RAI_OK(q4_quantize_host(ctx, x.data(), kF32, {65}, RAI_Q4_NF4, 64, 0, r));
    EXPECT_EQ(r.codes[32], 0x00);
}

TEST_F(Q4, SpecialValuesFollowTheCudaRules) {
    using rai::q4::quantize_nf4;
    using rai::q4::quantize_fp4;
    EXPECT_EQ(quantize_nf4(NAN), 0);
    EXPECT_EQ(quantize_fp4(NAN), 0);
    EXPECT_EQ(quantize_fp4(-0.0f), 0);        // -0 < 0 is false: no sign bit
    EXPECT_EQ(quantize_fp4(-0.001f), 8);      // small negatives are -0
    EXPECT_EQ(quantize_fp4(INFINITY), 3);
    EXPECT_EQ(quantize_fp4(-INFINITY), 11);
    EXPECT_EQ(quantize_nf4(-INFINITY), 0);
    EXPECT_EQ(quantize_nf4(INFINITY), 15);
    // A block with inf: absmax inf, inv 0, finite * 0 = 0 -> code 7, inf * 0 = NaN -> code 0.
    std::vector<float> x(64, 1.0f);
    x[3] = INFINITY;
    Q4Run r;
    ASSERT_RAI_OK(q4_quantize_host(ctx, x.data(), kF32, {64}, RAI_Q4_NF4, 64, 0, r));
    EXPECT_EQ(r.codes[0], 0x77);
    EXPECT_EQ(r.codes[1], 0x70);
    // NaN is ignored by the absmax (fmaxf) and gets code 0.
    std::vector<float> y(64, 0.5f);
    y[0] = NAN;
    Q4Run r2;
    ASSERT_RAI_OK(q4_quantize_host(ctx, y.data(), kF32, {64}, RAI_Q4_NF4, 64, 0, r2));
    EXPECT_EQ(r2.codes[0], 0x0f);
}

TEST_F(Q4, EightBitRuleIsNearestWithTiesToThePivot) {
    const float *c = rai::q4::kDynamicMap;
    for (int i = 0; i < 256; ++i) EXPECT_EQ(rai::q4::quantize_8bit(c, c[i]), i) << i;
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (int t = 0; t < 20000; ++t) {
        const float x = u(rng);
        const int q = rai::q4::quantize_8bit(c, x);
        float best = INFINITY;
        for (int i = 0; i < 256; ++i) best = std::min(best, std::fabs(x - c[i]));
        EXPECT_LE(std::fabs(x - c[q]), best * (1 + 1e-6f) + 1e-12f) << x;
    }
}

TEST_F(Q4, RoundTripBoundsOnAwkwardSizes) {
    for (int32_t type : {RAI_Q4_NF4, RAI_Q4_FP4})
        for (int32_t bs = 32; bs <= 4096; bs *= 2)
            for (int64_t n : {1, 31, 33, 65537}) {
                std::vector<float> x = normal_floats(static_cast<size_t>(n), static_cast<uint32_t>(n + bs + type), 2.0f);
                Q4Run r;
                ASSERT_RAI_OK(q4_quantize_host(ctx, x.data(), kF32, {n}, type, bs, 0, r));
                const std::vector<float> y = q4_dequantize_host(ctx, r, n);
                std::vector<float> absmax(static_cast<size_t>((n + bs - 1) / bs));
                int64_t s[1] = {static_cast<int64_t>(absmax.size())};
                rai_tensor t = make_tensor(absmax.data(), kF32, s, 1);
                ASSERT_RAI_OK(rai_q4_state_read(ctx, r.state, RAI_Q4_FIELD_ABSMAX, &t));
                // NF4: half the widest gap (1 - 0.69619) / 2; FP4: half of (1 - 0.66667).
                const float bound = type == RAI_Q4_NF4 ? 0.15190f : 0.16667f;
                for (int64_t i = 0; i < n; ++i)
                    ASSERT_LE(std::fabs(x[i] - y[i]), bound * absmax[i / bs] * 1.0001f)
                        << "type " << type << " bs " << bs << " n " << n << " i " << i;
            }
}

TEST_F(Q4, Nf4RelativeRmseAndHistogramOnNormalData) {
    const int64_t n = int64_t{1} << 23;
    std::vector<float> x = normal_floats(static_cast<size_t>(n), 1234);
    Q4Run r;
    ASSERT_RAI_OK(q4_quantize_host(ctx, x.data(), kF32, {n}, RAI_Q4_NF4, 64, 0, r));
    const std::vector<float> y = q4_dequantize_host(ctx, r, n);
    double se = 0, ss = 0;
    for (int64_t i = 0; i < n; ++i) {
        se += double(x[i] - y[i]) * double(x[i] - y[i]);
        ss += double(x[i]) * double(x[i]);
    }
    EXPECT_NEAR(std::sqrt(se / ss), 0.0920, 0.0005);
    std::vector<double> hist(16, 0);
    for (int64_t i = 0; i < n; ++i) hist[(r.codes[i / 2] >> ((i & 1) ? 0 : 4)) & 15] += 1;
    const double expected[16] = {1.86, 4.38, 5.85, 7.09, 8.09, 8.81, 9.24, 8.80,
                                 8.10, 7.82, 7.34, 6.66, 5.82, 4.80, 3.63, 1.72};
    for (int c = 0; c < 16; ++c) EXPECT_NEAR(100.0 * hist[c] / double(n), expected[c], 0.05) << "code " << c;
}

TEST_F(Q4, HalfInputsQuantiseAsTheirFloatValues) {
    const int64_t n = 1000;
    std::vector<float> x = normal_floats(n, 11);
    std::vector<uint16_t> h(n), b(n);
    std::vector<float> hf(n), bf(n);
    for (int64_t i = 0; i < n; ++i) {
        h[i] = rai::q4::f32_to_f16(x[i]);
        b[i] = rai::q4::f32_to_bf16(x[i]);
        hf[i] = rai::q4::f16_to_f32(h[i]);
        bf[i] = rai::q4::bf16_to_f32(b[i]);
    }
    for (int32_t type : {RAI_Q4_NF4, RAI_Q4_FP4}) {
        Q4Run a, a32, c, c32;
        ASSERT_RAI_OK(q4_quantize_host(ctx, h.data(), kF16, {n}, type, 64, 0, a));
        ASSERT_RAI_OK(q4_quantize_host(ctx, hf.data(), kF32, {n}, type, 64, 0, a32));
        ASSERT_RAI_OK(q4_quantize_host(ctx, b.data(), kBF16, {n}, type, 64, 0, c));
        ASSERT_RAI_OK(q4_quantize_host(ctx, bf.data(), kF32, {n}, type, 64, 0, c32));
        EXPECT_EQ(a.codes, a32.codes);
        EXPECT_EQ(c.codes, c32.codes);
        rai_q4_state_info info;
        rai_q4_state_info_init(&info);
        ASSERT_RAI_OK(rai_q4_state_get_info(c.state, &info));
        EXPECT_EQ(info.dtype.code, RAI_DTYPE_BFLOAT);
    }
}

TEST_F(Q4, HalfConversionsRoundToNearestEven) {
    using namespace rai::q4;
    EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
    EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
    EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie to even
    EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
    EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
    EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie to even
    EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
    EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
    EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
    EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(NAN))));
    for (uint32_t h = 0; h < 0x7c00; ++h) EXPECT_EQ(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))), h);
}

TEST_F(Q4, DoubleQuantStateAndBound) {
    const int64_t n = 64 * 700 + 5;  // 701 blocks: 3 nested blocks, the last partial
    std::vector<float> x = normal_floats(static_cast<size_t>(n), 99);
    for (int i = 64 * 10; i < 64 * 11; ++i) x[i] = 0.0f;  // one all-zero block
    Q4Run plain, dq;
    ASSERT_RAI_OK(q4_quantize_host(ctx, x.data(), kF32, {n}, RAI_Q4_NF4, 64, 0, plain));
    ASSERT_RAI_OK(q4_quantize_host(ctx, x.data(), kF32, {n}, RAI_Q4_NF4, 64, 1, dq));
    EXPECT_EQ(plain.codes, dq.codes);  // double quantisation changes only the absmax storage
    rai_q4_state_info info;
    rai_q4_state_info_init(&info);
    ASSERT_RAI_OK(rai_q4_state_get_info(dq.state, &info));
    EXPECT_EQ(info.double_quant, 1);
    EXPECT_EQ(info.nested_blocksize, 256);
    EXPECT_EQ(info.blocks, 701);
    EXPECT_EQ(info.nested_blocks, 3);
    std::vector<float> absmax(701), decoded(701), absmax2(3), code8(256);
    std::vector<uint8_t> absmax8(701);
    int64_t s701[1] = {701}, s3[1] = {3}, s256[1] = {256};
    rai_tensor ta = make_tensor(absmax.data(), kF32, s701, 1), td = make_tensor(decoded.data(), kF32, s701, 1),
               t8 = make_tensor(absmax8.data(), kU8, s701, 1), t2 = make_tensor(absmax2.data(), kF32, s3, 1),
               tc = make_tensor(code8.data(), kF32, s256, 1);
    ASSERT_RAI_OK(rai_q4_state_read(ctx, plain.state, RAI_Q4_FIELD_ABSMAX, &ta));
    ASSERT_RAI_OK(rai_q4_state_read(ctx, dq.state, RAI_Q4_FIELD_ABSMAX_DECODED, &td));
    ASSERT_RAI_OK(rai_q4_state_read(ctx, dq.state, RAI_Q4_FIELD_ABSMAX, &t8));
    ASSERT_RAI_OK(rai_q4_state_read(ctx, dq.state, RAI_Q4_FIELD_NESTED_ABSMAX, &t2));
    ASSERT_RAI_OK(rai_q4_state_read(ctx, dq.state, RAI_Q4_FIELD_NESTED_QUANT_MAP, &tc));
    double sum = 0;
    for (float a : absmax) sum += a;
    EXPECT_EQ(info.offset, static_cast<float>(sum / 701));
    EXPECT_EQ(0, std::memcmp(code8.data(), rai::q4::kDynamicMap, 1024));
    // Largest gap of the dynamic map: the decoded absmax is within absmax2 * max_gap / 2.
    float max_gap = 0;
    for (int i = 1; i < 256; ++i) max_gap = std::max(max_gap, code8[i] - code8[i - 1]);
    for (int b = 0; b < 701; ++b) {
        const float centred = absmax[b] - info.offset;
        EXPECT_LE(std::fabs(decoded[b] - absmax[b]), absmax2[b / 256] * max_gap / 2 * 1.0001f + 1e-7f) << b;
        EXPECT_EQ(absmax8[b], rai::q4::quantize_8bit(code8.data(), centred * (1.0f / absmax2[b / 256]))) << b;
        EXPECT_EQ(decoded[b], code8[absmax8[b]] * absmax2[b / 256] + info.offset) << b;
    }
    // Dequantisation uses the decoded scales; per element within the bound plus the scale error.
    const std::vector<float> y = q4_dequantize_host(ctx, dq, n);
    for (int64_t i = 0; i < n; ++i) {
        const float a = absmax[i / 64], d = decoded[i / 64];
        EXPECT_LE(std::fabs(x[i] - y[i]), 0.15190f * a + std::fabs(d - a) + 1e-6f) << i;
    }
    // Memory: 4 + 8/64 + 32/(64*256) bits per weight for the statistics + codes.
    EXPECT_LT(static_cast<double>(info.codes_bytes + info.blocks + info.nested_blocks * 4) * 8 / double(n), 4.13);
}

TEST_F(Q4, MeanAbsmaxHasTheDocumentedOrder) {
    std::vector<float> a = normal_floats(100000, 5);
    for (float &v : a) v = std::fabs(v);
    double partial[256] = {};
    for (size_t i = 0; i < a.size(); ++i) partial[i % 256] += a[i];
    for (int s = 128; s >= 1; s /= 2)
        for (int j = 0; j < s; ++j) partial[j] += partial[j + s];
    EXPECT_EQ(rai::q4::mean_absmax(a.data(), static_cast<int64_t>(a.size())),
              static_cast<float>(partial[0] / double(a.size())));
}
