// tq1_0 / tq2_0: a GGUF file (llama.cpp's format). Selected weights are ternarized with BitNet
// absmean scales (one per 256-column block at most, what TQ1_0 / TQ2_0 hold) and stored
// losslessly with rai_gguf_writer_add_ternary (scales rounded to f16 as llama.cpp stores them);
// other tensors keep their values in the GGUF type of their dtype.
#include "host_tensor.h"
#include "quantize_output.h"
#include "ternarize.h"

namespace {

// The GGUF tensor type that holds a dtype's values unchanged, or -1.
int32_t ggml_type_for(const rai_dtype &d) {
    if (d.code == RAI_DTYPE_FLOAT && d.bits == 32) return RAI_GGML_TYPE_F32;
    if (d.code == RAI_DTYPE_FLOAT && d.bits == 16) return RAI_GGML_TYPE_F16;
    if (d.code == RAI_DTYPE_BFLOAT && d.bits == 16) return RAI_GGML_TYPE_BF16;
    if (d.code == RAI_DTYPE_FLOAT && d.bits == 64) return RAI_GGML_TYPE_F64;
    if (d.code == RAI_DTYPE_INT && d.bits == 8) return RAI_GGML_TYPE_I8;
    if (d.code == RAI_DTYPE_INT && d.bits == 32) return RAI_GGML_TYPE_I32;
    if (d.code == RAI_DTYPE_INT && d.bits == 64) return RAI_GGML_TYPE_I64;
    return -1;
}

class GgufOutput : public QuantizeOutput {
public:
    GgufOutput(int32_t ggml_type, const rai_bitnet_weight_params &p) : type_(ggml_type), params_(p) {
        rai_gguf_writer_create(&writer_);
    }
    ~GgufOutput() override { rai_gguf_writer_destroy(writer_); }
    GgufOutput(const GgufOutput &) = delete;
    GgufOutput &operator=(const GgufOutput &) = delete;

    std::string describe() const override {
        return std::string(type_ == RAI_GGML_TYPE_TQ1_0 ? "tq1_0" : "tq2_0") + " GGUF, BitNet " +
               describe_granularity(params_) + " (stored as f16)";
    }

    std::string cannot_hold(const rai_safetensors_tensor_info &info) const override {
        if (info.ndim == 2 && info.shape[1] % 256 != 0)
            return std::string(type_ == RAI_GGML_TYPE_TQ1_0 ? "TQ1_0" : "TQ2_0") +
                   " needs in to be a multiple of 256 (got " + std::to_string(info.shape[1]) + ")";
        return ternary_shape_problem(info, params_);
    }

    bool quantize(rai_context *ctx, const rai_safetensors_tensor_info &info, const rai_tensor &w, Quantized *out,
                  std::string *why) override {
        const int64_t rows = info.shape[0], cols = info.shape[1];
        Ternary tern;
        if (!ternarize(ctx, params_, w, &tern, why)) return (*why = std::string(info.name) + ": " + *why, false);
        rai_status st = rai_gguf_writer_add_ternary(writer_, info.name, type_, &tern.trits->t, &tern.scales->t, 0);
        if (st != RAI_OK) return (*why = api_error(info.name, st), false);
        // The same bytes in memory, unpacked: the trits and the f16-rounded block scales a GGUF
        // reader gets back.
        const int32_t layout = type_ == RAI_GGML_TYPE_TQ1_0 ? RAI_TERNARY_LAYOUT_TQ1_0 : RAI_TERNARY_LAYOUT_TQ2_0;
        size_t bytes = 0;
        rai_ternary_packed_size(layout, static_cast<size_t>(rows), static_cast<size_t>(cols), &bytes);
        HostTensor packed({static_cast<int64_t>(bytes)}, dtype_u8());
        st = rai_ternary_pack(layout, &tern.trits->t, &tern.scales->t, &packed.t);
        if (st != RAI_OK) return (*why = api_error(info.name, st), false);
        if (!restore_packed(ctx, layout, packed, rows, cols, {rows, cols / 256}, nullptr, &out->restored, why))
            return (*why = std::string(info.name) + ": " + *why, false);
        return true;
    }

    bool copy(const rai_safetensors_tensor_info &info, std::string *why) override {
        const int32_t type = ggml_type_for(info.dtype);
        if (type < 0) {
            *why = std::string(info.name) + ": dtype " + info.dtype_name + " has no GGUF tensor type";
            return false;
        }
        rai_tensor t{};
        t.data = const_cast<void *>(info.data);
        t.device = {RAI_DEVICE_CPU, 0};
        t.ndim = info.ndim;
        t.dtype = info.dtype;
        t.shape = info.shape;
        const rai_status st = rai_gguf_writer_add_tensor(writer_, info.name, &t, type);
        return st == RAI_OK || (*why = api_error(info.name, st), false);
    }

    bool set_metadata(const std::string &key, const std::string &value, std::string *why) override {
        const rai_status st = rai_gguf_writer_add_kv_string(writer_, key.c_str(), value.c_str());
        return st == RAI_OK || (*why = api_error("metadata \"" + key + "\"", st), false);
    }

    bool save(const char *path, std::string *why) override {
        const rai_status st = rai_gguf_writer_write(writer_, path);
        return st == RAI_OK || (*why = api_error(path, st), false);
    }

private:
    int32_t type_;
    rai_bitnet_weight_params params_;
    rai_gguf_writer *writer_ = nullptr;
};

}  // namespace

std::unique_ptr<QuantizeOutput> make_gguf_output(int32_t ggml_type, const rai_bitnet_weight_params &p) {
    return std::make_unique<GgufOutput>(ggml_type, p);
}
