// GPU suite for the 4-bit formats (meson test --suite gpu): skips without a CUDA device.
// GPU == CPU bit for bit for quantise (plain and double), dequantise and the state arrays; the
// linear layer (fused GEMV at M <= 4, dequantise + cuBLASLt above) within the reference tolerance.
#include <cstring>

#include "q4_test_util.h"

namespace {

class Q4Gpu : public GpuVsCpu {
protected:
    // A device buffer holding `bytes`, with a tensor over it.
    struct Dev {
        rai_buffer *buf = nullptr;
        std::vector<int64_t> shape;
        rai_tensor t{};
        ~Dev() { rai_buffer_destroy(buf); }
    };
    void make_dev(Dev &d, rai_dtype dt, std::vector<int64_t> shape, const void *init = nullptr) {
        d.shape = std::move(shape);
        int64_t n = 1;
        for (int64_t s : d.shape) n *= s;
        const size_t bytes = static_cast<size_t>(n) * (dt.bits / 8);
        ASSERT_RAI_OK(rai_buffer_create(gpu, bytes == 0 ? 1 : bytes, &d.buf));
        if (init) {
            ASSERT_RAI_OK(rai_buffer_write(gpu, d.buf, 0, init, bytes));
        }
        d.t = make_tensor(rai_buffer_data(d.buf), dt, d.shape.data(), static_cast<int32_t>(d.shape.size()), nullptr,
                          {RAI_DEVICE_CUDA, 0});
    }
    template <class T>
    std::vector<T> read(const Dev &d, size_t count) {
        std::vector<T> v(count);
        EXPECT_EQ(rai_buffer_read(gpu, d.buf, 0, v.data(), count * sizeof(T)), RAI_OK) << rai_last_error_message();
        return v;
    }

};

std::vector<uint16_t> to_bits(const std::vector<float> &x, rai_dtype dt) {
    std::vector<uint16_t> out(x.size());
    for (size_t i = 0; i < x.size(); ++i)
        out[i] = dt.code == RAI_DTYPE_BFLOAT ? rai::q4::f32_to_bf16(x[i]) : rai::q4::f32_to_f16(x[i]);
    return out;
}

}  // namespace

