// Every CPU backend of the 4-bit kernels is bit-identical to the scalar reference, on random
// data of awkward sizes with special values mixed in; the linear layer matches dequantise +
// an fp64 reference matmul.
#include <algorithm>
#include <cstring>

#include "cpu_features.h"
#include "q4_kernels.h"
#include "q4_test_util.h"

namespace {

bool have_avx2() {
    const uint64_t need = rai::cpu::kAvx2Level | RAI_CPU_F16C;
    return (rai::cpu::detected() & need) == need;
}

std::vector<float> awkward_data(int64_t n, uint32_t seed) {
    std::vector<float> x = normal_floats(static_cast<size_t>(n), seed, 3.0f);
    std::mt19937 rng(seed * 7 + 1);
    for (int64_t i = 0; i < n; ++i) {
        switch (rng() % 64) {
        case 0: x[i] = 0.0f; break;
        case 1: x[i] = -0.0f; break;
        case 2: x[i] = 1e-40f; break;  // subnormal
        case 3: x[i] = NAN; break;
        case 4: x[i] = std::ldexp(x[i], -20); break;
        default: break;
        }
    }
    if (n > 200) std::fill(x.begin() + 64, x.begin() + 128, 0.0f);  // an all-zero block at bs 32/64
    return x;
}

// The element data in the requested type.
std::vector<uint8_t> as_elem(const std::vector<float> &x, rai::q4::Elem e) {
    std::vector<uint8_t> out(x.size() * rai::q4::elem_size(e));
    for (size_t i = 0; i < x.size(); ++i) rai::q4::store_elem(out.data(), e, static_cast<int64_t>(i), x[i]);
    return out;
}

}  // namespace

