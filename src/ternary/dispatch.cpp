// Run-time choice of the packed-trit kernel table (the one dispatch mechanism:
// rai::cpu::select_variant over the current CPU features and mask).
#include "cpu_features.h"
#include "kernels.h"

namespace rai::ternary {

namespace {
const cpu::Variant<const Kernels *> kTables[] = {
    {cpu::kAvx512Level | RAI_CPU_AVX512VPOPCNTDQ, "avx512", &kAvx512Kernels},
    {cpu::kAvx2Level, "avx2", &kAvx2Kernels},
    {0, "scalar", &kScalarKernels},
};
}  // namespace

const Kernels &kernels() { return *cpu::select_variant(kTables).fn; }

}  // namespace rai::ternary
