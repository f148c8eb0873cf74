// GGUF: rai reads gguf-py's golden files bit for bit (tests/io/gguf/golden, made by
// make_gguf_golden.py with the gguf package), round-trips its own files, lays tensors out as
// llama.cpp's gguf.c expects, and refuses corrupt files with a specific status (never a crash).
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../../quant/bitnet/bitnet_test_util.h"

#ifndef RAI_GGUF_GOLDEN_DIR
#error "RAI_GGUF_GOLDEN_DIR must point at tests/io/gguf/golden"
#endif

namespace {

std::string golden(const char *name) { return std::string(RAI_GGUF_GOLDEN_DIR) + "/" + name; }

std::string temp_path(const std::string &name) {
    const char *dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/rai_gguf_" + std::to_string(::getpid()) + "_" + name;
}

std::vector<uint8_t> slurp(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void spit(const std::string &path, const std::vector<uint8_t> &b) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char *>(b.data()), static_cast<std::streamsize>(b.size()));
}

bool exists(const std::string &path) { return ::access(path.c_str(), F_OK) == 0; }

struct Reader {
    rai_gguf_reader *r = nullptr;
    explicit Reader(const std::string &path) {
        EXPECT_EQ(rai_gguf_reader_open(path.c_str(), &r), RAI_OK) << rai_last_error_message();
    }
    ~Reader() { rai_gguf_reader_destroy(r); }
    operator const rai_gguf_reader *() const { return r; }

    size_t index(const char *name) const {
        int64_t i = -1;
        EXPECT_EQ(rai_gguf_reader_find_tensor(r, name, &i), RAI_OK);
        EXPECT_GE(i, 0) << name;
        return static_cast<size_t>(i);
    }
    rai_gguf_tensor_info tensor(const char *name) const {
        rai_gguf_tensor_info info;
        rai_gguf_tensor_info_init(&info);
        EXPECT_EQ(rai_gguf_reader_tensor(r, index(name), &info), RAI_OK) << rai_last_error_message();
        return info;
    }
    std::vector<uint8_t> raw(const char *name) const {
        size_t need = 0;
        const size_t i = index(name);
        const rai_status st = rai_gguf_reader_read_raw(r, i, nullptr, 0, &need);
        EXPECT_EQ(st, need == 0 ? RAI_OK : RAI_ERROR_BUFFER_TOO_SMALL);
        std::vector<uint8_t> b(need);
        EXPECT_EQ(rai_gguf_reader_read_raw(r, i, b.data(), b.size(), &need), RAI_OK) << rai_last_error_message();
        return b;
    }
    F32 f32_of(const char *name) const {
        const rai_gguf_tensor_info info = tensor(name);
        F32 t = f32(std::vector<int64_t>(info.shape, info.shape + info.ndim));
        EXPECT_EQ(rai_gguf_reader_read_tensor(r, index(name), &t), RAI_OK) << rai_last_error_message();
        return t;
    }
    rai_gguf_kv_info kv(const char *key) const {
        int64_t i = -1;
        EXPECT_EQ(rai_gguf_reader_find_kv(r, key, &i), RAI_OK);
        EXPECT_GE(i, 0) << key;
        rai_gguf_kv_info info;
        rai_gguf_kv_info_init(&info);
        EXPECT_EQ(rai_gguf_reader_kv(r, static_cast<size_t>(i), &info), RAI_OK);
        return info;
    }
    std::string str(const char *key, size_t element = 0) const {
        int64_t i = -1;
        rai_gguf_reader_find_kv(r, key, &i);
        const char *s = nullptr;
        size_t n = 0;
        EXPECT_EQ(rai_gguf_reader_kv_string(r, static_cast<size_t>(i), element, &s, &n), RAI_OK)
            << rai_last_error_message();
        return s ? std::string(s, n) : std::string();
    }
};

template <class T>
T scalar(const rai_gguf_kv_info &kv) {
    T v{};
    std::memcpy(&v, kv.data, sizeof v);
    return v;
}

// A hand-built GGUF byte image for corruption tests.
struct Raw {
    std::vector<uint8_t> b;
    void u32(uint32_t v) {
        for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
    }
    void u64(uint64_t v) {
        for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i)));
    }
    void str(const std::string &s) {
        u64(s.size());
        b.insert(b.end(), s.begin(), s.end());
    }
    void header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
        u32(0x46554747u);
        u32(version);
        u64(tensors);
        u64(kvs);
    }
    void kv_u32(const std::string &k, uint32_t v) {
        str(k);
        u32(4);
        u32(v);
    }
    void tensor(const std::string &name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
        str(name);
        u32(uint32_t(ne.size()));
        for (uint64_t d : ne) u64(d);
        u32(type);
        u64(offset);
    }
    void pad(size_t a = 32) {
        while (b.size() % a) b.push_back(0);
    }
    void data(size_t n, uint8_t v = 0) { b.insert(b.end(), n, v); }
};

rai_status open_bytes(const std::vector<uint8_t> &bytes, const std::string &name) {
    const std::string p = temp_path(name);
    spit(p, bytes);
    rai_gguf_reader *r = nullptr;
    const rai_status st = rai_gguf_reader_open(p.c_str(), &r);
    EXPECT_TRUE(st == RAI_OK || r == nullptr);
    rai_gguf_reader_destroy(r);
    std::remove(p.c_str());
    return st;
}

// A valid two-tensor file: F32 [8] at 0, TQ2_0 [256] at 32.
Raw valid_raw() {
    Raw w;
    w.header(2, 1);
    w.kv_u32("k", 1);
    w.tensor("a", {8}, 0, 0);
    w.tensor("b", {256}, 35, 32);
    w.pad();
    w.data(32, 0);
    std::vector<uint8_t> tq(66, 0x55);
    w.b.insert(w.b.end(), tq.begin(), tq.end());
    w.pad();
    return w;
}

}  // namespace

// ------------------------------------------------------------------ golden files from gguf-py

