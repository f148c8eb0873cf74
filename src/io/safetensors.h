// safetensors files: a defensive reader (everything validated before a handle exists) and a
// writer (header padded to 8 bytes, atomic save through a temporary file).
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rai.h"

namespace rai::st {

constexpr uint64_t kMaxHeaderBytes = 100000000;  // the reference reader's cap (100 MB)

// Bits per element of a safetensors dtype, or 0 for an unknown name.
int dtype_bits(const std::string &name);
// The safetensors name of a rai dtype ("F32"), or nullptr.
const char *dtype_name(const rai_dtype &d);
// The rai dtype of a safetensors name; bits == 0 when rai has none.
rai_dtype rai_dtype_of(const std::string &name);

struct TensorEntry {
    std::string name;
    std::string dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;  // data_offsets
};

}  // namespace rai::st

struct rai_safetensors {
    // Either a private memory mapping of the file or an owned copy of the bytes.
    void *map = nullptr;
    std::size_t map_size = 0;
    std::vector<uint64_t> owned;  // 8-byte aligned storage for open_memory
    const unsigned char *bytes = nullptr;
    std::size_t size = 0;
    const unsigned char *data = nullptr;  // start of the data buffer
    std::vector<rai::st::TensorEntry> tensors;  // ascending offsets
    std::vector<std::pair<std::string, std::string>> metadata;
    std::unordered_map<std::string, std::size_t> index;  // name -> position in tensors

    rai_safetensors() = default;
    rai_safetensors(const rai_safetensors &) = delete;
    rai_safetensors &operator=(const rai_safetensors &) = delete;
    ~rai_safetensors();

    // Index of a tensor or -1.
    int64_t find(const std::string &name) const;
};

struct rai_safetensors_writer {
    struct Item {
        std::string name;
        std::string dtype;
        std::vector<int64_t> shape;
        std::vector<unsigned char> bytes;
    };
    std::vector<Item> items;
    std::vector<std::pair<std::string, std::string>> metadata;
};

namespace rai::st {

rai_safetensors *open_file(const std::string &path);
rai_safetensors *open_memory(const void *data, std::size_t size);

// Adds a tensor with raw bytes after validating name, dtype, shape and size. Throws
// INVALID_ARGUMENT naming the problem.
void writer_add_bytes(rai_safetensors_writer &w, const std::string &name, const std::string &dtype,
                      const std::vector<int64_t> &shape, const void *data, std::size_t nbytes);
void writer_add_tensor(rai_safetensors_writer &w, const std::string &name, const rai_tensor *t);
void writer_set_metadata(rai_safetensors_writer &w, const std::string &key, const std::string &value);
// The serialised file.
std::vector<unsigned char> serialize(const rai_safetensors_writer &w);
void save(const rai_safetensors_writer &w, const std::string &path);

}  // namespace rai::st
