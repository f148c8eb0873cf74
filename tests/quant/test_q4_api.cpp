// The 4-bit C ABI: params, state round trips, and every error path with its status and message.
#include <cstring>

#include "q4_test_util.h"

namespace {

class Q4Api : public ::testing::Test {
protected:
    void SetUp() override {
        ctx = make_cpu_context();
        x = normal_floats(256, 1);
        codes.assign(128, 0);
    }
    void TearDown() override { rai_context_destroy(ctx); }
    rai_tensor src() { return make_tensor(x.data(), kF32, xshape, 2); }
    rai_tensor ctensor() { return make_tensor(codes.data(), kU8, cshape, 1); }
    rai_context *ctx = nullptr;
    std::vector<float> x;
    std::vector<uint8_t> codes;
    int64_t xshape[2] = {4, 64};
    int64_t cshape[1] = {128};
};

}  // namespace

TEST_F(Q4Api, ParamsInitAndDefaults) {
    rai_q4_params p;
    ASSERT_RAI_OK(rai_q4_params_init(&p));
    EXPECT_EQ(p.struct_size, sizeof p);
    EXPECT_EQ(p.type, 0);
    EXPECT_EQ(p.blocksize, 0);
    EXPECT_EQ(rai_q4_params_init_sized(&p, 4), RAI_ERROR_STRUCT_SIZE);
    EXPECT_EQ(rai_q4_params_init_sized(nullptr, sizeof p), RAI_ERROR_INVALID_ARGUMENT);
    // NULL params: NF4, block 64, no double quantisation.
    rai_tensor s = src(), c = ctensor();
    rai_q4_state *st = nullptr;
    ASSERT_RAI_OK(rai_q4_quantize(ctx, nullptr, &s, &c, &st));
    rai_q4_state_info info;
    rai_q4_state_info_init(&info);
    ASSERT_RAI_OK(rai_q4_state_get_info(st, &info));
    EXPECT_EQ(info.type, RAI_Q4_NF4);
    EXPECT_EQ(info.blocksize, 64);
    EXPECT_EQ(info.double_quant, 0);
    EXPECT_EQ(info.ndim, 2);
    EXPECT_EQ(info.shape[0], 4);
    EXPECT_EQ(info.shape[1], 64);
    EXPECT_EQ(info.numel, 256);
    EXPECT_EQ(info.blocks, 4);
    EXPECT_EQ(info.codes_bytes, 128u);
    EXPECT_EQ(info.state_bytes, 16u);
    EXPECT_EQ(info.device.device_type, RAI_DEVICE_CPU);
    info.struct_size = 8;
    EXPECT_RAI_ERROR(rai_q4_state_get_info(st, &info), RAI_ERROR_STRUCT_SIZE, "info->struct_size");
    rai_q4_state_destroy(st);
    rai_q4_state_destroy(nullptr);
}