TEST(GgufGolden, MetadataOfEveryTypeReadsExactly) {
    Reader r(golden("tq_golden.gguf"));
    rai_gguf_file_info info;
    rai_gguf_file_info_init(&info);
    ASSERT_RAI_OK(rai_gguf_reader_get_info(r, &info));
    EXPECT_EQ(info.version, 3u);
    EXPECT_EQ(info.kv_count, 17u);
    EXPECT_EQ(info.tensor_count, 16u);
    EXPECT_EQ(info.alignment, 32u);
    EXPECT_EQ(info.data_offset % 32, 0u);
    EXPECT_EQ(r.str("general.architecture"), "rai-golden");
    EXPECT_EQ(r.str("general.name"), "rai golden TQ1_0 / TQ2_0");
    EXPECT_EQ(scalar<uint8_t>(r.kv("test.u8")), 200);
    EXPECT_EQ(scalar<int8_t>(r.kv("test.i8")), -100);
    EXPECT_EQ(scalar<uint16_t>(r.kv("test.u16")), 60000);
    EXPECT_EQ(scalar<int16_t>(r.kv("test.i16")), -30000);
    EXPECT_EQ(scalar<uint32_t>(r.kv("test.u32")), 4000000000u);
    EXPECT_EQ(scalar<int32_t>(r.kv("test.i32")), -2000000000);
    EXPECT_EQ(scalar<float>(r.kv("test.f32")), 0.1f);
    EXPECT_EQ(r.kv("test.bool").type, RAI_GGUF_TYPE_BOOL);
    EXPECT_EQ(scalar<uint8_t>(r.kv("test.bool")), 1);
    EXPECT_EQ(scalar<uint64_t>(r.kv("test.u64")), (uint64_t{1} << 63) + 5);
    EXPECT_EQ(scalar<int64_t>(r.kv("test.i64")), -(int64_t{1} << 62));
    EXPECT_EQ(scalar<double>(r.kv("test.f64")), 2.718281828459045);
    EXPECT_EQ(r.str("test.str"), "tern\xc3\xa4ry \xe2\x9c\x93");
    const rai_gguf_kv_info arr = r.kv("test.arr_i32");
    EXPECT_EQ(arr.type, RAI_GGUF_TYPE_ARRAY);
    EXPECT_EQ(arr.array_type, RAI_GGUF_TYPE_INT32);
    ASSERT_EQ(arr.count, 5u);
    const auto *iv = static_cast<const int32_t *>(arr.data);
    EXPECT_EQ(std::vector<int32_t>(iv, iv + 5), (std::vector<int32_t>{1, -2, 3, -4, 5}));
    const rai_gguf_kv_info sarr = r.kv("test.arr_str");
    EXPECT_EQ(sarr.array_type, RAI_GGUF_TYPE_STRING);
    EXPECT_EQ(sarr.count, 3u);
    EXPECT_EQ(sarr.data, nullptr);
    EXPECT_EQ(r.str("test.arr_str", 0), "a");
    EXPECT_EQ(r.str("test.arr_str", 1), "");
    EXPECT_EQ(r.str("test.arr_str", 2), "bitnet b1.58");
    const rai_gguf_kv_info farr = r.kv("test.arr_f32");
    EXPECT_EQ(farr.array_type, RAI_GGUF_TYPE_FLOAT32);
    EXPECT_EQ(static_cast<const float *>(farr.data)[1], -1.25f);
}

TEST(GgufGolden, TqBytesMatchGgufPyQuantizerAndDecoder) {
    Reader r(golden("tq_golden.gguf"));
    F32 src = r.f32_of("src.w");
    ASSERT_EQ(src.shape, (std::vector<int64_t>{4, 512}));
    struct Case {
        const char *name, *deq;
        int32_t layout, ggml;
    } cases[] = {{"tq1.w", "tq1.w.deq", RAI_TERNARY_LAYOUT_TQ1_0, RAI_GGML_TYPE_TQ1_0},
                 {"tq2.w", "tq2.w.deq", RAI_TERNARY_LAYOUT_TQ2_0, RAI_GGML_TYPE_TQ2_0}};
    for (const Case &c : cases) {
        const rai_gguf_tensor_info info = r.tensor(c.name);
        EXPECT_EQ(info.ggml_type, c.ggml);
        EXPECT_EQ(info.ndim, 2);
        EXPECT_EQ(info.shape[0], 4);
        EXPECT_EQ(info.shape[1], 512);
        const std::vector<uint8_t> file_bytes = r.raw(c.name);
        // rai's port of quantize_row_tq*_0_ref gives gguf-py's bytes exactly
        U8 mine = u8({static_cast<int64_t>(file_bytes.size())});
        ASSERT_RAI_OK(rai_ternary_quantize_tq(c.layout, &src, &mine));
        EXPECT_EQ(mine.data, file_bytes) << c.name;
        // and decodes them to gguf-py's dequantized values exactly
        F32 deq = r.f32_of(c.name);
        F32 ref = r.f32_of(c.deq);
        EXPECT_EQ(deq.data, ref.data) << c.name;
        // the d = 0 block and the ties
        I8 t = i8({4, 512});
        F32 s = f32({4, 2});
        ASSERT_RAI_OK(rai_gguf_reader_read_ternary(r, r.index(c.name), &t, &s));
        EXPECT_EQ(s[2], 0.0f);  // row 1 block 0 was all zero
        for (int i = 0; i < 256; ++i) EXPECT_EQ(t[size_t(512 + i)], 0);
        EXPECT_EQ(s[4], 1.0f);  // row 2 block 0: max 1.0, +-0.5 round away from zero
        EXPECT_EQ(t[size_t(1024 + 1)], 1);
        EXPECT_EQ(t[size_t(1024 + 2)], -1);
        EXPECT_EQ(t[size_t(1024 + 3)], 0);
    }
}

