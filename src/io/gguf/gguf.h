// GGUF (llama.cpp's model file format): a writer that produces files llama.cpp's gguf reader
// accepts, and a defensive reader. Format: magic "GGUF", u32 version, u64 tensor count, u64 kv
// count; kv pairs (string key, u32 type, value); tensor infos (string name, u32 n_dims, u64 ne[],
// u32 ggml type, u64 offset); padding to the alignment; tensor data, each tensor at its offset
// relative to the data section. All little-endian. Strings are a u64 length plus bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "rai.h"

struct rai_gguf_writer;
struct rai_gguf_reader;

namespace rai::gguf {

constexpr uint32_t kMagic = 0x46554747u;  // "GGUF" read as a little-endian u32
constexpr uint32_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;               // GGML_MAX_DIMS
constexpr std::size_t kMaxNameBytes = 63; // GGML_MAX_NAME - 1

struct GgmlType {
    int32_t id;
    const char *name;
    int64_t block;  // elements per block
    int64_t bytes;  // bytes per block
};
// ggml's type table (ids, block sizes, block bytes); nullptr for unknown or removed ids.
const GgmlType *ggml_type(int32_t id);
// Size in bytes of one value of a scalar GGUF type (0 for STRING / ARRAY / unknown).
std::size_t value_size(int32_t type);
const char *value_type_name(int32_t type);

// ---- writer
rai_gguf_writer *writer_create();
void writer_destroy(rai_gguf_writer *w) noexcept;
void writer_add_kv(rai_gguf_writer &w, const char *key, int32_t type, const void *value);
void writer_add_kv_string(rai_gguf_writer &w, const char *key, const char *value);
void writer_add_kv_array(rai_gguf_writer &w, const char *key, int32_t elem_type, const void *values, std::size_t count);
void writer_add_kv_string_array(rai_gguf_writer &w, const char *key, const char *const *values, std::size_t count);
void writer_add_tensor(rai_gguf_writer &w, const char *name, const rai_tensor *t, int32_t ggml_type);
void writer_add_ternary(rai_gguf_writer &w, const char *name, int32_t ggml_type, const rai_tensor *trits,
                        const rai_tensor *scales, uint32_t flags);
void writer_write(const rai_gguf_writer &w, const char *path);

// ---- reader
rai_gguf_reader *reader_open(const char *path);
void reader_destroy(rai_gguf_reader *r) noexcept;
void reader_info(const rai_gguf_reader &r, rai_gguf_file_info *info);
void reader_kv(const rai_gguf_reader &r, std::size_t index, rai_gguf_kv_info *info);
int64_t reader_find_kv(const rai_gguf_reader &r, const char *key);
void reader_kv_string(const rai_gguf_reader &r, std::size_t index, std::size_t element, const char **value,
                      std::size_t *length);
void reader_tensor(const rai_gguf_reader &r, std::size_t index, rai_gguf_tensor_info *info);
int64_t reader_find_tensor(const rai_gguf_reader &r, const char *name);
void reader_read_raw(const rai_gguf_reader &r, std::size_t index, void *dst, std::size_t capacity, std::size_t *needed);
void reader_read_tensor(const rai_gguf_reader &r, std::size_t index, const rai_tensor *dst);
void reader_read_ternary(const rai_gguf_reader &r, std::size_t index, const rai_tensor *trits, const rai_tensor *scales);

void init_file_info(rai_gguf_file_info *p, std::size_t size);
void init_kv_info(rai_gguf_kv_info *p, std::size_t size);
void init_tensor_info(rai_gguf_tensor_info *p, std::size_t size);

}  // namespace rai::gguf
