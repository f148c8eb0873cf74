// Item memory: rai_vsa_matrix, batched similarity and top-k, on every CPU backend.
#include <cmath>

#include "ternary_test_util.h"

namespace {

std::vector<int8_t> read_all(rai_context *ctx, rai_vsa_matrix *m, size_t rows, size_t dim) {
    std::vector<int8_t> buf(rows * dim);
    const int64_t shape[2] = {static_cast<int64_t>(rows), static_cast<int64_t>(dim)};
    rai_tensor t{buf.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_INT, 8, 1}, shape, nullptr, 0};
    EXPECT_RAI_OK(rai_vsa_matrix_read_int8(ctx, m, 0, &t));
    return buf;
}

void write_all(rai_context *ctx, rai_vsa_matrix *m, const std::vector<Trits> &rows) {
    std::vector<int8_t> buf;
    for (const auto &r : rows) buf.insert(buf.end(), r.begin(), r.end());
    const int64_t shape[2] = {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())};
    rai_tensor t{buf.data(), {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_INT, 8, 1}, shape, nullptr, 0};
    ASSERT_RAI_OK(rai_vsa_matrix_write_int8(ctx, m, 0, &t));
}

rai_tensor tensor2(void *data, rai_dtype dt, const int64_t *shape, const int64_t *strides = nullptr) {
    return rai_tensor{data, {RAI_DEVICE_CPU, 0}, 2, dt, shape, strides, 0};
}

constexpr rai_dtype kI64{RAI_DTYPE_INT, 64, 1};
constexpr rai_dtype kI8{RAI_DTYPE_INT, 8, 1};

}  // namespace

