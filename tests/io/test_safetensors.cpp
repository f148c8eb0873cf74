// safetensors reader/writer: round trips, every malformed-header error with its message, I/O
// errors, atomic saves, and a fuzz-style sweep over truncated and corrupted files (never a crash,
// only RAI_OK or RAI_ERROR_FORMAT).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../unit/test_helpers.h"

namespace {

constexpr rai_dtype kBF16{RAI_DTYPE_BFLOAT, 16, 1};
constexpr rai_dtype kI64{RAI_DTYPE_INT, 64, 1};

std::vector<uint8_t> serialize(rai_safetensors_writer *w) {
    size_t size = 0;
    EXPECT_EQ(rai_safetensors_writer_serialize(w, nullptr, 0, &size), RAI_ERROR_BUFFER_TOO_SMALL);
    std::vector<uint8_t> out(size);
    EXPECT_EQ(rai_safetensors_writer_serialize(w, out.data(), out.size(), &size), RAI_OK) << rai_last_error_message();
    return out;
}

// A file with a header given as text (padded to 8) and `data_bytes` bytes of data.
std::vector<uint8_t> raw_file(const std::string &header, size_t data_bytes) {
    std::string h = header;
    while (h.size() % 8) h += ' ';
    std::vector<uint8_t> out(8);
    const uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
    out.insert(out.end(), h.begin(), h.end());
    out.resize(out.size() + data_bytes, 0xab);
    return out;
}

rai_status open_bytes(const std::vector<uint8_t> &b, rai_safetensors **f) { return rai_safetensors_open_memory(b.data(), b.size(), f); }

void expect_format(const std::string &header, size_t data, const std::string &fragment) {
    rai_safetensors *f = reinterpret_cast<rai_safetensors *>(0x1);
    EXPECT_RAI_ERROR(open_bytes(raw_file(header, data), &f), RAI_ERROR_FORMAT, fragment);
    EXPECT_EQ(f, nullptr);
}

std::string temp_dir() {
    char tmpl[] = "/tmp/rai_st_XXXXXX";
    const char *d = mkdtemp(tmpl);
    return d ? d : "/tmp";
}

// A representative valid file: several dtypes, a scalar, an empty tensor, raw dtypes, metadata.
std::vector<uint8_t> sample_file() {
    rai_safetensors_writer *w = nullptr;
    EXPECT_EQ(rai_safetensors_writer_create(&w), RAI_OK);
    std::vector<float> a = {1, 2, 3, 4, 5, 6};
    std::vector<uint16_t> b = {0x3f80, 0x4000, 0xbf80};
    int64_t c = -7;
    const int64_t sa[2] = {2, 3}, sb[1] = {3}, se[2] = {0, 4};
    rai_tensor ta = make_tensor(a.data(), kF32, sa, 2), tb = make_tensor(b.data(), kBF16, sb, 1),
               tc = make_tensor(&c, kI64, nullptr, 0), te = make_tensor(nullptr, kF32, se, 2);
    EXPECT_EQ(rai_safetensors_writer_add(w, "layer.weight", &ta), RAI_OK) << rai_last_error_message();
    EXPECT_EQ(rai_safetensors_writer_add(w, "layer.bias", &tb), RAI_OK);
    EXPECT_EQ(rai_safetensors_writer_add(w, "step", &tc), RAI_OK);
    EXPECT_EQ(rai_safetensors_writer_add(w, "empty", &te), RAI_OK) << rai_last_error_message();
    const uint8_t flags[3] = {1, 0, 1};
    const int64_t s3[1] = {3};
    EXPECT_EQ(rai_safetensors_writer_add_raw(w, "mask", "BOOL", 1, s3, flags, 3), RAI_OK);
    const uint8_t f8[2] = {0x38, 0x40};
    const int64_t s2[1] = {2};
    EXPECT_EQ(rai_safetensors_writer_add_raw(w, "scale \"q\"", "F8_E4M3", 1, s2, f8, 2), RAI_OK);
    EXPECT_EQ(rai_safetensors_writer_set_metadata(w, "format", "pt"), RAI_OK);
    EXPECT_EQ(rai_safetensors_writer_set_metadata(w, "note", "caf\xc3\xa9 \"quoted\"\n"), RAI_OK);
    std::vector<uint8_t> bytes = serialize(w);
    rai_safetensors_writer_destroy(w);
    return bytes;
}

}  // namespace

