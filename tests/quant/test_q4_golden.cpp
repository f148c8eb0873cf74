// rai against files produced by the real bitsandbytes (tests/quant/golden/make_bnb_golden.py:
// bitsandbytes and torch versions are in the files' __metadata__).
//
// bitsandbytes ran its CPU backend, which differs from its CUDA kernels (the rules rai
// implements) in documented places. Every code that differs must be explained by emulating the
// bnb CPU formula (bnb 0.50.2 backends/default quantize_4bit): clamped divisor for zero blocks,
// torch.bucketize on fp32 midpoints of the code (FP4 through its argsort order, which gives code 8
// to small positives), division instead of the reciprocal in the last partial block. Everywhere
// else the codes and absmax are bit-identical, and dequantisation of bnb's own state is
// bit-identical to bnb's output.
#include <algorithm>
#include <cfloat>
#include <cstring>
#include <map>

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

// bnb 0.50.2 CPU ("default" backend) quantize_4bit for one element, emulated.
uint8_t bnb_cpu_code(float x, float block_absmax, bool partial_block, int32_t type) {
    const float am = std::max(block_absmax, 1e-38f);
    float s = partial_block ? x / am : x * (1.0f / am);
    s = std::min(1.0f, std::max(-1.0f, s));
    // The code sorted ascending, its fp32 midpoints, bucketize (count of bounds < s), order remap.
    float code[16];
    rai::q4::bnb_quant_map(type, code);
    int order[16];
    for (int i = 0; i < 16; ++i) order[i] = i;
    if (type == rai::q4::kFP4) {
        const int fp4_order[16] = {11, 10, 13, 12, 15, 14, 9, 0, 8, 1, 6, 7, 4, 5, 2, 3};  // torch.argsort
        std::memcpy(order, fp4_order, sizeof order);
    }
    int bucket = 0;
    for (int i = 0; i < 15; ++i) {
        const float mid = (code[order[i]] + code[order[i + 1]]) / 2;
        if (s > mid) bucket = i + 1;
    }
    return static_cast<uint8_t>(order[bucket]);
}

uint8_t nibble(const std::vector<uint8_t> &codes, int64_t i) { return (codes[static_cast<size_t>(i / 2)] >> ((i & 1) ? 0 : 4)) & 15; }

struct Diffs {
    int64_t zero_block = 0, fp4_signed_zero = 0, other_explained = 0;
    int64_t total() const { return zero_block + fp4_signed_zero + other_explained; }
};

// Compares rai's codes with bnb's, explaining each difference; returns the tally.
Diffs compare_codes(const std::vector<float> &x, int64_t bs, int32_t type, const std::vector<uint8_t> &rai_codes,
                    const std::vector<uint8_t> &bnb_codes, const std::vector<float> &absmax, const std::string &what) {
    Diffs d;
    const int64_t n = static_cast<int64_t>(x.size());
    EXPECT_EQ(rai_codes.size(), bnb_codes.size()) << what;
    for (int64_t i = 0; i < (n + 1) / 2 * 2; ++i) {
        const uint8_t r = nibble(rai_codes, i), b = nibble(bnb_codes, i);
        if (r == b) continue;
        const int64_t blk = i / bs;
        const float a = absmax[static_cast<size_t>(blk)];
        const float xi = i < n ? x[static_cast<size_t>(i)] : 0.0f;
        const bool partial = (blk + 1) * bs > n;
        const uint8_t cpu = bnb_cpu_code(xi, a, partial, type);
        const uint8_t cuda = rai::q4::quantize_4bit(type, xi * (1.0f / a));
        EXPECT_EQ(b, cpu) << what << ": element " << i << " bnb gave " << int(b) << ", its CPU formula " << int(cpu);
        EXPECT_EQ(r, cuda) << what << ": element " << i;
        if (b != cpu || r != cuda) return d;
        if (a == 0.0f) ++d.zero_block;
        else if (type == rai::q4::kFP4 && (r & 7) == 0 && (b & 7) == 0) ++d.fp4_signed_zero;
        else ++d.other_explained;
    }
    return d;
}

class Golden : public CpuContextTest {};

}  // namespace

