// rai inspect on GGUF: header, metadata key/values and tensors with their ggml types (all of
// llama.cpp's, TQ1_0 / TQ2_0 included), read with rai's GGUF reader.
#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "host_tensor.h"
#include "inspect.h"
#include "json_text.h"

namespace {

// ggml_type names by number (ggml.h); removed ids are empty.
const char *ggml_type_name(int32_t t) {
    static const char *names[] = {"F32",     "F16",   "Q4_0", "Q4_1", "",       "",      "Q5_0",   "Q5_1",
                                  "Q8_0",    "Q8_1",  "Q2_K", "Q3_K", "Q4_K",   "Q5_K",  "Q6_K",   "Q8_K",
                                  "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
                                  "I8",      "I16",   "I32",  "I64",  "F64",    "IQ1_M", "BF16",   "",
                                  "",        "",      "TQ1_0", "TQ2_0", "",      "",      "",       "MXFP4"};
    const int32_t n = static_cast<int32_t>(sizeof names / sizeof names[0]);
    return t >= 0 && t < n && names[t][0] != '\0' ? names[t] : "unknown";
}

const char *value_type_name(int32_t t) {
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
    return t >= 0 && t <= 12 ? names[t] : "unknown";
}

size_t value_size(int32_t t) {
    switch (t) {
        case RAI_GGUF_TYPE_UINT8: case RAI_GGUF_TYPE_INT8: case RAI_GGUF_TYPE_BOOL: return 1;
        case RAI_GGUF_TYPE_UINT16: case RAI_GGUF_TYPE_INT16: return 2;
        case RAI_GGUF_TYPE_UINT32: case RAI_GGUF_TYPE_INT32: case RAI_GGUF_TYPE_FLOAT32: return 4;
        default: return 8;
    }
}

// One numeric value as JSON (non-finite floats become null, which JSON has no numbers for).
std::string number_json(int32_t type, const unsigned char *p) {
    char buf[64];
    auto rd = [&](auto v) {
        std::memcpy(&v, p, sizeof v);
        return v;
    };
    switch (type) {
        case RAI_GGUF_TYPE_UINT8: return std::to_string(rd(uint8_t{}));
        case RAI_GGUF_TYPE_INT8: return std::to_string(rd(int8_t{}));
        case RAI_GGUF_TYPE_UINT16: return std::to_string(rd(uint16_t{}));
        case RAI_GGUF_TYPE_INT16: return std::to_string(rd(int16_t{}));
        case RAI_GGUF_TYPE_UINT32: return std::to_string(rd(uint32_t{}));
        case RAI_GGUF_TYPE_INT32: return std::to_string(rd(int32_t{}));
        case RAI_GGUF_TYPE_UINT64: return std::to_string(rd(uint64_t{}));
        case RAI_GGUF_TYPE_INT64: return std::to_string(rd(int64_t{}));
        case RAI_GGUF_TYPE_BOOL: return rd(uint8_t{}) ? "true" : "false";
        case RAI_GGUF_TYPE_FLOAT32: {
            const float v = rd(float{});
            if (!std::isfinite(v)) return "null";
            std::snprintf(buf, sizeof buf, "%.9g", v);
            return buf;
        }
        default: {
            const double v = rd(double{});
            if (!std::isfinite(v)) return "null";
            std::snprintf(buf, sizeof buf, "%.17g", v);
            return buf;
        }
    }
}

// The value of entry i as JSON; text mode shows at most `limit` array elements.
std::string kv_json(const rai_gguf_reader *r, size_t i, const rai_gguf_kv_info &kv, size_t limit) {
    const bool is_array = kv.type == RAI_GGUF_TYPE_ARRAY;
    const int32_t elem = is_array ? kv.array_type : kv.type;
    const uint64_t count = is_array ? kv.count : 1;
    std::string out;
    const uint64_t shown = count < limit ? count : limit;
    for (uint64_t e = 0; e < shown; ++e) {
        if (e) out += ", ";
        if (elem == RAI_GGUF_TYPE_STRING) {
            const char *s = nullptr;
            size_t len = 0;
            rai_gguf_reader_kv_string(r, i, e, &s, &len);
            out += json_quote(std::string(s ? s : "", len));
        } else {
            out += number_json(elem, static_cast<const unsigned char *>(kv.data) + e * value_size(elem));
        }
    }
    if (!is_array) return out;
    if (shown < count) out += ", ... (" + std::to_string(count) + " elements)";
    return "[" + out + "]";
}

std::string shape_json(const rai_gguf_tensor_info &t) {
    std::string s = "[";
    for (int32_t d = 0; d < t.ndim; ++d) s += (d ? ", " : "") + std::to_string(t.shape[d]);
    return s + "]";
}

}  // namespace

