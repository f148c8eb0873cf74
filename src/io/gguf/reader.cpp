// Defensive GGUF reader. Every count, length and offset is checked against the bytes that are
// actually left in the file before anything is allocated, so a corrupt or hostile header can
// neither crash rai nor make it allocate more than the file's size.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "../../core/dtype.h"
#include "../../core/error.h"
#include "../../core/params.h"
#include "../../core/tensor_check.h"
#include "../../quant/bitnet/bitnet.h"
#include "../../core/half.h"
#include "gguf.h"

struct rai_gguf_reader {
    struct Kv {
        std::string key;
        int32_t type = 0;
        int32_t array_type = -1;
        uint64_t count = 1;
        std::vector<uint8_t> data;         // numeric / BOOL values
        std::vector<std::string> strings;  // STRING value or string-array elements
    };
    struct Tensor {
        std::string name;
        int32_t type = 0;
        int32_t ndim = 0;
        int64_t shape[4] = {0, 0, 0, 0};  // row-major order
        int64_t numel = 1;
        uint64_t offset = 0;  // relative to the data section
        uint64_t nbytes = 0;
    };
    int fd = -1;
    std::string path;
    uint32_t version = 0;
    uint64_t file_size = 0, alignment = 0, data_offset = 0;
    std::vector<Kv> kvs;
    std::vector<Tensor> tensors;

    ~rai_gguf_reader() {
        if (fd >= 0) ::close(fd);
    }
};

namespace rai::gguf {

namespace {

constexpr uint64_t kMinKvBytes = 8 + 4 + 1;          // key length, type, one value byte
constexpr uint64_t kMinTensorBytes = 8 + 4 + 4 + 8;  // name length, n_dims, type, offset

void pread_full(int fd, const std::string &path, void *dst, uint64_t n, uint64_t offset) {
    auto *p = static_cast<uint8_t *>(dst);
    while (n > 0) {
        const std::size_t chunk = n > (uint64_t{1} << 30) ? (std::size_t{1} << 30) : static_cast<std::size_t>(n);
        const ssize_t got = ::pread(fd, p, chunk, static_cast<off_t>(offset));
        if (got < 0) {
            if (errno == EINTR) continue;
            throw Error(RAI_ERROR_IO, path + ": read failed at offset " + std::to_string(offset) + ": " +
                                          std::strerror(errno));
        }
        if (got == 0)
            throw Error(RAI_ERROR_FORMAT, path + ": file is truncated at offset " + std::to_string(offset));
        p += got;
        n -= static_cast<uint64_t>(got);
        offset += static_cast<uint64_t>(got);
    }
}

// Sequential reads through a 1 MiB window, bounded by the file size.
class Cursor {
public:
    Cursor(int fd, const std::string &path, uint64_t size) : fd_(fd), path_(path), size_(size) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }

    [[noreturn]] void fail(const std::string &what) const {
        throw Error(RAI_ERROR_FORMAT, path_ + ": " + what + " (at byte " + std::to_string(pos_) + ")");
    }