TEST_F(Q4Api, QuantizeErrors) {
    rai_tensor s = src(), c = ctensor();
    rai_q4_state *st = reinterpret_cast<rai_q4_state *>(0x1);
    rai_q4_params p;
    rai_q4_params_init(&p);
    p.blocksize = 48;
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, &p, &s, &c, &st), RAI_ERROR_INVALID_ARGUMENT, "blocksize 48");
    EXPECT_EQ(st, nullptr);
    p.blocksize = 8192;
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, &p, &s, &c, &st), RAI_ERROR_INVALID_ARGUMENT, "blocksize 8192");
    p.blocksize = 16;
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, &p, &s, &c, &st), RAI_ERROR_INVALID_ARGUMENT, "blocksize 16");
    rai_q4_params_init(&p);
    p.type = 3;
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, &p, &s, &c, &st), RAI_ERROR_INVALID_ARGUMENT, "type 3");
    rai_q4_params_init(&p);
    p.double_quant = 2;
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, &p, &s, &c, &st), RAI_ERROR_INVALID_ARGUMENT, "double_quant");
    p.double_quant = 0;
    p.struct_size = 2;
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, &p, &s, &c, &st), RAI_ERROR_STRUCT_SIZE, "params->struct_size");
    EXPECT_RAI_ERROR(rai_q4_quantize(nullptr, nullptr, &s, &c, &st), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, nullptr, nullptr, &c, &st), RAI_ERROR_INVALID_ARGUMENT, "src");
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, nullptr, &s, nullptr, &st), RAI_ERROR_INVALID_ARGUMENT, "codes");
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, nullptr, &s, &c, nullptr), RAI_ERROR_INVALID_ARGUMENT, "out_state");
    // src dtype, layout, emptiness, device.
    std::vector<int32_t> ints(256);
    rai_tensor si = make_tensor(ints.data(), kI32, xshape, 2);
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, nullptr, &si, &c, &st), RAI_ERROR_DTYPE_MISMATCH, "src");
    const int64_t strides[2] = {1, 4};
    rai_tensor sst = make_tensor(x.data(), kF32, xshape, 2, strides);
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, nullptr, &sst, &c, &st), RAI_ERROR_LAYOUT, "src");
    const int64_t zero[1] = {0};
    rai_tensor se = make_tensor(x.data(), kF32, zero, 1);
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, nullptr, &se, &c, &st), RAI_ERROR_SHAPE_MISMATCH, "src: has no elements");
    rai_tensor sd = make_tensor(x.data(), kF32, xshape, 2, nullptr, {RAI_DEVICE_CUDA, 0});
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, nullptr, &sd, &c, &st), RAI_ERROR_DEVICE_MISMATCH, "src");
    // codes of the wrong size.
    const int64_t small[1] = {127};
    rai_tensor cs = make_tensor(codes.data(), kU8, small, 1);
    EXPECT_RAI_ERROR(rai_q4_quantize(ctx, nullptr, &s, &cs, &st), RAI_ERROR_SHAPE_MISMATCH, "expected 128");
    // codes in another storage dtype with the same bytes (bitsandbytes quant_storage) are fine.
    const int64_t as_f32[2] = {32, 1};
    rai_tensor cf = make_tensor(codes.data(), kF32, as_f32, 2);
    ASSERT_RAI_OK(rai_q4_quantize(ctx, nullptr, &s, &cf, &st));
    rai_q4_state_destroy(st);
}

TEST_F(Q4Api, DequantizeErrors) {
    rai_tensor s = src(), c = ctensor();
    rai_q4_state *st = nullptr;
    ASSERT_RAI_OK(rai_q4_quantize(ctx, nullptr, &s, &c, &st));
    std::vector<float> out(256);
    const int64_t wrong[1] = {255};
    rai_tensor d = make_tensor(out.data(), kF32, wrong, 1);
    EXPECT_RAI_ERROR(rai_q4_dequantize(ctx, st, &c, &d), RAI_ERROR_SHAPE_MISMATCH, "dst: has 255 elements");
    const int64_t right[1] = {256};
    rai_tensor di = make_tensor(out.data(), kI32, right, 1);
    EXPECT_RAI_ERROR(rai_q4_dequantize(ctx, st, &c, &di), RAI_ERROR_DTYPE_MISMATCH, "dst");
    rai_tensor dd = make_tensor(out.data(), kF32, right, 1);
    EXPECT_RAI_ERROR(rai_q4_dequantize(ctx, nullptr, &c, &dd), RAI_ERROR_INVALID_ARGUMENT, "state");
    EXPECT_RAI_ERROR(rai_q4_dequantize(ctx, st, nullptr, &dd), RAI_ERROR_INVALID_ARGUMENT, "codes");
    ASSERT_RAI_OK(rai_q4_dequantize(ctx, st, &c, &dd));
    // read_field errors.
    EXPECT_RAI_ERROR(rai_q4_state_read(ctx, st, 9, &dd), RAI_ERROR_INVALID_ARGUMENT, "field");
    EXPECT_RAI_ERROR(rai_q4_state_read(ctx, st, RAI_Q4_FIELD_NESTED_ABSMAX, &dd), RAI_ERROR_INVALID_ARGUMENT,
                     "double quantisation");
    EXPECT_RAI_ERROR(rai_q4_state_read(ctx, st, RAI_Q4_FIELD_ABSMAX, &dd), RAI_ERROR_SHAPE_MISMATCH, "dst");
    float qm[16];
    const int64_t s16[1] = {16};
    rai_tensor tq = make_tensor(qm, kF32, s16, 1);
    ASSERT_RAI_OK(rai_q4_state_read(ctx, st, RAI_Q4_FIELD_QUANT_MAP, &tq));
    EXPECT_EQ(qm[0], -1.0f);
    rai_q4_state_destroy(st);
}

