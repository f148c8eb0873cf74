/* The table of MPI primitives the MPI plugin (librai_mpi.so) gives librai. librai never links
 * libmpi: a program that does not use rai_gc_allreduce_mpi never loads MPI, and librai built
 * on a machine with OpenMPI still loads where OpenMPI is absent. The compressed all-reduce
 * algorithm stays in librai (gc_mpi.cpp); the plugin only moves bytes.
 *
 * `comm` is the caller's `MPI_Comm *` as passed to rai_gc_allreduce_mpi. Every function returns
 * 0 or a rai_status and on failure writes a message (naming the MPI call and MPI's own text)
 * into `err`. The plugin must be built against the same MPI as the caller's program. */
#ifndef RAI_MPI_BACKEND_ABI_H
#define RAI_MPI_BACKEND_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RAIMPI_BACKEND_ABI 1
#define RAIMPI_ENTRY_SYMBOL "raimpi_backend_entry"

typedef struct raimpi_err {
    char message[512];
} raimpi_err;

typedef struct raimpi_backend {
    uint32_t abi_version; /* RAIMPI_BACKEND_ABI */
    uint32_t struct_size; /* sizeof(raimpi_backend) as the plugin was built */
    /* Checks that MPI is initialised, not finalised and comm is not MPI_COMM_NULL (else
     * RAI_ERROR_INVALID_ARGUMENT), then gives the communicator's size. */
    int (*comm_size)(const void *comm, int *size, raimpi_err *err);
    /* In-place MPI_Allreduce(MPI_SUM) of `count` floats. */
    int (*allreduce_sum_f32)(const void *comm, float *data, int count, raimpi_err *err);
    /* MPI_Allgather of one int per rank into out[size]. */
    int (*allgather_int)(const void *comm, int value, int *out, raimpi_err *err);
    /* MPI_Allgatherv of bytes: rank r's `len` bytes land at recv + displs[r]. */
    int (*allgatherv_bytes)(const void *comm, const void *send, int len, void *recv, const int *lens,
                            const int *displs, raimpi_err *err);
    /* The MPI library's version string (MPI_Get_library_version), for diagnostics. */
    const char *(*library_version)(void);
} raimpi_backend;

typedef const raimpi_backend *(*raimpi_backend_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