    void read(void *dst, uint64_t n, const char *what) {
        if (n > remaining())
            fail(std::string("file is truncated: ") + what + " needs " + std::to_string(n) + " bytes, " +
                 std::to_string(remaining()) + " remain");
        auto *out = static_cast<uint8_t *>(dst);
        while (n > 0) {
            if (pos_ < win_start_ || pos_ >= win_start_ + win_.size()) refill();
            const uint64_t off = pos_ - win_start_;
            const uint64_t k = std::min<uint64_t>(n, win_.size() - off);
            std::memcpy(out, win_.data() + off, static_cast<std::size_t>(k));
            out += k;
            n -= k;
            pos_ += k;
        }
    }
    uint32_t u32(const char *what) {
        uint8_t b[4];
        read(b, 4, what);
        return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) | (static_cast<uint32_t>(b[2]) << 16) |
               (static_cast<uint32_t>(b[3]) << 24);
    }
    uint64_t u64(const char *what) {
        uint8_t b[8];
        read(b, 8, what);
        uint64_t v = 0;
        for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
        return v;
    }
    std::string str(const char *what) {
        const uint64_t n = u64(what);
        if (n > remaining())
            fail(std::string("file is truncated: ") + what + " claims " + std::to_string(n) + " bytes, " +
                 std::to_string(remaining()) + " remain");
        std::string s(static_cast<std::size_t>(n), '\0');
        read(s.data(), n, what);
        return s;
    }

private:
    void refill() {
        const uint64_t n = std::min<uint64_t>(uint64_t{1} << 20, size_ - pos_);
        win_.resize(static_cast<std::size_t>(n));
        pread_full(fd_, path_, win_.data(), n, pos_);
        win_start_ = pos_;
    }
    int fd_;
    const std::string &path_;
    uint64_t size_;
    uint64_t pos_ = 0;
    std::vector<uint8_t> win_;
    uint64_t win_start_ = 0;
};

std::string quoted(const std::string &s) {
    std::string out = "'";
    for (char c : s.substr(0, 80)) out += (c >= 32 && c < 127) ? c : '?';
    return out + (s.size() > 80 ? "...'" : "'");
}

void read_value(Cursor &c, rai_gguf_reader::Kv &kv) {
    const std::string what = "the value of key " + quoted(kv.key);
    if (kv.type == RAI_GGUF_TYPE_STRING) {
        kv.strings.push_back(c.str(what.c_str()));
        return;
    }
    if (kv.type == RAI_GGUF_TYPE_ARRAY) {
        kv.array_type = static_cast<int32_t>(c.u32(what.c_str()));
        kv.count = c.u64(what.c_str());
        if (kv.array_type == RAI_GGUF_TYPE_ARRAY) c.fail("key " + quoted(kv.key) + " holds a nested array");
        if (kv.array_type == RAI_GGUF_TYPE_STRING) {
            if (kv.count > c.remaining() / 8)
                c.fail("key " + quoted(kv.key) + " claims " + std::to_string(kv.count) +
                       " strings, more than the file can hold");
            kv.strings.reserve(static_cast<std::size_t>(kv.count));
            for (uint64_t i = 0; i < kv.count; ++i) kv.strings.push_back(c.str(what.c_str()));
            return;
        }
        const std::size_t es = value_size(kv.array_type);
        if (es == 0)
            c.fail("key " + quoted(kv.key) + " is an array of unknown type " + std::to_string(kv.array_type));
        if (kv.count > c.remaining() / es)
            c.fail("key " + quoted(kv.key) + " claims " + std::to_string(kv.count) +
                   " values, more than the file can hold");
        kv.data.resize(static_cast<std::size_t>(kv.count * es));
        c.read(kv.data.data(), kv.data.size(), what.c_str());
        return;
    }
    const std::size_t es = value_size(kv.type);
    if (es == 0) c.fail("key " + quoted(kv.key) + " has unknown value type " + std::to_string(kv.type));
    kv.data.resize(es);
    c.read(kv.data.data(), es, what.c_str());
}

