// GPU suite: rai_vsa_matrix on a CUDA context must give exactly the CPU context's results
// (integer and trit outputs bit-identical, float outputs too, since they are computed from the
// same integers in the same way). Against the shared library, as users load it; the binary's main
// (tests/gpu/gpu_main.cpp) reports "skipped" without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../unit/test_helpers.h"
#include "rai.h"

namespace {

#define ASSERT_OK(call) ASSERT_EQ((call), RAI_OK) << rai_last_error_message()

std::vector<int8_t> random_trits(size_t n, uint64_t seed) {
    std::mt19937_64 g(seed);
    std::vector<int8_t> t(n);
    for (auto &x : t) x = static_cast<int8_t>(static_cast<int>(g() % 3) - 1);
    return t;
}

class GpuTernary : public GpuVsCpu {
protected:
    void TearDown() override {
        for (auto *m : mats) rai_vsa_matrix_destroy(m);
        for (auto *b : bufs) rai_buffer_destroy(b);
        GpuVsCpu::TearDown();
    }
    rai_vsa_matrix *mat(rai_context *ctx, size_t rows, size_t dim) {
        rai_vsa_matrix *m = nullptr;
        EXPECT_EQ(rai_vsa_matrix_create(ctx, rows, dim, &m), RAI_OK) << rai_last_error_message();
        mats.push_back(m);
        return m;
    }
    // A device buffer of `bytes` with its device pointer.
    void *dev(size_t bytes) {
        rai_buffer *b = nullptr;
        EXPECT_EQ(rai_buffer_create(gpu, bytes == 0 ? 1 : bytes, &b), RAI_OK) << rai_last_error_message();
        bufs.push_back(b);
        return rai_buffer_data(b);
    }
    rai_buffer *last_buffer() { return bufs.back(); }

    // All rows of a matrix as int8 (through a host tensor on the CPU, a device tensor on the GPU).
    std::vector<int8_t> rows_of(rai_context *ctx, rai_vsa_matrix *m) {
        size_t rows = 0, dim = 0;
        rai_vsa_matrix_shape(m, &rows, &dim);
        std::vector<int8_t> host(rows * dim);
        const int64_t shape[2] = {static_cast<int64_t>(rows), static_cast<int64_t>(dim)};
        rai_tensor t{host.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_INT, 8, 1}, shape, nullptr, 0};
        if (ctx == gpu) {
            t.data = dev(host.size());
            t.device = {RAI_DEVICE_CUDA, 0};
        }
        EXPECT_EQ(rai_vsa_matrix_read_int8(ctx, m, 0, &t), RAI_OK) << rai_last_error_message();
        if (ctx == gpu && !host.empty()) {
            EXPECT_EQ(rai_buffer_read(gpu, last_buffer(), 0, host.data(), host.size()), RAI_OK);
        }
        return host;
    }
    void write_rows(rai_context *ctx, rai_vsa_matrix *m, const std::vector<int8_t> &data, size_t rows, size_t dim) {
        const int64_t shape[2] = {static_cast<int64_t>(rows), static_cast<int64_t>(dim)};
        rai_tensor t{const_cast<int8_t *>(data.data()), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_INT, 8, 1}, shape, nullptr, 0};
        if (ctx == gpu) {
            t.data = dev(data.size());
            t.device = {RAI_DEVICE_CUDA, 0};
            if (!data.empty()) {
                ASSERT_OK(rai_buffer_write(gpu, last_buffer(), 0, data.data(), data.size()));
            }
        }
        ASSERT_OK(rai_vsa_matrix_write_int8(ctx, m, 0, &t));
    }
    // Top-k of queries q against items i on the CPU (cq, ci) and the GPU (gq, gi): the same
    // indices and, with scores, the same score bits.
    void expect_topk_equal(rai_vsa_matrix *cq, rai_vsa_matrix *ci, rai_vsa_matrix *gq, rai_vsa_matrix *gi, size_t Q,
                           size_t k, int32_t metric, bool scores, const std::string &what) {
        const int64_t ks[2] = {static_cast<int64_t>(Q), static_cast<int64_t>(k)};
        std::vector<int64_t> xc(Q * k), xg(Q * k);
        std::vector<float> sc(Q * k), sg(Q * k);
        rai_tensor txc{xc.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_INT, 64, 1}, ks, nullptr, 0};
        rai_tensor tsc{sc.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_FLOAT, 32, 1}, ks, nullptr, 0};
        rai_tensor txg{dev(xg.size() * 8), {RAI_DEVICE_CUDA, 0}, 2, {RAI_DTYPE_INT, 64, 1}, ks, nullptr, 0};
        rai_buffer *bx = last_buffer();
        rai_tensor tsg{dev(sg.size() * 4), {RAI_DEVICE_CUDA, 0}, 2, {RAI_DTYPE_FLOAT, 32, 1}, ks, nullptr, 0};
        rai_buffer *bs = last_buffer();
        ASSERT_OK(rai_vsa_topk(cpu, cq, ci, k, metric, &txc, scores ? &tsc : nullptr));
        ASSERT_OK(rai_vsa_topk(gpu, gq, gi, k, metric, &txg, scores ? &tsg : nullptr));
        ASSERT_OK(rai_buffer_read(gpu, bx, 0, xg.data(), xg.size() * 8));
        EXPECT_EQ(xc, xg) << what << " k " << k;
        if (scores) {
            ASSERT_OK(rai_buffer_read(gpu, bs, 0, sg.data(), sg.size() * 4));
            EXPECT_EQ(std::memcmp(sc.data(), sg.data(), sc.size() * 4), 0) << "scores " << what << " k " << k;
        }
    }

    // The same matrix on both contexts.
    std::pair<rai_vsa_matrix *, rai_vsa_matrix *> pair(const std::vector<int8_t> &data, size_t rows, size_t dim) {
        rai_vsa_matrix *c = mat(cpu, rows, dim), *g = mat(gpu, rows, dim);
        write_rows(cpu, c, data, rows, dim);
        write_rows(gpu, g, data, rows, dim);
        return {c, g};
    }

    std::vector<rai_vsa_matrix *> mats;
    std::vector<rai_buffer *> bufs;
};