TEST_F(Q4Gpu, QuantizeAndDequantizeEqualTheCpu) {
    for (rai_dtype dt : {kF32, kF16, kBF16})
        for (int32_t type : {RAI_Q4_NF4, RAI_Q4_FP4})
            for (int32_t bs = 32; bs <= 4096; bs *= 2)
                for (int64_t n : {1, 31, 33, 65537, 1 << 20})
                    for (int32_t dq : {0, 1}) {
                        SCOPED_TRACE("bits " + std::to_string(dt.bits) + " type " + std::to_string(type) + " bs " +
                                     std::to_string(bs) + " n " + std::to_string(n) + " dq " + std::to_string(dq));
                        std::vector<float> x = normal_floats(static_cast<size_t>(n), static_cast<uint32_t>(n + bs), 2.0f);
                        if (n > 300) std::fill(x.begin() + 128, x.begin() + 256, 0.0f);
                        std::vector<uint16_t> h = to_bits(x, dt);
                        const void *host = dt.bits == 32 ? static_cast<const void *>(x.data()) : h.data();
                        Q4Run ref;
                        ASSERT_RAI_OK(q4_quantize_host(cpu, host, dt, {n}, type, bs, dq, ref));
                        Dev src, codes, out;
                        make_dev(src, dt, {n}, host);
                        make_dev(codes, kU8, {(n + 1) / 2});
                        rai_q4_params p;
                        rai_q4_params_init(&p);
                        p.type = type;
                        p.blocksize = bs;
                        p.double_quant = dq;
                        rai_q4_state *st = nullptr;
                        ASSERT_RAI_OK(rai_q4_quantize(gpu, &p, &src.t, &codes.t, &st));
                        EXPECT_EQ(read<uint8_t>(codes, ref.codes.size()), ref.codes);
                        rai_q4_state_info gi, ci;
                        rai_q4_state_info_init(&gi);
                        rai_q4_state_info_init(&ci);
                        ASSERT_RAI_OK(rai_q4_state_get_info(st, &gi));
                        ASSERT_RAI_OK(rai_q4_state_get_info(ref.state, &ci));
                        EXPECT_EQ(gi.offset, ci.offset);
                        EXPECT_EQ(gi.device.device_type, RAI_DEVICE_CUDA);
                        // Decoded scales equal, bit for bit.
                        Dev dec;
                        make_dev(dec, kF32, {ci.blocks});
                        ASSERT_RAI_OK(rai_q4_state_read(gpu, st, RAI_Q4_FIELD_ABSMAX_DECODED, &dec.t));
                        std::vector<float> cdec(static_cast<size_t>(ci.blocks));
                        int64_t nb[1] = {ci.blocks};
                        rai_tensor tcd = make_tensor(cdec.data(), kF32, nb, 1);
                        ASSERT_RAI_OK(rai_q4_state_read(cpu, ref.state, RAI_Q4_FIELD_ABSMAX_DECODED, &tcd));
                        std::vector<float> gdec = read<float>(dec, cdec.size());
                        EXPECT_EQ(0, std::memcmp(gdec.data(), cdec.data(), cdec.size() * 4));
                        // Dequantise into the same dtype on both.
                        make_dev(out, dt, {n});
                        ASSERT_RAI_OK(rai_q4_dequantize(gpu, st, &codes.t, &out.t));
                        std::vector<uint8_t> cpu_out(static_cast<size_t>(n) * (dt.bits / 8));
                        int64_t ns[1] = {n}, cs[1] = {(n + 1) / 2};
                        rai_tensor td = make_tensor(cpu_out.data(), dt, ns, 1), tc = make_tensor(ref.codes.data(), kU8, cs, 1);
                        ASSERT_RAI_OK(rai_q4_dequantize(cpu, ref.state, &tc, &td));
                        EXPECT_EQ(read<uint8_t>(out, cpu_out.size()), cpu_out);
                        // The state moves to the host and back unchanged.
                        rai_q4_state *host_copy = nullptr;
                        ASSERT_RAI_OK(rai_q4_state_copy(cpu, st, &host_copy));
                        Q4Run hc;
                        hc.codes = ref.codes;
                        hc.state = host_copy;
                        EXPECT_EQ(q4_dequantize_host(cpu, hc, n), q4_dequantize_host(cpu, ref, n));
                        rai_q4_state_destroy(st);
                    }
}