void parse(rai_gguf_reader &r) {
    Cursor c(r.fd, r.path, r.file_size);
    const uint32_t magic = c.u32("the magic");
    if (magic != kMagic) c.fail("not a GGUF file (the first 4 bytes are not \"GGUF\")");
    const uint32_t version = c.u32("the version");
    if (version == 0x02000000u || version == 0x03000000u)
        throw Error(RAI_ERROR_UNSUPPORTED, r.path + ": big-endian GGUF files are not supported");
    if (version != 2 && version != 3)
        throw Error(RAI_ERROR_UNSUPPORTED,
                    r.path + ": GGUF version " + std::to_string(version) + " is not supported (rai reads 2 and 3)");
    r.version = version;
    const uint64_t n_tensors = c.u64("the tensor count");
    const uint64_t n_kv = c.u64("the metadata count");
    if (n_kv > c.remaining() / kMinKvBytes)
        c.fail("the metadata count " + std::to_string(n_kv) + " is more than the file can hold");
    r.alignment = kDefaultAlignment;
    std::unordered_set<std::string> keys;
    r.kvs.reserve(static_cast<std::size_t>(n_kv));
    for (uint64_t i = 0; i < n_kv; ++i) {
        rai_gguf_reader::Kv kv;
        kv.key = c.str("a metadata key");
        if (!keys.insert(kv.key).second) c.fail("duplicate metadata key " + quoted(kv.key));
        kv.type = static_cast<int32_t>(c.u32("a metadata type"));
        read_value(c, kv);
        if (kv.key == "general.alignment") {
            uint32_t a = 0;
            if (kv.type != RAI_GGUF_TYPE_UINT32) c.fail("general.alignment is not a UINT32");
            std::memcpy(&a, kv.data.data(), 4);
            if (a == 0 || (a & (a - 1)) != 0)
                c.fail("general.alignment is " + std::to_string(a) + ", not a power of two");
            r.alignment = a;
        }
        r.kvs.push_back(std::move(kv));
    }
    if (n_tensors > c.remaining() / kMinTensorBytes)
        c.fail("the tensor count " + std::to_string(n_tensors) + " is more than the file can hold");
    std::unordered_set<std::string> names;
    r.tensors.reserve(static_cast<std::size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        rai_gguf_reader::Tensor t;
        t.name = c.str("a tensor name");
        if (!names.insert(t.name).second) c.fail("duplicate tensor name " + quoted(t.name));
        const std::string what = "tensor " + quoted(t.name);
        const uint32_t n_dims = c.u32("a tensor's dimension count");
        if (n_dims > static_cast<uint32_t>(kMaxDims))
            c.fail(what + " has " + std::to_string(n_dims) + " dimensions, GGUF allows at most 4");
        t.ndim = static_cast<int32_t>(n_dims);
        uint64_t ne[4] = {1, 1, 1, 1};
        for (uint32_t d = 0; d < n_dims; ++d) {
            ne[d] = c.u64("a tensor dimension");
            if (ne[d] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                c.fail(what + " has dimension " + std::to_string(ne[d]) + ", more than int64 holds");
            if (ne[d] != 0 && static_cast<uint64_t>(t.numel) > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / ne[d])
                c.fail(what + " has more elements than int64 holds");
            t.numel *= static_cast<int64_t>(ne[d]);
        }
        for (int32_t d = 0; d < t.ndim; ++d) t.shape[d] = static_cast<int64_t>(ne[t.ndim - 1 - d]);
        t.type = static_cast<int32_t>(c.u32("a tensor type"));
        const GgmlType *gt = ggml_type(t.type);
        if (gt == nullptr) c.fail(what + " has unknown ggml type " + std::to_string(t.type));
        if (ne[0] % static_cast<uint64_t>(gt->block) != 0)
            c.fail(what + " has " + std::to_string(ne[0]) + " elements per row, not a multiple of the " + gt->name +
                   " block of " + std::to_string(gt->block));
        const uint64_t blocks = static_cast<uint64_t>(t.numel) / static_cast<uint64_t>(gt->block);
        if (blocks > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(gt->bytes))
            c.fail(what + " is larger than 2^64 bytes");
        t.nbytes = blocks * static_cast<uint64_t>(gt->bytes);
        t.offset = c.u64("a tensor offset");
        if (t.offset % r.alignment != 0)
            c.fail(what + " has offset " + std::to_string(t.offset) + ", not a multiple of the alignment " +
                   std::to_string(r.alignment));
        r.tensors.push_back(std::move(t));
    }
    const uint64_t end_of_header = c.pos();
    r.data_offset = (end_of_header + r.alignment - 1) / r.alignment * r.alignment;
    if (r.data_offset < end_of_header) c.fail("the data section offset overflows");
    const uint64_t data_bytes = r.file_size > r.data_offset ? r.file_size - r.data_offset : 0;
    for (const auto &t : r.tensors)
        if (t.offset > data_bytes || t.nbytes > data_bytes - t.offset)
            throw Error(RAI_ERROR_FORMAT, r.path + ": tensor " + quoted(t.name) + " (" + std::to_string(t.nbytes) +
                                              " bytes at data offset " + std::to_string(t.offset) +
                                              ") extends past the end of the file: truncated or corrupt");
    std::vector<const rai_gguf_reader::Tensor *> order;
    for (const auto &t : r.tensors)
        if (t.nbytes > 0) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](auto *a, auto *b) { return a->offset < b->offset; });
    for (std::size_t i = 1; i < order.size(); ++i)
        if (order[i - 1]->offset + order[i - 1]->nbytes > order[i]->offset)
            throw Error(RAI_ERROR_FORMAT, r.path + ": tensors " + quoted(order[i - 1]->name) + " and " +
                                              quoted(order[i]->name) + " overlap");
}