const size_t kDims[] = {1, 31, 33, 64, 1000, 10000, 65537};

}  // namespace

TEST_F(GpuTernary, RandomRowsEqualCpu) {
    for (size_t dim : kDims) {
        for (int32_t gen : {RAI_VSA_RNG_TRITVSA_XS64, RAI_VSA_RNG_COUNTER})
            for (int32_t dist : {RAI_VSA_DENSE, RAI_VSA_BIPOLAR, RAI_VSA_SPARSE}) {
                rai_random_params p;
                rai_random_params_init(&p);
                p.generator = gen;
                p.distribution = dist;
                p.density = 0.1;
                p.seed = 42;
                rai_vsa_matrix *c = mat(cpu, 3, dim), *g = mat(gpu, 3, dim);
                ASSERT_OK(rai_vsa_matrix_random(cpu, c, &p));
                ASSERT_OK(rai_vsa_matrix_random(gpu, g, &p));
                EXPECT_EQ(rows_of(gpu, g), rows_of(cpu, c)) << "dim " << dim << " gen " << gen << " dist " << dist;
            }
    }
}

TEST_F(GpuTernary, TritterChacha8RowsEqualCpu) {
    // Seeds straddle 2^32 (seed + r is 64-bit); the CPU path is checked against rand_chacha's
    // golden vectors in tests/ternary/test_chacha8.cpp.
    rai_random_params p;
    rai_random_params_init(&p);
    p.generator = RAI_VSA_RNG_TRITTER_CHACHA8;
    p.seed = 0xFFFFFFFEull;
    for (size_t dim : kDims) {
        rai_vsa_matrix *c = mat(cpu, 3, dim), *g = mat(gpu, 3, dim);
        ASSERT_OK(rai_vsa_matrix_random(cpu, c, &p));
        ASSERT_OK(rai_vsa_matrix_random(gpu, g, &p));
        EXPECT_EQ(rows_of(gpu, g), rows_of(cpu, c)) << "dim " << dim;
    }
    rai_vsa_matrix *c = mat(cpu, 300, 100), *g = mat(gpu, 300, 100);
    ASSERT_OK(rai_vsa_matrix_random(cpu, c, &p));
    ASSERT_OK(rai_vsa_matrix_random(gpu, g, &p));
    EXPECT_EQ(rows_of(gpu, g), rows_of(cpu, c));
    // Dense only, rejected before any kernel runs.
    p.distribution = RAI_VSA_BIPOLAR;
    EXPECT_EQ(rai_vsa_matrix_random(gpu, g, &p), RAI_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(rai_last_error_message()).find("params->distribution"), std::string::npos)
        << rai_last_error_message();
}