TEST_F(Q4Gpu, LinearMatchesTheCpuReference) {
    struct Case {
        int64_t N, K, M;
        int32_t bs, type, dq;
    };
    const Case cases[] = {{4096, 4096, 1, 64, RAI_Q4_NF4, 0}, {1024, 4096, 2, 64, RAI_Q4_NF4, 1},
                          {333, 1024, 4, 128, RAI_Q4_FP4, 0}, {100, 96, 3, 32, RAI_Q4_NF4, 1},
                          {257, 100, 1, 64, RAI_Q4_NF4, 0},   {512, 512, 5, 64, RAI_Q4_NF4, 1},
                          {300, 1000, 64, 256, RAI_Q4_FP4, 0}, {64, 4096, 513, 4096, RAI_Q4_NF4, 1}};
    for (const Case &c : cases)
        for (rai_dtype dt : {kF32, kF16, kBF16}) {
            SCOPED_TRACE("N " + std::to_string(c.N) + " K " + std::to_string(c.K) + " M " + std::to_string(c.M) +
                         " bits " + std::to_string(dt.bits));
            const int64_t n = c.N * c.K;
            std::vector<float> w = normal_floats(static_cast<size_t>(n), 1, 0.05f);
            Q4Run ref;
            ASSERT_RAI_OK(q4_quantize_host(cpu, w.data(), kF32, {c.N, c.K}, c.type, c.bs, c.dq, ref));
            const std::vector<float> wd = q4_dequantize_host(cpu, ref, n);
            std::vector<float> x = normal_floats(static_cast<size_t>(c.M * c.K), 2), bias = normal_floats(c.N, 3),
                               dy = normal_floats(static_cast<size_t>(c.M * c.N), 4);
            auto round_to = [&](std::vector<float> &v) {
                if (dt.bits == 32) return;
                for (float &f : v)
                    f = dt.code == RAI_DTYPE_BFLOAT ? rai::q4::bf16_to_f32(rai::q4::f32_to_bf16(f))
                                                    : rai::q4::f16_to_f32(rai::q4::f32_to_f16(f));
            };
            round_to(x);
            round_to(bias);
            round_to(dy);
            auto host_bytes = [&](const std::vector<float> &v, std::vector<uint16_t> &tmp) -> const void * {
                if (dt.bits == 32) return v.data();
                tmp = to_bits(v, dt);
                return tmp.data();
            };
            std::vector<uint16_t> t1, t2, t3;
            Dev codes, tx, tb, ty, tdy, tdx;
            make_dev(codes, kU8, {(n + 1) / 2}, ref.codes.data());
            make_dev(tx, dt, {c.M, c.K}, host_bytes(x, t1));
            make_dev(tb, dt, {c.N}, host_bytes(bias, t2));
            make_dev(ty, dt, {c.M, c.N});
            make_dev(tdy, dt, {c.M, c.N}, host_bytes(dy, t3));
            make_dev(tdx, dt, {c.M, c.K});
            rai_q4_state *st = nullptr;
            ASSERT_RAI_OK(rai_q4_state_copy(gpu, ref.state, &st));
            ASSERT_RAI_OK(rai_q4_linear_forward(gpu, st, &codes.t, &tx.t, &tb.t, &ty.t));
            ASSERT_RAI_OK(rai_q4_linear_backward_input(gpu, st, &codes.t, &tdy.t, &tdx.t));
            auto fetch = [&](const Dev &d, size_t count) {
                std::vector<float> v(count);
                if (dt.bits == 32) return read<float>(d, count);
                std::vector<uint16_t> h = read<uint16_t>(d, count);
                for (size_t i = 0; i < count; ++i)
                    v[i] = dt.code == RAI_DTYPE_BFLOAT ? rai::q4::bf16_to_f32(h[i]) : rai::q4::f16_to_f32(h[i]);
                return v;
            };
            const std::vector<float> y = fetch(ty, static_cast<size_t>(c.M * c.N));
            const std::vector<float> dx = fetch(tdx, static_cast<size_t>(c.M * c.K));
            const double tol = dt.bits == 32 ? 1e-4 : (dt.code == RAI_DTYPE_BFLOAT ? 8e-3 : 2e-3);
            for (int64_t m = 0; m < c.M; m += (c.M > 8 ? 7 : 1))
                for (int64_t j = 0; j < c.N; ++j) {
                    double r = bias[j], mag = std::fabs(bias[j]);
                    for (int64_t k = 0; k < c.K; ++k) {
                        r += double(x[m * c.K + k]) * wd[j * c.K + k];
                        mag += std::fabs(double(x[m * c.K + k]) * wd[j * c.K + k]);
                    }
                    ASSERT_LE(std::fabs(y[m * c.N + j] - r), tol * mag) << "y " << m << "," << j;
                }
            for (int64_t m = 0; m < c.M; m += (c.M > 8 ? 7 : 1))
                for (int64_t k = 0; k < c.K; k += (c.K > 1024 ? 5 : 1)) {
                    double r = 0, mag = 0;
                    for (int64_t j = 0; j < c.N; ++j) {
                        r += double(dy[m * c.N + j]) * wd[j * c.K + k];
                        mag += std::fabs(double(dy[m * c.N + j]) * wd[j * c.K + k]);
                    }
                    ASSERT_LE(std::fabs(dx[m * c.K + k] - r), tol * mag) << "dx " << m << "," << k;
                }
            rai_q4_state_destroy(st);
        }
}

TEST_F(Q4Gpu, DeviceMismatchIsReported) {
    std::vector<float> x = normal_floats(128, 1);
    Q4Run ref;
    ASSERT_RAI_OK(q4_quantize_host(cpu, x.data(), kF32, {2, 64}, RAI_Q4_NF4, 64, 0, ref));
    Dev codes, out;
    make_dev(codes, kU8, {64}, ref.codes.data());
    make_dev(out, kF32, {128});
    EXPECT_RAI_ERROR(rai_q4_dequantize(gpu, ref.state, &codes.t, &out.t), RAI_ERROR_DEVICE_MISMATCH, "state");
}
