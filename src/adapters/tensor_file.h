// The adapters' minimal interface to a tensor file: named tensors with a dtype, a shape and
// their bytes, read and written whole. Implemented (tensor_file.cpp) over the shared
// safetensors codec in src/io; adapter code never touches the file format itself.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rai::adapters {

struct FileTensor {
    std::string name;
    std::string dtype;  // safetensors dtype name: "F32", "BF16", "F16", "U8", ...
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;  // little-endian, C order
    int64_t numel() const;
};

struct TensorFile {
    std::vector<FileTensor> tensors;
    std::vector<std::pair<std::string, std::string>> metadata;  // "__metadata__", in order
    const FileTensor *find(const std::string &name) const;
};

// Bytes per element of a safetensors dtype name; 0 when unknown.
std::size_t file_dtype_size(const std::string &dtype);

// Reads the whole file. RAI_ERROR_IO when it cannot be read; RAI_ERROR_FORMAT (naming the file
// and the problem) for a header over 100 MB, bad JSON, unknown dtypes, offsets out of bounds,
// overlapping tensors, a buffer not covered exactly, or a byte count that disagrees with the shape.
TensorFile read_tensor_file(const std::string &path);
// Parses a file already in memory (`what` names it in messages).
TensorFile parse_tensor_file(const std::vector<uint8_t> &data, const std::string &what);

// Writes the file atomically (a temporary file renamed over `path`): on failure nothing is left
// at `path`. The header is padded with spaces to a multiple of 8 bytes.
void write_tensor_file(const std::string &path, const TensorFile &file);
std::vector<uint8_t> serialize_tensor_file(const TensorFile &file);

}  // namespace rai::adapters