TEST(Safetensors, WriterReaderRoundTrip) {
    const std::vector<uint8_t> bytes = sample_file();
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | bytes[i];
    EXPECT_EQ(n % 8, 0u);  // header padded to a multiple of 8
    EXPECT_EQ(bytes[8], '{');
    rai_safetensors *f = nullptr;
    ASSERT_RAI_OK(open_bytes(bytes, &f));
    size_t count = 0;
    ASSERT_RAI_OK(rai_safetensors_count(f, &count));
    EXPECT_EQ(count, 6u);
    int64_t idx = -2;
    ASSERT_RAI_OK(rai_safetensors_find(f, "layer.weight", &idx));
    ASSERT_GE(idx, 0);
    rai_safetensors_tensor_info info;
    rai_safetensors_tensor_info_init(&info);
    ASSERT_RAI_OK(rai_safetensors_get_info(f, static_cast<size_t>(idx), &info));
    EXPECT_STREQ(info.name, "layer.weight");
    EXPECT_STREQ(info.dtype_name, "F32");
    EXPECT_EQ(info.ndim, 2);
    EXPECT_EQ(info.shape[0], 2);
    EXPECT_EQ(info.shape[1], 3);
    EXPECT_EQ(info.nbytes, 24u);
    EXPECT_EQ(info.dtype.code, RAI_DTYPE_FLOAT);
    EXPECT_EQ(info.dtype.bits, 32);
    const float *pa = static_cast<const float *>(info.data);
    EXPECT_EQ(pa[5], 6.0f);
    rai_tensor v;
    ASSERT_RAI_OK(rai_safetensors_tensor_view(f, static_cast<size_t>(idx), &v));
    EXPECT_EQ(v.device.device_type, RAI_DEVICE_CPU);
    EXPECT_EQ(static_cast<float *>(v.data)[0], 1.0f);
    ASSERT_RAI_OK(rai_tensor_validate(&v));
    ASSERT_RAI_OK(rai_safetensors_find(f, "step", &idx));
    ASSERT_RAI_OK(rai_safetensors_get_info(f, static_cast<size_t>(idx), &info));
    EXPECT_EQ(info.ndim, 0);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(info.data) % 8, 0u);  // laid out first: aligned
    int64_t step = 0;
    std::memcpy(&step, info.data, 8);
    EXPECT_EQ(step, -7);
    ASSERT_RAI_OK(rai_safetensors_find(f, "mask", &idx));
    ASSERT_RAI_OK(rai_safetensors_get_info(f, static_cast<size_t>(idx), &info));
    EXPECT_STREQ(info.dtype_name, "BOOL");
    EXPECT_EQ(info.dtype.bits, 0);
    EXPECT_RAI_ERROR(rai_safetensors_tensor_view(f, static_cast<size_t>(idx), &v), RAI_ERROR_DTYPE_MISMATCH, "BOOL");
    ASSERT_RAI_OK(rai_safetensors_find(f, "scale \"q\"", &idx));
    EXPECT_GE(idx, 0);
    ASSERT_RAI_OK(rai_safetensors_find(f, "absent", &idx));
    EXPECT_EQ(idx, -1);
    ASSERT_RAI_OK(rai_safetensors_find(f, "empty", &idx));
    ASSERT_RAI_OK(rai_safetensors_get_info(f, static_cast<size_t>(idx), &info));
    EXPECT_EQ(info.nbytes, 0u);
    size_t mc = 0;
    ASSERT_RAI_OK(rai_safetensors_metadata_count(f, &mc));
    EXPECT_EQ(mc, 2u);
    const char *key = nullptr, *value = nullptr;
    ASSERT_RAI_OK(rai_safetensors_metadata_get(f, 1, &key, &value));
    EXPECT_STREQ(key, "note");
    EXPECT_STREQ(value, "caf\xc3\xa9 \"quoted\"\n");
    ASSERT_RAI_OK(rai_safetensors_metadata_find(f, "format", &value));
    EXPECT_STREQ(value, "pt");
    ASSERT_RAI_OK(rai_safetensors_metadata_find(f, "nope", &value));
    EXPECT_EQ(value, nullptr);
    EXPECT_RAI_ERROR(rai_safetensors_metadata_get(f, 2, &key, &value), RAI_ERROR_OUT_OF_RANGE, "index 2");
    EXPECT_RAI_ERROR(rai_safetensors_get_info(f, 6, &info), RAI_ERROR_OUT_OF_RANGE, "index 6");
    info.struct_size = 4;
    EXPECT_RAI_ERROR(rai_safetensors_get_info(f, 0, &info), RAI_ERROR_STRUCT_SIZE, "info->struct_size");
    // Tensors come in data order: largest element first, then the order added.
    const char *expected[6] = {"step", "layer.weight", "empty", "layer.bias", "mask", "scale \"q\""};
    for (size_t i = 0; i < 6; ++i) {
        rai_safetensors_tensor_info ti;
        rai_safetensors_tensor_info_init(&ti);
        ASSERT_RAI_OK(rai_safetensors_get_info(f, i, &ti));
        EXPECT_STREQ(ti.name, expected[i]);
        if (ti.dtype.bits >= 8) {
            EXPECT_EQ(reinterpret_cast<uintptr_t>(ti.data) % (ti.dtype.bits / 8), 0u) << ti.name;
        }
    }
    rai_safetensors_destroy(f);
    rai_safetensors_destroy(nullptr);
}

