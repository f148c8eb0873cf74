// The "ternary/1" capability table of the CUDA plugin.
#include "ternary/cuda_ternary_abi.h"
#include "ternary_kernels.h"

namespace raicuda::ternary {

namespace {
const raicuda_ternary kTable = {
    sizeof(raicuda_ternary), t_zero,   t_binary,    t_permute, t_random, t_validate_int8, t_pack_int8,
    t_unpack_int8,           t_bundle, t_similarity, t_topk,
};
}  // namespace

const void *ternary_capability_v1() { return &kTable; }

}  // namespace raicuda::ternary