TEST(GgufGolden, LosslessTernaryRecoversTritsAndScales) {
    Reader r(golden("tq_golden.gguf"));
    I8 trits = i8({3, 768});
    ASSERT_RAI_OK(rai_gguf_reader_read_tensor(r, r.index("tern.trits"), &trits));
    F32 scales = r.f32_of("tern.scales");
    for (const char *name : {"tern.tq1", "tern.tq2"}) {
        I8 t = i8({3, 768});
        F32 s = f32({3, 3});
        ASSERT_RAI_OK(rai_gguf_reader_read_ternary(r, r.index(name), &t, &s));
        EXPECT_EQ(t.data, trits.data) << name;
        for (size_t row = 0; row < 3; ++row)
            for (size_t b = 0; b < 3; ++b) EXPECT_EQ(s[row * 3 + b], scales[row]) << name;
        // and back: rai's writer produces the very same bytes
        rai_gguf_writer *w = nullptr;
        ASSERT_RAI_OK(rai_gguf_writer_create(&w));
        const int32_t type = std::string(name) == "tern.tq1" ? RAI_GGML_TYPE_TQ1_0 : RAI_GGML_TYPE_TQ2_0;
        ASSERT_RAI_OK(rai_gguf_writer_add_ternary(w, name, type, &trits, &scales, RAI_GGUF_EXACT_SCALES));
        const std::string p = temp_path("relossless.gguf");
        ASSERT_RAI_OK(rai_gguf_writer_write(w, p.c_str()));
        rai_gguf_writer_destroy(w);
        {
            Reader again(p);
            EXPECT_EQ(again.raw(name), r.raw(name)) << name;
        }
        std::remove(p.c_str());
    }
}

TEST(GgufGolden, PlainTensorsAndShapes) {
    Reader r(golden("tq_golden.gguf"));
    const rai_gguf_tensor_info f16 = r.tensor("f16.x");
    EXPECT_EQ(f16.ggml_type, RAI_GGML_TYPE_F16);
    EXPECT_EQ(f16.shape[0], 5);
    EXPECT_EQ(f16.shape[1], 3);
    Host<uint16_t> h({5, 3}, kF16);
    ASSERT_RAI_OK(rai_gguf_reader_read_tensor(r, r.index("f16.x"), &h));
    F32 hf = r.f32_of("f16.x");
    for (size_t i = 0; i < 15; ++i) {
        // f16 -> f32 by hand
        const uint16_t v = h[i];
        const int e = (v >> 10) & 31, m = v & 1023;
        const float mag = e == 0 ? std::ldexp(float(m), -24) : std::ldexp(float(m | 1024), e - 25);
        EXPECT_EQ(hf[i], (v & 0x8000) ? -mag : mag);
    }
    EXPECT_EQ(r.f32_of("bf16.x").data, r.f32_of("bf16.x.f32").data);
    F32 t3 = r.f32_of("f32.3d");
    EXPECT_EQ(t3.shape, (std::vector<int64_t>{2, 3, 4}));
    for (size_t i = 0; i < 24; ++i) EXPECT_EQ(t3[i], float(i) - 12);
    EXPECT_EQ(r.f32_of("norm.w").shape, (std::vector<int64_t>{7}));
    I8 i8v = i8({5});
    ASSERT_RAI_OK(rai_gguf_reader_read_tensor(r, r.index("i8.x"), &i8v));
    EXPECT_EQ(i8v.data, (std::vector<int8_t>{-128, -1, 0, 1, 127}));
    I32 i32v = i32({3});
    ASSERT_RAI_OK(rai_gguf_reader_read_tensor(r, r.index("i32.x"), &i32v));
    EXPECT_EQ(i32v.data, (std::vector<int32_t>{INT32_MIN, 0, INT32_MAX}));
}

TEST(GgufGolden, CustomAlignment) {
    Reader r(golden("tq_golden_align64.gguf"));
    rai_gguf_file_info info;
    rai_gguf_file_info_init(&info);
    ASSERT_RAI_OK(rai_gguf_reader_get_info(r, &info));
    EXPECT_EQ(info.alignment, 64u);
    EXPECT_EQ(info.data_offset % 64, 0u);
    for (size_t i = 0; i < info.tensor_count; ++i) {
        rai_gguf_tensor_info t;
        rai_gguf_tensor_info_init(&t);
        ASSERT_RAI_OK(rai_gguf_reader_tensor(r, i, &t));
        EXPECT_EQ(t.offset % 64, 0u) << t.name;
    }
    F32 src = r.f32_of("src.w");
    U8 mine = u8({static_cast<int64_t>(r.raw("tq2.w").size())});
    ASSERT_RAI_OK(rai_ternary_quantize_tq(RAI_TERNARY_LAYOUT_TQ2_0, &src, &mine));
    EXPECT_EQ(mine.data, r.raw("tq2.w"));
    EXPECT_EQ(r.f32_of("tq1.w").data, r.f32_of("tq1.w.deq").data);
}

// ------------------------------------------------------------------ rai writer -> rai reader