TEST_F(GpuTernary, ElementwiseEqualCpu) {
    const size_t R = 5;
    for (size_t dim : kDims) {
        auto [ca, ga] = pair(random_trits(R * dim, dim), R, dim);
        auto [cb, gb] = pair(random_trits(R * dim, dim + 1), R, dim);
        auto [ck, gk] = pair(random_trits(dim, dim + 2), 1, dim);
        rai_vsa_matrix *co = mat(cpu, R, dim), *go = mat(gpu, R, dim);
        for (int32_t mode : {RAI_VSA_BIND_MOD3, RAI_VSA_BIND_MUL}) {
            ASSERT_OK(rai_vsa_matrix_bind(cpu, ca, cb, mode, co));
            ASSERT_OK(rai_vsa_matrix_bind(gpu, ga, gb, mode, go));
            EXPECT_EQ(rows_of(gpu, go), rows_of(cpu, co)) << "bind dim " << dim;
            ASSERT_OK(rai_vsa_matrix_unbind(cpu, co, ck, mode, co));
            ASSERT_OK(rai_vsa_matrix_unbind(gpu, go, gk, mode, go));
            EXPECT_EQ(rows_of(gpu, go), rows_of(cpu, co)) << "unbind broadcast dim " << dim;
        }
        for (int64_t shift : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{63}, int64_t{65}, static_cast<int64_t>(dim) + 7,
                              int64_t{-12345}}) {
            ASSERT_OK(rai_vsa_matrix_permute(cpu, ca, shift, co));
            ASSERT_OK(rai_vsa_matrix_permute(gpu, ga, shift, go));
            EXPECT_EQ(rows_of(gpu, go), rows_of(cpu, co)) << "permute dim " << dim << " shift " << shift;
        }
        ASSERT_OK(rai_vsa_matrix_permute(cpu, co, 5, co));
        ASSERT_OK(rai_vsa_matrix_permute(gpu, go, 5, go));
        EXPECT_EQ(rows_of(gpu, go), rows_of(cpu, co)) << "permute in place dim " << dim;
    }
}

TEST_F(GpuTernary, BundleEqualCpu) {
    // (+, 0, 0) bundles to + (the Rust GPU plurality rule gave 0).
    auto [c3, g3] = pair({1, 0, 0}, 3, 1);
    rai_vsa_matrix *c1 = mat(cpu, 1, 1), *g1 = mat(gpu, 1, 1);
    ASSERT_OK(rai_vsa_matrix_bundle(gpu, g3, nullptr, nullptr, g1));
    EXPECT_EQ(rows_of(gpu, g1), (std::vector<int8_t>{1}));
    for (size_t dim : kDims)
        for (size_t n : {1, 2, 3, 16, 256}) {
            auto [cm, gm] = pair(random_trits(n * dim, 7 * dim + n), n, dim);
            rai_vsa_matrix *co = mat(cpu, 1, dim), *go = mat(gpu, 1, dim);
            std::vector<int32_t> w(n);
            for (size_t k = 0; k < n; ++k) w[k] = static_cast<int32_t>(k % 5) - 1;
            rai_bundle_params p;
            rai_bundle_params_init(&p);
            for (int32_t tie : {RAI_VSA_TIE_ZERO, RAI_VSA_TIE_RANDOM}) {
                p.tie_break = tie;
                p.seed = 99;
                ASSERT_OK(rai_vsa_matrix_bundle(cpu, cm, nullptr, &p, co));
                ASSERT_OK(rai_vsa_matrix_bundle(gpu, gm, nullptr, &p, go));
                EXPECT_EQ(rows_of(gpu, go), rows_of(cpu, co)) << "bundle dim " << dim << " n " << n << " tie " << tie;
                ASSERT_OK(rai_vsa_matrix_bundle(cpu, cm, w.data(), &p, co));
                ASSERT_OK(rai_vsa_matrix_bundle(gpu, gm, w.data(), &p, go));
                EXPECT_EQ(rows_of(gpu, go), rows_of(cpu, co)) << "weighted dim " << dim << " n " << n;
            }
        }
    (void)c1;
    (void)c3;
}

