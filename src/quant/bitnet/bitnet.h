// BitNet b1.58 internals: weight and activation quantization, ternary layouts, the prepared
// weight and its GEMM, BitLinear. The C ABI (src/abi/bitnet_abi.cpp) calls the tensor-level
// functions below; they validate every tensor with TensorCheck and throw rai::Error.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../../core/context.h"
#include "../../core/tensor_check.h"
#include "cuda_bitnet_abi.h"
#include "rai.h"

namespace rai::bitnet {

// ------------------------------------------------------------------ scale granularity

enum class Gran : int32_t { Group = RAI_BITNET_GRANULARITY_GROUP, Row = RAI_BITNET_GRANULARITY_ROW, Tensor = RAI_BITNET_GRANULARITY_TENSOR };

// Where the scale of weight element (r, c) lives, for a [rows, cols] weight.
struct ScaleMap {
    Gran gran = Gran::Tensor;
    int64_t rows = 0, cols = 0;
    int64_t group = 0;  // columns per scale (cols for Row and Tensor)

    int64_t per_row() const { return gran == Gran::Group ? (group > 0 ? cols / group : 0) : 1; }
    int64_t count() const { return gran == Gran::Tensor ? 1 : (gran == Gran::Row ? rows : rows * per_row()); }
    // Index of the scale of row r, group g (g < per_row()).
    int64_t index(int64_t r, int64_t g) const {
        return gran == Gran::Tensor ? 0 : (gran == Gran::Row ? r : r * per_row() + g);
    }
    std::vector<int64_t> shape() const {
        if (gran == Gran::Tensor) return {1};
        if (gran == Gran::Row) return {rows};
        return {rows, per_row()};
    }
};

// Infers the granularity from a scale tensor's shape ([1], [rows], [rows, G]) for a
// [rows, cols] weight; throws SHAPE_MISMATCH naming `name` otherwise. Checks dtype f32 and
// contiguity, not the device.
ScaleMap scale_map_from(TensorCheck &scales, int64_t rows, int64_t cols, const char *name);

// ------------------------------------------------------------------ parameters

struct WeightQuant {
    Gran gran = Gran::Group;
    int64_t group = 64;
    int32_t eps_mode = RAI_BITNET_EPS_RUST;
    int32_t round_mode = RAI_BITNET_ROUND_HALF_AWAY;
    float eps = 1e-5f;
};
// Validated copy of the caller's params (NULL = defaults); `cols` checks the group.
WeightQuant weight_quant_from(const rai_bitnet_weight_params *p, int64_t cols);

struct ActQuant {
    int32_t bits = 8;
    int32_t qmax = 127;
    int32_t scale_mode = RAI_BITNET_ACT_RUST;
    int32_t round_mode = RAI_BITNET_ROUND_HALF_AWAY;
    bool per_tensor = false;
    float eps = 1e-5f;
};
ActQuant act_quant_from(const rai_bitnet_act_params *p);

void init_weight_params(rai_bitnet_weight_params *p, std::size_t size);
void init_act_params(rai_bitnet_act_params *p, std::size_t size);
void init_weight_info(rai_ternary_weight_info *p, std::size_t size);

inline float round_with(float v, int32_t mode) {
    return mode == RAI_BITNET_ROUND_HALF_EVEN ? std::nearbyint(v) : std::round(v);
}
inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// ------------------------------------------------------------------ reference quantizers (raw)

// trits and scales (q.count() of them) of a row-major [rows, cols] f32 weight.
void quantize_weights_raw(const WeightQuant &q, const float *w, int64_t rows, int64_t cols, int8_t *trits,
                          float *scales);
// Per token (or per tensor) absmax quantization of [tokens, hidden]; scales has tokens
// entries (or 1 with per_tensor). Throws INVALID_ARGUMENT on a non-finite value.
void quantize_act_raw(const ActQuant &q, const float *x, int64_t tokens, int64_t hidden, int8_t *out,
                      float *scales);
// The quantization of one token with a known absmax (shared by the CPU paths).
void quantize_act_row(const ActQuant &q, const float *x, int64_t hidden, float absmax, int8_t *out, float *scale);
// Fixed-order RMS of one row: 256 strided double partial sums, tree-reduced; returns the f32
// factor 1/sqrt(mean + eps) computed in double. The CUDA kernel uses the same order.
float rms_inverse(const float *x, int64_t hidden, float norm_eps);

// ------------------------------------------------------------------ tensor-level operations

void quantize_weights(rai_context &ctx, const rai_bitnet_weight_params *params, const rai_tensor *w,
                      const rai_tensor *trits, const rai_tensor *scales);
void dequantize_weights(rai_context &ctx, const rai_tensor *trits, const rai_tensor *scales, const rai_tensor *w);
void quantize_activations(rai_context &ctx, const rai_bitnet_act_params *params, const rai_tensor *x,
                          const rai_tensor *q, const rai_tensor *scales);
void dequantize_activations(rai_context &ctx, const rai_bitnet_act_params *params, const rai_tensor *q,
                            const rai_tensor *scales, const rai_tensor *x);
void rmsnorm_quantize(rai_context &ctx, const rai_bitnet_act_params *params, const rai_tensor *x,
                      const rai_tensor *gamma, float norm_eps, const rai_tensor *q, const rai_tensor *scales);
void ste_forward(rai_context &ctx, const rai_tensor *x, float scale, float lo, float hi, int32_t round_mode,
                 const rai_tensor *y);
void ste_backward(rai_context &ctx, const rai_tensor *grad_y, const rai_tensor *grad_x);

// ------------------------------------------------------------------ layouts

std::size_t packed_size(int32_t layout, int64_t rows, int64_t cols);
void pack(int32_t layout, const rai_tensor *trits, const rai_tensor *scales, const rai_tensor *packed);
void unpack(int32_t layout, const rai_tensor *packed, const rai_tensor *trits, const rai_tensor *scales);
void quantize_tq(int32_t layout, const rai_tensor *x, const rai_tensor *packed);

// Raw TQ helpers (also used by the GGUF code). n is a multiple of 256; d holds one f16 per block.
constexpr int64_t kTqBlock = 256;
constexpr std::size_t kTq1Bytes = 54;
constexpr std::size_t kTq2Bytes = 66;
std::size_t tq_block_bytes(int32_t layout);
void tq_pack_raw(int32_t layout, const int8_t *trits, const uint16_t *d, int64_t n, uint8_t *out);
// Decodes trits and f16 block scales; throws FORMAT naming `what` for a TQ2_0 code 3.
void tq_unpack_raw(int32_t layout, const uint8_t *in, int64_t n, int8_t *trits, uint16_t *d, const std::string &what);
// llama.cpp quantize_row_tq*_0_ref.
void tq_quantize_raw(int32_t layout, const float *x, int64_t n, uint8_t *out);
// llama.cpp dequantize_row_tq*_0: d * (digit - 1); TQ2_0 code 3 gives 2 * d as llama.cpp does.
void tq_dequantize_raw(int32_t layout, const uint8_t *in, int64_t n, float *out);
// Per 256-block f16 scales from any granularity; throws UNSUPPORTED naming `what` when the
// scale is not constant within a block, OUT_OF_RANGE when it does not fit f16.
std::vector<uint16_t> tq_block_scales(const ScaleMap &map, const float *scales, const std::string &what);

// Checks that every value is -1, 0 or +1; throws INVALID_ARGUMENT naming `name` and the index.
void check_trits(const int8_t *t, int64_t rows, int64_t cols, const char *name);

// Functions without a context take host memory (CPU or CUDA_HOST); a device tensor is
// DEVICE_MISMATCH naming the argument.
void require_host(const TensorCheck &t, const char *name);

// The plugin's BitNet table (throws NO_DEVICE / UNSUPPORTED), and running one of its calls.
const raicuda_bitnet_v1 &cuda_table();
// The context's stream and ordinal for plugin calls.
inline int32_t ordinal(const rai_context &ctx) { return ctx.device.device_id; }

}  // namespace rai::bitnet