TEST(GgufWriter, RoundTripWithGgufCLayout) {
    const std::string p = temp_path("roundtrip.gguf");
    rai_gguf_writer *w = nullptr;
    ASSERT_RAI_OK(rai_gguf_writer_create(&w));
    ASSERT_RAI_OK(rai_gguf_writer_add_kv_string(w, "general.architecture", "llama"));
    const uint32_t align = 128;
    ASSERT_RAI_OK(rai_gguf_writer_add_kv(w, "general.alignment", RAI_GGUF_TYPE_UINT32, &align));
    const double pi = 3.141592653589793;
    ASSERT_RAI_OK(rai_gguf_writer_add_kv(w, "x.f64", RAI_GGUF_TYPE_FLOAT64, &pi));
    const int16_t i16 = -7;
    ASSERT_RAI_OK(rai_gguf_writer_add_kv(w, "x.i16", RAI_GGUF_TYPE_INT16, &i16));
    const uint8_t bools[3] = {1, 0, 1};
    ASSERT_RAI_OK(rai_gguf_writer_add_kv_array(w, "x.bools", RAI_GGUF_TYPE_BOOL, bools, 3));
    ASSERT_RAI_OK(rai_gguf_writer_add_kv_array(w, "x.empty", RAI_GGUF_TYPE_UINT64, nullptr, 0));
    const char *toks[3] = {"<s>", "</s>", "\xe2\x96\x81the"};
    ASSERT_RAI_OK(rai_gguf_writer_add_kv_string_array(w, "tokenizer.ggml.tokens", toks, 3));
    // ternary weights at every representable granularity
    I8 t = rand_trits({5, 512}, 1);
    F32 s_tensor = f32({1}, {0.375f});
    F32 s_row = f32({5}, {0.5f, 0.25f, 0.125f, 1.0f, 2.0f});
    F32 s_g512 = f32({5, 1}, {1, 2, 3, 4, 5});
    F32 s_g64 = f32({5, 8});
    for (size_t i = 0; i < s_g64.size(); ++i) s_g64[i] = (i % 8) < 4 ? 0.5f : 0.75f;  // equal within 256
    ASSERT_RAI_OK(rai_gguf_writer_add_ternary(w, "w.tensor", RAI_GGML_TYPE_TQ1_0, &t, &s_tensor, 0));
    ASSERT_RAI_OK(rai_gguf_writer_add_ternary(w, "w.row", RAI_GGML_TYPE_TQ2_0, &t, &s_row, RAI_GGUF_EXACT_SCALES));
    ASSERT_RAI_OK(rai_gguf_writer_add_ternary(w, "w.g512", RAI_GGML_TYPE_TQ2_0, &t, &s_g512, 0));
    ASSERT_RAI_OK(rai_gguf_writer_add_ternary(w, "w.g64", RAI_GGML_TYPE_TQ1_0, &t, &s_g64, 0));
    F32 x = randn({3, 256}, 2);
    ASSERT_RAI_OK(rai_gguf_writer_add_tensor(w, "x.f32", &x, RAI_GGML_TYPE_F32));
    ASSERT_RAI_OK(rai_gguf_writer_add_tensor(w, "x.f16", &x, RAI_GGML_TYPE_F16));
    ASSERT_RAI_OK(rai_gguf_writer_add_tensor(w, "x.bf16", &x, RAI_GGML_TYPE_BF16));
    ASSERT_RAI_OK(rai_gguf_writer_add_tensor(w, "x.tq2", &x, RAI_GGML_TYPE_TQ2_0));
    Host<int64_t> i64v({2}, rai_dtype{RAI_DTYPE_INT, 64, 1}, {-5, 1LL << 40});
    ASSERT_RAI_OK(rai_gguf_writer_add_tensor(w, "x.i64", &i64v, RAI_GGML_TYPE_I64));
    Host<double> f64v({1, 1, 1, 2}, rai_dtype{RAI_DTYPE_FLOAT, 64, 1}, {0.25, -8});
    ASSERT_RAI_OK(rai_gguf_writer_add_tensor(w, "x.f64.4d", &f64v, RAI_GGML_TYPE_F64));
    ASSERT_RAI_OK(rai_gguf_writer_write(w, p.c_str()));
    rai_gguf_writer_destroy(w);

    Reader r(p);
    rai_gguf_file_info info;
    rai_gguf_file_info_init(&info);
    ASSERT_RAI_OK(rai_gguf_reader_get_info(r, &info));
    EXPECT_EQ(info.alignment, 128u);
    EXPECT_EQ(info.tensor_count, 10u);
    EXPECT_EQ(info.kv_count, 7u);
    // gguf.c's rule: tensor i at the running data size, each padded to the alignment, and the
    // file holds the padding of the last tensor too.
    uint64_t running = 0;
    for (size_t i = 0; i < info.tensor_count; ++i) {
        rai_gguf_tensor_info ti;
        rai_gguf_tensor_info_init(&ti);
        ASSERT_RAI_OK(rai_gguf_reader_tensor(r, i, &ti));
        EXPECT_EQ(ti.offset - info.data_offset, running) << ti.name;
        running += (ti.nbytes + 127) / 128 * 128;
    }
    EXPECT_EQ(info.file_size, info.data_offset + running);
    EXPECT_EQ(r.str("tokenizer.ggml.tokens", 2), "\xe2\x96\x81the");
    EXPECT_EQ(scalar<double>(r.kv("x.f64")), pi);
    EXPECT_EQ(scalar<int16_t>(r.kv("x.i16")), -7);
    EXPECT_EQ(r.kv("x.bools").count, 3u);
    EXPECT_EQ(r.kv("x.empty").count, 0u);
    struct Tern {
        const char *name;
        const F32 *s;
    } terns[] = {{"w.tensor", std::addressof(s_tensor)}, {"w.row", std::addressof(s_row)}, {"w.g512", std::addressof(s_g512)}, {"w.g64", std::addressof(s_g64)}};
    for (const Tern &c : terns) {
        I8 back = i8({5, 512});
        F32 sb = f32({5, 2});
        ASSERT_RAI_OK(rai_gguf_reader_read_ternary(r, r.index(c.name), &back, &sb));
        EXPECT_EQ(back.data, t.data) << c.name;
        for (int64_t row = 0; row < 5; ++row)
            for (int64_t b = 0; b < 2; ++b)
                EXPECT_EQ(sb[size_t(row * 2 + b)], (*c.s)[scale_index(c.s->shape, 5, 512, row, b * 256)]) << c.name;
        // dequantized through the reader = trit * scale
        F32 deq = r.f32_of(c.name);
        for (size_t i = 0; i < deq.size(); ++i)
            ASSERT_EQ(deq[i], float(t[i]) * sb[(i / 512) * 2 + (i % 512) / 256]) << c.name;
    }
    EXPECT_EQ(r.f32_of("x.f32").data, x.data);
    F32 xh = r.f32_of("x.f16");
    F32 xb = r.f32_of("x.bf16");
    for (size_t i = 0; i < x.size(); ++i) {
        EXPECT_NEAR(xh[i], x[i], std::fabs(x[i]) * 1e-3 + 1e-7);
        EXPECT_EQ(xb[i], from_bf16(to_bf16(x[i])));
    }
    U8 q = u8({3 * 66});
    ASSERT_RAI_OK(rai_ternary_quantize_tq(RAI_TERNARY_LAYOUT_TQ2_0, &x, &q));
    EXPECT_EQ(r.raw("x.tq2"), q.data);
    Host<int64_t> i64b({2}, rai_dtype{RAI_DTYPE_INT, 64, 1});
    ASSERT_RAI_OK(rai_gguf_reader_read_tensor(r, r.index("x.i64"), &i64b));
    EXPECT_EQ(i64b.data, i64v.data);
    const rai_gguf_tensor_info t4 = r.tensor("x.f64.4d");
    EXPECT_EQ(t4.ndim, 4);
    EXPECT_EQ(t4.shape[3], 2);
    std::remove(p.c_str());
}

