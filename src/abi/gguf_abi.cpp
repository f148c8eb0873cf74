// C ABI: GGUF writer and reader.
#include "../io/gguf/gguf.h"
#include "guard.h"

using rai::abi::deref;
using rai::abi::guarded;
namespace gg = rai::gguf;

extern "C" {

rai_status rai_gguf_writer_create(rai_gguf_writer **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        rai::require_not_null(out, "out");
        *out = gg::writer_create();
    });
}

void rai_gguf_writer_destroy(rai_gguf_writer *writer) { gg::writer_destroy(writer); }

rai_status rai_gguf_writer_add_kv(rai_gguf_writer *writer, const char *key, int32_t type, const void *value) {
    return guarded([&] { gg::writer_add_kv(deref(writer, "writer"), key, type, value); });
}

rai_status rai_gguf_writer_add_kv_string(rai_gguf_writer *writer, const char *key, const char *value) {
    return guarded([&] { gg::writer_add_kv_string(deref(writer, "writer"), key, value); });
}

rai_status rai_gguf_writer_add_kv_array(rai_gguf_writer *writer, const char *key, int32_t elem_type,
                                        const void *values, size_t count) {
    return guarded([&] { gg::writer_add_kv_array(deref(writer, "writer"), key, elem_type, values, count); });
}

rai_status rai_gguf_writer_add_kv_string_array(rai_gguf_writer *writer, const char *key, const char *const *values,
                                               size_t count) {
    return guarded([&] { gg::writer_add_kv_string_array(deref(writer, "writer"), key, values, count); });
}

rai_status rai_gguf_writer_add_tensor(rai_gguf_writer *writer, const char *name, const rai_tensor *tensor,
                                      int32_t ggml_type) {
    return guarded([&] { gg::writer_add_tensor(deref(writer, "writer"), name, tensor, ggml_type); });
}

rai_status rai_gguf_writer_add_ternary(rai_gguf_writer *writer, const char *name, int32_t ggml_type,
                                       const rai_tensor *trits, const rai_tensor *scales, uint32_t flags) {
    return guarded(
        [&] { gg::writer_add_ternary(deref(writer, "writer"), name, ggml_type, trits, scales, flags); });
}

rai_status rai_gguf_writer_write(const rai_gguf_writer *writer, const char *path) {
    return guarded([&] { gg::writer_write(deref(writer, "writer"), path); });
}

rai_status rai_gguf_file_info_init_sized(rai_gguf_file_info *info, size_t struct_size) {
    return guarded([&] { gg::init_file_info(info, struct_size); });
}

rai_status rai_gguf_kv_info_init_sized(rai_gguf_kv_info *info, size_t struct_size) {
    return guarded([&] { gg::init_kv_info(info, struct_size); });
}

rai_status rai_gguf_tensor_info_init_sized(rai_gguf_tensor_info *info, size_t struct_size) {
    return guarded([&] { gg::init_tensor_info(info, struct_size); });
}

rai_status rai_gguf_reader_open(const char *path, rai_gguf_reader **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        rai::require_not_null(out, "out");
        *out = gg::reader_open(path);
    });
}

void rai_gguf_reader_destroy(rai_gguf_reader *reader) { gg::reader_destroy(reader); }

rai_status rai_gguf_reader_get_info(const rai_gguf_reader *reader, rai_gguf_file_info *info) {
    return guarded([&] { gg::reader_info(deref(reader, "reader"), info); });
}

rai_status rai_gguf_reader_kv(const rai_gguf_reader *reader, size_t index, rai_gguf_kv_info *info) {
    return guarded([&] { gg::reader_kv(deref(reader, "reader"), index, info); });
}

rai_status rai_gguf_reader_find_kv(const rai_gguf_reader *reader, const char *key, int64_t *index) {
    return guarded([&] {
        rai::require_not_null(index, "index");
        *index = gg::reader_find_kv(deref(reader, "reader"), key);
    });
}

rai_status rai_gguf_reader_kv_string(const rai_gguf_reader *reader, size_t index, size_t element, const char **value,
                                     size_t *length) {
    return guarded([&] { gg::reader_kv_string(deref(reader, "reader"), index, element, value, length); });
}

rai_status rai_gguf_reader_tensor(const rai_gguf_reader *reader, size_t index, rai_gguf_tensor_info *info) {
    return guarded([&] { gg::reader_tensor(deref(reader, "reader"), index, info); });
}

rai_status rai_gguf_reader_find_tensor(const rai_gguf_reader *reader, const char *name, int64_t *index) {
    return guarded([&] {
        rai::require_not_null(index, "index");
        *index = gg::reader_find_tensor(deref(reader, "reader"), name);
    });
}

rai_status rai_gguf_reader_read_raw(const rai_gguf_reader *reader, size_t index, void *dst, size_t capacity,
                                    size_t *needed) {
    return guarded([&] { gg::reader_read_raw(deref(reader, "reader"), index, dst, capacity, needed); });
}

rai_status rai_gguf_reader_read_tensor(const rai_gguf_reader *reader, size_t index, rai_tensor *dst) {
    return guarded([&] { gg::reader_read_tensor(deref(reader, "reader"), index, dst); });
}

rai_status rai_gguf_reader_read_ternary(const rai_gguf_reader *reader, size_t index, rai_tensor *trits,
                                        rai_tensor *scales) {
    return guarded([&] { gg::reader_read_ternary(deref(reader, "reader"), index, trits, scales); });
}

}  // extern "C"