const rai_gguf_reader::Tensor &tensor_at(const rai_gguf_reader &r, std::size_t index) {
    require(index < r.tensors.size(), RAI_ERROR_OUT_OF_RANGE,
            "index " + std::to_string(index) + " is not below the tensor count " + std::to_string(r.tensors.size()));
    return r.tensors[index];
}

const rai_gguf_reader::Kv &kv_at(const rai_gguf_reader &r, std::size_t index) {
    require(index < r.kvs.size(), RAI_ERROR_OUT_OF_RANGE,
            "index " + std::to_string(index) + " is not below the metadata count " + std::to_string(r.kvs.size()));
    return r.kvs[index];
}

template <class Info>
void check_info(const Info *info, const char *init) {
    require_struct_size(info, sizeof(Info), "info", init);
}

std::vector<uint8_t> read_bytes(const rai_gguf_reader &r, const rai_gguf_reader::Tensor &t) {
    std::vector<uint8_t> b(static_cast<std::size_t>(t.nbytes));
    pread_full(r.fd, r.path, b.data(), t.nbytes, r.data_offset + t.offset);
    return b;
}

}  // namespace

rai_gguf_reader *reader_open(const char *path) {
    require_not_null(path, "path");
    auto r = std::make_unique<rai_gguf_reader>();
    r->path = path;
    r->fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) throw Error(RAI_ERROR_IO, r->path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(r->fd, &st) != 0) throw Error(RAI_ERROR_IO, r->path + ": cannot stat: " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw Error(RAI_ERROR_IO, r->path + ": not a regular file");
    r->file_size = static_cast<uint64_t>(st.st_size);
    parse(*r);
    return r.release();
}

void reader_destroy(rai_gguf_reader *r) noexcept { delete r; }

void reader_info(const rai_gguf_reader &r, rai_gguf_file_info *info) {
    check_info(info, "rai_gguf_file_info_init");
    rai_gguf_file_info t{};
    t.version = r.version;
    t.kv_count = r.kvs.size();
    t.tensor_count = r.tensors.size();
    t.alignment = r.alignment;
    t.data_offset = r.data_offset;
    t.file_size = r.file_size;
    write_out_struct(info, t);
}

void reader_kv(const rai_gguf_reader &r, std::size_t index, rai_gguf_kv_info *info) {
    check_info(info, "rai_gguf_kv_info_init");
    const auto &kv = kv_at(r, index);
    rai_gguf_kv_info t{};
    t.type = kv.type;
    t.array_type = kv.array_type;
    t.key = kv.key.c_str();
    t.count = kv.count;
    t.data = kv.data.empty() ? nullptr : kv.data.data();
    write_out_struct(info, t);
}

int64_t reader_find_kv(const rai_gguf_reader &r, const char *key) {
    require_not_null(key, "key");
    for (std::size_t i = 0; i < r.kvs.size(); ++i)
        if (r.kvs[i].key == key) return static_cast<int64_t>(i);
    return -1;
}

