/*
 * rai.h: the one public header of librai.
 *
 * Conventions (see docs/abi.md):
 *  - Every fallible function returns rai_status (RAI_OK == 0). Details of the last error on the
 *    calling thread: rai_last_error_message(). Out-handles are NULL on failure.
 *  - Handles are opaque: rai_x_create(params or NULL, &out) / rai_x_destroy(x) (NULL-safe).
 *  - Params structs start with uint32_t struct_size (the caller's sizeof); zero fields mean
 *    default; fields are only ever appended. rai_x_params_init(p) fills the defaults.
 *  - Buffers belong to the caller and are never kept after a call unless the function says it
 *    borrows them. Memory rai hands out is released with rai_free().
 *  - The device of every tensor is explicit; rai never copies between devices implicitly.
 *  - Thread safety: global functions (version, status, logging, device queries, CPU features)
 *    are thread-safe. A rai_context serialises calls made on it: concurrent calls are safe but
 *    not parallel. Different contexts run in parallel.
 *  - GPU work is queued on the context's stream; functions that return host values synchronise.
 *
 * The header compiles as C11 (-pedantic -Werror) and as C++.
 */
#ifndef RAI_H
#define RAI_H

#include <stddef.h>
#include <stdint.h>

#ifndef RAI_API
#  if defined(_WIN32) && !defined(RAI_STATIC)
#    ifdef RAI_BUILDING_LIBRARY
#      define RAI_API __declspec(dllexport)
#    else
#      define RAI_API __declspec(dllimport)
#    endif
#  elif defined(__GNUC__) || defined(__clang__)
#    define RAI_API __attribute__((visibility("default")))
#  else
#    define RAI_API
#  endif
#endif

#ifndef RAI_DEPRECATED
#  if defined(__GNUC__) || defined(__clang__)
#    define RAI_DEPRECATED(msg) __attribute__((deprecated(msg)))
#  else
#    define RAI_DEPRECATED(msg)
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- version */

#define RAI_VERSION_MAJOR 0
#define RAI_VERSION_MINOR 1
#define RAI_VERSION_PATCH 0
/* MAJOR*10000 + MINOR*100 + PATCH, as in zstd. */
#define RAI_VERSION_NUMBER 100
#define RAI_VERSION_STRING "0.1.0"

/* The version of the library actually loaded. During 0.x the minor is ABI-relevant: a caller
 * compares rai_version_number()/100 with RAI_VERSION_NUMBER/100. */
RAI_API uint32_t rai_version_number(void);
RAI_API const char *rai_version_string(void);
/* Static text: compiler, CUDA plugin state, SASS architectures, CPU dispatch level. */
RAI_API const char *rai_build_info(void);

/* ----------------------------------------------------------------- status */

/* Append-only; values are never renumbered. */
typedef enum rai_status {
    RAI_OK = 0,
    RAI_ERROR_INVALID_ARGUMENT = 1,  /* NULL where a value is needed, value out of range */
    RAI_ERROR_OUT_OF_MEMORY = 2,     /* host or device allocation failed */
    RAI_ERROR_NO_DEVICE = 3,         /* the requested device does not exist or cannot be used */
    RAI_ERROR_BACKEND = 4,           /* CUDA / cuBLASLt / driver reported an error */
    RAI_ERROR_UNSUPPORTED = 5,       /* valid request this build or device cannot do */
    RAI_ERROR_BUFFER_TOO_SMALL = 6,  /* output capacity too small; the needed size is returned */
    RAI_ERROR_CANCELLED = 7,
    RAI_ERROR_INTERNAL = 8,          /* a bug in rai: please report it */
    RAI_ERROR_SHAPE_MISMATCH = 9,    /* tensor shapes disagree with each other or the operation */
    RAI_ERROR_DTYPE_MISMATCH = 10,   /* tensor dtype is not the one the operation takes */
    RAI_ERROR_DEVICE_MISMATCH = 11,  /* tensor lives on another device than the context */
    RAI_ERROR_LAYOUT = 12,           /* strides/alignment the operation cannot take */
    RAI_ERROR_STRUCT_SIZE = 13,      /* params struct_size smaller than any released layout */
    RAI_ERROR_IO = 14,               /* file could not be opened, read or written */
    RAI_ERROR_FORMAT = 15,           /* file or message contents are malformed */
    RAI_ERROR_OUT_OF_RANGE = 16      /* a value does not fit the target representation */
} rai_status;