TEST(Matrix, CreateRowsAndInt8) {
    Ctx ctx;
    Mat m(ctx, 3, 70);
    size_t rows = 0, dim = 0;
    ASSERT_RAI_OK(rai_vsa_matrix_shape(m, &rows, &dim));
    EXPECT_EQ(rows, 3u);
    EXPECT_EQ(dim, 70u);
    const std::vector<Trits> data{random_trits(70, 1), random_trits(70, 2), random_trits(70, 3)};
    write_all(ctx, m, data);
    const auto all = read_all(ctx, m, 3, 70);
    for (size_t r = 0; r < 3; ++r) EXPECT_EQ(Trits(all.begin() + static_cast<long>(r * 70), all.begin() + static_cast<long>((r + 1) * 70)), data[r]);
    TVec row(70);
    ASSERT_RAI_OK(rai_vsa_matrix_get_row(ctx, m, 1, row));
    EXPECT_EQ(row.trits(), data[1]);
    TVec nv(random_trits(70, 9));
    ASSERT_RAI_OK(rai_vsa_matrix_set_row(ctx, m, 2, nv));
    ASSERT_RAI_OK(rai_vsa_matrix_get_row(ctx, m, 2, row));
    EXPECT_EQ(row.trits(), nv.trits());

    // Strided source: every second column of a [2, 140] buffer, written at row 1.
    std::vector<int8_t> wide(2 * 140, 0);
    for (size_t r = 0; r < 2; ++r)
        for (size_t j = 0; j < 70; ++j) wide[r * 140 + 2 * j] = data[r][j];
    const int64_t shape[2] = {2, 70}, strides[2] = {140, 2};
    rai_tensor src = tensor2(wide.data(), kI8, shape, strides);
    ASSERT_RAI_OK(rai_vsa_matrix_write_int8(ctx, m, 1, &src));
    ASSERT_RAI_OK(rai_vsa_matrix_get_row(ctx, m, 2, row));
    EXPECT_EQ(row.trits(), data[1]);

    // Errors: nothing written.
    wide[2 * 69] = 3;
    EXPECT_RAI_ERROR(rai_vsa_matrix_write_int8(ctx, m, 0, &src), RAI_ERROR_INVALID_ARGUMENT, "src[0, 69] is 3");
    ASSERT_RAI_OK(rai_vsa_matrix_get_row(ctx, m, 0, row));
    EXPECT_EQ(row.trits(), data[0]);
    wide[2 * 69] = 0;
    EXPECT_RAI_ERROR(rai_vsa_matrix_write_int8(ctx, m, 2, &src), RAI_ERROR_OUT_OF_RANGE, "exceeds the matrix's 3 rows");
    const int64_t bad_shape[2] = {2, 71};
    rai_tensor bad = tensor2(wide.data(), kI8, bad_shape);
    EXPECT_RAI_ERROR(rai_vsa_matrix_write_int8(ctx, m, 0, &bad), RAI_ERROR_SHAPE_MISMATCH, "src: shape mismatch");
    rai_tensor f = tensor2(wide.data(), kF32, shape);
    EXPECT_RAI_ERROR(rai_vsa_matrix_write_int8(ctx, m, 0, &f), RAI_ERROR_DTYPE_MISMATCH, "src: expected dtype");
    EXPECT_RAI_ERROR(rai_vsa_matrix_get_row(ctx, m, 3, row), RAI_ERROR_OUT_OF_RANGE, "row 3");
    TVec wrong(71);
    EXPECT_RAI_ERROR(rai_vsa_matrix_set_row(ctx, m, 0, wrong), RAI_ERROR_SHAPE_MISMATCH, "v: dimension 71");
    EXPECT_RAI_ERROR(rai_vsa_matrix_shape(nullptr, &rows, &dim), RAI_ERROR_INVALID_ARGUMENT, "m");
    rai_vsa_matrix *out = reinterpret_cast<rai_vsa_matrix *>(0x1);
    EXPECT_RAI_ERROR(rai_vsa_matrix_create(nullptr, 1, 1, &out), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    EXPECT_EQ(out, nullptr);
    rai_vsa_matrix_destroy(nullptr);
}

TEST(Matrix, RandomRowsMatchSingleVectors) {
    Ctx ctx;
    Mat m(ctx, 4, 333);
    rai_random_params p;
    rai_random_params_init(&p);
    p.seed = 42;
    p.generator = RAI_VSA_RNG_COUNTER;
    ASSERT_RAI_OK(rai_vsa_matrix_random(ctx, m, &p));
    for (size_t r = 0; r < 4; ++r) {
        rai_random_params q = p;
        q.seed = 42 + r;
        TVec v(333), row(333);
        ASSERT_RAI_OK(rai_vsa_random(&q, v));
        ASSERT_RAI_OK(rai_vsa_matrix_get_row(ctx, m, r, row));
        EXPECT_EQ(row.trits(), v.trits());
    }
    p.distribution = 9;
    EXPECT_RAI_ERROR(rai_vsa_matrix_random(ctx, m, &p), RAI_ERROR_INVALID_ARGUMENT, "params->distribution");
}

TEST(Matrix, ElementwiseBatchOps) {
    Ctx ctx;
    MaskGuard guard;
    const size_t R = 5, D = 1000;
    std::vector<Trits> a, b;
    for (size_t r = 0; r < R; ++r) {
        a.push_back(random_trits(D, r));
        b.push_back(random_trits(D, 100 + r));
    }
    for (const Backend &be : cpu_backends()) {
        rai_cpu_set_feature_mask(be.mask);
        Mat ma(ctx, R, D), mb(ctx, R, D), key(ctx, 1, D), out(ctx, R, D), one(ctx, 1, D);
        write_all(ctx, ma, a);
        write_all(ctx, mb, b);
        write_all(ctx, key, {b[0]});
        ASSERT_RAI_OK(rai_vsa_matrix_bind(ctx, ma, mb, RAI_VSA_BIND_MOD3, out));
        auto all = read_all(ctx, out, R, D);
        for (size_t r = 0; r < R; ++r)
            EXPECT_EQ(Trits(all.begin() + static_cast<long>(r * D), all.begin() + static_cast<long>((r + 1) * D)), ref_bind(a[r], b[r]));
        ASSERT_RAI_OK(rai_vsa_matrix_unbind(ctx, out, mb, RAI_VSA_BIND_MOD3, out));  // in place
        EXPECT_EQ(read_all(ctx, out, R, D), read_all(ctx, ma, R, D));
        ASSERT_RAI_OK(rai_vsa_matrix_bind(ctx, ma, key, RAI_VSA_BIND_MUL, out));  // broadcast
        all = read_all(ctx, out, R, D);
        for (size_t r = 0; r < R; ++r)
            EXPECT_EQ(Trits(all.begin() + static_cast<long>(r * D), all.begin() + static_cast<long>((r + 1) * D)), ref_mul(a[r], b[0]));
        ASSERT_RAI_OK(rai_vsa_matrix_permute(ctx, ma, 77, out));
        all = read_all(ctx, out, R, D);
        for (size_t r = 0; r < R; ++r)
            EXPECT_EQ(Trits(all.begin() + static_cast<long>(r * D), all.begin() + static_cast<long>((r + 1) * D)), ref_permute(a[r], 77));
        ASSERT_RAI_OK(rai_vsa_matrix_bundle(ctx, ma, nullptr, nullptr, one));
        EXPECT_EQ(Trits(read_all(ctx, one, 1, D)), ref_bundle(a));
        const int32_t w[5] = {3, -1, 0, 2, 1};
        ASSERT_RAI_OK(rai_vsa_matrix_bundle(ctx, ma, w, nullptr, one));
        EXPECT_EQ(Trits(read_all(ctx, one, 1, D)), ref_bundle(a, {3, -1, 0, 2, 1}));
    }
    Mat m3(ctx, 3, D), m5(ctx, R, D), d2(ctx, R, D + 1), z(ctx, 0, D);
    EXPECT_RAI_ERROR(rai_vsa_matrix_bind(ctx, m5, m3, 0, m5), RAI_ERROR_SHAPE_MISMATCH, "b: 3 rows");
    EXPECT_RAI_ERROR(rai_vsa_matrix_bind(ctx, m5, d2, 0, m5), RAI_ERROR_SHAPE_MISMATCH, "b: dimension");
    EXPECT_RAI_ERROR(rai_vsa_matrix_bind(ctx, m5, m5, 0, m3), RAI_ERROR_SHAPE_MISMATCH, "out: shape [3");
    EXPECT_RAI_ERROR(rai_vsa_matrix_bind(ctx, m5, m5, 4, m5), RAI_ERROR_INVALID_ARGUMENT, "mode 4");
    EXPECT_RAI_ERROR(rai_vsa_matrix_permute(ctx, m5, 1, m3), RAI_ERROR_SHAPE_MISMATCH, "out");
    EXPECT_RAI_ERROR(rai_vsa_matrix_bundle(ctx, z, nullptr, nullptr, m3), RAI_ERROR_INVALID_ARGUMENT, "no");
    EXPECT_RAI_ERROR(rai_vsa_matrix_bundle(ctx, m5, nullptr, nullptr, m3), RAI_ERROR_SHAPE_MISMATCH, "expected [1");
}

TEST(ItemMemory, SimilarityMatrixMatchesSingleVectorFunctions) {
    Ctx ctx;
    MaskGuard guard;
    const size_t Q = 7, M = 41;
    for (size_t D : {1, 33, 1000, 10000}) {
        std::vector<Trits> qs, items;
        for (size_t i = 0; i < Q; ++i) qs.push_back(random_trits(D, 10 * D + i, 20));
        for (size_t j = 0; j < M; ++j) items.push_back(random_trits(D, 20 * D + j, static_cast<int>(j % 100)));
        items[3] = Trits(D, 0);  // a zero item: cosine 0
        Mat mq(ctx, Q, D), mi(ctx, M, D);
        write_all(ctx, mq, qs);
        write_all(ctx, mi, items);
        std::vector<std::vector<float>> per_backend;
        for (const Backend &be : cpu_backends()) {
            rai_cpu_set_feature_mask(be.mask);
            std::vector<float> all;
            for (int32_t metric = RAI_VSA_COSINE; metric <= RAI_VSA_EQUAL_COUNT; ++metric) {
                std::vector<float> out(Q * M, -99.0f);
                const int64_t shape[2] = {static_cast<int64_t>(Q), static_cast<int64_t>(M)};
                rai_tensor t = tensor2(out.data(), kF32, shape);
                ASSERT_RAI_OK(rai_vsa_similarity_matrix(ctx, mq, mi, metric, &t));
                for (size_t i = 0; i < Q; ++i)
                    for (size_t j = 0; j < M; ++j) {
                        TVec a(qs[i]), b(items[j]);
                        float expect = 0;
                        int64_t d;
                        size_t h;
                        switch (metric) {
                        case RAI_VSA_COSINE: rai_vsa_cosine(a, b, &expect); break;
                        case RAI_VSA_DOT: rai_vsa_dot(a, b, &d), expect = static_cast<float>(d); break;
                        case RAI_VSA_HAMMING_DISTANCE: rai_vsa_hamming_distance(a, b, &h), expect = static_cast<float>(h); break;
                        case RAI_VSA_HAMMING_SIMILARITY: rai_vsa_hamming_similarity(a, b, &expect); break;
                        default: rai_vsa_equal_count(a, b, &h), expect = static_cast<float>(h); break;
                        }
                        ASSERT_EQ(out[i * M + j], expect) << be.name << " metric " << metric << " D " << D << " (" << i << "," << j << ")";
                    }
                all.insert(all.end(), out.begin(), out.end());
                if (metric == RAI_VSA_DOT || metric == RAI_VSA_HAMMING_DISTANCE || metric == RAI_VSA_EQUAL_COUNT) {
                    std::vector<int32_t> iout(Q * M);
                    rai_tensor ti = tensor2(iout.data(), kI32, shape);
                    ASSERT_RAI_OK(rai_vsa_similarity_matrix(ctx, mq, mi, metric, &ti));
                    for (size_t k = 0; k < Q * M; ++k) EXPECT_EQ(static_cast<float>(iout[k]), out[k]);
                }
            }
            per_backend.push_back(all);
        }
        for (const auto &r : per_backend) EXPECT_EQ(r, per_backend[0]);
    }
}

TEST(ItemMemory, TopKOrderAndTies) {
    Ctx ctx;
    MaskGuard guard;
    const size_t D = 500, M = 60;
    std::vector<Trits> items;
    for (size_t j = 0; j < M; ++j) items.push_back(random_trits(D, 500 + j));
    items[40] = items[7];  // duplicate: equal scores, the lower index first
    items[55] = items[7];
    const std::vector<Trits> qs{items[7], items[30], random_trits(D, 1)};
    Mat mq(ctx, 3, D), mi(ctx, M, D);
    write_all(ctx, mq, qs);
    write_all(ctx, mi, items);
    for (const Backend &be : cpu_backends()) {
        rai_cpu_set_feature_mask(be.mask);
        for (int32_t metric = RAI_VSA_COSINE; metric <= RAI_VSA_EQUAL_COUNT; ++metric) {
            const size_t K = 5;
            std::vector<int64_t> idx(3 * K, -1);
            std::vector<float> score(3 * K), sims(3 * M);
            const int64_t kshape[2] = {3, K}, sshape[2] = {3, M};
            rai_tensor ti = tensor2(idx.data(), kI64, kshape), ts = tensor2(score.data(), kF32, kshape),
                       tm = tensor2(sims.data(), kF32, sshape);
            ASSERT_RAI_OK(rai_vsa_topk(ctx, mq, mi, K, metric, &ti, &ts));
            ASSERT_RAI_OK(rai_vsa_similarity_matrix(ctx, mq, mi, metric, &tm));
            const bool smaller_better = metric == RAI_VSA_HAMMING_DISTANCE;
            EXPECT_EQ(idx[0], 7) << be.name << " metric " << metric;
            EXPECT_EQ(idx[1], 40);
            EXPECT_EQ(idx[2], 55);
            EXPECT_EQ(idx[K], 30);
            for (size_t i = 0; i < 3; ++i) {
                // Brute-force expectation from the similarity matrix.
                std::vector<int64_t> order(M);
                for (size_t j = 0; j < M; ++j) order[j] = static_cast<int64_t>(j);
                std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
                    const float sx = sims[i * M + static_cast<size_t>(x)], sy = sims[i * M + static_cast<size_t>(y)];
                    return smaller_better ? sx < sy : sx > sy;
                });
                for (size_t t = 0; t < K; ++t) {
                    EXPECT_EQ(idx[i * K + t], order[t]) << "metric " << metric << " query " << i << " rank " << t;
                    EXPECT_EQ(score[i * K + t], sims[i * M + static_cast<size_t>(order[t])]);
                }
            }
            // Without scores, and with k = m.
            std::vector<int64_t> full(3 * M);
            rai_tensor tf = tensor2(full.data(), kI64, sshape);
            ASSERT_RAI_OK(rai_vsa_topk(ctx, mq, mi, M, metric, &tf, nullptr));
            EXPECT_EQ(full[0], 7);
        }
    }
}

