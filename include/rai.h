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
/* bitsandbytes-compatible 4-bit weights (docs/quant.md). A weight of n elements (row-major
 * [out, in] for a linear layer) is cut into blocks of `blocksize` consecutive elements of the
 * flattened weight; each block keeps its absmax (fp32, or 8 bits with double quantisation) and
 * each element a 4-bit code. Codes take (n + 1) / 2 bytes, the first element of each pair in the
 * HIGH nibble. Quantisation is bit-exact with bitsandbytes' CUDA kernels on every backend.
 *
 * Codes are caller tensors: contiguous, any dtype, exactly round_up((n + 1) / 2, element size)
 * bytes (u8 [(n+1)/2] or bitsandbytes' u8 [(n+1)/2, 1]; f16/bf16/f32 "quant_storage" also
 * work). The statistics live in an opaque rai_q4_state on one device (host memory for a CPU
 * context, device memory for a CUDA one); every function takes tensors and a state on the
 * context's device. */

typedef enum rai_q4_type {
    RAI_Q4_FP4 = 1, /* bitsandbytes "fp4": sign, 2 exponent bits, 1 mantissa bit */
    RAI_Q4_NF4 = 2  /* bitsandbytes "nf4": 16 normal-distribution quantiles */
} rai_q4_type;

#define RAI_Q4_MAX_DIMS 8

typedef struct rai_q4_params {
    uint32_t struct_size;
    int32_t type;         /* rai_q4_type; 0 = RAI_Q4_NF4 */
    int32_t blocksize;    /* 32, 64, 128, ..., 4096; 0 = 64 */
    int32_t double_quant; /* 1: absmax stored as 8 bits (offset = mean absmax, dynamic map,
                             blocks of 256), as bitsandbytes' compress_statistics; 0: fp32 */
} rai_q4_params;

RAI_API rai_status rai_q4_params_init_sized(rai_q4_params *params, size_t struct_size);

typedef struct rai_q4_state rai_q4_state;

/* The 16 dequantisation values of a codebook in code order into out_values[0..15] (FP4: bit
 * pattern order; code 8 is -0). */
RAI_API rai_status rai_q4_codebook(int32_t type, float *out_values);
/* Bytes of packed codes for n elements: (n + 1) / 2. */
RAI_API rai_status rai_q4_codes_size(int64_t n, uint64_t *out_bytes);

/* Quantises src (f32, f16 or bf16; contiguous; any shape with at least one element) into
 * `codes` and a new state. All on the context's device. CPU: synchronous. CUDA: queued on the
 * context's stream, except that double quantisation synchronises (it returns the offset). */
RAI_API rai_status rai_q4_quantize(rai_context *ctx, const rai_q4_params *params, const rai_tensor *src,
                                   rai_tensor *codes, rai_q4_state **out_state);
RAI_API void rai_q4_state_destroy(rai_q4_state *state);

/* dst = code[q] * absmax (fp32, then rounded to dst's dtype: f32, f16 or bf16). dst is
 * contiguous with as many elements as the state (any shape). Queued on CUDA. */
RAI_API rai_status rai_q4_dequantize(rai_context *ctx, const rai_q4_state *state, const rai_tensor *codes,
                                     rai_tensor *dst);

typedef struct rai_q4_state_info {
    uint32_t struct_size;
    int32_t type;             /* rai_q4_type */
    int32_t blocksize;
    int32_t double_quant;     /* 1 when the absmax is stored as 8 bits */
    int32_t nested_blocksize; /* 256 with double quantisation, else 0 */
    int32_t ndim;
    int64_t shape[RAI_Q4_MAX_DIMS];
    rai_dtype dtype;          /* dtype of the weight before quantisation */
    float offset;             /* double quantisation: the mean absmax; else 0 */
    int64_t numel;
    int64_t blocks;           /* ceil(numel / blocksize) */
    int64_t nested_blocks;    /* ceil(blocks / nested_blocksize), else 0 */
    uint64_t codes_bytes;     /* (numel + 1) / 2 */
    uint64_t state_bytes;     /* bytes of statistics the state holds */
    rai_device device;        /* where the state lives */
} rai_q4_state_info;