TEST_F(Q4Api, StateCreateRoundTripAndErrors) {
    for (int32_t dq : {0, 1}) {
        const int64_t n = 64 * 300;
        std::vector<float> w = normal_floats(n, 21);
        Q4Run r;
        ASSERT_RAI_OK(q4_quantize_host(ctx, w.data(), kF32, {150, 128}, RAI_Q4_FP4, 64, dq, r));
        rai_q4_state_info info;
        rai_q4_state_info_init(&info);
        ASSERT_RAI_OK(rai_q4_state_get_info(r.state, &info));
        std::vector<float> absmax(300), absmax2(2), code8(256);
        std::vector<uint8_t> absmax8(300);
        const int64_t s300[1] = {300}, s2[1] = {2}, s256[1] = {256};
        rai_tensor ta = dq ? make_tensor(absmax8.data(), kU8, s300, 1) : make_tensor(absmax.data(), kF32, s300, 1);
        rai_tensor t2 = make_tensor(absmax2.data(), kF32, s2, 1), tc = make_tensor(code8.data(), kF32, s256, 1);
        ASSERT_RAI_OK(rai_q4_state_read(ctx, r.state, RAI_Q4_FIELD_ABSMAX, &ta));
        if (dq) {
            ASSERT_RAI_OK(rai_q4_state_read(ctx, r.state, RAI_Q4_FIELD_NESTED_ABSMAX, &t2));
            ASSERT_RAI_OK(rai_q4_state_read(ctx, r.state, RAI_Q4_FIELD_NESTED_QUANT_MAP, &tc));
        }
        rai_q4_state_params p;
        rai_q4_state_params_init(&p);
        p.type = RAI_Q4_FP4;
        p.ndim = 2;
        p.shape[0] = 150;
        p.shape[1] = 128;
        p.offset = info.offset;
        rai_q4_state *st = nullptr;
        ASSERT_RAI_OK(rai_q4_state_create(ctx, &p, &ta, dq ? &t2 : nullptr, dq ? &tc : nullptr, &st));
        Q4Run again;
        again.codes = r.codes;
        again.state = st;
        EXPECT_EQ(q4_dequantize_host(ctx, again, n), q4_dequantize_host(ctx, r, n));
        rai_q4_state *copy = nullptr;
        ASSERT_RAI_OK(rai_q4_state_copy(ctx, st, &copy));
        Q4Run copied;
        copied.codes = r.codes;
        copied.state = copy;
        EXPECT_EQ(q4_dequantize_host(ctx, copied, n), q4_dequantize_host(ctx, r, n));
        // Errors.
        rai_q4_state *bad = nullptr;
        p.shape[0] = 151;
        EXPECT_RAI_ERROR(rai_q4_state_create(ctx, &p, &ta, dq ? &t2 : nullptr, nullptr, &bad), RAI_ERROR_SHAPE_MISMATCH,
                         "absmax: has 300 elements, expected 302");
        p.shape[0] = 150;
        p.blocksize = 100;
        EXPECT_RAI_ERROR(rai_q4_state_create(ctx, &p, &ta, dq ? &t2 : nullptr, nullptr, &bad),
                         RAI_ERROR_INVALID_ARGUMENT, "blocksize 100");
        p.blocksize = 0;
        p.ndim = 0;
        EXPECT_RAI_ERROR(rai_q4_state_create(ctx, &p, &ta, nullptr, nullptr, &bad), RAI_ERROR_INVALID_ARGUMENT, "ndim");
        p.ndim = 2;
        if (dq) {
            EXPECT_RAI_ERROR(rai_q4_state_create(ctx, &p, &ta, nullptr, nullptr, &bad), RAI_ERROR_INVALID_ARGUMENT,
                             "nested_absmax");
            p.nested_blocksize = 128;
            EXPECT_RAI_ERROR(rai_q4_state_create(ctx, &p, &ta, &t2, nullptr, &bad), RAI_ERROR_INVALID_ARGUMENT,
                             "nested blocksize 128");
            p.nested_blocksize = 0;
            rai_tensor t1 = make_tensor(absmax2.data(), kF32, s2, 1);
            const int64_t s1[1] = {1};
            t1.shape = s1;
            EXPECT_RAI_ERROR(rai_q4_state_create(ctx, &p, &ta, &t1, nullptr, &bad), RAI_ERROR_SHAPE_MISMATCH,
                             "nested_absmax");
        } else {
            EXPECT_RAI_ERROR(rai_q4_state_create(ctx, &p, &ta, &t2, nullptr, &bad), RAI_ERROR_INVALID_ARGUMENT,
                             "must be NULL");
        }
        EXPECT_EQ(bad, nullptr);
    }
}

