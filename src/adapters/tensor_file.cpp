// tensor_file.h over the shared safetensors codec in src/io.
#include <memory>

#include "../core/error.h"
#include "../io/safetensors.h"
#include "tensor_file.h"

namespace rai::adapters {

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
    const int bits = st::dtype_bits(dtype);
    return bits > 0 ? static_cast<std::size_t>((bits + 7) / 8) : 0;
}

namespace {
TensorFile from_handle(const rai_safetensors &h) {
    TensorFile f;
    f.metadata = h.metadata;
    for (const st::TensorEntry &e : h.tensors) {
        FileTensor t;
        t.name = e.name;
        t.dtype = e.dtype;
        t.shape = e.shape;
        t.bytes.assign(h.data + e.begin, h.data + e.end);
        f.tensors.push_back(std::move(t));
    }
    return f;
}
rai_safetensors_writer to_writer(const TensorFile &file) {
    rai_safetensors_writer w;
    for (const auto &m : file.metadata) st::writer_set_metadata(w, m.first, m.second);
    for (const FileTensor &t : file.tensors) st::writer_add_bytes(w, t.name, t.dtype, t.shape, t.bytes.data(), t.bytes.size());
    return w;
}
}  // namespace

TensorFile read_tensor_file(const std::string &path) {
    std::unique_ptr<rai_safetensors> h(st::open_file(path));
    return from_handle(*h);
}

TensorFile parse_tensor_file(const std::vector<uint8_t> &data, const std::string &) {
    std::unique_ptr<rai_safetensors> h(st::open_memory(data.data(), data.size()));
    return from_handle(*h);
}

void write_tensor_file(const std::string &path, const TensorFile &file) { st::save(to_writer(file), path); }

std::vector<uint8_t> serialize_tensor_file(const TensorFile &file) {
    const std::vector<unsigned char> b = st::serialize(to_writer(file));
    return std::vector<uint8_t>(b.begin(), b.end());
}

}  // namespace rai::adapters