RAI_API rai_status rai_q4_state_info_init_sized(rai_q4_state_info *info, size_t struct_size);
RAI_API rai_status rai_q4_state_get_info(const rai_q4_state *state, rai_q4_state_info *info);

/* The arrays of a state, named as in bitsandbytes checkpoints. */
typedef enum rai_q4_field {
    RAI_Q4_FIELD_ABSMAX = 1,           /* as stored: f32 [blocks], or u8 [blocks] with double quant */
    RAI_Q4_FIELD_QUANT_MAP = 2,        /* f32 [16], bitsandbytes' quant_map (FP4 code 8 is +0) */
    RAI_Q4_FIELD_NESTED_ABSMAX = 3,    /* f32 [nested_blocks] (double quantisation only) */
    RAI_Q4_FIELD_NESTED_QUANT_MAP = 4, /* f32 [256] (double quantisation only) */
    RAI_Q4_FIELD_ABSMAX_DECODED = 5    /* f32 [blocks]: the scales dequantisation applies */
} rai_q4_field;

/* Copies one array of the state into dst: contiguous, the dtype and element count listed above
 * (any shape), on the context's device, which must be the state's. Synchronous, except
 * RAI_Q4_FIELD_ABSMAX_DECODED on CUDA, which is queued on the context's stream. */
RAI_API rai_status rai_q4_state_read(rai_context *ctx, const rai_q4_state *state, int32_t field, rai_tensor *dst);

typedef struct rai_q4_state_params {
    uint32_t struct_size;
    int32_t type;             /* rai_q4_type; 0 = RAI_Q4_NF4 */
    int32_t blocksize;        /* 0 = 64 */
    int32_t ndim;             /* 1..RAI_Q4_MAX_DIMS */
    int64_t shape[RAI_Q4_MAX_DIMS];
    rai_dtype dtype;          /* dtype of the original weight; all zero = f32 */
    float offset;             /* double quantisation only */
    int32_t nested_blocksize; /* 0 = 256 (the only value bitsandbytes' kernels take) */
} rai_q4_state_params;

RAI_API rai_status rai_q4_state_params_init_sized(rai_q4_state_params *params, size_t struct_size);

/* Builds a state from its arrays (for example a bitsandbytes QuantState): absmax f32 [blocks]
 * for plain states; for double quantisation absmax u8 [blocks] plus nested_absmax f32
 * [nested_blocks] and nested_quant_map f32 [256] (NULL: the standard dynamic map). Otherwise
 * pass NULL for both. Tensors are contiguous, on the context's device, and copied. */
RAI_API rai_status rai_q4_state_create(rai_context *ctx, const rai_q4_state_params *params,
                                       const rai_tensor *absmax, const rai_tensor *nested_absmax,
                                       const rai_tensor *nested_quant_map, rai_q4_state **out_state);
/* A copy of a state on the context's device (host <-> CUDA or the same device). Synchronous. */
RAI_API rai_status rai_q4_state_copy(rai_context *ctx, const rai_q4_state *state, rai_q4_state **out_state);

/* y[M, N] = x[M, K] . W^T (+ bias[N]) with W the 4-bit weight [N, K] (a 2-D state). x is f32,
 * f16 or bf16 [..., K] (contiguous; leading dimensions are M), y the same dtype [..., N], bias
 * NULL or [N] of that dtype. fp32 accumulation. M <= 4: fused GEMV that decodes the codes and
 * the (nested) absmax on the fly; larger M: dequantise to the activation dtype, then a GEMM
 * (cuBLASLt on CUDA, blocked fp32 on the CPU). Queued on CUDA. */
RAI_API rai_status rai_q4_linear_forward(rai_context *ctx, const rai_q4_state *state, const rai_tensor *codes,
                                         const rai_tensor *x, const rai_tensor *bias, rai_tensor *y);
/* dx[M, K] = dy[M, N] . W: the input gradient through a frozen 4-bit weight (the weight gets no
 * gradient, as in QLoRA). dy and dx: same dtype (f32, f16, bf16), contiguous. Queued on CUDA. */