/* Static English name of a status ("invalid argument"); never NULL. */
RAI_API const char *rai_status_string(rai_status status);
/* Detail of the last failed call on this thread ("" if none). Valid until the next rai call on
 * the same thread. Bindings fetch it on the same OS thread, right after the failing call. */
RAI_API const char *rai_last_error_message(void);

/* Releases memory that rai handed out (for example rai_system_info_json). NULL-safe. */
RAI_API void rai_free(void *ptr);

/* ---------------------------------------------------------------- logging */

typedef enum rai_log_level {
    RAI_LOG_DEBUG = 0,
    RAI_LOG_INFO = 1,
    RAI_LOG_WARN = 2,
    RAI_LOG_ERROR = 3,
    RAI_LOG_OFF = 4
} rai_log_level;

/* Receives every record at or above the level. May run on any thread; must not call into rai.
 * The message is valid only during the call. */
typedef void (*rai_log_callback)(int32_t level, const char *message, void *user_data);

/* Global and thread-safe. NULL removes the callback: rai then prints nothing at all. */
RAI_API void rai_set_log_callback(rai_log_callback callback, void *user_data);
/* Default RAI_LOG_WARN. Out-of-range levels: RAI_ERROR_INVALID_ARGUMENT. */
RAI_API rai_status rai_set_log_level(int32_t level);
RAI_API int32_t rai_get_log_level(void);

/* ---------------------------------------------------------------- devices */

/* Device types, with DLPack's DLDeviceType values. */
typedef enum rai_device_type {
    RAI_DEVICE_AUTO = 0, /* only in rai_context_params: CUDA when usable, else CPU */
    RAI_DEVICE_CPU = 1,
    RAI_DEVICE_CUDA = 2,
    RAI_DEVICE_CUDA_HOST = 3 /* pinned host memory: accepted wherever CPU memory is */
} rai_device_type;

/* Mirrors DLPack's DLDevice. */
typedef struct rai_device {
    int32_t device_type; /* rai_device_type */
    int32_t device_id;
} rai_device;

/* Number of usable CUDA devices; 0 (and RAI_OK) when the plugin, the driver or a GPU is
 * missing. Loads the CUDA plugin on first use. */
RAI_API rai_status rai_cuda_device_count(int32_t *count);

typedef struct rai_device_info {
    uint32_t struct_size;
    char name[256];
    int32_t compute_capability_major;
    int32_t compute_capability_minor;
    int32_t multiprocessor_count;
    int32_t reserved0;
    uint64_t total_memory_bytes;
    uint64_t free_memory_bytes;
    uint64_t l2_cache_bytes;
} rai_device_info;

RAI_API rai_status rai_device_info_init_sized(rai_device_info *info, size_t struct_size);
/* Fills info for CUDA device `ordinal`. RAI_ERROR_NO_DEVICE when it does not exist. */
RAI_API rai_status rai_cuda_device_info(int32_t ordinal, rai_device_info *info);

/* 1 if the CUDA plugin (librai_cuda.so) is loaded and found a driver, else 0. Triggers the
 * load. rai_cuda_plugin_status() says where it came from or why it did not load (static text,
 * valid for the life of the process). */
RAI_API int32_t rai_cuda_plugin_loaded(void);
RAI_API const char *rai_cuda_plugin_status(void);

/* CPU features rai can use, as RAI_CPU_* bits. */
#define RAI_CPU_POPCNT 0x1u
#define RAI_CPU_AVX2 0x2u
#define RAI_CPU_FMA 0x4u
#define RAI_CPU_F16C 0x8u
#define RAI_CPU_AVX512F 0x10u
#define RAI_CPU_AVX512BW 0x20u
#define RAI_CPU_AVX512VL 0x40u
#define RAI_CPU_AVX512VNNI 0x80u
#define RAI_CPU_AVX512VPOPCNTDQ 0x100u
#define RAI_CPU_AVXVNNI 0x200u
#define RAI_CPU_AVX512BF16 0x400u