TEST(GgufWriter, ErrorsNameTheArgumentOrTensor) {
    rai_gguf_writer *w = nullptr;
    ASSERT_RAI_OK(rai_gguf_writer_create(&w));
    const uint32_t one = 1;
    ASSERT_RAI_OK(rai_gguf_writer_add_kv(w, "a", RAI_GGUF_TYPE_UINT32, &one));
    EXPECT_RAI_ERROR(rai_gguf_writer_add_kv(w, "a", RAI_GGUF_TYPE_UINT32, &one), RAI_ERROR_INVALID_ARGUMENT,
                     "key 'a' was already added");
    EXPECT_RAI_ERROR(rai_gguf_writer_add_kv(w, "", RAI_GGUF_TYPE_UINT32, &one), RAI_ERROR_INVALID_ARGUMENT, "empty");
    EXPECT_RAI_ERROR(rai_gguf_writer_add_kv(w, "b", RAI_GGUF_TYPE_STRING, &one), RAI_ERROR_INVALID_ARGUMENT,
                     "type is 8 (STRING)");
    EXPECT_RAI_ERROR(rai_gguf_writer_add_kv(w, "b", 99, &one), RAI_ERROR_INVALID_ARGUMENT, "type is 99");
    const uint8_t two = 2;
    EXPECT_RAI_ERROR(rai_gguf_writer_add_kv(w, "b", RAI_GGUF_TYPE_BOOL, &two), RAI_ERROR_INVALID_ARGUMENT,
                     "expected 0 or 1");
    EXPECT_RAI_ERROR(rai_gguf_writer_add_kv(w, "b", RAI_GGUF_TYPE_UINT32, nullptr), RAI_ERROR_INVALID_ARGUMENT,
                     "value");
    const uint32_t three = 3;
    EXPECT_RAI_ERROR(rai_gguf_writer_add_kv(w, "general.alignment", RAI_GGUF_TYPE_UINT32, &three),
                     RAI_ERROR_INVALID_ARGUMENT, "power of two");
    EXPECT_RAI_ERROR(rai_gguf_writer_add_kv(w, "general.alignment", RAI_GGUF_TYPE_UINT64, &three),
                     RAI_ERROR_INVALID_ARGUMENT, "UINT32");
    EXPECT_RAI_ERROR(rai_gguf_writer_add_kv_array(w, "c", RAI_GGUF_TYPE_ARRAY, &one, 1), RAI_ERROR_INVALID_ARGUMENT,
                     "elem_type");
    const char *bad[2] = {"x", nullptr};
    EXPECT_RAI_ERROR(rai_gguf_writer_add_kv_string_array(w, "c", bad, 2), RAI_ERROR_INVALID_ARGUMENT, "values[1]");
    EXPECT_RAI_ERROR(rai_gguf_writer_add_kv_string(nullptr, "c", "v"), RAI_ERROR_INVALID_ARGUMENT, "writer");

    F32 x = randn({2, 100}, 3);
    EXPECT_RAI_ERROR(rai_gguf_writer_add_tensor(w, "x", &x, RAI_GGML_TYPE_TQ2_0), RAI_ERROR_SHAPE_MISMATCH,
                     "tensor 'x': TQ2_0 needs the last dimension to be a multiple of 256, got 100");
    I8 xi = i8({4});
    EXPECT_RAI_ERROR(rai_gguf_writer_add_tensor(w, "x", &xi, RAI_GGML_TYPE_F32), RAI_ERROR_DTYPE_MISMATCH,
                     "tensor 'x': a i8 tensor cannot be stored as F32");
    EXPECT_RAI_ERROR(rai_gguf_writer_add_tensor(w, "x", &x, 2), RAI_ERROR_INVALID_ARGUMENT,
                     "ggml_type 2 is not one rai writes");
    F32 x5 = f32({1, 1, 1, 1, 2});
    EXPECT_RAI_ERROR(rai_gguf_writer_add_tensor(w, "x", &x5, RAI_GGML_TYPE_F32), RAI_ERROR_SHAPE_MISMATCH,
                     "1 to 4 dimensions");
    const std::string long_name(64, 'n');
    EXPECT_RAI_ERROR(rai_gguf_writer_add_tensor(w, long_name.c_str(), &x, RAI_GGML_TYPE_F32),
                     RAI_ERROR_INVALID_ARGUMENT, "has 64 bytes, expected 1..63");
    ASSERT_RAI_OK(rai_gguf_writer_add_tensor(w, "x", &x, RAI_GGML_TYPE_F32));
    EXPECT_RAI_ERROR(rai_gguf_writer_add_tensor(w, "x", &x, RAI_GGML_TYPE_F32), RAI_ERROR_INVALID_ARGUMENT,
                     "tensor 'x' was already added");
    // ternary: per-64 scales that differ inside a 256 block cannot be represented
    I8 t = rand_trits({2, 256}, 4);
    F32 g64 = rand_scales({2, 4}, 5);
    EXPECT_RAI_ERROR(rai_gguf_writer_add_ternary(w, "blk.0.ffn_up.weight", RAI_GGML_TYPE_TQ2_0, &t, &g64, 0),
                     RAI_ERROR_UNSUPPORTED, "tensor 'blk.0.ffn_up.weight': row 0 has different scales");
    F32 tenth = f32({1}, {0.1f});
    EXPECT_RAI_ERROR(rai_gguf_writer_add_ternary(w, "t", RAI_GGML_TYPE_TQ1_0, &t, &tenth, RAI_GGUF_EXACT_SCALES),
                     RAI_ERROR_OUT_OF_RANGE, "tensor 't': the scale of row 0 is not exactly an f16");
    EXPECT_RAI_ERROR(rai_gguf_writer_add_ternary(w, "t", RAI_GGML_TYPE_F16, &t, &tenth, 0), RAI_ERROR_INVALID_ARGUMENT,
                     "not TQ1_0 (34) or TQ2_0 (35)");
    EXPECT_RAI_ERROR(rai_gguf_writer_add_ternary(w, "t", RAI_GGML_TYPE_TQ1_0, &t, &tenth, 8),
                     RAI_ERROR_INVALID_ARGUMENT, "flags");
    I8 t100 = i8({2, 100});
    EXPECT_RAI_ERROR(rai_gguf_writer_add_ternary(w, "t", RAI_GGML_TYPE_TQ1_0, &t100, &tenth, 0),
                     RAI_ERROR_SHAPE_MISMATCH, "multiple of 256");
    t[3] = 3;
    EXPECT_RAI_ERROR(rai_gguf_writer_add_ternary(w, "t", RAI_GGML_TYPE_TQ1_0, &t, &tenth, 0), RAI_ERROR_INVALID_ARGUMENT,
                     "trits[0, 3] is 3");
    // writing: a missing directory is an IO error and leaves nothing behind
    const std::string missing = temp_path("no/such/dir/out.gguf");
    EXPECT_RAI_ERROR(rai_gguf_writer_write(w, missing.c_str()), RAI_ERROR_IO, "cannot create");
    EXPECT_FALSE(exists(missing));
    // a directory as the target: rename fails, the temporary file is removed
    const std::string dir = temp_path("dir_target");
    ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
    EXPECT_RAI_ERROR(rai_gguf_writer_write(w, dir.c_str()), RAI_ERROR_IO, "cannot rename");
    ::rmdir(dir.c_str());
    EXPECT_FALSE(exists(dir));
    // an existing file is replaced in one step
    const std::string p = temp_path("replace.gguf");
    spit(p, {1, 2, 3});
    ASSERT_RAI_OK(rai_gguf_writer_write(w, p.c_str()));
    Reader r(p);
    EXPECT_GE(r.index("x"), 0u);
    std::remove(p.c_str());
    rai_gguf_writer_destroy(w);
}