RAI_API rai_status rai_q4_linear_backward_input(rai_context *ctx, const rai_q4_state *state,
                                                const rai_tensor *codes, const rai_tensor *dy, rai_tensor *dx);

#if !defined(SWIG) && !defined(RAI_CFFI_CDEF)
static inline rai_status rai_q4_params_init(rai_q4_params *params) {
    return rai_q4_params_init_sized(params, sizeof *params);
}
static inline rai_status rai_q4_state_info_init(rai_q4_state_info *info) {
    return rai_q4_state_info_init_sized(info, sizeof *info);
}
static inline rai_status rai_q4_state_params_init(rai_q4_state_params *params) {
    return rai_q4_state_params_init_sized(params, sizeof *params);
}
#endif
/* (section end: quantization: NF4 / FP4 4-bit) */

/* ======================================================= files: safetensors, GGUF */
/* safetensors (https://huggingface.co/docs/safetensors): u64 LE header size, a JSON header
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
 * then the data buffer. The reader checks everything (header size cap of 100 MB, JSON syntax,
 * dtypes, shapes, sizes, offsets in bounds, no overlap and no gap) before it returns a handle:
 * malformed input is RAI_ERROR_FORMAT with a message naming the tensor and field, an
 * unreadable file RAI_ERROR_IO. A handle is immutable and may be read from any thread. */

typedef struct rai_safetensors rai_safetensors;

/* Opens a file (memory-mapped, private: tensor views may be written without touching it). */
RAI_API rai_status rai_safetensors_open(const char *path, rai_safetensors **out);
/* The same from bytes in memory, which are copied. */
RAI_API rai_status rai_safetensors_open_memory(const void *data, size_t size, rai_safetensors **out);
RAI_API void rai_safetensors_destroy(rai_safetensors *file);

/* Tensors in file order (ascending data offset). */
RAI_API rai_status rai_safetensors_count(const rai_safetensors *file, size_t *out_count);

typedef struct rai_safetensors_tensor_info {
    uint32_t struct_size;
    int32_t ndim;
    const char *name;       /* valid until the handle is destroyed */
    const char *dtype_name; /* safetensors dtype: "F32", "BF16", "U8", "BOOL", "F8_E4M3", ... */
    const int64_t *shape;   /* ndim entries, valid until the handle is destroyed */
    const void *data;       /* host memory of the tensor's bytes */
    uint64_t nbytes;
    uint64_t data_offset;   /* from the start of the data buffer */
    rai_dtype dtype;        /* the rai dtype; bits == 0 when rai has none (BOOL, F8_*, I16, ...) */
} rai_safetensors_tensor_info;

RAI_API rai_status rai_safetensors_tensor_info_init_sized(rai_safetensors_tensor_info *info, size_t struct_size);
RAI_API rai_status rai_safetensors_get_info(const rai_safetensors *file, size_t index,
                                            rai_safetensors_tensor_info *info);
/* Index of the tensor called `name`, or -1 (and RAI_OK) when there is none. */
RAI_API rai_status rai_safetensors_find(const rai_safetensors *file, const char *name, int64_t *out_index);
/* A host tensor viewing the file's bytes (valid until the handle is destroyed). Files from other
 * writers may place a tensor at an offset that is not a multiple of its element size; the view is
 * then misaligned (rai's CPU kernels accept that on x86-64). RAI_ERROR_DTYPE_MISMATCH for dtypes
 * rai has no rai_dtype for. */
RAI_API rai_status rai_safetensors_tensor_view(const rai_safetensors *file, size_t index, rai_tensor *out);

/* "__metadata__" entries, in file order; strings valid until the handle is destroyed. */
RAI_API rai_status rai_safetensors_metadata_count(const rai_safetensors *file, size_t *out_count);
RAI_API rai_status rai_safetensors_metadata_get(const rai_safetensors *file, size_t index, const char **out_key,
                                                const char **out_value);