/* What this CPU (and OS) supports. */
RAI_API uint64_t rai_cpu_features_detected(void);
/* What kernels may use: detected & mask. Every CPU kernel dispatches on this value, so the
 * mask selects the backend (0 = scalar reference). Global and thread-safe; the environment
 * variable RAI_CPU_MASK (hex) sets the initial mask. */
RAI_API uint64_t rai_cpu_features(void);
RAI_API void rai_cpu_set_feature_mask(uint64_t mask);
/* Name of the widest kernel level the current features select: "scalar", "avx2", "avx512". */
RAI_API const char *rai_cpu_dispatch_level(void);
/* Static name of one RAI_CPU_* bit ("avx2"), or NULL for an unknown bit. */
RAI_API const char *rai_cpu_feature_name(uint64_t feature_bit);

/* JSON describing version, build, CPU and devices; release with rai_free. */
RAI_API rai_status rai_system_info_json(char **out_json);

/* ---------------------------------------------------------------- context */

typedef struct rai_context rai_context;

#define RAI_CONTEXT_STRICT 0x1u     /* fail with RAI_ERROR_NO_DEVICE instead of falling back */
#define RAI_CONTEXT_IGNORE_ENV 0x2u /* do not let RAI_DEVICE override the params */

typedef struct rai_context_params {
    uint32_t struct_size;
    int32_t device_type;  /* rai_device_type; 0 = AUTO */
    int32_t device_id;    /* CUDA ordinal */
    uint32_t flags;       /* RAI_CONTEXT_* */
    void *stream;         /* a cudaStream_t to adopt (borrowed, must outlive the context);
                             NULL = the context creates and owns its own stream */
} rai_context_params;

RAI_API rai_status rai_context_params_init_sized(rai_context_params *params, size_t struct_size);

/* Device choice: the environment variable RAI_DEVICE=cpu|cuda|cuda:N overrides the params
 * unless RAI_CONTEXT_IGNORE_ENV. AUTO takes CUDA device `device_id` when usable, else the CPU
 * with one warning per process through the log. An unusable CUDA request falls back to the CPU
 * the same way, or fails with RAI_ERROR_NO_DEVICE when RAI_CONTEXT_STRICT is set. */
RAI_API rai_status rai_context_create(const rai_context_params *params, rai_context **out);
RAI_API void rai_context_destroy(rai_context *ctx);
RAI_API rai_status rai_context_device(const rai_context *ctx, rai_device *out);
/* The cudaStream_t work is queued on (NULL on the CPU). */
RAI_API rai_status rai_context_stream(const rai_context *ctx, void **out_stream);
/* Adopts a caller's stream (borrowed) or, with NULL, returns to the context's own stream.
 * Work already queued is synchronised first. RAI_ERROR_UNSUPPORTED on a CPU context. */
RAI_API rai_status rai_context_set_stream(rai_context *ctx, void *stream);
/* Waits for all work queued on the context's stream. */
RAI_API rai_status rai_context_synchronize(rai_context *ctx);

/* ---------------------------------------------------------------- tensors */

/* DLPack's DLDataTypeCode values. */
typedef enum rai_dtype_code {
    RAI_DTYPE_INT = 0,
    RAI_DTYPE_UINT = 1,
    RAI_DTYPE_FLOAT = 2,
    RAI_DTYPE_BFLOAT = 4
} rai_dtype_code;

/* Mirrors DLPack's DLDataType. rai supports lanes == 1 and:
 * f32, f16, bf16, f64, i8, u8, i32, i64, u32, u64. */
typedef struct rai_dtype {
    uint8_t code; /* rai_dtype_code */
    uint8_t bits;
    uint16_t lanes;
} rai_dtype;

/* Mirrors DLPack's DLTensor field for field, so __dlpack__ / numpy / PyTorch / CuPy tensors
 * pass without a copy. strides are in elements; NULL means contiguous row-major. */
typedef struct rai_tensor {
    void *data;
    rai_device device;
    int32_t ndim;
    rai_dtype dtype;
    const int64_t *shape;
    const int64_t *strides;
    uint64_t byte_offset;
} rai_tensor;