void reader_kv_string(const rai_gguf_reader &r, std::size_t index, std::size_t element, const char **value,
                      std::size_t *length) {
    require_not_null(value, "value");
    const auto &kv = kv_at(r, index);
    const bool is_string = kv.type == RAI_GGUF_TYPE_STRING ||
                           (kv.type == RAI_GGUF_TYPE_ARRAY && kv.array_type == RAI_GGUF_TYPE_STRING);
    require(is_string, RAI_ERROR_INVALID_ARGUMENT,
            "key " + quoted(kv.key) + " holds " + value_type_name(kv.type) + ", not a string");
    require(element < kv.strings.size(), RAI_ERROR_OUT_OF_RANGE,
            "element " + std::to_string(element) + " is not below the " + std::to_string(kv.strings.size()) +
                " strings of key " + quoted(kv.key));
    *value = kv.strings[element].c_str();
    if (length != nullptr) *length = kv.strings[element].size();
}

void reader_tensor(const rai_gguf_reader &r, std::size_t index, rai_gguf_tensor_info *info) {
    check_info(info, "rai_gguf_tensor_info_init");
    const auto &t = tensor_at(r, index);
    rai_gguf_tensor_info o{};
    o.ggml_type = t.type;
    o.name = t.name.c_str();
    o.ndim = t.ndim;
    for (int d = 0; d < 4; ++d) o.shape[d] = d < t.ndim ? t.shape[d] : 0;
    o.offset = r.data_offset + t.offset;
    o.nbytes = t.nbytes;
    write_out_struct(info, o);
}

int64_t reader_find_tensor(const rai_gguf_reader &r, const char *name) {
    require_not_null(name, "name");
    for (std::size_t i = 0; i < r.tensors.size(); ++i)
        if (r.tensors[i].name == name) return static_cast<int64_t>(i);
    return -1;
}

void reader_read_raw(const rai_gguf_reader &r, std::size_t index, void *dst, std::size_t capacity, std::size_t *needed) {
    const auto &t = tensor_at(r, index);
    require(t.nbytes <= std::numeric_limits<std::size_t>::max(), RAI_ERROR_OUT_OF_RANGE, "tensor too large");
    if (needed != nullptr) *needed = static_cast<std::size_t>(t.nbytes);
    require(capacity >= t.nbytes, RAI_ERROR_BUFFER_TOO_SMALL,
            "dst: tensor " + quoted(t.name) + " has " + std::to_string(t.nbytes) + " bytes, capacity is " +
                std::to_string(capacity));
    if (t.nbytes == 0) return;
    require_not_null(dst, "dst");
    pread_full(r.fd, r.path, dst, t.nbytes, r.data_offset + t.offset);
}