/* *out_value is NULL (and RAI_OK) when the key is absent. */
RAI_API rai_status rai_safetensors_metadata_find(const rai_safetensors *file, const char *key,
                                                 const char **out_value);

typedef struct rai_safetensors_writer rai_safetensors_writer;

RAI_API rai_status rai_safetensors_writer_create(rai_safetensors_writer **out);
RAI_API void rai_safetensors_writer_destroy(rai_safetensors_writer *writer);
/* Adds a host tensor (any strides; its bytes are copied now). Names are unique, non-empty and
 * not "__metadata__". The file lays tensors out largest element size first, then in the order
 * added, so every tensor is aligned to its element size. */
RAI_API rai_status rai_safetensors_writer_add(rai_safetensors_writer *writer, const char *name,
                                              const rai_tensor *tensor);
/* Adds raw little-endian bytes with a safetensors dtype name ("BOOL", "F8_E4M3", "I16", ...);
 * nbytes must equal the element count times the dtype size. */
RAI_API rai_status rai_safetensors_writer_add_raw(rai_safetensors_writer *writer, const char *name,
                                                  const char *dtype_name, int32_t ndim, const int64_t *shape,
                                                  const void *data, size_t nbytes);
/* Sets (or replaces) a "__metadata__" entry. */
RAI_API rai_status rai_safetensors_writer_set_metadata(rai_safetensors_writer *writer, const char *key,
                                                       const char *value);
/* Serialises into dst. *out_size receives the file size; RAI_ERROR_BUFFER_TOO_SMALL (dst may be
 * NULL) when capacity is smaller. The header is padded with spaces to a multiple of 8. */
RAI_API rai_status rai_safetensors_writer_serialize(const rai_safetensors_writer *writer, void *dst,
                                                    size_t capacity, size_t *out_size);
/* Writes the file through a temporary file in the same directory renamed over `path`: on any
 * error nothing is left behind and an existing file is untouched. */
RAI_API rai_status rai_safetensors_writer_save(const rai_safetensors_writer *writer, const char *path);

/* bitsandbytes 4-bit checkpoints (Linear4bit state dicts). Keys of module `prefix`:
 *   prefix.weight                      u8 codes [(n+1)/2, 1] (or another quant_storage dtype)
 *   prefix.weight.absmax               f32 [blocks], u8 [blocks] with double quantisation
 *   prefix.weight.quant_map            f32 [16]
 *   prefix.weight.nested_absmax        f32 [nested_blocks]   (double quantisation)
 *   prefix.weight.nested_quant_map     f32 [256]             (double quantisation)
 *   prefix.weight.quant_state.bitsandbytes__nf4 (or __fp4)   u8 UTF-8 JSON {quant_type,
 *       blocksize, dtype, shape, [nested_blocksize, nested_dtype, nested_offset]}
 * Reads the state of module `prefix` into a new state on the context's device. The codes are
 * the tensor "prefix.weight" (rai_safetensors_find + rai_safetensors_tensor_view). A missing
 * or inconsistent key: RAI_ERROR_FORMAT naming it. Synchronous. */
RAI_API rai_status rai_q4_state_load_bnb(rai_context *ctx, const rai_safetensors *file, const char *prefix,
                                         rai_q4_state **out_state);
/* Adds the keys of module `prefix` for a state and its codes (on the context's device) to a
 * writer, byte-compatible with bitsandbytes (codes as u8 [(n+1)/2, 1]). Synchronous. */
RAI_API rai_status rai_q4_state_save_bnb(rai_context *ctx, rai_safetensors_writer *writer, const char *prefix,
                                         const rai_q4_state *state, const rai_tensor *codes);

#if !defined(SWIG) && !defined(RAI_CFFI_CDEF)
static inline rai_status rai_safetensors_tensor_info_init(rai_safetensors_tensor_info *info) {
    return rai_safetensors_tensor_info_init_sized(info, sizeof *info);
}
#endif
/* (section end: files: safetensors, GGUF) */

/* ======================================================= adapters: LoRA family */
/* (section end: adapters: LoRA family) */

/* ======================================================= gradient compression */
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