/* Size in bytes of one element of a supported dtype; RAI_ERROR_DTYPE_MISMATCH otherwise. */
RAI_API rai_status rai_dtype_size(const rai_dtype *dtype, size_t *out_bytes);
/* Static short name ("f32", "bf16", ...) or NULL for an unsupported dtype. */
RAI_API const char *rai_dtype_name(const rai_dtype *dtype);

/* Checks a descriptor on its own: supported dtype, ndim in [0, 32], non-negative shape,
 * non-NULL data when it has elements, strides that stay in bounds. */
RAI_API rai_status rai_tensor_validate(const rai_tensor *tensor);

/* dst = src, element by element, for tensors of the same dtype and shape with any strides.
 * Host<->device and device<->device copies use the context's CUDA device and stream;
 * CPU contexts take host tensors only. Synchronous. */
RAI_API rai_status rai_tensor_copy(rai_context *ctx, const rai_tensor *src, rai_tensor *dst);

/* ---------------------------------------------------------------- buffers */

typedef struct rai_buffer rai_buffer;

/* Allocates `bytes` on the context's device (256-byte aligned). The buffer keeps no reference
 * to the context, but a CUDA buffer must be destroyed while its device is still in use. */
RAI_API rai_status rai_buffer_create(rai_context *ctx, size_t bytes, rai_buffer **out);
RAI_API void rai_buffer_destroy(rai_buffer *buffer);
/* Device pointer (or host pointer on the CPU); NULL for a NULL buffer. */
RAI_API void *rai_buffer_data(const rai_buffer *buffer);
RAI_API size_t rai_buffer_size(const rai_buffer *buffer);
RAI_API rai_status rai_buffer_device(const rai_buffer *buffer, rai_device *out);
/* Copy `bytes` between host memory and the buffer at `offset`. Synchronous. A range outside
 * the buffer: RAI_ERROR_OUT_OF_RANGE, nothing copied. */
RAI_API rai_status rai_buffer_write(rai_context *ctx, rai_buffer *buffer, size_t offset,
                                    const void *src, size_t bytes);
RAI_API rai_status rai_buffer_read(rai_context *ctx, const rai_buffer *buffer, size_t offset,
                                   void *dst, size_t bytes);

/* ======================================================= quantization: BitNet b1.58 ternary */
/* (section end: quantization: BitNet b1.58 ternary) */

/* ======================================================= quantization: NF4 / FP4 4-bit */
/* (section end: quantization: NF4 / FP4 4-bit) */

/* ======================================================= files: safetensors, GGUF */
/* (section end: files: safetensors, GGUF) */

/* ======================================================= adapters: LoRA family */
/* (section end: adapters: LoRA family) */

/* ======================================================= gradient compression */

/* Error-feedback gradient compressors for data-parallel training (docs/compress.md).
 *
 * A rai_gc handle owns, per registered tensor, the error-feedback (EF) residual, the PowerSGD
 * warm-start factor Q, the step counter that keys its random numbers, and statistics. Tensors
 * are registered once, in a fixed order, and named by the id rai_gc_add_tensor returns (0, 1,
 * ...). A step of one tensor is:
 *   rai_gc_compress  (EF add, compress, EF update; writes a message into a caller buffer)
 *   ... the caller moves the bytes (MPI, NCCL, sockets) and may rai_gc_message_reduce them ...
 *   rai_gc_decompress (message -> dense gradient)
 * or, in one process, rai_gc_apply (the same round trip in place). Messages use a versioned,
 * little-endian wire format (docs/compress.md) and are always host memory.
 *
 * The handle borrows its context (which must outlive it): on a CUDA context the state lives on
 * the device, gradients must be on that device, the compression kernels run on the context's
 * stream, and every call that produces or consumes a message synchronises. A handle serialises
 * calls made on it; different handles run in parallel.
 *
 * Bad input (ratio outside (0, 1], rank 0, an unknown id, a message of another method, seed,
 * tensor or format version, a truncated message) fails with a specific status and leaves the
 * gradient and all state unchanged. */

typedef struct rai_gc rai_gc;