void reader_read_tensor(const rai_gguf_reader &r, std::size_t index, const rai_tensor *dst_) {
    const auto &t = tensor_at(r, index);
    const std::string what = "tensor " + quoted(t.name);
    TensorCheck dst("dst", dst_);
    dst.contiguous();
    bitnet::require_host(dst, "dst");
    const rai_tensor &d = dst.tensor();
    bool same_shape = d.ndim == t.ndim;
    for (int32_t i = 0; same_shape && i < t.ndim; ++i) same_shape = d.shape[i] == t.shape[i];
    require(same_shape, RAI_ERROR_SHAPE_MISMATCH,
            "dst: shape " + dst.shape_string() + " differs from " + what + "'s shape " +
                format_shape(t.shape, t.ndim));
    const auto n = static_cast<std::size_t>(t.numel);
    const GgmlType *gt = ggml_type(t.type);
    auto unsupported = [&] {
        throw Error(RAI_ERROR_DTYPE_MISMATCH,
                    "dst: " + what + " (" + gt->name + ") cannot be read as " + dtype::describe(d.dtype));
    };
    if (dtype::equal(d.dtype, dtype::f32)) {
        auto *out = static_cast<float *>(dst.data());
        if (t.type == RAI_GGML_TYPE_F32) {
            pread_full(r.fd, r.path, out, t.nbytes, r.data_offset + t.offset);
            return;
        }
        const std::vector<uint8_t> b = read_bytes(r, t);
        switch (t.type) {
        case RAI_GGML_TYPE_F16:
        case RAI_GGML_TYPE_BF16:
            for (std::size_t i = 0; i < n; ++i) {
                const auto h = static_cast<uint16_t>(b[2 * i] | (b[2 * i + 1] << 8));
                out[i] = t.type == RAI_GGML_TYPE_F16 ? half::f16_to_f32(h) : half::bf16_to_f32(h);
            }
            return;
        case RAI_GGML_TYPE_TQ1_0:
        case RAI_GGML_TYPE_TQ2_0:
            bitnet::tq_dequantize_raw(t.type == RAI_GGML_TYPE_TQ1_0 ? RAI_TERNARY_LAYOUT_TQ1_0 : RAI_TERNARY_LAYOUT_TQ2_0,
                                      b.data(), t.numel, out);
            return;
        default: unsupported();
        }
    }
    const bool raw = (t.type == RAI_GGML_TYPE_F16 && dtype::equal(d.dtype, dtype::f16)) ||
                     (t.type == RAI_GGML_TYPE_BF16 && dtype::equal(d.dtype, dtype::bf16)) ||
                     (t.type == RAI_GGML_TYPE_I8 && dtype::equal(d.dtype, dtype::i8)) ||
                     (t.type == RAI_GGML_TYPE_I32 && dtype::equal(d.dtype, dtype::i32)) ||
                     (t.type == RAI_GGML_TYPE_I64 && dtype::equal(d.dtype, dtype::i64)) ||
                     (t.type == RAI_GGML_TYPE_F64 && dtype::equal(d.dtype, dtype::f64));
    if (!raw) unsupported();
    pread_full(r.fd, r.path, dst.data(), t.nbytes, r.data_offset + t.offset);
}

void reader_read_ternary(const rai_gguf_reader &r, std::size_t index, const rai_tensor *trits_,
                         const rai_tensor *scales_) {
    const auto &t = tensor_at(r, index);
    const std::string what = "tensor " + quoted(t.name);
    require(t.type == RAI_GGML_TYPE_TQ1_0 || t.type == RAI_GGML_TYPE_TQ2_0, RAI_ERROR_DTYPE_MISMATCH,
            what + " is " + ggml_type(t.type)->name + ", not TQ1_0 or TQ2_0");
    const int64_t cols = t.ndim > 0 ? t.shape[t.ndim - 1] : 1;
    const int64_t rows = cols > 0 ? t.numel / cols : 0;
    TensorCheck trits("trits", trits_);
    trits.dtype(dtype::i8).shape({rows, cols}).contiguous();
    bitnet::require_host(trits, "trits");
    float *scale_out = nullptr;
    if (scales_ != nullptr) {
        TensorCheck scales("scales", scales_);
        scales.dtype(dtype::f32).shape({rows, cols / bitnet::kTqBlock}).contiguous();
        bitnet::require_host(scales, "scales");
        scale_out = static_cast<float *>(scales.data());
    }
    const std::vector<uint8_t> b = read_bytes(r, t);
    const int32_t layout = t.type == RAI_GGML_TYPE_TQ1_0 ? RAI_TERNARY_LAYOUT_TQ1_0 : RAI_TERNARY_LAYOUT_TQ2_0;
    std::vector<int8_t> tv(static_cast<std::size_t>(t.numel));
    std::vector<uint16_t> d(static_cast<std::size_t>(t.numel / bitnet::kTqBlock));
    bitnet::tq_unpack_raw(layout, b.data(), t.numel, tv.data(), d.data(), r.path + ": " + what);
    std::memcpy(trits.data(), tv.data(), tv.size());
    if (scale_out != nullptr)
        for (std::size_t i = 0; i < d.size(); ++i) scale_out[i] = half::f16_to_f32(d[i]);
}

}  // namespace rai::gguf