TEST_F(Golden, QuantizeDequantizeMatchBitsandbytes) {
    File g(kDir + "/bnb_quantize_4bit.safetensors");
    ASSERT_NE(g.f, nullptr);
    const std::string bnb_version = g.meta("bitsandbytes");
    EXPECT_FALSE(bnb_version.empty());
    RecordProperty("bitsandbytes", bnb_version);
    RecordProperty("torch", g.meta("torch"));
    Diffs all;
    for (const char *c : kBnbQuantizeCases) {
        SCOPED_TRACE(c);
        const std::string name = c;
        const BnbCase bc = bnb_case(g, name);
        const int64_t bs = bc.blocksize, n = bc.n;
        const int32_t type = bc.type;
        const bool dq = bc.double_quant;
        // The input, as rai sees it, and in fp32 for the emulation.
        rai_tensor in = g.view(name + ".input");
        ASSERT_EQ(in.ndim, 1);
        ASSERT_EQ(in.shape[0], n);
        const rai::q4::Elem e = elem_of(in.dtype);
        std::vector<float> x(static_cast<size_t>(n));
        rai::q4::to_f32(in.data, e, n, x.data());
        // rai without double quant gives the fp32 absmax; with it, the same codes.
        Q4Run plain, mine;
        ASSERT_RAI_OK(q4_quantize_host(ctx, in.data, in.dtype, {n}, type, static_cast<int32_t>(bs), 0, plain));
        ASSERT_RAI_OK(q4_quantize_host(ctx, in.data, in.dtype, {n}, type, static_cast<int32_t>(bs), dq ? 1 : 0, mine));
        EXPECT_EQ(plain.codes, mine.codes);
        const int64_t nb = (n + bs - 1) / bs;
        std::vector<float> absmax(static_cast<size_t>(nb));
        int64_t snb[1] = {nb};
        rai_tensor ta = make_tensor(absmax.data(), kF32, snb, 1);
        ASSERT_RAI_OK(rai_q4_state_read(ctx, plain.state, RAI_Q4_FIELD_ABSMAX, &ta));
        // Codes.
        const std::vector<uint8_t> bnb_codes = g.values<uint8_t>(name + ".codes");
        const Diffs d = compare_codes(x, bs, type, mine.codes, bnb_codes, absmax, name);
        all.zero_block += d.zero_block;
        all.fp4_signed_zero += d.fp4_signed_zero;
        all.other_explained += d.other_explained;
        std::printf("%-18s n %6lld: %lld codes differ from bnb CPU (zero block %lld, FP4 signed zero %lld, "
                    "threshold/division %lld)\n",
                    c, static_cast<long long>(n), static_cast<long long>(d.total()),
                    static_cast<long long>(d.zero_block), static_cast<long long>(d.fp4_signed_zero),
                    static_cast<long long>(d.other_explained));
        if (!dq) {
            // absmax bit-identical, except an all-zero partial last block (bnb CPU stores 1e-38).
            const std::vector<float> bnb_absmax = g.values<float>(name + ".absmax");
            ASSERT_EQ(bnb_absmax.size(), absmax.size());
            for (size_t b = 0; b < absmax.size(); ++b) {
                if (absmax[b] == 0.0f && b + 1 == absmax.size() && n % bs != 0) {
                    EXPECT_EQ(bnb_absmax[b], 1e-38f);
                    continue;
                }
                EXPECT_EQ(0, std::memcmp(&absmax[b], &bnb_absmax[b], 4)) << "block " << b;
            }
        } else {
            // Offset: the mean of the absmax, within 1 ulp of torch's CPU sum.
            const float bnb_offset = g.values<float>(name + ".offset")[0];
            rai_q4_state_info si;
            rai_q4_state_info_init(&si);
            ASSERT_RAI_OK(rai_q4_state_get_info(mine.state, &si));
            EXPECT_LE(std::fabs(si.offset - bnb_offset), std::nextafterf(bnb_offset, INFINITY) - bnb_offset);
            // With bnb's offset, rai's 8-bit blockwise step gives bnb's nested absmax bit for bit and
            // its 8-bit codes except near-ties, where rai takes the nearer value (CUDA's rule).
            const std::vector<uint8_t> bnb_a8 = g.values<uint8_t>(name + ".absmax");
            const std::vector<float> bnb_a2 = g.values<float>(name + ".nested_absmax");
            const std::vector<float> bnb_code8 = g.values<float>(name + ".nested_quant_map");
            ASSERT_EQ(bnb_code8.size(), 256u);
            EXPECT_EQ(0, std::memcmp(bnb_code8.data(), rai::q4::kDynamicMap, 1024));
            std::vector<float> centred(absmax.size());
            for (size_t b = 0; b < absmax.size(); ++b) centred[b] = absmax[b] - bnb_offset;
            std::vector<uint8_t> a8(absmax.size());
            std::vector<float> a2(bnb_a2.size());
            rai::q4::quantize_8bit_blockwise(centred.data(), nb, 256, rai::q4::kDynamicMap, a8.data(), a2.data());
            EXPECT_EQ(0, std::memcmp(a2.data(), bnb_a2.data(), a2.size() * 4));
            int ties = 0;
            for (size_t b = 0; b < a8.size(); ++b) {
                if (a8[b] == bnb_a8[b]) continue;
                const float s = centred[b] * (1.0f / a2[b / 256]);
                const float dr = std::fabs(s - rai::q4::kDynamicMap[a8[b]]), db = std::fabs(s - rai::q4::kDynamicMap[bnb_a8[b]]);
                EXPECT_EQ(std::abs(int(a8[b]) - int(bnb_a8[b])), 1) << "block " << b;
                EXPECT_LE(dr, db) << "block " << b;
                EXPECT_LE(db - dr, 1e-5f * std::fabs(s) + 1e-9f) << "block " << b;
                ++ties;
            }
            std::printf("%-18s nested: %d of %lld 8-bit codes differ (bnb CPU near-ties)\n", c, ties,
                        static_cast<long long>(nb));
        }
        // Dequantise bnb's own state with rai: bit-identical to bnb's dequantize_4bit output.
        const std::vector<uint8_t> out = dequantize_bnb_state(ctx, g, name, bc, in.dtype);
        ASSERT_EQ(out.size(), static_cast<size_t>(n) * rai::q4::elem_size(e));
        rai_tensor bnb_deq = g.view(name + ".dequant");
        int64_t deq_diffs = 0;
        for (int64_t i = 0; i < n; ++i) {
            const float r = rai::q4::load_elem(out.data(), e, i), b = rai::q4::load_elem(bnb_deq.data, e, i);
            if (r != b) ++deq_diffs;  // +0 == -0: FP4 code 8 is -0 in CUDA, +0 in bnb's CPU table
        }
        EXPECT_EQ(deq_diffs, 0);
    }
    // The documented differences actually occur in these fixtures (so the documentation is backed).
    EXPECT_GT(all.zero_block, 0);
    EXPECT_GT(all.fp4_signed_zero, 0);
}

