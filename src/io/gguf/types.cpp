// GGUF value types and ggml tensor types (ids, block sizes, bytes per block), as in ggml.c and
// gguf-py's GGML_QUANT_SIZES (checked against gguf 0.19.0).
#include "../../core/params.h"
#include "gguf.h"

namespace rai::gguf {

namespace {
constexpr GgmlType kTypes[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},      {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},      {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 40},
    {10, "Q2_K", 256, 84},    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74},
    {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},   {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},
    {22, "IQ2_S", 256, 82},   {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},        {29, "IQ1_M", 256, 56},
    {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},   {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},
    {40, "NVFP4", 64, 36},    {41, "Q1_0", 128, 18},
};
}  // namespace

const GgmlType *ggml_type(int32_t id) {
    for (const GgmlType &t : kTypes)
        if (t.id == id) return &t;
    return nullptr;
}

std::size_t value_size(int32_t type) {
    switch (type) {
    case RAI_GGUF_TYPE_UINT8:
    case RAI_GGUF_TYPE_INT8:
    case RAI_GGUF_TYPE_BOOL: return 1;
    case RAI_GGUF_TYPE_UINT16:
    case RAI_GGUF_TYPE_INT16: return 2;
    case RAI_GGUF_TYPE_UINT32:
    case RAI_GGUF_TYPE_INT32:
    case RAI_GGUF_TYPE_FLOAT32: return 4;
    case RAI_GGUF_TYPE_UINT64:
    case RAI_GGUF_TYPE_INT64:
    case RAI_GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

const char *value_type_name(int32_t type) {
    static const char *const kNames[] = {"UINT8", "INT8",  "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
                                         "BOOL",  "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"};
    return type >= 0 && type <= 12 ? kNames[type] : "unknown";
}

void init_file_info(rai_gguf_file_info *p, std::size_t size) {
    init_params(p, size, sizeof(rai_gguf_file_info), "info");
}
void init_kv_info(rai_gguf_kv_info *p, std::size_t size) { init_params(p, size, sizeof(rai_gguf_kv_info), "info"); }
void init_tensor_info(rai_gguf_tensor_info *p, std::size_t size) {
    init_params(p, size, sizeof(rai_gguf_tensor_info), "info");
}

}  // namespace rai::gguf