TEST(Safetensors, FilesSaveAtomicallyAndReopen) {
    const std::string dir = temp_dir();
    const std::string path = dir + "/model.safetensors";
    rai_safetensors_writer *w = nullptr;
    ASSERT_RAI_OK(rai_safetensors_writer_create(&w));
    std::vector<float> a(1000);
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) * 0.5f;
    const int64_t s[2] = {10, 100};
    rai_tensor t = make_tensor(a.data(), kF32, s, 2);
    ASSERT_RAI_OK(rai_safetensors_writer_add(w, "w", &t));
    ASSERT_RAI_OK(rai_safetensors_writer_save(w, path.c_str()));
    rai_safetensors *f = nullptr;
    ASSERT_RAI_OK(rai_safetensors_open(path.c_str(), &f));
    rai_tensor v;
    ASSERT_RAI_OK(rai_safetensors_tensor_view(f, 0, &v));
    EXPECT_EQ(static_cast<float *>(v.data)[999], 499.5f);
    static_cast<float *>(v.data)[0] = 42.0f;  // a private mapping: the file is untouched
    rai_safetensors_destroy(f);
    ASSERT_RAI_OK(rai_safetensors_open(path.c_str(), &f));
    ASSERT_RAI_OK(rai_safetensors_tensor_view(f, 0, &v));
    EXPECT_EQ(static_cast<float *>(v.data)[0], 0.0f);
    rai_safetensors_destroy(f);
    // A save that fails leaves nothing behind.
    const std::string bad = dir + "/missing_dir/x.safetensors";
    EXPECT_RAI_ERROR(rai_safetensors_writer_save(w, bad.c_str()), RAI_ERROR_IO, "missing_dir");
    struct stat st {};
    EXPECT_NE(stat(bad.c_str(), &st), 0);
    // Strided tensors are gathered in row-major order.
    std::vector<float> m = {1, 2, 3, 4, 5, 6};
    const int64_t ms[2] = {3, 2}, mst[2] = {1, 3};  // the transpose of a 2x3 matrix
    rai_tensor tt = make_tensor(m.data(), kF32, ms, 2, mst);
    ASSERT_RAI_OK(rai_safetensors_writer_add(w, "t", &tt));
    ASSERT_RAI_OK(rai_safetensors_writer_save(w, path.c_str()));  // replaces the old file
    ASSERT_RAI_OK(rai_safetensors_open(path.c_str(), &f));
    int64_t idx = -1;
    ASSERT_RAI_OK(rai_safetensors_find(f, "t", &idx));
    ASSERT_RAI_OK(rai_safetensors_tensor_view(f, static_cast<size_t>(idx), &v));
    const float *tv = static_cast<const float *>(v.data);
    EXPECT_EQ(tv[0], 1.0f);
    EXPECT_EQ(tv[1], 4.0f);
    EXPECT_EQ(tv[2], 2.0f);
    rai_safetensors_destroy(f);
    rai_safetensors_writer_destroy(w);
    // Only the final file exists in the directory (no temporaries left).
    std::remove(path.c_str());
    EXPECT_EQ(rmdir(dir.c_str()), 0);
}

TEST(Safetensors, IoErrors) {
    rai_safetensors *f = nullptr;
    EXPECT_RAI_ERROR(rai_safetensors_open("/nonexistent/file.safetensors", &f), RAI_ERROR_IO, "No such file");
    EXPECT_RAI_ERROR(rai_safetensors_open("/tmp", &f), RAI_ERROR_IO, "not a regular file");
    EXPECT_RAI_ERROR(rai_safetensors_open(nullptr, &f), RAI_ERROR_INVALID_ARGUMENT, "path");
    const std::string dir = temp_dir();
    const std::string empty = dir + "/empty.safetensors";
    std::ofstream(empty).close();
    EXPECT_RAI_ERROR(rai_safetensors_open(empty.c_str(), &f), RAI_ERROR_FORMAT, "shorter than the 8-byte");
    std::remove(empty.c_str());
    rmdir(dir.c_str());
}