TEST_F(GpuTernary, SimilarityAndTopkEqualCpu) {
    const size_t Q = 70, M = 130;
    for (size_t dim : {1, 33, 1000, 10000}) {
        std::vector<int8_t> items = random_trits(M * dim, dim + 5);
        std::fill(items.begin() + 3 * static_cast<long>(dim), items.begin() + 4 * static_cast<long>(dim), 0);  // zero row
        std::copy(items.begin(), items.begin() + static_cast<long>(dim), items.begin() + 90 * static_cast<long>(dim));  // tie
        auto [cq, gq] = pair(random_trits(Q * dim, dim + 4), Q, dim);
        auto [ci, gi] = pair(items, M, dim);
        const int64_t shape[2] = {static_cast<int64_t>(Q), static_cast<int64_t>(M)};
        for (int32_t metric = RAI_VSA_COSINE; metric <= RAI_VSA_EQUAL_COUNT; ++metric) {
            std::vector<float> hc(Q * M), hg(Q * M);
            rai_tensor tc{hc.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_FLOAT, 32, 1}, shape, nullptr, 0};
            rai_tensor tg{dev(hg.size() * 4), {RAI_DEVICE_CUDA, 0}, 2, {RAI_DTYPE_FLOAT, 32, 1}, shape, nullptr, 0};
            ASSERT_OK(rai_vsa_similarity_matrix(cpu, cq, ci, metric, &tc));
            ASSERT_OK(rai_vsa_similarity_matrix(gpu, gq, gi, metric, &tg));
            ASSERT_OK(rai_buffer_read(gpu, last_buffer(), 0, hg.data(), hg.size() * 4));
            EXPECT_EQ(std::memcmp(hc.data(), hg.data(), hc.size() * 4), 0) << "metric " << metric << " dim " << dim;
            if (metric != RAI_VSA_COSINE && metric != RAI_VSA_HAMMING_SIMILARITY) {
                std::vector<int32_t> ic(Q * M), ig(Q * M);
                rai_tensor ti{ic.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_INT, 32, 1}, shape, nullptr, 0};
                rai_tensor tgi{dev(ig.size() * 4), {RAI_DEVICE_CUDA, 0}, 2, {RAI_DTYPE_INT, 32, 1}, shape, nullptr, 0};
                ASSERT_OK(rai_vsa_similarity_matrix(cpu, cq, ci, metric, &ti));
                ASSERT_OK(rai_vsa_similarity_matrix(gpu, gq, gi, metric, &tgi));
                ASSERT_OK(rai_buffer_read(gpu, last_buffer(), 0, ig.data(), ig.size() * 4));
                EXPECT_EQ(ic, ig) << "i32 metric " << metric << " dim " << dim;
            }
            for (size_t k : {size_t{1}, size_t{5}, size_t{32}, size_t{33}, M})  // selection (<= 32) and sort
                expect_topk_equal(cq, ci, gq, gi, Q, k, metric, true,
                                  "top-k metric " + std::to_string(metric) + " dim " + std::to_string(dim));
        }
    }
}

// Many items per selecting thread (m = 5000 over 256 threads) and heavy ties (dim 16: scores in
// [-16, 16]), for the k <= 32 selection path and the sort path beside it.
TEST_F(GpuTernary, TopkWithManyItemsPerThreadAndTiesEqualsCpu) {
    const size_t Q = 3, M = 5000, dim = 16;
    auto [cq, gq] = pair(random_trits(Q * dim, 41), Q, dim);
    auto [ci, gi] = pair(random_trits(M * dim, 42), M, dim);
    for (int32_t metric : {RAI_VSA_DOT, RAI_VSA_COSINE, RAI_VSA_HAMMING_DISTANCE}) {
        for (size_t k : {size_t{1}, size_t{7}, size_t{32}, size_t{40}})
            expect_topk_equal(cq, ci, gq, gi, Q, k, metric, false, "metric " + std::to_string(metric));
    }
}