TEST(ItemMemory, Errors) {
    Ctx ctx;
    Mat mq(ctx, 2, 100), mi(ctx, 5, 100), other(ctx, 5, 101);
    std::vector<float> out(10, 7.0f);
    const int64_t shape[2] = {2, 5}, wrong[2] = {2, 4};
    rai_tensor t = tensor2(out.data(), kF32, shape), tw = tensor2(out.data(), kF32, wrong);
    EXPECT_RAI_ERROR(rai_vsa_similarity_matrix(ctx, mq, other, RAI_VSA_DOT, &t), RAI_ERROR_SHAPE_MISMATCH,
                     "items: dimension 101 differs from queries' dimension 100");
    EXPECT_RAI_ERROR(rai_vsa_similarity_matrix(ctx, mq, mi, RAI_VSA_DOT, &tw), RAI_ERROR_SHAPE_MISMATCH, "out");
    EXPECT_RAI_ERROR(rai_vsa_similarity_matrix(ctx, mq, mi, 17, &t), RAI_ERROR_INVALID_ARGUMENT, "metric 17");
    EXPECT_RAI_ERROR(rai_vsa_similarity_matrix(ctx, mq, mi, RAI_VSA_DOT, nullptr), RAI_ERROR_INVALID_ARGUMENT,
                     "out must not be NULL");
    EXPECT_RAI_ERROR(rai_vsa_similarity_matrix(nullptr, mq, mi, RAI_VSA_DOT, &t), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    std::vector<int32_t> iout(10);
    rai_tensor ti = tensor2(iout.data(), kI32, shape);
    EXPECT_RAI_ERROR(rai_vsa_similarity_matrix(ctx, mq, mi, RAI_VSA_COSINE, &ti), RAI_ERROR_DTYPE_MISMATCH, "needs f32");
    for (float x : out) EXPECT_EQ(x, 7.0f);
    std::vector<int64_t> idx(10);
    rai_tensor tk = tensor2(idx.data(), kI64, shape);
    EXPECT_RAI_ERROR(rai_vsa_topk(ctx, mq, mi, 6, RAI_VSA_DOT, &tk, nullptr), RAI_ERROR_INVALID_ARGUMENT, "k is 6");
    EXPECT_RAI_ERROR(rai_vsa_topk(ctx, mq, mi, 0, RAI_VSA_DOT, &tk, nullptr), RAI_ERROR_INVALID_ARGUMENT, "k is 0");
    EXPECT_RAI_ERROR(rai_vsa_topk(ctx, mq, mi, 5, RAI_VSA_DOT, &t, nullptr), RAI_ERROR_DTYPE_MISMATCH, "out_index");
    EXPECT_RAI_ERROR(rai_vsa_topk(ctx, mq, mi, 5, RAI_VSA_DOT, &tk, &tk), RAI_ERROR_DTYPE_MISMATCH, "out_score");
    EXPECT_RAI_ERROR(rai_vsa_topk(ctx, mq, mi, 5, RAI_VSA_DOT, nullptr, nullptr), RAI_ERROR_INVALID_ARGUMENT,
                     "out_index");
    // A tensor on a CUDA device is refused by a CPU context.
    rai_tensor dev = t;
    dev.device = {RAI_DEVICE_CUDA, 0};
    EXPECT_RAI_ERROR(rai_vsa_similarity_matrix(ctx, mq, mi, RAI_VSA_DOT, &dev), RAI_ERROR_DEVICE_MISMATCH, "out");
    // A matrix from another (CPU) context on the same device is fine.
    Ctx ctx2;
    EXPECT_RAI_OK(rai_vsa_similarity_matrix(ctx2, mq, mi, RAI_VSA_DOT, &t));
}
