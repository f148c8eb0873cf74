// librai_mpi.so: the MPI primitives behind rai_gc_allreduce_mpi (see mpi_backend_abi.h). The only
// rai source that includes mpi.h or links libmpi; librai dlopens it on first use.
#define OMPI_SKIP_MPICXX 1  // the C API only
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <cstdio>
#include <cstring>

#include "mpi_backend_abi.h"
#include "rai.h"

namespace {

MPI_Comm comm_of(const void *comm) { return *static_cast<const MPI_Comm *>(comm); }

int fail(int rc, const char *what, raimpi_err *err) {
    if (rc == MPI_SUCCESS) return 0;
    char text[MPI_MAX_ERROR_STRING] = {0};
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) std::snprintf(text, sizeof text, "MPI error %d", rc);
    std::snprintf(err->message, sizeof err->message, "%s failed: %s", what, text);
    return RAI_ERROR_BACKEND;
}

int comm_size(const void *comm, int *size, raimpi_err *err) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized) {
        std::snprintf(err->message, sizeof err->message, "mpi_comm: MPI is not initialised (or finalised)");
        return RAI_ERROR_INVALID_ARGUMENT;
    }
    if (comm_of(comm) == MPI_COMM_NULL) {
        std::snprintf(err->message, sizeof err->message, "mpi_comm: MPI_COMM_NULL");
        return RAI_ERROR_INVALID_ARGUMENT;
    }
    return fail(MPI_Comm_size(comm_of(comm), size), "MPI_Comm_size", err);
}

int allreduce_sum_f32(const void *comm, float *data, int count, raimpi_err *err) {
    return fail(MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, comm_of(comm)), "MPI_Allreduce", err);
}

int allgather_int(const void *comm, int value, int *out, raimpi_err *err) {
    return fail(MPI_Allgather(&value, 1, MPI_INT, out, 1, MPI_INT, comm_of(comm)), "MPI_Allgather", err);
}

int allgatherv_bytes(const void *comm, const void *send, int len, void *recv, const int *lens, const int *displs,
                     raimpi_err *err) {
    return fail(MPI_Allgatherv(send, len, MPI_BYTE, recv, lens, displs, MPI_BYTE, comm_of(comm)), "MPI_Allgatherv",
                err);
}

const char *library_version() {
    static char text[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
    int len = 0;
    if (text[0] == '\0' && MPI_Get_library_version(text, &len) != MPI_SUCCESS) std::strcpy(text, "unknown MPI");
    return text;
}

const raimpi_backend kBackend = {
    RAIMPI_BACKEND_ABI, sizeof(raimpi_backend), comm_size, allreduce_sum_f32, allgather_int, allgatherv_bytes,
    library_version,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const raimpi_backend *raimpi_backend_entry(void) {
    return &kBackend;
}