TEST(Safetensors, WriterErrors) {
    rai_safetensors_writer *w = nullptr;
    ASSERT_RAI_OK(rai_safetensors_writer_create(&w));
    float x = 1;
    const int64_t s1[1] = {1};
    rai_tensor t = make_tensor(&x, kF32, s1, 1);
    ASSERT_RAI_OK(rai_safetensors_writer_add(w, "a", &t));
    EXPECT_RAI_ERROR(rai_safetensors_writer_add(w, "a", &t), RAI_ERROR_INVALID_ARGUMENT, "already added");
    EXPECT_RAI_ERROR(rai_safetensors_writer_add(w, "", &t), RAI_ERROR_INVALID_ARGUMENT, "empty");
    EXPECT_RAI_ERROR(rai_safetensors_writer_add(w, "__metadata__", &t), RAI_ERROR_INVALID_ARGUMENT, "reserved");
    EXPECT_RAI_ERROR(rai_safetensors_writer_add(w, nullptr, &t), RAI_ERROR_INVALID_ARGUMENT, "name");
    rai_tensor dev = make_tensor(&x, kF32, s1, 1, nullptr, {RAI_DEVICE_CUDA, 0});
    EXPECT_RAI_ERROR(rai_safetensors_writer_add(w, "d", &dev), RAI_ERROR_DEVICE_MISMATCH, "host memory");
    EXPECT_RAI_ERROR(rai_safetensors_writer_add_raw(w, "r", "F17", 1, s1, &x, 4), RAI_ERROR_INVALID_ARGUMENT, "F17");
    EXPECT_RAI_ERROR(rai_safetensors_writer_add_raw(w, "r", "F32", 1, s1, &x, 3), RAI_ERROR_INVALID_ARGUMENT, "needs 4");
    const int64_t s3[1] = {3};
    EXPECT_RAI_ERROR(rai_safetensors_writer_add_raw(w, "r", "F4", 1, s3, &x, 1), RAI_ERROR_INVALID_ARGUMENT,
                     "no whole byte size");
    EXPECT_RAI_ERROR(rai_safetensors_writer_add_raw(w, "r", "F32", -1, s1, &x, 4), RAI_ERROR_INVALID_ARGUMENT, "ndim");
    EXPECT_RAI_ERROR(rai_safetensors_writer_set_metadata(w, "k", nullptr), RAI_ERROR_INVALID_ARGUMENT, "value");
    ASSERT_RAI_OK(rai_safetensors_writer_set_metadata(w, "k", "1"));
    ASSERT_RAI_OK(rai_safetensors_writer_set_metadata(w, "k", "2"));  // replaces
    size_t size = 0;
    EXPECT_RAI_ERROR(rai_safetensors_writer_serialize(w, nullptr, 10, &size), RAI_ERROR_BUFFER_TOO_SMALL, "needs");
    EXPECT_GT(size, 10u);
    std::vector<uint8_t> b(size);
    ASSERT_RAI_OK(rai_safetensors_writer_serialize(w, b.data(), b.size(), &size));
    rai_safetensors *f = nullptr;
    ASSERT_RAI_OK(open_bytes(b, &f));
    const char *v = nullptr;
    ASSERT_RAI_OK(rai_safetensors_metadata_find(f, "k", &v));
    EXPECT_STREQ(v, "2");
    rai_safetensors_destroy(f);
    rai_safetensors_writer_destroy(w);
}