TEST_F(Q4Api, LinearErrors) {
    rai_tensor s = src(), c = ctensor();
    rai_q4_state *st = nullptr;
    ASSERT_RAI_OK(rai_q4_quantize(ctx, nullptr, &s, &c, &st));  // W [4, 64]: N = 4, K = 64
    std::vector<float> xin(2 * 64), y(2 * 4), bias(4);
    const int64_t xs[2] = {2, 64}, ys[2] = {2, 4}, bs[1] = {4};
    rai_tensor tx = make_tensor(xin.data(), kF32, xs, 2), ty = make_tensor(y.data(), kF32, ys, 2),
               tb = make_tensor(bias.data(), kF32, bs, 1);
    ASSERT_RAI_OK(rai_q4_linear_forward(ctx, st, &c, &tx, &tb, &ty));
    const int64_t xbad[2] = {2, 63};
    rai_tensor txb = make_tensor(xin.data(), kF32, xbad, 2);
    EXPECT_RAI_ERROR(rai_q4_linear_forward(ctx, st, &c, &txb, &tb, &ty), RAI_ERROR_SHAPE_MISMATCH, "x: shape [2, 63] must end in 64");
    const int64_t ybad[2] = {3, 4};
    rai_tensor tyb = make_tensor(y.data(), kF32, ybad, 2);
    EXPECT_RAI_ERROR(rai_q4_linear_forward(ctx, st, &c, &tx, &tb, &tyb), RAI_ERROR_SHAPE_MISMATCH, "y: shape mismatch");
    std::vector<uint16_t> yh(8);
    rai_tensor tyh = make_tensor(yh.data(), kF16, ys, 2);
    EXPECT_RAI_ERROR(rai_q4_linear_forward(ctx, st, &c, &tx, &tb, &tyh), RAI_ERROR_DTYPE_MISMATCH, "y");
    const int64_t bbad[1] = {5};
    rai_tensor tbb = make_tensor(bias.data(), kF32, bbad, 1);
    EXPECT_RAI_ERROR(rai_q4_linear_forward(ctx, st, &c, &tx, &tbb, &ty), RAI_ERROR_SHAPE_MISMATCH, "bias");
    std::vector<float> dx(2 * 64);
    rai_tensor tdx = make_tensor(dx.data(), kF32, xs, 2);
    ASSERT_RAI_OK(rai_q4_linear_backward_input(ctx, st, &c, &ty, &tdx));
    EXPECT_RAI_ERROR(rai_q4_linear_backward_input(ctx, st, &c, &tx, &tdx), RAI_ERROR_SHAPE_MISMATCH, "dy");
    rai_q4_state_destroy(st);
    // A weight that is not 2-D.
    const int64_t flat[1] = {256};
    rai_tensor s1 = make_tensor(x.data(), kF32, flat, 1);
    ASSERT_RAI_OK(rai_q4_quantize(ctx, nullptr, &s1, &c, &st));
    EXPECT_RAI_ERROR(rai_q4_linear_forward(ctx, st, &c, &tx, nullptr, &ty), RAI_ERROR_SHAPE_MISMATCH, "2-D weight");
    rai_q4_state_destroy(st);
}