TEST_F(Golden, Linear4bitCheckpointLoadsForwardsAndSavesByteIdentically) {
    File ck(kDir + "/bnb_linear4bit.safetensors");
    File io(kDir + "/bnb_linear4bit_io.safetensors");
    ASSERT_NE(ck.f, nullptr);
    ASSERT_NE(io.f, nullptr);
    const char *cf = nullptr;
    ASSERT_RAI_OK(rai_safetensors_metadata_find(ck.f, "format", &cf));
    ASSERT_NE(cf, nullptr);
    EXPECT_STREQ(cf, "pt");
    struct Module {
        const char *prefix, *short_name;
        int32_t type, dq;
        int64_t N, K;
    };
    const Module mods[] = {{"model.layers.0.mlp.down_proj", "down_proj", RAI_Q4_NF4, 1, 48, 64},
                           {"model.layers.0.self_attn.q_proj", "q_proj", RAI_Q4_FP4, 0, 40, 96}};
    rai_safetensors_writer *w = nullptr;
    ASSERT_RAI_OK(rai_safetensors_writer_create(&w));
    ASSERT_RAI_OK(rai_safetensors_writer_set_metadata(w, "format", "pt"));
    for (const Module &m : mods) {
        SCOPED_TRACE(m.prefix);
        const std::string p = m.prefix;
        rai_q4_state *st = nullptr;
        ASSERT_RAI_OK(rai_q4_state_load_bnb(ctx, ck.f, m.prefix, &st));
        rai_q4_state_info si;
        rai_q4_state_info_init(&si);
        ASSERT_RAI_OK(rai_q4_state_get_info(st, &si));
        EXPECT_EQ(si.type, m.type);
        EXPECT_EQ(si.blocksize, 64);
        EXPECT_EQ(si.double_quant, m.dq);
        EXPECT_EQ(si.ndim, 2);
        EXPECT_EQ(si.shape[0], m.N);
        EXPECT_EQ(si.shape[1], m.K);
        EXPECT_EQ(si.dtype.code, RAI_DTYPE_BFLOAT);
        rai_tensor codes = ck.view(p + ".weight");
        // rai quantising the same bf16 weight gives bnb's codes (modulo the documented CPU rules).
        rai_tensor wsrc = io.view(std::string(m.short_name) + ".weight");
        Q4Run mine;
        ASSERT_RAI_OK(q4_quantize_host(ctx, wsrc.data, wsrc.dtype, {m.N, m.K}, m.type, 64, m.dq, mine));
        std::vector<float> wf(static_cast<size_t>(m.N * m.K));
        rai::q4::to_f32(wsrc.data, rai::q4::Elem::BF16, m.N * m.K, wf.data());
        std::vector<float> absmax(static_cast<size_t>(m.N * m.K / 64));
        for (size_t b = 0; b < absmax.size(); ++b)
            for (int k = 0; k < 64; ++k) absmax[b] = std::max(absmax[b], std::fabs(wf[b * 64 + k]));
        std::vector<uint8_t> ck_codes(static_cast<const uint8_t *>(codes.data),
                                      static_cast<const uint8_t *>(codes.data) + m.N * m.K / 2);
        compare_codes(wf, 64, m.type, mine.codes, ck_codes, absmax, p);
        // Forward: y = x W^T + b within bf16-weight tolerance of bnb's output.
        rai_tensor x = io.view(std::string(m.short_name) + ".x");
        rai_tensor bias_bf16 = ck.view(p + ".bias");
        std::vector<float> bias(static_cast<size_t>(m.N));
        rai::q4::to_f32(bias_bf16.data, rai::q4::Elem::BF16, m.N, bias.data());
        int64_t bs[1] = {m.N}, ys[2] = {3, m.N};
        rai_tensor tb = make_tensor(bias.data(), kF32, bs, 1);
        std::vector<float> y(static_cast<size_t>(3 * m.N));
        rai_tensor ty = make_tensor(y.data(), kF32, ys, 2);
        ASSERT_RAI_OK(rai_q4_linear_forward(ctx, st, &codes, &x, &tb, &ty));
        const std::vector<float> yb = io.values<float>(std::string(m.short_name) + ".y");
        std::vector<float> wd(static_cast<size_t>(m.N * m.K));
        int64_t sw[1] = {m.N * m.K};
        rai_tensor twd = make_tensor(wd.data(), kF32, sw, 1);
        ASSERT_RAI_OK(rai_q4_dequantize(ctx, st, &codes, &twd));
        const float *xv = static_cast<const float *>(x.data);
        for (int64_t r = 0; r < 3; ++r)
            for (int64_t j = 0; j < m.N; ++j) {
                double mag = std::fabs(bias[j]);
                for (int64_t k = 0; k < m.K; ++k) mag += std::fabs(double(xv[r * m.K + k]) * wd[j * m.K + k]);
                EXPECT_LE(std::fabs(y[r * m.N + j] - yb[r * m.N + j]), 8e-3 * mag) << r << "," << j;
            }
        // Save back: every key byte-identical to the file bitsandbytes wrote.
        ASSERT_RAI_OK(rai_q4_state_save_bnb(ctx, w, m.prefix, st, &codes));
        ASSERT_RAI_OK(rai_safetensors_writer_add(w, (p + ".bias").c_str(), &bias_bf16));
        rai_q4_state_destroy(st);
    }
    size_t size = 0;
    EXPECT_EQ(rai_safetensors_writer_serialize(w, nullptr, 0, &size), RAI_ERROR_BUFFER_TOO_SMALL);
    std::vector<uint8_t> bytes(size);
    ASSERT_RAI_OK(rai_safetensors_writer_serialize(w, bytes.data(), bytes.size(), &size));
    rai_safetensors_writer_destroy(w);
    rai_safetensors *back = nullptr;
    ASSERT_RAI_OK(rai_safetensors_open_memory(bytes.data(), bytes.size(), &back));
    size_t n_orig = 0, n_back = 0;
    ASSERT_RAI_OK(rai_safetensors_count(ck.f, &n_orig));
    ASSERT_RAI_OK(rai_safetensors_count(back, &n_back));
    EXPECT_EQ(n_orig, n_back);
    for (size_t i = 0; i < n_orig; ++i) {
        rai_safetensors_tensor_info a;
        rai_safetensors_tensor_info_init(&a);
        ASSERT_RAI_OK(rai_safetensors_get_info(ck.f, i, &a));
        int64_t j = -1;
        ASSERT_RAI_OK(rai_safetensors_find(back, a.name, &j));
        ASSERT_GE(j, 0) << a.name;
        rai_safetensors_tensor_info b;
        rai_safetensors_tensor_info_init(&b);
        ASSERT_RAI_OK(rai_safetensors_get_info(back, static_cast<size_t>(j), &b));
        EXPECT_STREQ(a.dtype_name, b.dtype_name) << a.name;
        ASSERT_EQ(a.ndim, b.ndim) << a.name;
        for (int d = 0; d < a.ndim; ++d) EXPECT_EQ(a.shape[d], b.shape[d]) << a.name;
        ASSERT_EQ(a.nbytes, b.nbytes) << a.name;
        EXPECT_EQ(0, std::memcmp(a.data, b.data, a.nbytes)) << a.name << " differs from bitsandbytes' bytes";
    }
    rai_safetensors_destroy(back);
}