// ------------------------------------------------------------------ defensive reader

TEST(GgufReader, ValidHandBuiltFileOpens) {
    Raw w = valid_raw();
    EXPECT_EQ(open_bytes(w.b, "valid.gguf"), RAI_OK) << rai_last_error_message();
}

TEST(GgufReader, CorruptHeadersGetSpecificStatuses) {
    const Raw ok = valid_raw();
    auto with = [&](auto &&edit) {
        Raw r = ok;
        edit(r);
        return r.b;
    };
    EXPECT_RAI_ERROR(open_bytes(with([](Raw &r) { r.b[0] = 'X'; }), "magic.gguf"), RAI_ERROR_FORMAT,
                     "not a GGUF file");
    EXPECT_RAI_ERROR(open_bytes(with([](Raw &r) { r.b[4] = 1; }), "v1.gguf"), RAI_ERROR_UNSUPPORTED,
                     "GGUF version 1 is not supported");
    EXPECT_RAI_ERROR(open_bytes(with([](Raw &r) { r.b[4] = 4; }), "v4.gguf"), RAI_ERROR_UNSUPPORTED, "version 4");
    EXPECT_RAI_ERROR(open_bytes(with([](Raw &r) {
                         r.b[4] = 0;
                         r.b[7] = 3;
                     }),
                                "be.gguf"),
                     RAI_ERROR_UNSUPPORTED, "big-endian");
    // version 2 is read like 3
    EXPECT_EQ(open_bytes(with([](Raw &r) { r.b[4] = 2; }), "v2.gguf"), RAI_OK);
    // counts that cannot fit
    EXPECT_RAI_ERROR(open_bytes(with([](Raw &r) { std::memset(&r.b[16], 0xff, 8); }), "kvcount.gguf"),
                     RAI_ERROR_FORMAT, "metadata count");
    EXPECT_RAI_ERROR(open_bytes(with([](Raw &r) { std::memset(&r.b[8], 0x7f, 8); }), "tcount.gguf"), RAI_ERROR_FORMAT,
                     "tensor count");
    // a key length past the end of the file
    EXPECT_RAI_ERROR(open_bytes(with([](Raw &r) { r.b[24 + 6] = 0x10; }), "keylen.gguf"), RAI_ERROR_FORMAT,
                     "truncated");

    Raw nested;
    nested.header(0, 1);
    nested.str("arr");
    nested.u32(9);
    nested.u32(9);
    nested.u64(1);
    nested.data(64);
    EXPECT_RAI_ERROR(open_bytes(nested.b, "nested.gguf"), RAI_ERROR_FORMAT, "nested array");
    Raw badtype;
    badtype.header(0, 1);
    badtype.str("k");
    badtype.u32(13);
    badtype.data(16);
    EXPECT_RAI_ERROR(open_bytes(badtype.b, "kvtype.gguf"), RAI_ERROR_FORMAT, "unknown value type 13");
    Raw huge_arr;
    huge_arr.header(0, 1);
    huge_arr.str("k");
    huge_arr.u32(9);
    huge_arr.u32(4);
    huge_arr.u64(uint64_t{1} << 60);
    huge_arr.data(64);
    EXPECT_RAI_ERROR(open_bytes(huge_arr.b, "hugearr.gguf"), RAI_ERROR_FORMAT, "more than the file can hold");
    Raw huge_strs;
    huge_strs.header(0, 1);
    huge_strs.str("k");
    huge_strs.u32(9);
    huge_strs.u32(8);
    huge_strs.u64(uint64_t{1} << 40);
    huge_strs.data(64);
    EXPECT_RAI_ERROR(open_bytes(huge_strs.b, "hugestrs.gguf"), RAI_ERROR_FORMAT, "strings, more than the file");
    Raw dupkey;
    dupkey.header(0, 2);
    dupkey.kv_u32("k", 1);
    dupkey.kv_u32("k", 2);
    EXPECT_RAI_ERROR(open_bytes(dupkey.b, "dupkey.gguf"), RAI_ERROR_FORMAT, "duplicate metadata key 'k'");
    Raw align;
    align.header(0, 1);
    align.kv_u32("general.alignment", 24);
    EXPECT_RAI_ERROR(open_bytes(align.b, "align.gguf"), RAI_ERROR_FORMAT, "not a power of two");
    Raw align_type;
    align_type.header(0, 1);
    align_type.str("general.alignment");
    align_type.u32(10);
    align_type.u64(32);
    EXPECT_RAI_ERROR(open_bytes(align_type.b, "aligntype.gguf"), RAI_ERROR_FORMAT, "not a UINT32");

    auto one_tensor = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data) {
        Raw r;
        r.header(1, 0);
        r.tensor("t", std::move(ne), type, offset);
        r.pad();
        r.data(data);
        return r.b;
    };
    EXPECT_RAI_ERROR(open_bytes(one_tensor({1, 1, 1, 1, 1}, 0, 0, 64), "dims.gguf"), RAI_ERROR_FORMAT,
                     "5 dimensions");
    EXPECT_RAI_ERROR(open_bytes(one_tensor({8}, 4, 0, 64), "gtype.gguf"), RAI_ERROR_FORMAT, "unknown ggml type 4");
    EXPECT_RAI_ERROR(open_bytes(one_tensor({100}, 35, 0, 1024), "block.gguf"), RAI_ERROR_FORMAT,
                     "not a multiple of the TQ2_0 block of 256");
    EXPECT_RAI_ERROR(open_bytes(one_tensor({8}, 0, 16, 64), "misaligned.gguf"), RAI_ERROR_FORMAT,
                     "not a multiple of the alignment 32");
    EXPECT_RAI_ERROR(open_bytes(one_tensor({8}, 0, 64, 64), "past.gguf"), RAI_ERROR_FORMAT, "extends past the end");
    EXPECT_RAI_ERROR(open_bytes(one_tensor({uint64_t{1} << 63}, 0, 0, 64), "bigdim.gguf"), RAI_ERROR_FORMAT,
                     "more than int64 holds");
    EXPECT_RAI_ERROR(open_bytes(one_tensor({uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0, 64), "overflow.gguf"),
                     RAI_ERROR_FORMAT, "more elements than int64 holds");
    Raw overlap;
    overlap.header(2, 0);
    overlap.tensor("a", {16}, 0, 0);
    overlap.tensor("b", {16}, 0, 32);
    overlap.pad();
    overlap.data(128);
    EXPECT_RAI_ERROR(open_bytes(overlap.b, "overlap.gguf"), RAI_ERROR_FORMAT, "tensors 'a' and 'b' overlap");
    Raw dupname;
    dupname.header(2, 0);
    dupname.tensor("a", {8}, 0, 0);
    dupname.tensor("a", {8}, 0, 32);
    dupname.pad();
    dupname.data(64);
    EXPECT_RAI_ERROR(open_bytes(dupname.b, "dupname.gguf"), RAI_ERROR_FORMAT, "duplicate tensor name 'a'");
    rai_gguf_reader *r = nullptr;
    EXPECT_RAI_ERROR(rai_gguf_reader_open(temp_path("does_not_exist.gguf").c_str(), &r), RAI_ERROR_IO, "cannot open");
    EXPECT_EQ(r, nullptr);
    EXPECT_RAI_ERROR(rai_gguf_reader_open("/", &r), RAI_ERROR_IO, "not a regular file");
    EXPECT_RAI_ERROR(rai_gguf_reader_open(nullptr, &r), RAI_ERROR_INVALID_ARGUMENT, "path");
}

