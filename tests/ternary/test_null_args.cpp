// Every ternary/VSA entry point refuses NULL where it needs a value: a status (never a crash) and a
// message naming the argument.
#include <functional>

#include "ternary_test_util.h"

namespace {
struct Case {
    const char *what;
    std::function<rai_status()> call;
    const char *fragment;
};
}  // namespace

TEST(NullArguments, EveryFunctionNamesTheArgument) {
    TVec v(8), w(8);
    SVec s(8);
    rai_context *ctx = make_cpu_context();
    rai_vsa_matrix *m = nullptr;
    ASSERT_RAI_OK(rai_vsa_matrix_create(ctx, 2, 8, &m));
    int8_t i8 = 0;
    uint8_t u8 = 0;
    uint16_t u16 = 0;
    int32_t i32 = 0;
    int64_t i64 = 0;
    size_t sz = 0;
    float f = 0;
    double d = 0;
    uint32_t p32[1], m32[1];
    uint64_t p64[1], m64[1];
    int8_t buf[8] = {0};
    const int8_t three[3] = {0, 0, 0};
    const rai_tvec *list[1] = {v};
    const int64_t shape[2] = {2, 2};
    float sims[4];
    rai_tensor t{sims, {RAI_DEVICE_CPU, 0}, 2, {RAI_DTYPE_FLOAT, 32, 1}, shape, nullptr, 0};
    const std::vector<Case> cases = {
        {"trit_from_int", [&] { return rai_trit_from_int(0, nullptr); }, "out"},
        {"trit_neg", [&] { return rai_trit_neg(0, nullptr); }, "out"},
        {"trit_mul", [&] { return rai_trit_mul(0, 0, nullptr); }, "out"},
        {"trit_add", [&] { return rai_trit_add(0, 0, nullptr, &i8); }, "out_digit"},
        {"trit_to_bits", [&] { return rai_trit_to_bits(0, &u8, nullptr); }, "out_minus"},
        {"trit_from_bits", [&] { return rai_trit_from_bits(0, 0, nullptr); }, "out"},
        {"tryte3_from_int", [&] { return rai_tryte3_from_int(0, nullptr); }, "out_raw"},
        {"tryte3_to_int", [&] { return rai_tryte3_to_int(21, nullptr); }, "out"},
        {"tryte3_from_trits", [&] { return rai_tryte3_from_trits(nullptr, &u8); }, "trits"},
        {"tryte3_from_trits out", [&] { return rai_tryte3_from_trits(three, nullptr); }, "out_raw"},
        {"tryte3_to_trits", [&] { return rai_tryte3_to_trits(21, nullptr); }, "out_trits"},
        {"tryte3_get_trit", [&] { return rai_tryte3_get_trit(21, 0, nullptr); }, "out"},
        {"tryte3_add", [&] { return rai_tryte3_add(21, 21, nullptr, &i8); }, "out_sum"},
        {"tryte3_mul", [&] { return rai_tryte3_mul(21, 21, &u8, nullptr); }, "out_high"},
        {"tryte3_neg", [&] { return rai_tryte3_neg(21, nullptr); }, "out"},
        {"word6_from_int", [&] { return rai_word6_from_int(0, nullptr); }, "out_raw"},
        {"word6_to_int", [&] { return rai_word6_to_int(1365, nullptr); }, "out"},
        {"word6_from_trits", [&] { return rai_word6_from_trits(nullptr, &u16); }, "trits"},
        {"word6_to_trits", [&] { return rai_word6_to_trits(1365, nullptr); }, "out_trits"},
        {"word6_get_trit", [&] { return rai_word6_get_trit(1365, 0, nullptr); }, "out"},
        {"word6_add", [&] { return rai_word6_add(1365, 1365, &u16, nullptr); }, "out_carry"},
        {"word6_mul", [&] { return rai_word6_mul(1365, 1365, nullptr, &u16); }, "out_low"},
        {"word6_neg", [&] { return rai_word6_neg(1365, nullptr); }, "out"},
        {"word6_from_trytes", [&] { return rai_word6_from_trytes(21, 21, nullptr); }, "out_raw"},
        {"word6_to_trytes", [&] { return rai_word6_to_trytes(1365, nullptr, &u8); }, "out_low"},
        {"digits_from_int", [&] { return rai_ternary_digits_from_int(5, 0, buf, 8, nullptr); }, "out_count"},
        {"digits_to_int", [&] { return rai_ternary_digits_to_int(buf, 1, nullptr); }, "out"},
        {"digits_add", [&] { return rai_ternary_digits_add(nullptr, 1, buf, 1, buf, 8, &sz); }, "a"},
        {"digits_mul", [&] { return rai_ternary_digits_mul(buf, 1, nullptr, 1, buf, 8, &sz); }, "b"},
        {"digits_neg", [&] { return rai_ternary_digits_neg(buf, 1, nullptr, 8, &sz); }, "out"},
        {"digits_compare", [&] { return rai_ternary_digits_compare(buf, 1, buf, 1, nullptr); }, "out"},
        {"tvec_create", [&] { return rai_tvec_create(1, nullptr); }, "out"},
        {"tvec_dim", [&] { return rai_tvec_dim(v, nullptr); }, "out_dim"},
        {"tvec_export_int8", [&] { return rai_tvec_export_int8(v, nullptr, 8, &sz); }, "out"},
        {"tvec_export_int8 count", [&] { return rai_tvec_export_int8(v, buf, 8, nullptr); }, "out_count"},
        {"tvec_import_planes_u32", [&] { return rai_tvec_import_planes_u32(v, p32, nullptr, 1); }, "minus"},
        {"tvec_export_planes_u32", [&] { return rai_tvec_export_planes_u32(v, p32, nullptr, 1, &sz); }, "minus"},
        {"tvec_import_planes_u64", [&] { return rai_tvec_import_planes_u64(nullptr, p64, m64, 1); }, "v"},
        {"tvec_export_planes_u64", [&] { return rai_tvec_export_planes_u64(v, nullptr, m64, 1, &sz); }, "plus"},
        {"tvec_get", [&] { return rai_tvec_get(nullptr, 0, &i8); }, "v"},
        {"tvec_set", [&] { return rai_tvec_set(nullptr, 0, 1); }, "v"},
        {"tvec_count_nonzero", [&] { return rai_tvec_count_nonzero(v, nullptr); }, "out"},
        {"tvec_count_positive", [&] { return rai_tvec_count_positive(nullptr, &sz); }, "v"},
        {"tvec_count_negative", [&] { return rai_tvec_count_negative(v, nullptr); }, "out"},
        {"tvec_sparsity", [&] { return rai_tvec_sparsity(v, nullptr); }, "out"},
        {"tvec_sum", [&] { return rai_tvec_sum(nullptr, &i64); }, "v"},
        {"tvec_negate", [&] { return rai_tvec_negate(v, nullptr); }, "out"},
        {"tvec_add_clamped", [&] { return rai_tvec_add_clamped(v, nullptr, w); }, "b"},
        {"tvec_equal", [&] { return rai_tvec_equal(v, w, nullptr); }, "out"},
        {"svec_create", [&] { return rai_svec_create(1, nullptr); }, "out"},
        {"svec_dim", [&] { return rai_svec_dim(nullptr, &sz); }, "s"},
        {"svec_import_indices", [&] { return rai_svec_import_indices(nullptr, nullptr, 0, nullptr, 0); }, "s"},
        {"svec_export_indices", [&] { return rai_svec_export_indices(s, p64, 1, m64, 1, nullptr, &sz); }, "out_count_positive"},
        {"svec_get", [&] { return rai_svec_get(s, 0, nullptr); }, "out"},
        {"svec_set", [&] { return rai_svec_set(nullptr, 0, 0); }, "s"},
        {"svec_nnz", [&] { return rai_svec_nnz(s, nullptr); }, "out"},
        {"svec_memory_bytes", [&] { return rai_svec_memory_bytes(nullptr, &sz); }, "s"},
        {"svec_from_tvec", [&] { return rai_svec_from_tvec(v, nullptr); }, "out"},
        {"svec_to_tvec", [&] { return rai_svec_to_tvec(nullptr, v); }, "s"},
        {"svec_dot", [&] { return rai_svec_dot(s, nullptr, &i64); }, "b"},
        {"svec_dot_tvec", [&] { return rai_svec_dot_tvec(s, nullptr, &i64); }, "b"},
        {"svec_cosine", [&] { return rai_svec_cosine(s, s, nullptr); }, "out"},
        {"svec_cosine_tvec", [&] { return rai_svec_cosine_tvec(nullptr, v, &f); }, "a"},
        {"vsa_bind", [&] { return rai_vsa_bind(v, w, 0, nullptr); }, "out"},
        {"vsa_unbind", [&] { return rai_vsa_unbind(v, nullptr, 0, w); }, "b"},
        {"vsa_bind_many", [&] { return rai_vsa_bind_many(list, 1, 0, nullptr); }, "out"},
        {"vsa_bind_many list", [&] { return rai_vsa_bind_many(nullptr, 1, 0, w); }, "vectors"},
        {"bundle_params_init", [&] { return rai_bundle_params_init_sized(nullptr, sizeof(rai_bundle_params)); }, "params"},
        {"vsa_bundle", [&] { return rai_vsa_bundle(list, nullptr, 1, nullptr, nullptr); }, "out"},
        {"vsa_bundle_counts", [&] { return rai_vsa_bundle_counts(list, nullptr, 1, nullptr, 8, &sz); }, "counts"},
        {"vsa_accumulate", [&] { return rai_vsa_accumulate(v, 1, nullptr, 8); }, "counts"},
        {"vsa_threshold", [&] { return rai_vsa_threshold(nullptr, 8, 0, v); }, "counts"},
        {"vsa_permute", [&] { return rai_vsa_permute(nullptr, 1, v); }, "v"},
        {"vsa_dot", [&] { return rai_vsa_dot(v, w, nullptr); }, "out"},
        {"vsa_cosine", [&] { return rai_vsa_cosine(nullptr, w, &f); }, "a"},
        {"vsa_hamming_distance", [&] { return rai_vsa_hamming_distance(v, w, nullptr); }, "out"},
        {"vsa_hamming_similarity", [&] { return rai_vsa_hamming_similarity(v, nullptr, &f); }, "b"},
        {"vsa_equal_count", [&] { return rai_vsa_equal_count(v, w, nullptr); }, "out"},
        {"random_params_init", [&] { return rai_random_params_init_sized(nullptr, sizeof(rai_random_params)); }, "params"},
        {"vsa_random", [&] { return rai_vsa_random(nullptr, nullptr); }, "out"},
        {"matrix_create", [&] { return rai_vsa_matrix_create(ctx, 1, 1, nullptr); }, "out"},
        {"matrix_shape", [&] { return rai_vsa_matrix_shape(m, nullptr, &sz); }, "out_rows"},
        {"matrix_set_row", [&] { return rai_vsa_matrix_set_row(ctx, m, 0, nullptr); }, "v"},
        {"matrix_get_row", [&] { return rai_vsa_matrix_get_row(ctx, nullptr, 0, v); }, "m"},
        {"matrix_write_int8", [&] { return rai_vsa_matrix_write_int8(ctx, m, 0, nullptr); }, "src"},
        {"matrix_read_int8", [&] { return rai_vsa_matrix_read_int8(nullptr, m, 0, &t); }, "ctx"},
        {"matrix_random", [&] { return rai_vsa_matrix_random(ctx, nullptr, nullptr); }, "m"},
        {"matrix_bind", [&] { return rai_vsa_matrix_bind(ctx, m, nullptr, 0, m); }, "b"},
        {"matrix_unbind", [&] { return rai_vsa_matrix_unbind(ctx, nullptr, m, 0, m); }, "c"},
        {"matrix_permute", [&] { return rai_vsa_matrix_permute(ctx, m, 1, nullptr); }, "out"},
        {"matrix_bundle", [&] { return rai_vsa_matrix_bundle(ctx, nullptr, nullptr, nullptr, m); }, "m"},
        {"similarity_matrix", [&] { return rai_vsa_similarity_matrix(ctx, nullptr, m, 0, &t); }, "queries"},
        {"topk", [&] { return rai_vsa_topk(ctx, m, nullptr, 1, 0, &t, nullptr); }, "items"},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.what);
        EXPECT_RAI_ERROR(c.call(), RAI_ERROR_INVALID_ARGUMENT, c.fragment);
    }
    (void)d;
    (void)i32;
    (void)m32;
    rai_vsa_matrix_destroy(m);
    rai_context_destroy(ctx);
}
