// bitnet / i2_s: BitNet b1.58 absmean ternarization stored in rai's safetensors container for
// ternary weights (keys in ternary_state.h and docs/cli.md): BYTE2 codes + f32 scales for
// "bitnet", bitnet.cpp's I2_S bytes (tensor scale inside) for "i2_s".
#include <cstring>

#include "safetensors_output.h"
#include "ternarize.h"
#include "ternary_state.h"

namespace {

class TernarySafetensorsOutput : public SafetensorsOutput {
public:
    TernarySafetensorsOutput(int32_t layout, const rai_bitnet_weight_params &p) : layout_(layout), params_(p) {}

    std::string describe() const override {
        return std::string(layout_ == RAI_TERNARY_LAYOUT_I2_S ? "i2_s (bitnet.cpp x86 layout)" : "bitnet (BYTE2 codes)") +
               ", " + describe_granularity(params_) + ", rai ternary safetensors keys";
    }

    std::string cannot_hold(const rai_safetensors_tensor_info &info) const override {
        std::string why = ternary_shape_problem(info, params_);
        if (why.empty() && layout_ == RAI_TERNARY_LAYOUT_I2_S && (info.shape[0] * info.shape[1]) % 128 != 0)
            why = "I2_S needs out * in to be a multiple of 128 (got " + std::to_string(info.shape[0] * info.shape[1]) + ")";
        return why;
    }

    bool quantize(rai_context *ctx, const rai_safetensors_tensor_info &info, const rai_tensor &w, Quantized *out,
                  std::string *why) override {
        const std::string name = info.name;
        const int64_t rows = info.shape[0], cols = info.shape[1];
        Ternary tern;
        if (!ternarize(ctx, params_, w, &tern, why)) return (*why = name + ": " + *why, false);
        size_t bytes = 0;
        rai_ternary_packed_size(layout_, static_cast<size_t>(rows), static_cast<size_t>(cols), &bytes);
        const bool i2s = layout_ == RAI_TERNARY_LAYOUT_I2_S;
        HostTensor packed(i2s ? std::vector<int64_t>{static_cast<int64_t>(bytes)}
                              : std::vector<int64_t>{rows, static_cast<int64_t>(bytes) / rows},
                          dtype_u8());
        const rai_status st = rai_ternary_pack(layout_, &tern.trits->t, i2s ? &tern.scales->t : nullptr, &packed.t);
        if (st != RAI_OK) return (*why = api_error(name, st), false);

        TernaryState state;
        state.layout = i2s ? "i2_s" : "byte2";
        state.out = rows, state.in = cols;
        state.dtype = torch_dtype_name(info.dtype);
        state.granularity = granularity_name(params_.granularity);
        state.group_size = params_.granularity == RAI_BITNET_GRANULARITY_GROUP ? (params_.group_size ? params_.group_size : 64)
                                                                               : static_cast<uint64_t>(cols);
        const std::string json = ternary_state_json(state);
        HostTensor blob({static_cast<int64_t>(json.size())}, dtype_u8());
        std::memcpy(blob.bytes.data(), json.data(), json.size());

        if (!add(name, packed.t, why) || (!i2s && !add(name + kTernaryScaleSuffix, tern.scales->t, why)) ||
            !add(name + kTernaryStateSuffix, blob.t, why))
            return false;
        // I2_S carries its scale: unpack it from the bytes; BYTE2 uses the stored scales.
        if (!restore_packed(ctx, layout_, packed, rows, cols, i2s ? std::vector<int64_t>{1} : std::vector<int64_t>{},
                            &tern.scales->t, &out->restored, why))
            return (*why = name + ": " + *why, false);
        return true;
    }

private:
    int32_t layout_;
    rai_bitnet_weight_params params_;
};

}  // namespace

std::unique_ptr<QuantizeOutput> make_ternary_safetensors_output(int32_t layout, const rai_bitnet_weight_params &p) {
    return std::make_unique<TernarySafetensorsOutput>(layout, p);
}
