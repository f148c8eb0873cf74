#include "safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include "dtype.h"
#include "error.h"
#include "json.h"
#include "tensor_check.h"

namespace rai::st {

namespace {

struct DtypeRow {
    const char *name;
    int bits;
    rai_dtype rai;
};

const DtypeRow kDtypes[] = {
    {"BOOL", 8, {0, 0, 0}},          {"U8", 8, dtype::u8},           {"I8", 8, dtype::i8},
    {"F8_E5M2", 8, {0, 0, 0}},       {"F8_E4M3", 8, {0, 0, 0}},      {"F8_E8M0", 8, {0, 0, 0}},
    {"I16", 16, {0, 0, 0}},          {"U16", 16, {0, 0, 0}},         {"F16", 16, dtype::f16},
    {"BF16", 16, dtype::bf16},       {"I32", 32, dtype::i32},        {"U32", 32, dtype::u32},
    {"F32", 32, dtype::f32},         {"F64", 64, dtype::f64},        {"I64", 64, dtype::i64},
    {"U64", 64, dtype::u64},         {"F4", 4, {0, 0, 0}},           {"F6_E2M3", 6, {0, 0, 0}},
    {"F6_E3M2", 6, {0, 0, 0}},
};

std::string errno_text() { return std::strerror(errno); }

std::string quoted(const std::string &s) {
    std::string out;
    json::append_string(out, s);
    return out;
}

// Bytes of `numel` elements of `bits` each; false on overflow or a partial byte.
bool byte_size(const std::vector<int64_t> &shape, int bits, uint64_t &out) {
    unsigned __int128 total = static_cast<unsigned>(bits);
    for (int64_t d : shape) {
        total *= static_cast<uint64_t>(d);
        if (total > (static_cast<unsigned __int128>(1) << 70)) return false;
    }
    if (total % 8 != 0) return false;
    total /= 8;
    if (total > std::numeric_limits<uint64_t>::max()) return false;
    out = static_cast<uint64_t>(total);
    return true;
}

// Parses and validates the header and the layout of the data buffer.
void parse_header(rai_safetensors &f) {
    if (f.size < 8)
        throw Error(RAI_ERROR_FORMAT, "safetensors: file is " + std::to_string(f.size) +
                                          " bytes, shorter than the 8-byte header length");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | f.bytes[i];
    if (n > kMaxHeaderBytes)
        throw Error(RAI_ERROR_FORMAT, "safetensors: header length " + std::to_string(n) + " exceeds the cap of " +
                                          std::to_string(kMaxHeaderBytes) + " bytes");
    if (n > f.size - 8)
        throw Error(RAI_ERROR_FORMAT, "safetensors: header length " + std::to_string(n) +
                                          " runs past the end of the file (" + std::to_string(f.size) + " bytes)");
    const char *h = reinterpret_cast<const char *>(f.bytes + 8);
    if (n == 0 || h[0] != '{')
        throw Error(RAI_ERROR_FORMAT, "safetensors: header does not start with '{'");
    const json::Value root = json::parse(h, static_cast<std::size_t>(n), "safetensors header");
    if (root.kind != json::Kind::Object) throw Error(RAI_ERROR_FORMAT, "safetensors: header is not a JSON object");
    f.data = f.bytes + 8 + n;
    const uint64_t data_size = f.size - 8 - n;
    std::set<std::string> seen;
    for (const auto &m : root.members) {
        const std::string &name = m.first;
        if (!seen.insert(name).second)
            throw Error(RAI_ERROR_FORMAT, "safetensors: key " + quoted(name) + " appears twice in the header");
        if (name == "__metadata__") {
            if (m.second.kind != json::Kind::Object)
                throw Error(RAI_ERROR_FORMAT, "safetensors: __metadata__ is not an object");
            for (const auto &kv : m.second.members) {
                if (kv.second.kind != json::Kind::String)
                    throw Error(RAI_ERROR_FORMAT,
                                "safetensors: __metadata__ value of " + quoted(kv.first) + " is not a string");
                f.metadata.emplace_back(kv.first, kv.second.text);
            }
            continue;
        }
        const std::string where = "safetensors: tensor " + quoted(name);
        if (m.second.kind != json::Kind::Object) throw Error(RAI_ERROR_FORMAT, where + " is not an object");
        TensorEntry t;
        t.name = name;
        const json::Value *dt = m.second.find("dtype");
        if (dt == nullptr || dt->kind != json::Kind::String)
            throw Error(RAI_ERROR_FORMAT, where + ": field \"dtype\" is missing or not a string");
        t.dtype = dt->text;
        const int bits = dtype_bits(t.dtype);
        if (bits == 0) throw Error(RAI_ERROR_FORMAT, where + ": unknown dtype " + quoted(t.dtype));
        const json::Value *sh = m.second.find("shape");
        if (sh == nullptr || sh->kind != json::Kind::Array)
            throw Error(RAI_ERROR_FORMAT, where + ": field \"shape\" is missing or not an array");
        if (sh->items.size() > static_cast<std::size_t>(kMaxDims))
            throw Error(RAI_ERROR_FORMAT, where + ": shape has " + std::to_string(sh->items.size()) +
                                              " dimensions, more than " + std::to_string(kMaxDims));
        for (const json::Value &d : sh->items) {
            int64_t v = 0;
            if (!d.as_int64(v) || v < 0)
                throw Error(RAI_ERROR_FORMAT, where + ": shape entry " + (d.kind == json::Kind::Number ? d.text : "?") +
                                                  " is not a non-negative integer");
            t.shape.push_back(v);
        }
        const json::Value *off = m.second.find("data_offsets");
        if (off == nullptr || off->kind != json::Kind::Array || off->items.size() != 2 ||
            !off->items[0].as_uint64(t.begin) || !off->items[1].as_uint64(t.end))
            throw Error(RAI_ERROR_FORMAT, where + ": field \"data_offsets\" is not two non-negative integers");
        if (t.begin > t.end)
            throw Error(RAI_ERROR_FORMAT, where + ": data_offsets [" + std::to_string(t.begin) + ", " +
                                              std::to_string(t.end) + "] begin after they end");
        if (t.end > data_size)
            throw Error(RAI_ERROR_FORMAT, where + ": data_offsets end at " + std::to_string(t.end) +
                                              ", past the data buffer of " + std::to_string(data_size) + " bytes");
        uint64_t need = 0;
        if (!byte_size(t.shape, bits, need))
            throw Error(RAI_ERROR_FORMAT, where + ": shape " + format_shape(t.shape.data(), static_cast<int32_t>(t.shape.size())) +
                                              " of " + t.dtype + " has no whole byte size");
        if (need != t.end - t.begin)
            throw Error(RAI_ERROR_FORMAT, where + ": data_offsets [" + std::to_string(t.begin) + ", " +
                                              std::to_string(t.end) + "] hold " + std::to_string(t.end - t.begin) +
                                              " bytes, shape " +
                                              format_shape(t.shape.data(), static_cast<int32_t>(t.shape.size())) +
                                              " of " + t.dtype + " needs " + std::to_string(need));
        f.tensors.push_back(std::move(t));
    }
    std::stable_sort(f.tensors.begin(), f.tensors.end(), [](const TensorEntry &a, const TensorEntry &b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t pos = 0;
    const TensorEntry *prev = nullptr;
    for (const TensorEntry &t : f.tensors) {
        if (t.begin != pos)
            throw Error(RAI_ERROR_FORMAT, "safetensors: tensor " + quoted(t.name) + ": data_offsets begin at " +
                                              std::to_string(t.begin) + ", expected " + std::to_string(pos) + " (" +
                                              (t.begin < pos ? "overlaps " : "gap after ") +
                                              (prev ? "tensor " + quoted(prev->name) : std::string("the buffer start")) +
                                              ")");
        pos = t.end;
        prev = &t;
    }
    if (pos != data_size)
        throw Error(RAI_ERROR_FORMAT, "safetensors: the tensors cover " + std::to_string(pos) +
                                          " bytes of a data buffer of " + std::to_string(data_size) + " bytes");
    for (std::size_t i = 0; i < f.tensors.size(); ++i) f.index.emplace(f.tensors[i].name, i);
}

}  // namespace

int dtype_bits(const std::string &name) {
    for (const DtypeRow &r : kDtypes)
        if (name == r.name) return r.bits;
    return 0;
}

const char *dtype_name(const rai_dtype &d) {
    for (const DtypeRow &r : kDtypes)
        if (r.rai.bits != 0 && dtype::equal(r.rai, d)) return r.name;
    return nullptr;
}

rai_dtype rai_dtype_of(const std::string &name) {
    for (const DtypeRow &r : kDtypes)
        if (name == r.name) return r.rai;
    return rai_dtype{0, 0, 0};
}

rai_safetensors *open_file(const std::string &path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(RAI_ERROR_IO, "cannot open " + quoted(path) + ": " + errno_text());
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const std::string e = errno_text();
        ::close(fd);
        throw Error(RAI_ERROR_IO, "cannot stat " + quoted(path) + ": " + e);
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(RAI_ERROR_IO, "cannot read " + quoted(path) + ": not a regular file");
    }
    auto f = std::make_unique<rai_safetensors>();
    f->size = static_cast<std::size_t>(st.st_size);
    if (f->size > 0) {
        void *m = ::mmap(nullptr, f->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            const std::string e = errno_text();
            ::close(fd);
            throw Error(RAI_ERROR_IO, "cannot map " + quoted(path) + ": " + e);
        }
        f->map = m;
        f->map_size = f->size;
        f->bytes = static_cast<const unsigned char *>(m);
    }
    ::close(fd);
    try {
        parse_header(*f);
    } catch (const Error &e) {
        throw Error(e.status(), std::string(e.what()) + " (file " + quoted(path) + ")");
    }
    return f.release();
}

rai_safetensors *open_memory(const void *data, std::size_t size) {
    if (size > 0) require_not_null(data, "data");
    auto f = std::make_unique<rai_safetensors>();
    f->owned.resize((size + 7) / 8 + 1);
    if (size > 0) std::memcpy(f->owned.data(), data, size);
    f->bytes = reinterpret_cast<const unsigned char *>(f->owned.data());
    f->size = size;
    parse_header(*f);
    return f.release();
}

void writer_add_bytes(rai_safetensors_writer &w, const std::string &name, const std::string &dtype,
                      const std::vector<int64_t> &shape, const void *data, std::size_t nbytes) {
    require(!name.empty(), RAI_ERROR_INVALID_ARGUMENT, "name must not be empty");
    require(name != "__metadata__", RAI_ERROR_INVALID_ARGUMENT, "name \"__metadata__\" is reserved");
    for (const auto &it : w.items)
        require(it.name != name, RAI_ERROR_INVALID_ARGUMENT, "name " + quoted(name) + " was already added");
    const int bits = dtype_bits(dtype);
    require(bits != 0, RAI_ERROR_INVALID_ARGUMENT, "dtype_name " + quoted(dtype) + " is not a safetensors dtype");
    require(shape.size() <= static_cast<std::size_t>(kMaxDims), RAI_ERROR_INVALID_ARGUMENT,
            "tensor " + quoted(name) + ": more than " + std::to_string(kMaxDims) + " dimensions");
    for (int64_t d : shape)
        require(d >= 0, RAI_ERROR_INVALID_ARGUMENT, "tensor " + quoted(name) + ": negative dimension");
    uint64_t need = 0;
    require(byte_size(shape, bits, need), RAI_ERROR_INVALID_ARGUMENT,
            "tensor " + quoted(name) + ": shape of " + dtype + " has no whole byte size");
    require(need == nbytes, RAI_ERROR_INVALID_ARGUMENT,
            "tensor " + quoted(name) + ": nbytes is " + std::to_string(nbytes) + ", the shape of " + dtype +
                " needs " + std::to_string(need));
    if (nbytes > 0) require_not_null(data, "data");
    rai_safetensors_writer::Item it;
    it.name = name;
    it.dtype = dtype;
    it.shape = shape;
    it.bytes.assign(static_cast<const unsigned char *>(data), static_cast<const unsigned char *>(data) + nbytes);
    w.items.push_back(std::move(it));
}

void writer_add_tensor(rai_safetensors_writer &w, const std::string &name, const rai_tensor *t) {
    TensorCheck c("tensor", t);
    require(c.on_host(), RAI_ERROR_DEVICE_MISMATCH, "tensor: must be in host memory (copy it with rai_tensor_copy)");
    const char *dt = dtype_name(t->dtype);
    require(dt != nullptr, RAI_ERROR_DTYPE_MISMATCH, "tensor: dtype " + dtype::describe(t->dtype) + " has no safetensors name");
    std::vector<int64_t> shape(t->shape, t->shape + t->ndim);
    const std::size_t eb = c.elem_bytes();
    std::vector<unsigned char> bytes(static_cast<std::size_t>(c.numel()) * eb);
    if (c.is_contiguous()) {
        if (!bytes.empty()) std::memcpy(bytes.data(), c.data(), bytes.size());
    } else {
        // Gather element by element in row-major order.
        std::vector<int64_t> idx(static_cast<std::size_t>(t->ndim), 0);
        const auto *base = static_cast<const unsigned char *>(c.data());
        for (int64_t e = 0; e < c.numel(); ++e) {
            int64_t off = 0;
            for (int32_t d = 0; d < t->ndim; ++d) off += idx[static_cast<std::size_t>(d)] * t->strides[d];
            std::memcpy(bytes.data() + static_cast<std::size_t>(e) * eb, base + off * static_cast<int64_t>(eb), eb);
            for (int32_t d = t->ndim - 1; d >= 0; --d) {
                if (++idx[static_cast<std::size_t>(d)] < t->shape[d]) break;
                idx[static_cast<std::size_t>(d)] = 0;
            }
        }
    }
    writer_add_bytes(w, name, dt, shape, bytes.data(), bytes.size());
}

void writer_set_metadata(rai_safetensors_writer &w, const std::string &key, const std::string &value) {
    for (auto &kv : w.metadata)
        if (kv.first == key) {
            kv.second = value;
            return;
        }
    w.metadata.emplace_back(key, value);
}

std::vector<unsigned char> serialize(const rai_safetensors_writer &w) {
    // Data layout: largest element size first, then the order added (as the reference writer
    // sorts by alignment), so that with the 8-byte aligned data start every tensor is aligned to
    // its element size. The header lists the tensors in the same order.
    std::vector<const rai_safetensors_writer::Item *> order;
    for (const auto &it : w.items) order.push_back(&it);
    std::stable_sort(order.begin(), order.end(), [](const auto *a, const auto *b) {
        return dtype_bits(a->dtype) > dtype_bits(b->dtype);
    });
    std::string h = "{";
    bool first = true;
    if (!w.metadata.empty()) {
        h += "\"__metadata__\":{";
        for (std::size_t i = 0; i < w.metadata.size(); ++i) {
            if (i) h += ',';
            json::append_string(h, w.metadata[i].first);
            h += ':';
            json::append_string(h, w.metadata[i].second);
        }
        h += '}';
        first = false;
    }
    uint64_t pos = 0;
    for (const auto *itp : order) {
        const auto &it = *itp;
        if (!first) h += ',';
        first = false;
        json::append_string(h, it.name);
        h += ":{\"dtype\":\"" + it.dtype + "\",\"shape\":[";
        for (std::size_t d = 0; d < it.shape.size(); ++d) h += (d ? "," : "") + std::to_string(it.shape[d]);
        h += "],\"data_offsets\":[" + std::to_string(pos) + "," + std::to_string(pos + it.bytes.size()) + "]}";
        pos += it.bytes.size();
    }
    h += '}';
    while (h.size() % 8 != 0) h += ' ';
    require(h.size() <= kMaxHeaderBytes, RAI_ERROR_OUT_OF_RANGE,
            "writer: the header would be " + std::to_string(h.size()) + " bytes, over the 100 MB cap readers enforce");
    std::vector<unsigned char> out;
    out.reserve(8 + h.size() + pos);
    const uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<unsigned char>(n >> (8 * i)));
    out.insert(out.end(), h.begin(), h.end());
    for (const auto *it : order) out.insert(out.end(), it->bytes.begin(), it->bytes.end());
    return out;
}

void save(const rai_safetensors_writer &w, const std::string &path) {
    require(!path.empty(), RAI_ERROR_INVALID_ARGUMENT, "path must not be empty");
    const std::vector<unsigned char> bytes = serialize(w);
    std::string tmpl = path + ".tmp.XXXXXX";
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    const int fd = ::mkstemp(name.data());
    if (fd < 0) throw Error(RAI_ERROR_IO, "cannot create a temporary file next to " + quoted(path) + ": " + errno_text());
    const std::string tmp(name.data());
    auto fail = [&](const std::string &what) {
        const std::string e = errno_text();
        ::close(fd);
        ::unlink(tmp.c_str());
        throw Error(RAI_ERROR_IO, what + " " + quoted(path) + ": " + e);
    };
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t k = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (k < 0) {
            if (errno == EINTR) continue;
            fail("cannot write");
        }
        done += static_cast<std::size_t>(k);
    }
    if (::fchmod(fd, 0644) != 0) fail("cannot set the mode of");
    if (::fsync(fd) != 0) fail("cannot flush");
    if (::close(fd) != 0) {
        const std::string e = errno_text();
        ::unlink(tmp.c_str());
        throw Error(RAI_ERROR_IO, "cannot close " + quoted(path) + ": " + e);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string e = errno_text();
        ::unlink(tmp.c_str());
        throw Error(RAI_ERROR_IO, "cannot rename the temporary file to " + quoted(path) + ": " + e);
    }
}

}  // namespace rai::st

rai_safetensors::~rai_safetensors() {
    if (map != nullptr) ::munmap(map, map_size);
}

int64_t rai_safetensors::find(const std::string &name) const {
    const auto it = index.find(name);
    return it == index.end() ? -1 : static_cast<int64_t>(it->second);
}