// Up to 64 queries with k <= 32 take the fused pass (chunks of items per block, up to 16 queries per
// block, the chunks' lists merged after). Heavy ties: the items repeat with period 7 (a zero row among
// them), so equal scores must go to the lower index across chunks and warps; dim 16 adds ties between
// different rows. q = 17 and 64 span several query groups, q = 65 takes the tiles beside them.
TEST_F(GpuTernary, FewQueryTopkWithTiesEqualsCpu) {
    for (size_t dim : {size_t{16}, size_t{1000}}) {
        for (size_t Q : {size_t{1}, size_t{3}, size_t{16}, size_t{17}, size_t{64}, size_t{65}}) {
            auto [cq, gq] = pair(random_trits(Q * dim, 50 + Q + dim), Q, dim);
            for (size_t M : {size_t{1}, size_t{100}, size_t{4099}}) {
                std::vector<int8_t> items = random_trits(M * dim, 60 + M + dim);
                if (M > 3) std::fill(items.begin() + 3 * static_cast<long>(dim), items.begin() + 4 * static_cast<long>(dim), 0);
                for (size_t r = 7; r < M; ++r)
                    std::copy(items.begin() + static_cast<long>((r % 7) * dim), items.begin() + static_cast<long>((r % 7 + 1) * dim),
                              items.begin() + static_cast<long>(r * dim));
                auto [ci, gi] = pair(items, M, dim);
                for (int32_t metric = RAI_VSA_COSINE; metric <= RAI_VSA_EQUAL_COUNT; ++metric)
                    for (size_t k : {size_t{1}, size_t{10}, size_t{32}}) {
                        if (k > M) continue;
                        expect_topk_equal(cq, ci, gq, gi, Q, k, metric, true,
                                          "dim " + std::to_string(dim) + " q " + std::to_string(Q) + " m " +
                                              std::to_string(M) + " metric " + std::to_string(metric));
                    }
            }
        }
    }
}

TEST_F(GpuTernary, RowsAndErrors) {
    const size_t dim = 100;
    rai_vsa_matrix *g = mat(gpu, 2, dim);
    std::vector<int8_t> data = random_trits(2 * dim, 3);
    write_rows(gpu, g, data, 2, dim);
    rai_tvec *v = nullptr;
    ASSERT_OK(rai_tvec_create(dim, &v));
    ASSERT_OK(rai_vsa_matrix_get_row(gpu, g, 1, v));
    std::vector<int8_t> row(dim);
    size_t n = 0;
    ASSERT_OK(rai_tvec_export_int8(v, row.data(), dim, &n));
    EXPECT_EQ(row, std::vector<int8_t>(data.begin() + dim, data.end()));
    ASSERT_OK(rai_vsa_matrix_set_row(gpu, g, 0, v));
    std::vector<int8_t> all = rows_of(gpu, g);
    EXPECT_EQ(std::vector<int8_t>(all.begin(), all.begin() + dim), row);
    // A bad value on the device: INVALID_ARGUMENT naming the element, nothing written.
    std::vector<int8_t> bad = data;
    bad[dim + 17] = 5;
    const int64_t shape[2] = {2, static_cast<int64_t>(dim)};
    rai_tensor t{dev(bad.size()), {RAI_DEVICE_CUDA, 0}, 2, {RAI_DTYPE_INT, 8, 1}, shape, nullptr, 0};
    ASSERT_OK(rai_buffer_write(gpu, last_buffer(), 0, bad.data(), bad.size()));
    const std::vector<int8_t> before = rows_of(gpu, g);
    EXPECT_EQ(rai_vsa_matrix_write_int8(gpu, g, 0, &t), RAI_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(rai_last_error_message()).find("src[1, 17] is 5"), std::string::npos) << rai_last_error_message();
    EXPECT_EQ(rows_of(gpu, g), before);
    // A host tensor on a CUDA context, and a matrix of another device.
    rai_tensor host = t;
    host.data = bad.data();
    host.device = {RAI_DEVICE_CPU, 0};
    EXPECT_EQ(rai_vsa_matrix_write_int8(gpu, g, 0, &host), RAI_ERROR_DEVICE_MISMATCH);
    rai_vsa_matrix *c = mat(cpu, 2, dim);
    EXPECT_EQ(rai_vsa_matrix_bind(gpu, g, c, RAI_VSA_BIND_MOD3, g), RAI_ERROR_DEVICE_MISMATCH);
    EXPECT_NE(std::string(rai_last_error_message()).find("b lives on another device"), std::string::npos);
    rai_tvec_destroy(v);
}