TEST_F(Golden, MissingQuantStateKeysAreFormatErrors) {
    File ck(kDir + "/bnb_linear4bit.safetensors");
    rai_q4_state *st = nullptr;
    EXPECT_RAI_ERROR(rai_q4_state_load_bnb(ctx, ck.f, "model.layers.0.mlp.up_proj", &st), RAI_ERROR_FORMAT,
                     "model.layers.0.mlp.up_proj.weight.quant_state.bitsandbytes__nf4");
    // Rebuild the file without one key at a time: each load names the missing key.
    const std::string p = "model.layers.0.mlp.down_proj.weight";
    for (const char *drop : {".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map", ""}) {
        rai_safetensors_writer *w = nullptr;
        ASSERT_RAI_OK(rai_safetensors_writer_create(&w));
        size_t count = 0;
        ASSERT_RAI_OK(rai_safetensors_count(ck.f, &count));
        for (size_t i = 0; i < count; ++i) {
            rai_safetensors_tensor_info a;
            rai_safetensors_tensor_info_init(&a);
            ASSERT_RAI_OK(rai_safetensors_get_info(ck.f, i, &a));
            if (std::string(a.name) == p + drop) continue;
            ASSERT_RAI_OK(rai_safetensors_writer_add_raw(w, a.name, a.dtype_name, a.ndim, a.shape, a.data, a.nbytes));
        }
        size_t size = 0;
        rai_safetensors_writer_serialize(w, nullptr, 0, &size);
        std::vector<uint8_t> bytes(size);
        ASSERT_RAI_OK(rai_safetensors_writer_serialize(w, bytes.data(), size, &size));
        rai_safetensors_writer_destroy(w);
        rai_safetensors *f = nullptr;
        ASSERT_RAI_OK(rai_safetensors_open_memory(bytes.data(), size, &f));
        EXPECT_RAI_ERROR(rai_q4_state_load_bnb(ctx, f, "model.layers.0.mlp.down_proj", &st), RAI_ERROR_FORMAT,
                         "\"" + p + drop + "\" is missing");
        EXPECT_EQ(st, nullptr);
        rai_safetensors_destroy(f);
    }
}
