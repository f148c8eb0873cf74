// Built when MPI was not found: the MPI all-reduce reports that this build lacks it.
#include "../core/error.h"
#include "gc.h"

namespace rai::gc {

bool have_mpi() { return false; }

void allreduce_mpi(rai_gc &, uint32_t, rai_tensor *, void *, uint32_t) {
    throw Error(RAI_ERROR_UNSUPPORTED,
                "rai_gc_allreduce_mpi: this librai was built without MPI (install libopenmpi-dev and rebuild)");
}

}  // namespace rai::gc