TEST(Q4Backends, QuantizeIsBitIdentical) {
    if (!have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU: only the scalar reference exists";
    using rai::q4::Elem;
    for (Elem e : {Elem::F32, Elem::F16, Elem::BF16})
        for (int32_t type : {rai::q4::kNF4, rai::q4::kFP4})
            for (int64_t bs = 32; bs <= 4096; bs *= 2)
                for (int64_t n : {1, 2, 7, 31, 33, 64, 65, 200, 65537}) {
                    const std::vector<uint8_t> src = as_elem(awkward_data(n, static_cast<uint32_t>(n * 31 + bs)), e);
                    const int64_t nb = rai::q4::num_blocks(n, bs);
                    std::vector<uint8_t> c1(static_cast<size_t>((n + 1) / 2)), c2(c1.size());
                    std::vector<float> a1(static_cast<size_t>(nb)), a2(a1.size());
                    rai::q4::quantize_ref(src.data(), e, n, bs, type, c1.data(), a1.data());
                    rai::q4::quantize_avx2(src.data(), e, n, bs, type, c2.data(), a2.data());
                    ASSERT_EQ(c1, c2) << "elem " << int(e) << " type " << type << " bs " << bs << " n " << n;
                    ASSERT_EQ(0, std::memcmp(a1.data(), a2.data(), a1.size() * 4)) << n;
                }
}

TEST(Q4Backends, DequantizeIsBitIdentical) {
    if (!have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
    using rai::q4::Elem;
    std::mt19937 rng(17);
    for (int32_t type : {rai::q4::kNF4, rai::q4::kFP4})
        for (int64_t bs : {32, 64, 256, 4096})
            for (int64_t n : {1, 31, 33, 65537}) {
                std::vector<uint8_t> codes(static_cast<size_t>((n + 1) / 2));
                for (uint8_t &c : codes) c = static_cast<uint8_t>(rng());
                std::vector<float> absmax(static_cast<size_t>(rai::q4::num_blocks(n, bs)));
                for (float &a : absmax) a = std::ldexp(static_cast<float>(rng() % 1000 + 1), -int(rng() % 140));
                if (absmax.size() > 2) absmax[1] = 0.0f;
                for (Elem e : {Elem::F32, Elem::F16, Elem::BF16})
                    for (int64_t begin : {int64_t{0}, int64_t{1}, int64_t{5}, n / 3}) {
                        const int64_t count = n - begin;
                        if (count <= 0) continue;
                        std::vector<uint8_t> d1(static_cast<size_t>(count) * 4), d2(d1.size());
                        rai::q4::dequantize_ref(codes.data(), absmax.data(), begin, count, bs, type, d1.data(), e);
                        rai::q4::dequantize_avx2(codes.data(), absmax.data(), begin, count, bs, type, d2.data(), e);
                        ASSERT_EQ(d1, d2) << "type " << type << " bs " << bs << " n " << n << " begin " << begin;
                    }
            }
}

TEST(Q4Backends, PublicApiIsIdenticalUnderEveryMask) {
    CpuMaskGuard guard;
    rai_context *ctx = make_cpu_context();
    const int64_t n = 4096 * 3 + 17;
    const std::vector<float> x = awkward_data(n, 5);
    std::vector<std::vector<uint8_t>> outs;
    std::vector<std::vector<float>> deqs;
    for (uint64_t mask : {~uint64_t{0}, uint64_t{0}}) {
        rai_cpu_set_feature_mask(mask);
        for (int32_t dq : {0, 1}) {
            Q4Run r;
            ASSERT_RAI_OK(q4_quantize_host(ctx, x.data(), kF32, {n}, RAI_Q4_NF4, 64, dq, r));
            outs.push_back(r.codes);
            deqs.push_back(q4_dequantize_host(ctx, r, n));
        }
    }
    EXPECT_EQ(outs[0], outs[2]);
    EXPECT_EQ(outs[1], outs[3]);
    EXPECT_EQ(0, std::memcmp(deqs[0].data(), deqs[2].data(), n * 4));
    EXPECT_EQ(0, std::memcmp(deqs[1].data(), deqs[3].data(), n * 4));
    rai_context_destroy(ctx);
}

namespace {

struct LinearCase {
    int64_t N, K, M;
    int32_t bs;
    int32_t type;
    int32_t dq;
};

// fp64 reference of y = x . deq(W)^T + b and dx = dy . deq(W), with the bound of the reference
// (max |err| <= tol * sum |w x|).
void check_linear(rai_context *ctx, const LinearCase &c, rai_dtype dt) {
    const int64_t n = c.N * c.K;
    std::vector<float> w = normal_floats(static_cast<size_t>(n), static_cast<uint32_t>(n + c.M), 0.05f);
    Q4Run r;
    ASSERT_RAI_OK(q4_quantize_host(ctx, w.data(), kF32, {c.N, c.K}, c.type, c.bs, c.dq, r));
    const std::vector<float> wd = q4_dequantize_host(ctx, r, n);
    const rai::q4::Elem e = dt.bits == 32 ? rai::q4::Elem::F32 : (dt.code == RAI_DTYPE_BFLOAT ? rai::q4::Elem::BF16 : rai::q4::Elem::F16);
    auto rounded = [&](std::vector<float> v) {
        for (float &f : v) f = rai::q4::load_elem(as_elem({f}, e).data(), e, 0);
        return v;
    };
    const std::vector<float> x = rounded(normal_floats(static_cast<size_t>(c.M * c.K), 3));
    const std::vector<float> bias = rounded(normal_floats(static_cast<size_t>(c.N), 4));
    const std::vector<float> dy = rounded(normal_floats(static_cast<size_t>(c.M * c.N), 6));
    std::vector<uint8_t> xe = as_elem(x, e), be = as_elem(bias, e), dye = as_elem(dy, e);
    std::vector<uint8_t> ye(static_cast<size_t>(c.M * c.N) * 4), dxe(static_cast<size_t>(c.M * c.K) * 4);
    const int64_t xs[2] = {c.M, c.K}, ys[2] = {c.M, c.N}, bs[1] = {c.N}, cs[1] = {static_cast<int64_t>(r.codes.size())};
    rai_tensor tx = make_tensor(xe.data(), dt, xs, 2), ty = make_tensor(ye.data(), dt, ys, 2),
               tb = make_tensor(be.data(), dt, bs, 1), tcodes = make_tensor(r.codes.data(), kU8, cs, 1),
               tdy = make_tensor(dye.data(), dt, ys, 2), tdx = make_tensor(dxe.data(), dt, xs, 2);
    ASSERT_RAI_OK(rai_q4_linear_forward(ctx, r.state, &tcodes, &tx, &tb, &ty));
    ASSERT_RAI_OK(rai_q4_linear_backward_input(ctx, r.state, &tcodes, &tdy, &tdx));
    const double tol = dt.bits == 32 ? 1e-5 : (dt.code == RAI_DTYPE_BFLOAT ? 8e-3 : 2e-3);
    for (int64_t m = 0; m < c.M; ++m)
        for (int64_t j = 0; j < c.N; ++j) {
            double ref = bias[j], mag = std::fabs(bias[j]);
            for (int64_t k = 0; k < c.K; ++k) {
                ref += double(x[m * c.K + k]) * wd[j * c.K + k];
                mag += std::fabs(double(x[m * c.K + k]) * wd[j * c.K + k]);
            }
            const double got = rai::q4::load_elem(ye.data(), e, m * c.N + j);
            ASSERT_LE(std::fabs(got - ref), tol * mag + 1e-30) << "y m " << m << " n " << j << " N " << c.N << " K " << c.K << " M " << c.M;
        }
    for (int64_t m = 0; m < c.M; ++m)
        for (int64_t k = 0; k < c.K; ++k) {
            double ref = 0, mag = 0;
            for (int64_t j = 0; j < c.N; ++j) {
                ref += double(dy[m * c.N + j]) * wd[j * c.K + k];
                mag += std::fabs(double(dy[m * c.N + j]) * wd[j * c.K + k]);
            }
            const double got = rai::q4::load_elem(dxe.data(), e, m * c.K + k);
            ASSERT_LE(std::fabs(got - ref), tol * mag + 1e-30) << "dx m " << m << " k " << k;
        }
}

}  // namespace

TEST(Q4Linear, MatchesDequantizeAndReferenceMatmul) {
    rai_context *ctx = make_cpu_context();
    const LinearCase cases[] = {
        {64, 128, 1, 64, RAI_Q4_NF4, 0},  {33, 96, 2, 32, RAI_Q4_FP4, 1},  {17, 100, 3, 64, RAI_Q4_NF4, 1},
        {8, 31, 4, 32, RAI_Q4_NF4, 0},    {70, 130, 5, 128, RAI_Q4_FP4, 0}, {65, 257, 9, 64, RAI_Q4_NF4, 1},
        {130, 512, 33, 256, RAI_Q4_NF4, 0}, {3, 4096, 6, 4096, RAI_Q4_NF4, 1}, {1, 1, 1, 32, RAI_Q4_NF4, 0},
    };
    CpuMaskGuard guard;
    for (uint64_t mask : {~uint64_t{0}, uint64_t{0}}) {
        rai_cpu_set_feature_mask(mask);
        for (const LinearCase &c : cases)
            for (rai_dtype dt : {kF32, kF16, kBF16}) {
                SCOPED_TRACE("N " + std::to_string(c.N) + " K " + std::to_string(c.K) + " M " + std::to_string(c.M) +
                             " dtype bits " + std::to_string(dt.bits) + " mask " + std::to_string(mask));
                check_linear(ctx, c, dt);
            }
    }
    rai_context_destroy(ctx);
}

TEST(Q4Linear, LeadingDimensionsAndNoBias) {
    rai_context *ctx = make_cpu_context();
    const int64_t N = 40, K = 64;
    std::vector<float> w = normal_floats(N * K, 1);
    Q4Run r;
    ASSERT_RAI_OK(q4_quantize_host(ctx, w.data(), kF32, {N, K}, RAI_Q4_NF4, 64, 0, r));
    std::vector<float> x = normal_floats(2 * 3 * K, 2), y(2 * 3 * N), y2(6 * N);
    const int64_t xs[3] = {2, 3, K}, ys[3] = {2, 3, N}, xs2[2] = {6, K}, ys2[2] = {6, N}, cs[2] = {N * K / 2, 1};
    rai_tensor tx = make_tensor(x.data(), kF32, xs, 3), ty = make_tensor(y.data(), kF32, ys, 3),
               tx2 = make_tensor(x.data(), kF32, xs2, 2), ty2 = make_tensor(y2.data(), kF32, ys2, 2),
               tc = make_tensor(r.codes.data(), kU8, cs, 2);
    ASSERT_RAI_OK(rai_q4_linear_forward(ctx, r.state, &tc, &tx, nullptr, &ty));
    ASSERT_RAI_OK(rai_q4_linear_forward(ctx, r.state, &tc, &tx2, nullptr, &ty2));
    EXPECT_EQ(y, y2);
    rai_context_destroy(ctx);
}
