// GGUF writer: metadata and tensors are copied into memory, then written in one go through a
// temporary file that is renamed into place, laid out exactly as llama.cpp's gguf.c expects
// (tensor i at the running data size padded to the alignment, the last tensor padded too).
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cfloat>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../../core/dtype.h"
#include "../../core/error.h"
#include "../../core/tensor_check.h"
#include "../../quant/bitnet/bitnet.h"
#include "../../core/half.h"
#include "gguf.h"

struct rai_gguf_writer {
    struct Kv {
        std::string key;
        std::vector<uint8_t> bytes;  // the whole serialized entry
    };
    struct Tensor {
        std::string name;
        std::vector<uint64_t> ne;  // innermost first
        int32_t type = 0;
        std::vector<uint8_t> data;
    };
    std::vector<Kv> kvs;
    std::vector<Tensor> tensors;
    uint32_t alignment = rai::gguf::kDefaultAlignment;
};

namespace rai::gguf {

namespace {

void put_u32(std::vector<uint8_t> &b, uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t> &b, uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_string(std::vector<uint8_t> &b, const std::string &s) {
    put_u64(b, s.size());
    b.insert(b.end(), s.begin(), s.end());
}
// Scalars are stored little-endian; rai builds for little-endian hosts only.
void put_values(std::vector<uint8_t> &b, const void *v, std::size_t bytes) {
    const auto *p = static_cast<const uint8_t *>(v);
    b.insert(b.end(), p, p + bytes);
}

std::string quoted(const std::string &s) { return "'" + s + "'"; }

void check_new_key(const rai_gguf_writer &w, const char *key) {
    require_not_null(key, "key");
    require(*key != '\0', RAI_ERROR_INVALID_ARGUMENT, "key must not be empty");
    for (const auto &kv : w.kvs)
        if (!(kv.key != key)) throw Error(RAI_ERROR_INVALID_ARGUMENT, "key " + quoted(key) + " was already added");
}

void check_scalar_type(int32_t type, const char *what) {
    require(value_size(type) != 0, RAI_ERROR_INVALID_ARGUMENT,
            std::string(what) + " is " + std::to_string(type) + " (" + value_type_name(type) +
                "), expected a numeric type or BOOL (STRING and ARRAY have their own functions)");
}

void check_bools(int32_t type, const void *values, std::size_t count) {
    if (type != RAI_GGUF_TYPE_BOOL) return;
    const auto *b = static_cast<const uint8_t *>(values);
    for (std::size_t i = 0; i < count; ++i)
        if (!(b[i] <= 1))
            throw Error(RAI_ERROR_INVALID_ARGUMENT,
                        "BOOL value " + std::to_string(i) + " is " + std::to_string(b[i]) + ", expected 0 or 1");
}

void check_new_tensor(const rai_gguf_writer &w, const char *name) {
    require_not_null(name, "name");
    const std::size_t n = std::strlen(name);
    require(n >= 1 && n <= kMaxNameBytes, RAI_ERROR_INVALID_ARGUMENT,
            "name " + quoted(name) + " has " + std::to_string(n) + " bytes, expected 1.." +
                std::to_string(kMaxNameBytes) + " (llama.cpp's limit)");
    for (const auto &t : w.tensors)
        if (!(t.name != name)) throw Error(RAI_ERROR_INVALID_ARGUMENT, "tensor " + quoted(name) + " was already added");
}

std::string type_name(int32_t ggml) {
    const GgmlType *t = ggml_type(ggml);
    return t ? t->name : "type " + std::to_string(ggml);
}

}  // namespace

rai_gguf_writer *writer_create() { return new rai_gguf_writer(); }
void writer_destroy(rai_gguf_writer *w) noexcept { delete w; }

void writer_add_kv(rai_gguf_writer &w, const char *key, int32_t type, const void *value) {
    check_new_key(w, key);
    check_scalar_type(type, "type");
    require_not_null(value, "value");
    check_bools(type, value, 1);
    if (std::strcmp(key, "general.alignment") == 0) {
        require(type == RAI_GGUF_TYPE_UINT32, RAI_ERROR_INVALID_ARGUMENT,
                "general.alignment must be a UINT32 (llama.cpp reads it as one)");
        uint32_t a = 0;
        std::memcpy(&a, value, 4);
        require(a != 0 && (a & (a - 1)) == 0, RAI_ERROR_INVALID_ARGUMENT,
                "general.alignment is " + std::to_string(a) + ", expected a power of two");
        w.alignment = a;
    }
    rai_gguf_writer::Kv kv;
    kv.key = key;
    put_string(kv.bytes, kv.key);
    put_u32(kv.bytes, static_cast<uint32_t>(type));
    put_values(kv.bytes, value, value_size(type));
    w.kvs.push_back(std::move(kv));
}

void writer_add_kv_string(rai_gguf_writer &w, const char *key, const char *value) {
    check_new_key(w, key);
    require_not_null(value, "value");
    require(std::strcmp(key, "general.alignment") != 0, RAI_ERROR_INVALID_ARGUMENT,
            "general.alignment must be a UINT32 (llama.cpp reads it as one)");
    rai_gguf_writer::Kv kv;
    kv.key = key;
    put_string(kv.bytes, kv.key);
    put_u32(kv.bytes, RAI_GGUF_TYPE_STRING);
    put_string(kv.bytes, value);
    w.kvs.push_back(std::move(kv));
}

void writer_add_kv_array(rai_gguf_writer &w, const char *key, int32_t elem_type, const void *values,
                         std::size_t count) {
    check_new_key(w, key);
    check_scalar_type(elem_type, "elem_type");
    require(values != nullptr || count == 0, RAI_ERROR_INVALID_ARGUMENT, "values must not be NULL");
    require(std::strcmp(key, "general.alignment") != 0, RAI_ERROR_INVALID_ARGUMENT,
            "general.alignment must be a UINT32 (llama.cpp reads it as one)");
    check_bools(elem_type, values, count);
    rai_gguf_writer::Kv kv;
    kv.key = key;
    put_string(kv.bytes, kv.key);
    put_u32(kv.bytes, RAI_GGUF_TYPE_ARRAY);
    put_u32(kv.bytes, static_cast<uint32_t>(elem_type));
    put_u64(kv.bytes, count);
    if (count > 0) put_values(kv.bytes, values, count * value_size(elem_type));
    w.kvs.push_back(std::move(kv));
}

void writer_add_kv_string_array(rai_gguf_writer &w, const char *key, const char *const *values, std::size_t count) {
    check_new_key(w, key);
    require(values != nullptr || count == 0, RAI_ERROR_INVALID_ARGUMENT, "values must not be NULL");
    require(std::strcmp(key, "general.alignment") != 0, RAI_ERROR_INVALID_ARGUMENT,
            "general.alignment must be a UINT32 (llama.cpp reads it as one)");
    for (std::size_t i = 0; i < count; ++i)
        require(values[i] != nullptr, RAI_ERROR_INVALID_ARGUMENT, "values[" + std::to_string(i) + "] must not be NULL");
    rai_gguf_writer::Kv kv;
    kv.key = key;
    put_string(kv.bytes, kv.key);
    put_u32(kv.bytes, RAI_GGUF_TYPE_ARRAY);
    put_u32(kv.bytes, RAI_GGUF_TYPE_STRING);
    put_u64(kv.bytes, count);
    for (std::size_t i = 0; i < count; ++i) put_string(kv.bytes, values[i]);
    w.kvs.push_back(std::move(kv));
}

void writer_add_tensor(rai_gguf_writer &w, const char *name, const rai_tensor *t_, int32_t ggml) {
    check_new_tensor(w, name);
    const std::string what = "tensor " + quoted(name);
    TensorCheck t("tensor", t_);
    t.contiguous();
    bitnet::require_host(t, "tensor");
    const rai_tensor &d = t.tensor();
    require(d.ndim >= 1 && d.ndim <= kMaxDims, RAI_ERROR_SHAPE_MISMATCH,
            what + ": GGUF holds 1 to 4 dimensions, got shape " + t.shape_string());
    rai_gguf_writer::Tensor out;
    out.name = name;
    out.type = ggml;
    for (int32_t i = d.ndim - 1; i >= 0; --i) out.ne.push_back(static_cast<uint64_t>(d.shape[i]));
    const auto n = static_cast<std::size_t>(t.numel());
    const rai_dtype dt = d.dtype;
    auto mismatch = [&] {
        throw Error(RAI_ERROR_DTYPE_MISMATCH,
                    what + ": a " + dtype::describe(dt) + " tensor cannot be stored as " + type_name(ggml));
    };
    auto raw = [&] {
        const auto *p = static_cast<const uint8_t *>(t.data());
        out.data.assign(p, p + n * t.elem_bytes());
    };
    switch (ggml) {
    case RAI_GGML_TYPE_F32:
        if (dtype::equal(dt, dtype::f32)) {
            raw();
        } else if (dtype::equal(dt, dtype::f16) || dtype::equal(dt, dtype::bf16)) {
            const auto *s = static_cast<const uint16_t *>(t.data());
            out.data.resize(n * 4);
            for (std::size_t i = 0; i < n; ++i) {
                const float f = dtype::equal(dt, dtype::f16) ? half::f16_to_f32(s[i]) : half::bf16_to_f32(s[i]);
                std::memcpy(out.data.data() + 4 * i, &f, 4);
            }
        } else {
            mismatch();
        }
        break;
    case RAI_GGML_TYPE_F16:
    case RAI_GGML_TYPE_BF16: {
        const rai_dtype same = ggml == RAI_GGML_TYPE_F16 ? dtype::f16 : dtype::bf16;
        if (dtype::equal(dt, same)) {
            raw();
        } else if (dtype::equal(dt, dtype::f32)) {
            const auto *s = static_cast<const float *>(t.data());
            out.data.resize(n * 2);
            for (std::size_t i = 0; i < n; ++i) {
                const uint16_t h = ggml == RAI_GGML_TYPE_F16 ? half::f32_to_f16(s[i]) : half::f32_to_bf16(s[i]);
                out.data[2 * i] = static_cast<uint8_t>(h & 0xff);
                out.data[2 * i + 1] = static_cast<uint8_t>(h >> 8);
            }
        } else {
            mismatch();
        }
        break;
    }
    case RAI_GGML_TYPE_TQ1_0:
    case RAI_GGML_TYPE_TQ2_0: {
        if (!dtype::equal(dt, dtype::f32)) mismatch();
        const int64_t cols = d.shape[d.ndim - 1];
        require(cols % bitnet::kTqBlock == 0, RAI_ERROR_SHAPE_MISMATCH,
                what + ": " + type_name(ggml) + " needs the last dimension to be a multiple of 256, got " +
                    std::to_string(cols));
        const int32_t layout = ggml == RAI_GGML_TYPE_TQ1_0 ? RAI_TERNARY_LAYOUT_TQ1_0 : RAI_TERNARY_LAYOUT_TQ2_0;
        out.data.resize(static_cast<std::size_t>(t.numel() / bitnet::kTqBlock) * bitnet::tq_block_bytes(layout));
        bitnet::tq_quantize_raw(layout, static_cast<const float *>(t.data()), t.numel(), out.data.data());
        break;
    }
    case RAI_GGML_TYPE_I8:
        if (!dtype::equal(dt, dtype::i8)) mismatch();
        raw();
        break;
    case RAI_GGML_TYPE_I32:
        if (!dtype::equal(dt, dtype::i32)) mismatch();
        raw();
        break;
    case RAI_GGML_TYPE_I64:
        if (!dtype::equal(dt, dtype::i64)) mismatch();
        raw();
        break;
    case RAI_GGML_TYPE_F64:
        if (!dtype::equal(dt, dtype::f64)) mismatch();
        raw();
        break;
    default:
        throw Error(RAI_ERROR_INVALID_ARGUMENT,
                    what + ": ggml_type " + std::to_string(ggml) +
                        " is not one rai writes (F32, F16, BF16, TQ1_0, TQ2_0, I8, I32, I64, F64)");
    }
    w.tensors.push_back(std::move(out));
}

void writer_add_ternary(rai_gguf_writer &w, const char *name, int32_t ggml, const rai_tensor *trits_,
                        const rai_tensor *scales_, uint32_t flags) {
    check_new_tensor(w, name);
    const std::string what = "tensor " + quoted(name);
    require(ggml == RAI_GGML_TYPE_TQ1_0 || ggml == RAI_GGML_TYPE_TQ2_0, RAI_ERROR_INVALID_ARGUMENT,
            what + ": ggml_type " + std::to_string(ggml) + " is not TQ1_0 (34) or TQ2_0 (35)");
    require((flags & ~RAI_GGUF_EXACT_SCALES) == 0, RAI_ERROR_INVALID_ARGUMENT,
            "flags " + std::to_string(flags) + " has unknown bits (known: RAI_GGUF_EXACT_SCALES)");
    TensorCheck trits("trits", trits_);
    trits.dtype(dtype::i8).contiguous();
    bitnet::require_host(trits, "trits");
    const rai_tensor &td = trits.tensor();
    require(td.ndim == 1 || td.ndim == 2, RAI_ERROR_SHAPE_MISMATCH,
            "trits: expected [rows, cols] (or [cols]), got shape " + trits.shape_string());
    const int64_t cols = td.shape[td.ndim - 1];
    const int64_t rows = td.ndim == 2 ? td.shape[0] : 1;
    require(cols % bitnet::kTqBlock == 0, RAI_ERROR_SHAPE_MISMATCH,
            what + ": " + type_name(ggml) + " needs cols to be a multiple of 256, got " + std::to_string(cols));
    require_not_null(scales_, "scales");
    TensorCheck scales("scales", scales_);
    bitnet::require_host(scales, "scales");
    const bitnet::ScaleMap map = bitnet::scale_map_from(scales, rows, cols, "scales");
    const auto *t = static_cast<const int8_t *>(trits.data());
    bitnet::check_trits(t, rows, cols, "trits");
    const auto *s = static_cast<const float *>(scales.data());
    const std::vector<uint16_t> d = bitnet::tq_block_scales(map, s, what);
    if (flags & RAI_GGUF_EXACT_SCALES) {
        const int64_t per_row = cols / bitnet::kTqBlock;
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t b = 0; b < per_row; ++b) {
                const float v = s[map.index(r, (b * bitnet::kTqBlock) / map.group)];
                const float back = half::f16_to_f32(d[static_cast<std::size_t>(r * per_row + b)]);
                require(back == v, RAI_ERROR_OUT_OF_RANGE,
                        what + ": the scale of row " + std::to_string(r) + " is not exactly an f16 (RAI_GGUF_EXACT_SCALES)");
            }
    }
    const int32_t layout = ggml == RAI_GGML_TYPE_TQ1_0 ? RAI_TERNARY_LAYOUT_TQ1_0 : RAI_TERNARY_LAYOUT_TQ2_0;
    rai_gguf_writer::Tensor out;
    out.name = name;
    out.type = ggml;
    out.ne = {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)};
    if (td.ndim == 1) out.ne.pop_back();
    out.data.resize(static_cast<std::size_t>(rows * (cols / bitnet::kTqBlock)) * bitnet::tq_block_bytes(layout));
    bitnet::tq_pack_raw(layout, t, d.data(), rows * cols, out.data.data());
    w.tensors.push_back(std::move(out));
}

