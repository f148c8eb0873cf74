// C ABI: safetensors files and bitsandbytes 4-bit checkpoint keys.
#include <cstring>
#include <mutex>

#include "../core/context.h"
#include "../core/params.h"
#include "../io/bnb4.h"
#include "../io/safetensors.h"
#include "../core/tensor_check.h"
#include "guard.h"

using rai::abi::deref;
using rai::abi::guarded;

namespace {
constexpr size_t kTensorInfoV1 = sizeof(rai_safetensors_tensor_info);

const rai::st::TensorEntry &entry_at(const rai_safetensors &f, size_t index) {
    rai::require(index < f.tensors.size(), RAI_ERROR_OUT_OF_RANGE,
                 "index " + std::to_string(index) + " is not below the tensor count " + std::to_string(f.tensors.size()));
    return f.tensors[index];
}
}  // namespace

extern "C" {

rai_status rai_safetensors_open(const char *path, rai_safetensors **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        rai::require_not_null(path, "path");
        rai::require_not_null(out, "out");
        *out = rai::st::open_file(path);
    });
}

rai_status rai_safetensors_open_memory(const void *data, size_t size, rai_safetensors **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        rai::require_not_null(out, "out");
        *out = rai::st::open_memory(data, size);
    });
}

void rai_safetensors_destroy(rai_safetensors *file) { delete file; }

rai_status rai_safetensors_count(const rai_safetensors *file, size_t *out_count) {
    return guarded([&] {
        const rai_safetensors &f = deref(file, "file");
        rai::require_not_null(out_count, "out_count");
        *out_count = f.tensors.size();
    });
}

rai_status rai_safetensors_tensor_info_init_sized(rai_safetensors_tensor_info *info, size_t struct_size) {
    return guarded([&] { rai::init_params(info, struct_size, kTensorInfoV1, "info"); });
}

rai_status rai_safetensors_get_info(const rai_safetensors *file, size_t index, rai_safetensors_tensor_info *info) {
    return guarded([&] {
        const rai_safetensors &f = deref(file, "file");
        rai::require_struct_size(info, kTensorInfoV1, "info", "rai_safetensors_tensor_info_init");
        const rai::st::TensorEntry &t = entry_at(f, index);
        rai_safetensors_tensor_info full{};
        full.ndim = static_cast<int32_t>(t.shape.size());
        full.name = t.name.c_str();
        full.dtype_name = t.dtype.c_str();
        full.shape = t.shape.data();
        full.data = f.data + t.begin;
        full.nbytes = t.end - t.begin;
        full.data_offset = t.begin;
        full.dtype = rai::st::rai_dtype_of(t.dtype);
        rai::write_out_struct(info, full);
    });
}

rai_status rai_safetensors_find(const rai_safetensors *file, const char *name, int64_t *out_index) {
    return guarded([&] {
        const rai_safetensors &f = deref(file, "file");
        rai::require_not_null(name, "name");
        rai::require_not_null(out_index, "out_index");
        *out_index = f.find(name);
    });
}

rai_status rai_safetensors_tensor_view(const rai_safetensors *file, size_t index, rai_tensor *out) {
    return guarded([&] {
        const rai_safetensors &f = deref(file, "file");
        rai::require_not_null(out, "out");
        const rai::st::TensorEntry &t = entry_at(f, index);
        const rai_dtype dt = rai::st::rai_dtype_of(t.dtype);
        rai::require(dt.bits != 0, RAI_ERROR_DTYPE_MISMATCH,
                     "tensor \"" + t.name + "\" has safetensors dtype " + t.dtype + ", which has no rai_dtype");
        rai_tensor v{};
        v.data = const_cast<unsigned char *>(f.data + t.begin);
        v.device = rai_device{RAI_DEVICE_CPU, 0};
        v.ndim = static_cast<int32_t>(t.shape.size());
        v.dtype = dt;
        v.shape = t.shape.data();
        v.strides = nullptr;
        v.byte_offset = 0;
        *out = v;
    });
}

rai_status rai_safetensors_metadata_count(const rai_safetensors *file, size_t *out_count) {
    return guarded([&] {
        const rai_safetensors &f = deref(file, "file");
        rai::require_not_null(out_count, "out_count");
        *out_count = f.metadata.size();
    });
}

rai_status rai_safetensors_metadata_get(const rai_safetensors *file, size_t index, const char **out_key,
                                        const char **out_value) {
    return guarded([&] {
        const rai_safetensors &f = deref(file, "file");
        rai::require_not_null(out_key, "out_key");
        rai::require_not_null(out_value, "out_value");
        rai::require(index < f.metadata.size(), RAI_ERROR_OUT_OF_RANGE,
                     "index " + std::to_string(index) + " is not below the metadata count " +
                         std::to_string(f.metadata.size()));
        *out_key = f.metadata[index].first.c_str();
        *out_value = f.metadata[index].second.c_str();
    });
}