/* Append-only. */
typedef enum rai_gc_method {
    RAI_GC_NONE = 0,          /* pass-through: raw values */
    RAI_GC_TOPK = 1,          /* keep the ratio*n largest magnitudes: u32 index + f32 value each */
    RAI_GC_SIGN = 2,          /* 1 bit per element, scaled by mean |g| */
    RAI_GC_TERNARY = 3,       /* 2 bits: sign where |g| > 0.7 mean |g|, scaled by the mean kept |g| */
    RAI_GC_TERNARY_STOCH = 4, /* 2 bits, unbiased: P(+-1) = |g| / max |g| */
    RAI_GC_QSGD = 5,          /* unbiased stochastic rounding to qsgd_levels per 512-element bucket */
    RAI_GC_POWERSGD = 6,      /* rank-r factors P Q^T, Q warm-started; 1-D tensors sent raw */
    RAI_GC_VSA_COMPAT = 7     /* vsa-optim's projection + ternary + bind: COMPATIBILITY ONLY, poor
                                 quality (docs/compress.md); never use it to train */
} rai_gc_method;

/* rai_gc_params.error_feedback */
#define RAI_GC_EF_DEFAULT 0 /* on for biased methods (TOPK, SIGN, TERNARY, POWERSGD, VSA_COMPAT) */
#define RAI_GC_EF_ON 1
#define RAI_GC_EF_OFF 2

/* rai_gc_params.flags */
#define RAI_GC_MEASURE_QUALITY 0x1u /* record cosine and relative error of every compression */

typedef struct rai_gc_params {
    uint32_t struct_size;
    int32_t method;          /* rai_gc_method; 0 = NONE */
    float ratio;             /* TOPK: fraction kept, in (0, 1]; 0 = 0.01 */
    uint32_t rank;           /* POWERSGD: rank r >= 1; 0 = 2 */
    uint32_t power_iters;    /* POWERSGD: power iterations per step >= 1; 0 = 1 */
    uint32_t qsgd_levels;    /* QSGD: levels s in [1, 32767]; 0 = 7 (4-bit codes) */
    uint32_t vsa_dimension;  /* VSA_COMPAT: minimum dimension D; 0 = 8192 */
    float vsa_ratio;         /* VSA_COMPAT: D = max(vsa_dimension, floor(n * vsa_ratio), 256); 0 = 0.1 */
    int32_t error_feedback;  /* RAI_GC_EF_* */
    uint32_t warmup_steps;   /* the first steps of each tensor are sent uncompressed; 0 = none */
    uint32_t flags;          /* RAI_GC_* flags */
    uint32_t reserved0;      /* must be 0 */
    uint64_t seed;           /* keys every random stream; part of the message's identity */
} rai_gc_params;

RAI_API rai_status rai_gc_params_init_sized(rai_gc_params *params, size_t struct_size);

/* Creates a compressor on `ctx` (borrowed). RAI_ERROR_INVALID_ARGUMENT for a ratio outside
 * (0, 1], an unknown method, levels out of range; RAI_ERROR_UNSUPPORTED for VSA_COMPAT on a
 * CUDA context (it is CPU-only, as in vsa-optim). */
RAI_API rai_status rai_gc_create(rai_context *ctx, const rai_gc_params *params, rai_gc **out);
RAI_API void rai_gc_destroy(rai_gc *gc);

/* Registers a tensor: its dtype (f32 or bf16) and shape are taken from `like`, whose data is
 * not read. `name` (may be NULL) is for messages only. Ids are 0, 1, 2, ... in call order. */
RAI_API rai_status rai_gc_add_tensor(rai_gc *gc, const char *name, const rai_tensor *like, uint32_t *out_id);
RAI_API rai_status rai_gc_tensor_count(const rai_gc *gc, uint32_t *out_count);

/* Largest message rai_gc_compress can write for tensor `id` (warm-up included). */
RAI_API rai_status rai_gc_max_message_size(const rai_gc *gc, uint32_t id, size_t *out_bytes);

/* Compresses `grad` (contiguous, the registered dtype and shape) into `out`: adds the EF
 * residual, encodes, and stores the new residual. *written = the message size. With out == NULL
 * and capacity == 0 it only reports the size (RAI_OK, nothing changes); a smaller capacity
 * gives RAI_ERROR_BUFFER_TOO_SMALL with the needed size in *written, nothing changed. */
