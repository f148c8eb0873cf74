// nf4 / fp4 / nf4-dq: bitsandbytes Linear4bit keys in safetensors (rai_q4_quantize, then
// rai_q4_state_save_bnb writes weight, weight.absmax, weight.quant_map, the nested keys and
// weight.quant_state.bitsandbytes__nf4 / __fp4 exactly as bitsandbytes does).
#include <cstring>

#include "safetensors_output.h"

namespace {

bool ends_with(const std::string &s, const char *suffix) {
    const size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

class Q4Output : public SafetensorsOutput {
public:
    Q4Output(int32_t type, bool double_quant, int32_t blocksize) {
        rai_q4_params_init(&params_);
        params_.type = type;
        params_.double_quant = double_quant ? 1 : 0;
        params_.blocksize = blocksize;
    }

    std::string describe() const override {
        return std::string(params_.type == RAI_Q4_FP4 ? "fp4" : "nf4") + (params_.double_quant ? " double-quant" : "") +
               ", blocksize " + std::to_string(params_.blocksize == 0 ? 64 : params_.blocksize) +
               ", bitsandbytes keys";
    }

    std::string cannot_hold(const rai_safetensors_tensor_info &info) const override {
        // bitsandbytes keys are "<module>.weight" plus suffixes: the codes replace the weight.
        if (!ends_with(info.name, ".weight")) return "bitsandbytes 4-bit keys need a name ending in \".weight\"";
        if (info.ndim < 1 || info.ndim > RAI_Q4_MAX_DIMS) return "4-bit weights have 1 to 8 dimensions";
        for (int32_t d = 0; d < info.ndim; ++d)
            if (info.shape[d] == 0) return "the tensor is empty";
        return "";
    }

    bool quantize(rai_context *ctx, const rai_safetensors_tensor_info &info, const rai_tensor &w, Quantized *out,
                  std::string *why) override {
        const std::string name = info.name;
        HostTensor restored(std::vector<int64_t>(info.shape, info.shape + info.ndim), dtype_f32());
        uint64_t code_bytes = 0;
        rai_q4_codes_size(static_cast<int64_t>(restored.numel()), &code_bytes);
        HostTensor codes({static_cast<int64_t>(code_bytes)}, dtype_u8());
        rai_q4_state *state = nullptr;
        rai_status st = rai_q4_quantize(ctx, &params_, &w, &codes.t, &state);
        if (st == RAI_OK) st = rai_q4_state_save_bnb(ctx, writer_, name.substr(0, name.size() - 7).c_str(), state, &codes.t);
        // Dequantized from the state and codes that were written, for the reconstruction error.
        if (st == RAI_OK) st = rai_q4_dequantize(ctx, state, &codes.t, &restored.t);
        rai_q4_state_destroy(state);
        if (st != RAI_OK) {
            *why = api_error(name, st);
            return false;
        }
        const float *r = restored.as<float>();
        out->restored.assign(r, r + restored.numel());
        return true;
    }

private:
    rai_q4_params params_;
};

}  // namespace

std::unique_ptr<QuantizeOutput> make_q4_output(int32_t type, bool double_quant, int32_t blocksize) {
    return std::make_unique<Q4Output>(type, double_quant, blocksize);
}
