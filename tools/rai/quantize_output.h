// The output side of `rai quantize`: one implementation per container and format. The command
// walks the input checkpoint and hands every tensor either to quantize() or to copy(), then
// save()s. Outputs write through temporary files renamed at the end (the C API's writers do),
// so a failure at any point leaves no output file.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rai.h"

struct QuantizeOptions {
    std::string format;        // nf4, fp4, nf4-dq, tq2_0, tq1_0, i2_s, bitnet
    int32_t blocksize = 0;     // 4-bit formats; 0 = 64
    int32_t granularity = -1;  // ternary formats; -1 = the format's default
    uint64_t group_size = 0;   // ternary GROUP granularity; 0 = the format's default
};

struct Quantized {
    std::vector<float> restored;  // the stored tensor dequantized (f32, row-major)
};

class QuantizeOutput {
public:
    virtual ~QuantizeOutput() = default;
    // "" when this format can store the tensor quantized, else the reason it cannot.
    virtual std::string cannot_hold(const rai_safetensors_tensor_info &info) const = 0;
    // Quantizes w (the view of tensor `info`, f32 / f16 / bf16) into the output.
    virtual bool quantize(rai_context *ctx, const rai_safetensors_tensor_info &info, const rai_tensor &w,
                          Quantized *out, std::string *why) = 0;
    // Stores the tensor unchanged (same dtype, shape and bytes where the container allows).
    virtual bool copy(const rai_safetensors_tensor_info &info, std::string *why) = 0;
    virtual bool set_metadata(const std::string &key, const std::string &value, std::string *why) = 0;
    virtual bool save(const char *path, std::string *why) = 0;
    // One line for the summary: "nf4, blocksize 64", "bitnet byte2, group 64", ...
    virtual std::string describe() const = 0;
};

// The formats `rai quantize` takes, for usage lines.
extern const char *const kQuantizeFormats;

// An output for options.format (a usage error, e.g. an unknown format or an option the format
// does not take, returns nullptr and *why).
std::unique_ptr<QuantizeOutput> make_quantize_output(const QuantizeOptions &options, std::string *why);

// The factories behind make_quantize_output, one per file.
std::unique_ptr<QuantizeOutput> make_q4_output(int32_t type, bool double_quant, int32_t blocksize);
std::unique_ptr<QuantizeOutput> make_ternary_safetensors_output(int32_t layout, const rai_bitnet_weight_params &p);
std::unique_ptr<QuantizeOutput> make_gguf_output(int32_t ggml_type, const rai_bitnet_weight_params &p);