RAI_API rai_status rai_gc_compress(rai_gc *gc, uint32_t id, const rai_tensor *grad, void *out, size_t capacity,
                                   size_t *written);

/* Decodes a message (from this handle or a peer's with the same parameters, or a reduced one)
 * into `grad_out` (contiguous, f32 or bf16, the registered shape). A PowerSGD Q-round message
 * completes the round begun with rai_gc_powersgd_p. RAI_ERROR_FORMAT for a truncated or
 * malformed message or another format version; RAI_ERROR_INVALID_ARGUMENT for a message of
 * another method, configuration/seed or tensor id; RAI_ERROR_SHAPE_MISMATCH for another size. */
RAI_API rai_status rai_gc_decompress(rai_gc *gc, uint32_t id, const void *message, size_t length,
                                     rai_tensor *grad_out);

/* grad_inout <- decompress(compress(grad_inout)), with the same EF update: for one process,
 * simulation and tests. */
RAI_API rai_status rai_gc_apply(rai_gc *gc, uint32_t id, rai_tensor *grad_inout);

/* Reduces `count` peers' messages for tensor `id` (all of the same step) into one message that
 * decodes to their sum: exact union-sum for TOPK, rank concatenation for POWERSGD messages,
 * element-wise sum for PowerSGD P and Q rounds, majority vote for SIGN (each element gets
 * sign(sum of the peers' signs), ties 0, times the sum of the peers' scales), and a dense f32
 * sum of the decoded values for the other methods. Size query and BUFFER_TOO_SMALL as for
 * rai_gc_compress. Does not change the handle's state. */
RAI_API rai_status rai_gc_message_reduce(rai_gc *gc, uint32_t id, const void *const *messages,
                                         const size_t *lengths, size_t count, void *out, size_t capacity,
                                         size_t *written);

/* PowerSGD with two all-reduces, for callers that run their own collective:
 *   rai_gc_powersgd_p(grad) -> P message (P_i = M_i Q, M_i = grad + residual); sum P over peers
 *   rai_gc_powersgd_q(sum of P) -> Q message (orthogonalise P, Q_i = M_i^T P; the EF residual
 *                                  becomes M_i - P Q_i^T); sum Q over peers
 *   rai_gc_decompress(sum of Q) -> P Q^T = the compressed sum; Q is kept as the next warm start.
 * Sums are rai_gc_message_reduce, or an all-reduce of the f32 payload (docs/compress.md). When
 * the tensor is sent raw (warm-up, 1-D, too small to gain), the P message is a raw message:
 * rai_gc_powersgd_q then writes nothing (*written = 0) and the summed P message is decompressed
 * directly. A new rai_gc_powersgd_p or rai_gc_compress abandons an unfinished round.
 * RAI_ERROR_INVALID_ARGUMENT when the method is not POWERSGD. Size query and BUFFER_TOO_SMALL as
 * for rai_gc_compress. */
RAI_API rai_status rai_gc_powersgd_p(rai_gc *gc, uint32_t id, const rai_tensor *grad, void *out, size_t capacity,
                                     size_t *written);
RAI_API rai_status rai_gc_powersgd_q(rai_gc *gc, uint32_t id, const void *p_sum, size_t length, void *out,
                                     size_t capacity, size_t *written);

/* rai_gc_allreduce_mpi flags */
#define RAI_GC_ALLREDUCE_AVERAGE 0x1u /* divide the sum by the communicator size */

/* Compressed all-reduce over MPI: every rank calls it with its gradient and the same tensor id;
 * afterwards grad_inout holds the (compressed) sum over ranks on every rank. `mpi_comm` points
 * to the caller's MPI_Comm (e.g. &comm; so rai.h needs no mpi.h). PowerSGD uses two
 * MPI_Allreduce calls (P, then Q), TOPK an all-gather of the sparse messages, raw steps one
 * MPI_Allreduce; the others all-gather their messages and reduce them as rai_gc_message_reduce.
 * RAI_ERROR_UNSUPPORTED when librai was built without MPI. MPI must be initialised, and the
 * MPI library must be the one librai was built with. */
