// A small, defensive safetensors codec behind tensor_file.h.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include "../core/error.h"
#include "json.h"
#include "tensor_file.h"

namespace rai::adapters {

namespace {
constexpr uint64_t kMaxHeader = 100u * 1000u * 1000u;

struct DtypeSize {
    const char *name;
    std::size_t bytes;
};
const DtypeSize kDtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"U64", 8}, {"I32", 4}, {"U32", 4},
    {"I16", 2}, {"U16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};
}  // namespace

int64_t FileTensor::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

const FileTensor *TensorFile::find(const std::string &name) const {
    for (const FileTensor &t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

std::size_t file_dtype_size(const std::string &dtype) {
    for (const DtypeSize &d : kDtypes)
        if (dtype == d.name) return d.bytes;
    return 0;
}

TensorFile parse_tensor_file(const std::vector<uint8_t> &data, const std::string &what) {
    auto bad = [&](const std::string &msg) { return Error(RAI_ERROR_FORMAT, what + ": " + msg); };
    if (data.size() < 8) throw bad("shorter than the 8-byte header length; not a safetensors file");
    uint64_t n = 0;
    for (int k = 7; k >= 0; --k) n = (n << 8) | data[static_cast<std::size_t>(k)];
    if (n > kMaxHeader) throw bad("header length " + std::to_string(n) + " exceeds the 100 MB limit");
    if (n > data.size() - 8) throw bad("header length " + std::to_string(n) + " runs past the end of the file");
    const std::string header(reinterpret_cast<const char *>(data.data()) + 8, static_cast<std::size_t>(n));
    const json::Value root = json::parse(header, what + " header");
    if (!root.is_object()) throw bad("header is not a JSON object");
    const uint64_t buffer_size = data.size() - 8 - n;
    const uint8_t *buffer = data.data() + 8 + n;

    TensorFile f;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto &kv : root.members()) {
        if (kv.first == "__metadata__") {
            if (!kv.second.is_object()) throw bad("__metadata__ is not an object");
            for (const auto &m : kv.second.members()) {
                if (!m.second.is_string()) throw bad("__metadata__[\"" + m.first + "\"] is not a string");
                f.metadata.emplace_back(m.first, m.second.as_string());
            }
            continue;
        }
        const json::Value &info = kv.second;
        const std::string where = "tensor \"" + kv.first + "\"";
        if (!info.is_object()) throw bad(where + " is not an object");
        const json::Value *dt = info.find("dtype");
        const json::Value *shape = info.find("shape");
        const json::Value *offs = info.find("data_offsets");
        if (!dt || !dt->is_string()) throw bad(where + ": missing or non-string dtype");
        if (!shape || !shape->is_array()) throw bad(where + ": missing or non-array shape");
        if (!offs || !offs->is_array() || offs->items().size() != 2) throw bad(where + ": data_offsets must be [begin, end]");
        FileTensor t;
        t.name = kv.first;
        t.dtype = dt->as_string();
        const std::size_t esize = file_dtype_size(t.dtype);
        if (esize == 0) throw bad(where + ": unknown dtype \"" + t.dtype + "\"");
        uint64_t numel = 1;
        for (const json::Value &d : shape->items()) {
            if (!d.is_integer() || d.as_number() < 0) throw bad(where + ": shape entries must be non-negative integers");
            const uint64_t e = static_cast<uint64_t>(d.as_number());
            if (e != 0 && numel > std::numeric_limits<uint64_t>::max() / e / esize) throw bad(where + ": shape overflows");
            numel *= e;
            t.shape.push_back(static_cast<int64_t>(e));
        }
        for (const json::Value &o : offs->items())
            if (!o.is_integer() || o.as_number() < 0) throw bad(where + ": data_offsets must be non-negative integers");
        const uint64_t b = static_cast<uint64_t>(offs->items()[0].as_number());
        const uint64_t e = static_cast<uint64_t>(offs->items()[1].as_number());
        if (b > e || e > buffer_size)
            throw bad(where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                      "] outside the data buffer of " + std::to_string(buffer_size) + " bytes");
        if (e - b != numel * esize)
            throw bad(where + ": " + std::to_string(e - b) + " bytes for " + std::to_string(numel) + " elements of " +
                      t.dtype);
        t.bytes.assign(buffer + b, buffer + e);
        ranges.emplace_back(b, e);
        f.tensors.push_back(std::move(t));
    }
    std::sort(ranges.begin(), ranges.end());
    uint64_t pos = 0;
    for (const auto &r : ranges) {
        if (r.first < pos) throw bad("tensors overlap in the data buffer");
        if (r.first > pos) throw bad("the data buffer has a gap at byte " + std::to_string(pos));
        pos = r.second;
    }
    if (pos != buffer_size) throw bad("the data buffer has " + std::to_string(buffer_size - pos) + " trailing bytes");
    return f;
}

TensorFile read_tensor_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(RAI_ERROR_IO, "cannot open " + path + ": " + std::strerror(errno));
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    if (size < 0) throw Error(RAI_ERROR_IO, "cannot read " + path);
    in.seekg(0);
    std::vector<uint8_t> data(static_cast<std::size_t>(size));
    if (size > 0 && !in.read(reinterpret_cast<char *>(data.data()), size))
        throw Error(RAI_ERROR_IO, "cannot read " + path);
    return parse_tensor_file(data, path);
}

std::vector<uint8_t> serialize_tensor_file(const TensorFile &file) {
    json::Value root = json::Value::object();
    if (!file.metadata.empty()) {
        json::Value meta = json::Value::object();
        for (const auto &m : file.metadata) meta.set(m.first, json::Value::string(m.second));
        root.set("__metadata__", std::move(meta));
    }
    uint64_t off = 0;
    for (const FileTensor &t : file.tensors) {
        const std::size_t esize = file_dtype_size(t.dtype);
        require(esize != 0, RAI_ERROR_INVALID_ARGUMENT, "tensor \"" + t.name + "\": unknown dtype " + t.dtype);
        require(static_cast<uint64_t>(t.numel()) * esize == t.bytes.size(), RAI_ERROR_INTERNAL,
                "tensor \"" + t.name + "\": byte count disagrees with its shape");
        require(t.name != "__metadata__" && root.find(t.name) == nullptr, RAI_ERROR_INVALID_ARGUMENT,
                "duplicate tensor name \"" + t.name + "\"");
        json::Value info = json::Value::object();
        info.set("dtype", json::Value::string(t.dtype));
        json::Value shape = json::Value::array();
        for (int64_t d : t.shape) shape.push(json::Value::integer(d));
        info.set("shape", std::move(shape));
        json::Value offs = json::Value::array();
        offs.push(json::Value::integer(static_cast<int64_t>(off)));
        off += t.bytes.size();
        offs.push(json::Value::integer(static_cast<int64_t>(off)));
        info.set("data_offsets", std::move(offs));
        root.set(t.name, std::move(info));
    }
    std::string header = json::dump(root, 0);
    while (header.size() % 8 != 0) header += ' ';
    std::vector<uint8_t> out(8 + header.size() + off);
    const uint64_t n = header.size();
    for (int k = 0; k < 8; ++k) out[static_cast<std::size_t>(k)] = static_cast<uint8_t>(n >> (8 * k));
    std::memcpy(out.data() + 8, header.data(), header.size());
    std::size_t pos = 8 + header.size();
    for (const FileTensor &t : file.tensors) {
        if (!t.bytes.empty()) std::memcpy(out.data() + pos, t.bytes.data(), t.bytes.size());
        pos += t.bytes.size();
    }
    return out;
}

void write_tensor_file(const std::string &path, const TensorFile &file) {
    const std::vector<uint8_t> data = serialize_tensor_file(file);
    const std::string tmp = path + ".rai-tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw Error(RAI_ERROR_IO, "cannot create " + tmp + ": " + std::strerror(errno));
        out.write(reinterpret_cast<const char *>(data.data()), static_cast<std::streamsize>(data.size()));
        out.flush();
        if (!out) {
            std::remove(tmp.c_str());
            throw Error(RAI_ERROR_IO, "cannot write " + tmp);
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        std::remove(tmp.c_str());
        throw Error(RAI_ERROR_IO, "cannot rename " + tmp + " to " + path + ": " + std::strerror(e));
    }
}

}  // namespace rai::adapters