TEST(GgufReader, EveryTruncationOfARealFileIsRefused) {
    const std::vector<uint8_t> full = slurp(golden("tq_golden.gguf"));
    ASSERT_GT(full.size(), 1000u);
    // The end of the last tensor's data: a file cut after it only lacks padding and still reads.
    uint64_t data_end = 0;
    {
        Reader r(golden("tq_golden.gguf"));
        rai_gguf_file_info info;
        rai_gguf_file_info_init(&info);
        ASSERT_RAI_OK(rai_gguf_reader_get_info(r, &info));
        for (size_t i = 0; i < info.tensor_count; ++i) {
            rai_gguf_tensor_info ti;
            rai_gguf_tensor_info_init(&ti);
            ASSERT_RAI_OK(rai_gguf_reader_tensor(r, i, &ti));
            data_end = std::max<uint64_t>(data_end, ti.offset + ti.nbytes);
        }
    }
    // Every cut inside the header and a sample of cuts inside the data.
    std::vector<size_t> cuts;
    for (size_t n = 0; n < 1400 && n < full.size(); ++n) cuts.push_back(n);
    for (size_t n = 1400; n < full.size(); n += 997) cuts.push_back(n);
    cuts.push_back(static_cast<size_t>(data_end) - 1);
    cuts.push_back(static_cast<size_t>(data_end));
    cuts.push_back(full.size() - 1);
    for (size_t n : cuts) {
        const std::vector<uint8_t> part(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        const rai_status st = open_bytes(part, "cut.gguf");
        if (n >= data_end) EXPECT_EQ(st, RAI_OK) << "cut at " << n << ": " << rai_last_error_message();
        else ASSERT_EQ(st, RAI_ERROR_FORMAT) << "cut at " << n << ": " << rai_last_error_message();
    }
}

TEST(GgufReader, RandomCorruptionNeverCrashes) {
    const std::vector<uint8_t> full = slurp(golden("tq_golden.gguf"));
    Reader good(golden("tq_golden.gguf"));
    rai_gguf_file_info info;
    rai_gguf_file_info_init(&info);
    ASSERT_RAI_OK(rai_gguf_reader_get_info(good, &info));
    std::mt19937 rng(1234);
    int ok = 0, refused = 0;
    const std::string p = temp_path("fuzz.gguf");
    for (int iter = 0; iter < 600; ++iter) {
        std::vector<uint8_t> b = full;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f) b[rng() % info.data_offset] ^= static_cast<uint8_t>(1u << (rng() % 8));
        spit(p, b);
        rai_gguf_reader *r = nullptr;
        const rai_status st = rai_gguf_reader_open(p.c_str(), &r);
        if (st == RAI_OK) {
            ++ok;
            // whatever opened must also read without crashing
            for (size_t i = 0; i < 4; ++i) {
                std::vector<uint8_t> buf(1 << 16);
                size_t need = 0;
                rai_gguf_reader_read_raw(r, i, buf.data(), buf.size(), &need);
            }
            rai_gguf_reader_destroy(r);
        } else {
            ++refused;
            EXPECT_TRUE(st == RAI_ERROR_FORMAT || st == RAI_ERROR_UNSUPPORTED) << rai_last_error_message();
            EXPECT_EQ(r, nullptr);
        }
    }
    std::remove(p.c_str());
    std::printf("random header corruption: %d opened, %d refused\n", ok, refused);
}