RAI_API rai_status rai_gc_allreduce_mpi(rai_gc *gc, uint32_t id, rai_tensor *grad_inout, void *mpi_comm,
                                        uint32_t flags);
/* The same over NCCL for GPU gradients: `gc` must be on a CUDA context, grad_inout on its
 * device, and `nccl_comm` is the caller's ncclComm_t (itself a pointer) for that device.
 * Collectives are queued on the context's stream (adopt the stream your NCCL work uses);
 * the call synchronises. PowerSGD: two ncclAllReduce (P, Q) on the device; raw steps: one
 * ncclAllReduce; the others: ncclAllGather of the compact messages, reduced on the host. NCCL is
 * taken from the process if already loaded (e.g. PyTorch's), else libnccl.so.2 is loaded;
 * RAI_ERROR_UNSUPPORTED for a CPU context or when NCCL cannot be loaded. */
RAI_API rai_status rai_gc_allreduce_nccl(rai_gc *gc, uint32_t id, rai_tensor *grad_inout, void *nccl_comm,
                                         uint32_t flags);
/* 1 when librai was built with MPI support, else 0. */
RAI_API int32_t rai_gc_has_mpi(void);

/* Statistics of one tensor, or of all with id == RAI_GC_ALL_TENSORS. */
#define RAI_GC_ALL_TENSORS 0xFFFFFFFFu

typedef struct rai_gc_stats {
    uint32_t struct_size;
    uint32_t reserved0;
    uint64_t steps;              /* compressions (compress, apply, powersgd rounds) */
    uint64_t params;             /* elements compressed, summed over steps */
    uint64_t bits_in;            /* gradient bits in (elements x dtype bits) */
    uint64_t bits_out;           /* message bits out, headers, indices and scales included */
    double bits_per_param;       /* bits_out / params: the effective bits per parameter */
    double last_cosine;          /* cosine(compressor input, its reconstruction), last step with
                                    RAI_GC_MEASURE_QUALITY; over all tensors for ALL_TENSORS */
    double last_rel_error;       /* ||input - reconstruction|| / ||input|| likewise */
    double ef_norm;              /* L2 norm of the EF residual(s) now */
    uint64_t quality_samples;    /* steps that measured cosine and error */
} rai_gc_stats;

RAI_API rai_status rai_gc_stats_init_sized(rai_gc_stats *stats, size_t struct_size);
RAI_API rai_status rai_gc_get_stats(const rai_gc *gc, uint32_t id, rai_gc_stats *out);
RAI_API rai_status rai_gc_reset_stats(rai_gc *gc);

/* State checkpoint (EF residuals, PowerSGD Q, step counters) in a versioned little-endian
 * blob. Load checks that the parameters and the registered tensors match (RAI_ERROR_FORMAT /
 * RAI_ERROR_SHAPE_MISMATCH otherwise) and changes nothing on failure. Save: size query and
 * BUFFER_TOO_SMALL as for rai_gc_compress. Synchronises on a CUDA context. */
RAI_API rai_status rai_gc_state_size(const rai_gc *gc, size_t *out_bytes);
RAI_API rai_status rai_gc_state_save(const rai_gc *gc, void *out, size_t capacity, size_t *written);
RAI_API rai_status rai_gc_state_load(rai_gc *gc, const void *data, size_t length);

#if !defined(SWIG) && !defined(RAI_CFFI_CDEF)
static inline rai_status rai_gc_params_init(rai_gc_params *params) {
    return rai_gc_params_init_sized(params, sizeof *params);
}
static inline rai_status rai_gc_stats_init(rai_gc_stats *stats) {
    return rai_gc_stats_init_sized(stats, sizeof *stats);
}
#endif

/* (section end: gradient compression) */

/* ======================================================= hybrid predictive training */
/* (section end: hybrid predictive training) */

/* ------------------------------------------------------ inline conveniences */
#if !defined(SWIG) && !defined(RAI_CFFI_CDEF)
static inline rai_status rai_context_params_init(rai_context_params *params) {
    return rai_context_params_init_sized(params, sizeof *params);
}
static inline rai_status rai_device_info_init(rai_device_info *info) {
    return rai_device_info_init_sized(info, sizeof *info);
}
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RAI_H */