rai_status rai_safetensors_metadata_find(const rai_safetensors *file, const char *key, const char **out_value) {
    return guarded([&] {
        const rai_safetensors &f = deref(file, "file");
        rai::require_not_null(key, "key");
        rai::require_not_null(out_value, "out_value");
        *out_value = nullptr;
        for (const auto &kv : f.metadata)
            if (kv.first == key) {
                *out_value = kv.second.c_str();
                break;
            }
    });
}

rai_status rai_safetensors_writer_create(rai_safetensors_writer **out) {
    if (out != nullptr) *out = nullptr;
    return guarded([&] {
        rai::require_not_null(out, "out");
        *out = new rai_safetensors_writer();
    });
}

void rai_safetensors_writer_destroy(rai_safetensors_writer *writer) { delete writer; }

rai_status rai_safetensors_writer_add(rai_safetensors_writer *writer, const char *name, const rai_tensor *tensor) {
    return guarded([&] {
        rai_safetensors_writer &w = deref(writer, "writer");
        rai::require_not_null(name, "name");
        rai::st::writer_add_tensor(w, name, tensor);
    });
}

rai_status rai_safetensors_writer_add_raw(rai_safetensors_writer *writer, const char *name, const char *dtype_name,
                                          int32_t ndim, const int64_t *shape, const void *data, size_t nbytes) {
    return guarded([&] {
        rai_safetensors_writer &w = deref(writer, "writer");
        rai::require_not_null(name, "name");
        rai::require_not_null(dtype_name, "dtype_name");
        rai::require(ndim >= 0 && ndim <= rai::kMaxDims, RAI_ERROR_INVALID_ARGUMENT,
                     "ndim is " + std::to_string(ndim) + ", expected 0.." + std::to_string(rai::kMaxDims));
        if (ndim > 0) rai::require_not_null(shape, "shape");
        rai::st::writer_add_bytes(w, name, dtype_name, std::vector<int64_t>(shape, shape + ndim), data, nbytes);
    });
}

rai_status rai_safetensors_writer_set_metadata(rai_safetensors_writer *writer, const char *key, const char *value) {
    return guarded([&] {
        rai_safetensors_writer &w = deref(writer, "writer");
        rai::require_not_null(key, "key");
        rai::require_not_null(value, "value");
        rai::st::writer_set_metadata(w, key, value);
    });
}

rai_status rai_safetensors_writer_serialize(const rai_safetensors_writer *writer, void *dst, size_t capacity,
                                            size_t *out_size) {
    return guarded([&] {
        const rai_safetensors_writer &w = deref(writer, "writer");
        rai::require_not_null(out_size, "out_size");
        const std::vector<unsigned char> bytes = rai::st::serialize(w);
        *out_size = bytes.size();
        rai::require(capacity >= bytes.size(), RAI_ERROR_BUFFER_TOO_SMALL,
                     "dst: capacity " + std::to_string(capacity) + " bytes, the file needs " +
                         std::to_string(bytes.size()));
        rai::require_not_null(dst, "dst");
        std::memcpy(dst, bytes.data(), bytes.size());
    });
}

rai_status rai_safetensors_writer_save(const rai_safetensors_writer *writer, const char *path) {
    return guarded([&] {
        const rai_safetensors_writer &w = deref(writer, "writer");
        rai::require_not_null(path, "path");
        rai::st::save(w, path);
    });
}

rai_status rai_q4_state_load_bnb(rai_context *ctx, const rai_safetensors *file, const char *prefix,
                                 rai_q4_state **out_state) {
    if (out_state != nullptr) *out_state = nullptr;
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        const rai_safetensors &f = deref(file, "file");
        rai::require_not_null(prefix, "prefix");
        rai::require_not_null(out_state, "out_state");
        std::lock_guard<std::mutex> lock(c.mutex);
        *out_state = rai::bnb4::load(c, f, prefix);
    });
}

rai_status rai_q4_state_save_bnb(rai_context *ctx, rai_safetensors_writer *writer, const char *prefix,
                                 const rai_q4_state *state, const rai_tensor *codes) {
    return guarded([&] {
        rai_context &c = deref(ctx, "ctx");
        rai_safetensors_writer &w = deref(writer, "writer");
        rai::require_not_null(prefix, "prefix");
        const rai_q4_state &s = deref(state, "state");
        std::lock_guard<std::mutex> lock(c.mutex);
        rai::bnb4::save(c, w, prefix, s, codes);
    });
}

}  // extern "C"