int inspect_gguf(const char *path, bool json) {
    rai_gguf_reader *r = nullptr;
    const rai_status st = rai_gguf_reader_open(path, &r);
    if (st != RAI_OK) {
        std::fprintf(stderr, "rai inspect: %s\n", api_error(path, st).c_str());
        return 1;
    }
    std::unique_ptr<rai_gguf_reader, void (*)(rai_gguf_reader *)> guard(r, rai_gguf_reader_destroy);
    rai_gguf_file_info fi;
    rai_gguf_file_info_init(&fi);
    rai_gguf_reader_get_info(r, &fi);
    std::vector<rai_gguf_kv_info> kvs(fi.kv_count);
    for (uint64_t i = 0; i < fi.kv_count; ++i) {
        rai_gguf_kv_info_init(&kvs[i]);
        rai_gguf_reader_kv(r, i, &kvs[i]);
    }
    std::vector<rai_gguf_tensor_info> ts(fi.tensor_count);
    uint64_t total = 0;
    for (uint64_t i = 0; i < fi.tensor_count; ++i) {
        rai_gguf_tensor_info_init(&ts[i]);
        rai_gguf_reader_tensor(r, i, &ts[i]);
        total += ts[i].nbytes;
    }

    if (json) {
        std::string out = "{\"file\": " + json_quote(path) + ", \"format\": \"gguf\", \"version\": " +
                          std::to_string(fi.version) + ", \"alignment\": " + std::to_string(fi.alignment) +
                          ", \"data_offset\": " + std::to_string(fi.data_offset) +
                          ", \"file_size\": " + std::to_string(fi.file_size) + ", \"tensor_bytes\": " +
                          std::to_string(total) + ", \"metadata\": [";
        for (uint64_t i = 0; i < fi.kv_count; ++i) {
            const rai_gguf_kv_info &kv = kvs[i];
            out += std::string(i ? ", " : "") + "{\"key\": " + json_quote(kv.key) + ", \"type\": \"" +
                   value_type_name(kv.type) + "\"";
            if (kv.type == RAI_GGUF_TYPE_ARRAY) out += std::string(", \"array_type\": \"") + value_type_name(kv.array_type) + "\"";
            out += ", \"value\": " + kv_json(r, i, kv, SIZE_MAX) + "}";
        }
        out += "], \"tensors\": [";
        for (uint64_t i = 0; i < fi.tensor_count; ++i) {
            const rai_gguf_tensor_info &t = ts[i];
            out += std::string(i ? ", " : "") + "{\"name\": " + json_quote(t.name) + ", \"type\": \"" +
                   ggml_type_name(t.ggml_type) + "\", \"ggml_type\": " + std::to_string(t.ggml_type) +
                   ", \"shape\": " + shape_json(t) + ", \"offset\": " + std::to_string(t.offset) +
                   ", \"nbytes\": " + std::to_string(t.nbytes) + "}";
        }
        out += "]}\n";
        std::fputs(out.c_str(), stdout);
        return 0;
    }

    std::printf("%s: GGUF v%u, %" PRIu64 " metadata entries, %" PRIu64 " tensors, alignment %" PRIu64 ", %" PRIu64
                " bytes of tensor data, file %" PRIu64 " bytes\n",
                path, fi.version, fi.kv_count, fi.tensor_count, fi.alignment, total, fi.file_size);
    if (fi.kv_count) std::printf("metadata:\n");
    for (uint64_t i = 0; i < fi.kv_count; ++i) {
        const rai_gguf_kv_info &kv = kvs[i];
        const std::string type = kv.type == RAI_GGUF_TYPE_ARRAY ? std::string("array<") + value_type_name(kv.array_type) + ">"
                                                                : value_type_name(kv.type);
        std::printf("  %s (%s) = %s\n", kv.key, type.c_str(), kv_json(r, i, kv, 8).c_str());
    }
    size_t width = 4;
    for (const rai_gguf_tensor_info &t : ts) width = std::max(width, std::strlen(t.name));
    if (fi.tensor_count) std::printf("tensors:\n  %-*s  %-7s %-20s %s\n", static_cast<int>(width), "name", "type", "shape", "bytes");
    for (const rai_gguf_tensor_info &t : ts)
        std::printf("  %-*s  %-7s %-20s %" PRIu64 "\n", static_cast<int>(width), t.name, ggml_type_name(t.ggml_type),
                    shape_json(t).c_str(), t.nbytes);
    return 0;
}