namespace {

uint64_t pad_to(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

class TempFile {
public:
    explicit TempFile(const std::string &target) : target_(target) {
        static std::atomic<uint64_t> counter{0};
        tmp_ = target + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
        f_ = std::fopen(tmp_.c_str(), "wb");
        if (f_ == nullptr) fail("cannot create " + tmp_);
    }
    ~TempFile() {
        if (f_ != nullptr) std::fclose(f_);
        if (!done_) std::remove(tmp_.c_str());
    }
    void write(const void *p, std::size_t n) {
        if (n > 0 && std::fwrite(p, 1, n, f_) != n) fail("write failed");
    }
    void zeros(std::size_t n) {
        static const uint8_t z[256] = {};
        while (n > 0) {
            const std::size_t k = n < sizeof z ? n : sizeof z;
            write(z, k);
            n -= k;
        }
    }
    void commit() {
        if (std::fflush(f_) != 0) fail("flush failed");
        if (::fsync(::fileno(f_)) != 0) fail("fsync failed");
        FILE *f = f_;
        f_ = nullptr;
        if (std::fclose(f) != 0) fail("close failed");
        if (std::rename(tmp_.c_str(), target_.c_str()) != 0) fail("cannot rename " + tmp_ + " to it");
        done_ = true;
    }

private:
    [[noreturn]] void fail(const std::string &what) {
        const int e = errno;
        throw Error(RAI_ERROR_IO, target_ + ": " + what + ": " + std::strerror(e));
    }
    std::string target_, tmp_;
    FILE *f_ = nullptr;
    bool done_ = false;
};

}  // namespace

void writer_write(const rai_gguf_writer &w, const char *path) {
    require_not_null(path, "path");
    require(*path != '\0', RAI_ERROR_INVALID_ARGUMENT, "path must not be empty");
    std::vector<uint8_t> head;
    put_u32(head, kMagic);
    put_u32(head, 3);
    put_u64(head, w.tensors.size());
    put_u64(head, w.kvs.size());
    for (const auto &kv : w.kvs) head.insert(head.end(), kv.bytes.begin(), kv.bytes.end());
    uint64_t offset = 0;
    for (const auto &t : w.tensors) {
        put_string(head, t.name);
        put_u32(head, static_cast<uint32_t>(t.ne.size()));
        for (uint64_t d : t.ne) put_u64(head, d);
        put_u32(head, static_cast<uint32_t>(t.type));
        put_u64(head, offset);
        offset += pad_to(t.data.size(), w.alignment);
    }
    TempFile f(path);
    f.write(head.data(), head.size());
    f.zeros(static_cast<std::size_t>(pad_to(head.size(), w.alignment) - head.size()));
    for (const auto &t : w.tensors) {
        f.write(t.data.data(), t.data.size());
        f.zeros(static_cast<std::size_t>(pad_to(t.data.size(), w.alignment) - t.data.size()));
    }
    f.commit();
}

}  // namespace rai::gguf