TEST(Safetensors, MalformedHeadersNameTheProblem) {
    const std::string t = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    {
        rai_safetensors *f = nullptr;
        ASSERT_RAI_OK(open_bytes(raw_file(t, 8), &f));
        rai_safetensors_destroy(f);
    }
    rai_safetensors *f = nullptr;
    std::vector<uint8_t> tiny = {1, 2, 3};
    EXPECT_RAI_ERROR(open_bytes(tiny, &f), RAI_ERROR_FORMAT, "shorter than the 8-byte header length");
    std::vector<uint8_t> big = raw_file("{}", 0);
    big[4] = 0x10;  // header length ~ 2^36
    EXPECT_RAI_ERROR(open_bytes(big, &f), RAI_ERROR_FORMAT, "exceeds the cap");
    std::vector<uint8_t> past = raw_file("{}", 0);
    past[0] = 200;
    EXPECT_RAI_ERROR(open_bytes(past, &f), RAI_ERROR_FORMAT, "runs past the end");
    expect_format("[]", 0, "does not start with '{'");
    expect_format("{\"t\":", 0, "invalid JSON");
    expect_format("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"t\":{}}", 8, "appears twice");
    expect_format("{\"t\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor \"t\": unknown dtype \"Q4\"");
    expect_format("{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor \"t\": field \"dtype\"");
    expect_format("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "field \"shape\"");
    expect_format("{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "shape entry -2");
    expect_format("{\"t\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "shape entry 2.0");
    expect_format("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "data_offsets");
    expect_format("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "begin after they end");
    expect_format("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8, "past the data buffer");
    expect_format("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12");
    expect_format("{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,8],\"data_offsets\":[0,8]}}", 8,
                  "no whole byte size");
    expect_format("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                  8, "overlaps tensor \"a\"");
    expect_format("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                  12, "gap after tensor \"a\"");
    expect_format("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap after the buffer start");
    expect_format(t, 12, "the tensors cover 8 bytes of a data buffer of 12");
    expect_format("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ value of \"k\" is not a string");
    expect_format("{\"__metadata__\":[]}", 0, "__metadata__ is not an object");
    expect_format("{\"t\":[]}", 0, "tensor \"t\" is not an object");
    expect_format("{\"t\":\"\xff\"}", 0, "invalid UTF-8");
    expect_format("{\"t\":{\"x\":" + std::string(80, '[') + std::string(80, ']') + "}}", 0, "nesting");
    expect_format("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"
                  "\"data_offsets\":[0,4]}}",
                  4, "dimensions");
    EXPECT_RAI_ERROR(rai_safetensors_open_memory(nullptr, 10, &f), RAI_ERROR_INVALID_ARGUMENT, "data");
    EXPECT_RAI_ERROR(rai_safetensors_open_memory(tiny.data(), tiny.size(), nullptr), RAI_ERROR_INVALID_ARGUMENT, "out");
}

TEST(Safetensors, FuzzTruncatedAndCorruptedFiles) {
    const std::vector<uint8_t> good = sample_file();
    rai_safetensors *f = nullptr;
    // Every truncation is a format error.
    for (size_t len = 0; len < good.size(); ++len) {
        const rai_status st = rai_safetensors_open_memory(good.data(), len, &f);
        ASSERT_EQ(st, RAI_ERROR_FORMAT) << "truncated to " << len;
        ASSERT_EQ(f, nullptr);
    }
    // Random corruption: OK or FORMAT, never anything else; an accepted file stays in bounds.
    std::mt19937 rng(12345);
    int accepted = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        std::vector<uint8_t> b = good;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k) {
            const size_t pos = rng() % (iter % 4 == 0 ? 8 : b.size());
            switch (rng() % 3) {
            case 0: b[pos] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
            case 1: b[pos] = static_cast<uint8_t>(rng()); break;
            default: b[pos] = "{}[]\",:0123456789-e.\\ "[rng() % 23]; break;
            }
        }
        if (iter % 7 == 0) b.resize(rng() % (b.size() + 16));
        const rai_status st = open_bytes(b, &f);
        ASSERT_TRUE(st == RAI_OK || st == RAI_ERROR_FORMAT) << "status " << st << ": " << rai_last_error_message();
        if (st != RAI_OK) {
            ASSERT_EQ(f, nullptr);
            continue;
        }
        ++accepted;
        size_t count = 0;
        ASSERT_RAI_OK(rai_safetensors_count(f, &count));
        uint64_t covered = 0;
        for (size_t i = 0; i < count; ++i) {
            rai_safetensors_tensor_info info;
            rai_safetensors_tensor_info_init(&info);
            ASSERT_RAI_OK(rai_safetensors_get_info(f, i, &info));
            const uint8_t *p = static_cast<const uint8_t *>(info.data);
            volatile uint8_t sink = 0;
            for (uint64_t k = 0; k < info.nbytes; ++k) sink = sink + p[k];  // in bounds (ASan would tell)
            covered += info.nbytes;
        }
        rai_safetensors_destroy(f);
    }
    EXPECT_GT(accepted, 0);  // some corruptions only touch tensor bytes or metadata text
}