TEST(GgufReader, AccessorErrors) {
    Reader r(golden("tq_golden.gguf"));
    rai_gguf_tensor_info ti;
    rai_gguf_tensor_info_init(&ti);
    EXPECT_RAI_ERROR(rai_gguf_reader_tensor(r, 16, &ti), RAI_ERROR_OUT_OF_RANGE, "index 16");
    rai_gguf_kv_info ki;
    rai_gguf_kv_info_init(&ki);
    EXPECT_RAI_ERROR(rai_gguf_reader_kv(r, 17, &ki), RAI_ERROR_OUT_OF_RANGE, "index 17");
    ki.struct_size = 4;
    EXPECT_RAI_ERROR(rai_gguf_reader_kv(r, 0, &ki), RAI_ERROR_STRUCT_SIZE, "info->struct_size");
    int64_t idx = 5;
    ASSERT_RAI_OK(rai_gguf_reader_find_tensor(r, "nope", &idx));
    EXPECT_EQ(idx, -1);
    ASSERT_RAI_OK(rai_gguf_reader_find_kv(r, "nope", &idx));
    EXPECT_EQ(idx, -1);
    ASSERT_RAI_OK(rai_gguf_reader_find_kv(r, "test.u32", &idx));
    const char *s = nullptr;
    EXPECT_RAI_ERROR(rai_gguf_reader_kv_string(r, size_t(idx), 0, &s, nullptr), RAI_ERROR_INVALID_ARGUMENT,
                     "key 'test.u32' holds UINT32, not a string");
    ASSERT_RAI_OK(rai_gguf_reader_find_kv(r, "test.arr_str", &idx));
    EXPECT_RAI_ERROR(rai_gguf_reader_kv_string(r, size_t(idx), 3, &s, nullptr), RAI_ERROR_OUT_OF_RANGE, "element 3");
    // read_raw: the needed size comes back with BUFFER_TOO_SMALL
    size_t need = 0;
    std::vector<uint8_t> small(10);
    EXPECT_RAI_ERROR(rai_gguf_reader_read_raw(r, r.index("tq2.w"), small.data(), small.size(), &need),
                     RAI_ERROR_BUFFER_TOO_SMALL, "has 528 bytes, capacity is 10");
    EXPECT_EQ(need, 528u);
    // read_tensor: shape and dtype mismatches
    F32 wrong = f32({512, 4});
    EXPECT_RAI_ERROR(rai_gguf_reader_read_tensor(r, r.index("src.w"), &wrong), RAI_ERROR_SHAPE_MISMATCH,
                     "dst: shape [512, 4] differs from tensor 'src.w''s shape [4, 512]");
    I8 as_i8 = i8({4, 512});
    EXPECT_RAI_ERROR(rai_gguf_reader_read_tensor(r, r.index("src.w"), &as_i8), RAI_ERROR_DTYPE_MISMATCH,
                     "(F32) cannot be read as i8");
    I8 tr = i8({4, 512});
    EXPECT_RAI_ERROR(rai_gguf_reader_read_ternary(r, r.index("src.w"), &tr, nullptr), RAI_ERROR_DTYPE_MISMATCH,
                     "is F32, not TQ1_0 or TQ2_0");
    F32 sc = f32({4, 3});
    EXPECT_RAI_ERROR(rai_gguf_reader_read_ternary(r, r.index("tq1.w"), &tr, &sc), RAI_ERROR_SHAPE_MISMATCH, "scales");
    rai_gguf_reader_destroy(nullptr);
}

TEST(GgufReader, Tq2Code3IsRefusedAsTritsButDecodedLikeLlamaCpp) {
    Raw w;
    w.header(1, 0);
    w.tensor("t", {256}, 35, 0);
    w.pad();
    std::vector<uint8_t> blk(66, 0x55);
    blk[0] = 0x57;                      // element 0 code 3
    blk[64] = 0x00, blk[65] = 0x3c;     // d = 1.0
    w.b.insert(w.b.end(), blk.begin(), blk.end());
    w.pad();
    const std::string p = temp_path("code3.gguf");
    spit(p, w.b);
    {
        Reader r(p);
        I8 t = i8({1, 256});
        EXPECT_RAI_ERROR(rai_gguf_reader_read_ternary(r, 0, &t, nullptr), RAI_ERROR_FORMAT,
                         "tensor 't': TQ2_0 block 0 element 0 has code 3");
        F32 x = f32({256});
        ASSERT_RAI_OK(rai_gguf_reader_read_tensor(r, 0, &x));
        EXPECT_EQ(x[0], 2.0f);  // llama.cpp: (3 - 1) * d
        EXPECT_EQ(x[1], 0.0f);
    }
    std::remove(p.c_str());
}
