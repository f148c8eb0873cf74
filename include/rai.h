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
/* Parameter-efficient adapters with HF PEFT semantics and files: LoRA (rsLoRA, DoRA), IA3, VeRA,
 * LoHa, LoKr. Two levels:
 *  - rai_lora_linear_*: one LoRA/DoRA linear layer on caller tensors (CPU or CUDA), for
 *    frameworks that own the parameters and the autograd graph;
 *  - rai_adapter_model: a set of frozen linear base modules (by name) and named adapters over
 *    them: PEFT target matching, init, forward/backward with gradients, merge/unmerge, many
 *    adapters over one base (activate, weight, mixed batches) and PEFT directories.
 * Adapter parameters are fp32; base weights and activations f32, bf16 or f16; all adapter math
 * accumulates in fp32. Thread safety: a model serialises the calls made on it. */

typedef enum rai_peft_type {
    RAI_PEFT_LORA = 1, /* LoRA, rsLoRA and DoRA (flags) */
    RAI_PEFT_IA3 = 2,
    RAI_PEFT_VERA = 3,
    RAI_PEFT_LOHA = 4,
    RAI_PEFT_LOKR = 5
} rai_peft_type;

/* init (PEFT init_lora_weights / init_weights / init_ia3_weights). */
typedef enum rai_adapter_init {
    RAI_ADAPTER_INIT_DEFAULT = 0,  /* LoRA: A Kaiming-uniform (a=sqrt(5)), B = 0; every tuner's
                                      default leaves the output identical to the base */
    RAI_ADAPTER_INIT_GAUSSIAN = 1, /* LoRA: A ~ N(0, 1/r^2), B = 0 */
    RAI_ADAPTER_INIT_NONE = 2,     /* all zeros, to be loaded or set */
    RAI_ADAPTER_INIT_RANDOM = 3    /* every factor random (PEFT init=False; tests only) */
} rai_adapter_init;

/* bias (PEFT LoRA bias): which base biases the adapter trains and saves. */
typedef enum rai_adapter_bias {
    RAI_ADAPTER_BIAS_NONE = 0,
    RAI_ADAPTER_BIAS_ALL = 1,      /* every base module with a bias */
    RAI_ADAPTER_BIAS_LORA_ONLY = 2 /* the biases of adapted modules */
} rai_adapter_bias;

/* rai_adapter_params.flags */
#define RAI_ADAPTER_RSLORA 0x1u         /* scale alpha/sqrt(r) instead of alpha/r */
#define RAI_ADAPTER_DORA 0x2u           /* weight-decomposed LoRA (lora_magnitude_vector) */
#define RAI_ADAPTER_FAN_IN_FAN_OUT 0x4u /* PEFT fan_in_fan_out (follows the base module's layout) */
#define RAI_ADAPTER_LORA_BIAS 0x8u      /* lora_B carries a bias (PEFT lora_bias) */

typedef struct rai_adapter_params {
    uint32_t struct_size;
    int32_t peft_type;   /* rai_peft_type; 0 = LORA */
    int32_t r;           /* rank; 0 = the tuner's default (8, VeRA 256); ignored by IA3 */
    float alpha;         /* lora_alpha (LoHa/LoKr alpha); 0 = 8; must be > 0 */
    float dropout;       /* input dropout in training (VeRA vera_dropout), in [0, 1) */
    int32_t init;        /* rai_adapter_init */
    uint32_t flags;      /* RAI_ADAPTER_* */
    int32_t bias;        /* rai_adapter_bias */
    uint64_t seed;       /* initialisation and dropout streams */
    /* PEFT values as JSON text, NULL = unset. target_modules: a list of names (a module matches
     * when its name equals an entry or ends with "." + entry), a regex string (full match) or
     * "all-linear" (every module except lm_head). target_modules is required. */
    const char *target_modules;
    const char *exclude_modules;
    const char *rank_pattern;        /* {"pattern": r, ...} */
    const char *alpha_pattern;       /* {"pattern": alpha, ...} */
    const char *feedforward_modules; /* IA3: modules whose input is scaled (a subset of targets) */
    float vera_d_initial;            /* VeRA lambda_d init; 0 = 0.1 */
    float rank_dropout;              /* LoHa/LoKr */
    float module_dropout;            /* LoHa/LoKr */
    int32_t decompose_factor;        /* LoKr; 0 = -1 (automatic) */
} rai_adapter_params;

RAI_API rai_status rai_adapter_params_init_sized(rai_adapter_params *params, size_t struct_size);

/* ---- one LoRA / DoRA linear layer on caller tensors (CPU or CUDA context) */

/* rai_lora_linear_params.flags */
#define RAI_LORA_TRAINING 0x1u   /* apply dropout (mask from seed, step) */
#define RAI_LORA_ACCUMULATE 0x2u /* backward adds into dA, dB, dmagnitude instead of overwriting */

typedef struct rai_lora_linear_params {
    uint32_t struct_size;
    float scaling;    /* s: alpha/r or alpha/sqrt(r); 0 = 1 */
    float dropout;    /* on the adapter input, in training only; [0, 1) */
    uint32_t flags;   /* RAI_LORA_* */
    uint64_t seed;    /* dropout mask stream: the same (seed, step) gives the same mask in */
    uint64_t step;    /*   forward and backward, on every backend */
} rai_lora_linear_params;

RAI_API rai_status rai_lora_linear_params_init_sized(rai_lora_linear_params *params, size_t struct_size);

/* y[M,N] = x[M,K]·Wᵀ + bias + s·B(A(drop(x)))  with W [N,K], A [r,K], B [N,r].
 * With magnitude [N] (DoRA): y = x·Wᵀ + bias + (g−1)⊙(drop(x)·Wᵀ) + g⊙s·B(A(drop(x))),
 * g = magnitude / ‖W + s·B·A‖_row (detached). x, W, bias, y share one dtype (f32/bf16/f16);
 * A, B, magnitude are f32 or that dtype. bias and magnitude may be NULL. All tensors on the
 * context's device; GPU work is queued on the context's stream. */
RAI_API rai_status rai_lora_linear_forward(rai_context *ctx, const rai_lora_linear_params *params,
                                           const rai_tensor *x, const rai_tensor *weight,
                                           const rai_tensor *bias, const rai_tensor *lora_a,
                                           const rai_tensor *lora_b, const rai_tensor *magnitude,
                                           rai_tensor *y);
/* Gradients of the forward above for upstream dy [M,N]: dx [M,K] (through the base and the
 * adapter), d_a [r,K], d_b [N,r], d_magnitude [N] (DoRA). Outputs may be NULL when not wanted;
 * they are f32 (d_a, d_b, d_magnitude) and x's dtype (dx). The base weight gets no gradient. */
RAI_API rai_status rai_lora_linear_backward(rai_context *ctx, const rai_lora_linear_params *params,
                                            const rai_tensor *x, const rai_tensor *weight,
                                            const rai_tensor *lora_a, const rai_tensor *lora_b,
                                            const rai_tensor *magnitude, const rai_tensor *dy,
                                            rai_tensor *dx, rai_tensor *d_a, rai_tensor *d_b,
                                            rai_tensor *d_magnitude);
/* QLoRA: the same two with a frozen 4-bit base instead of `weight`: `state` a 2-D [N, K]
 * NF4/FP4 state and `codes` its packed codes (quantization section), on the context's device.
 * The base product runs on the 4-bit weight (rai_q4_linear_forward / _backward_input); with
 * magnitude (DoRA) the weight is dequantized into scratch memory for the norm. */
RAI_API rai_status rai_qlora_linear_forward(rai_context *ctx, const rai_lora_linear_params *params,
                                            const rai_tensor *x, const rai_q4_state *state,
                                            const rai_tensor *codes, const rai_tensor *bias,
                                            const rai_tensor *lora_a, const rai_tensor *lora_b,
                                            const rai_tensor *magnitude, rai_tensor *y);
RAI_API rai_status rai_qlora_linear_backward(rai_context *ctx, const rai_lora_linear_params *params,
                                             const rai_tensor *x, const rai_q4_state *state,
                                             const rai_tensor *codes, const rai_tensor *lora_a,
                                             const rai_tensor *lora_b, const rai_tensor *magnitude,
                                             const rai_tensor *dy, rai_tensor *dx, rai_tensor *d_a,
                                             rai_tensor *d_b, rai_tensor *d_magnitude);
/* Mixed batch over one base: row i uses adapter row_adapter[i] (host int32 [M]; -1 = base
 * only): y = x·Wᵀ + bias + scaling[a]·B_a(A_a(x)) per row, eval only. The rows are grouped by
 * adapter and the adapter products run as one segmented (grouped) GEMM. lora_a / lora_b are
 * arrays of n_adapters tensors; ranks may differ. */
RAI_API rai_status rai_lora_linear_forward_mixed(rai_context *ctx, const rai_tensor *x,
                                                 const rai_tensor *weight, const rai_tensor *bias,
                                                 size_t n_adapters, const rai_tensor *const *lora_a,
                                                 const rai_tensor *const *lora_b,
                                                 const float *scaling, const int32_t *row_adapter,
                                                 rai_tensor *y);

/* ---- adapter model (host memory: CPU contexts) */

typedef struct rai_adapter_model rai_adapter_model;

/* The model keeps `ctx` (borrowed: it must outlive the model). RAI_ERROR_UNSUPPORTED for a
 * CUDA context (use rai_lora_linear_* there). */
RAI_API rai_status rai_adapter_model_create(rai_context *ctx, rai_adapter_model **out);
RAI_API void rai_adapter_model_destroy(rai_adapter_model *model);

/* add_linear flags */
#define RAI_LINEAR_FAN_IN_FAN_OUT 0x1u /* weight is stored [in, out] (GPT-2 Conv1D) */

/* Registers a frozen linear module `name` (its HF name, e.g. "model.layers.0.self_attn.q_proj").
 * weight [out,in] (or [in,out] with RAI_LINEAR_FAN_IN_FAN_OUT), bias [out] or NULL; f32, bf16
 * or f16. The model copies them. Register modules before adding adapters that target them. */
RAI_API rai_status rai_adapter_model_add_linear(rai_adapter_model *model, const char *name,
                                                const rai_tensor *weight, const rai_tensor *bias,
                                                uint32_t flags);
/* Registers a frozen 4-bit linear module (QLoRA): `state` is a 2-D [out, in] NF4/FP4 state
 * (see the quantization section) on the host, `codes` its packed codes; both are copied. bias:
 * [out] f32/bf16/f16 or NULL. Products run on the 4-bit weight (rai_q4_linear_*); it is
 * dequantized only for DoRA norms and merges, and merging into it needs RAI_ADAPTER_MERGE_LOSSY
 * (dequantize, add in fp32, requantize with the same type, block size and double quant). */
RAI_API rai_status rai_adapter_model_add_linear_q4(rai_adapter_model *model, const char *name,
                                                   const rai_q4_state *state, const rai_tensor *codes,
                                                   const rai_tensor *bias);
/* Copies the module's current weight (merges included) and bias into caller tensors of the
 * registered shape (any of f32/bf16/f16; a 4-bit weight is dequantized); bias may be NULL. */
RAI_API rai_status rai_adapter_model_get_weight(rai_adapter_model *model, const char *name,
                                                rai_tensor *weight, rai_tensor *bias);
/* JSON {"modules": [{"name", "out", "in", "dtype", "bias"}...], "adapters": [{"name",
 * "peft_type", "modules", "parameters"}...], "active": [...], "merged": [...], "enabled",
 * "training"}; release with rai_free. */
RAI_API rai_status rai_adapter_model_info_json(rai_adapter_model *model, char **out_json);
/* Training mode enables dropout (and LoHa/LoKr rank/module dropout). Default: eval. */
RAI_API rai_status rai_adapter_model_set_training(rai_adapter_model *model, int32_t training);

/* Creates adapter `name` from params (validated: r > 0, alpha > 0, dropout in [0,1), targets
 * present in the base; nothing changes on error) and makes it the only active adapter when no
 * adapter was active before. */
RAI_API rai_status rai_adapter_add(rai_adapter_model *model, const char *name,
                                   const rai_adapter_params *params);
/* The same from PEFT adapter_config.json text (tolerant: int or float alpha, unknown fields
 * kept and written back on save). Weights are initialised as the config says. */
RAI_API rai_status rai_adapter_add_json(rai_adapter_model *model, const char *name,
                                        const char *config_json, uint64_t seed);
/* Fails with RAI_ERROR_INVALID_ARGUMENT while the adapter is merged. */
RAI_API rai_status rai_adapter_delete(rai_adapter_model *model, const char *name);
/* Active adapters and their weights (weights NULL = all 1): y = base + Σ wᵢ·adapterᵢ(x).
 * n == 0 activates none. Switching copies nothing. */
RAI_API rai_status rai_adapter_set_active(rai_adapter_model *model, const char *const *names,
                                          const float *weights, size_t n);
/* disable: unmerges everything (as PEFT), then computes the base only until enabled again. */
RAI_API rai_status rai_adapter_set_enabled(rai_adapter_model *model, int32_t enabled);

/* add_weighted combinations */
#define RAI_ADAPTER_COMBINE_CAT 1    /* exact: ranks concatenated, B columns scaled by wᵢ·sᵢ */
#define RAI_ADAPTER_COMBINE_LINEAR 2 /* PEFT "linear": equal ranks, factors scaled by sqrt(wᵢ·sᵢ) */
/* New LoRA adapter `new_name` combining existing LoRA adapters (no DoRA) as PEFT's
 * add_weighted_adapter does. */
RAI_API rai_status rai_adapter_add_weighted(rai_adapter_model *model, const char *new_name,
                                            const char *const *names, const float *weights,
                                            size_t n, int32_t combination);

/* Tensors by PEFT key: "base_model.model.<module>.lora_A.weight", "...lora_magnitude_vector",
 * "...ia3_l", "base_model.vera_A", "base_model.model.<module>.bias" (bias modes), ... (with or
 * without ".default"). get copies the value (or the gradient) into `dst` (f32/bf16/f16 of the
 * key's shape); set copies `src` in. rai_adapter_tensors_json lists {"key", "shape",
 * "trainable"} for an adapter; release with rai_free. */
RAI_API rai_status rai_adapter_get_tensor(rai_adapter_model *model, const char *adapter,
                                          const char *key, rai_tensor *dst);
RAI_API rai_status rai_adapter_get_grad(rai_adapter_model *model, const char *adapter,
                                        const char *key, rai_tensor *dst);
RAI_API rai_status rai_adapter_set_tensor(rai_adapter_model *model, const char *adapter,
                                          const char *key, const rai_tensor *src);
RAI_API rai_status rai_adapter_tensors_json(rai_adapter_model *model, const char *adapter,
                                            char **out_json);
/* The adapter's PEFT adapter_config.json text; release with rai_free. */
RAI_API rai_status rai_adapter_config_json(rai_adapter_model *model, const char *adapter,
                                           char **out_json);
/* Global-norm gradient clipping over an adapter's trainable parameters (adapter NULL = every
 * adapter): when the L2 norm of all gradients exceeds max_norm (> 0; QLoRA uses 0.3) every
 * gradient is scaled by max_norm / norm. out_norm (may be NULL) receives the norm before
 * clipping. */
RAI_API rai_status rai_adapter_clip_grad_norm(rai_adapter_model *model, const char *adapter,
                                              float max_norm, float *out_norm);
/* Zeroes accumulated gradients (adapter NULL = every adapter). */
RAI_API rai_status rai_adapter_zero_grad(rai_adapter_model *model, const char *adapter);

/* y = module(x) with the active adapters: x [..., in], y [..., out]; f32/bf16/f16, contiguous,
 * host memory. In training mode each call draws fresh dropout masks. */
RAI_API rai_status rai_adapter_forward(rai_adapter_model *model, const char *module,
                                       const rai_tensor *x, rai_tensor *y);
/* Mixed batch (eval only): row i of x uses adapter names[row_adapter[i]], -1 = the base.
 * Rows are grouped into segments per adapter; each adapter runs once over its segment. */
RAI_API rai_status rai_adapter_forward_mixed(rai_adapter_model *model, const char *module,
                                             const rai_tensor *x, const char *const *names,
                                             size_t n_names, const int32_t *row_adapter,
                                             rai_tensor *y);
/* Backward of the latest forward of `module` (the same x; the same dropout masks): adds the
 * gradients of every active adapter's trainable parameters (gradient accumulation) and writes
 * dx (through the base and the adapters) when dx is not NULL. The base stays frozen. */
RAI_API rai_status rai_adapter_backward(rai_adapter_model *model, const char *module,
                                        const rai_tensor *x, const rai_tensor *dy, rai_tensor *dx);

/* merge flags */
#define RAI_ADAPTER_MERGE_SAFE 0x1u  /* compute out of place; reject non-finite results */
#define RAI_ADAPTER_MERGE_LOSSY 0x2u /* required to merge into a quantized (4-bit) base */
#define RAI_ADAPTER_MERGE_KEEP_ORIGINAL 0x4u /* keep the pre-merge weights (memory: one copy of
                                                each touched weight) so unmerge is bit-exact */
/* W += Δ for each named adapter (NULL/0 = the active ones), in fp32, cast to W's dtype; each
 * is pushed on the model's merged stack. While merged, forward skips those adapters. On error
 * no weight changes. */
RAI_API rai_status rai_adapter_merge(rai_adapter_model *model, const char *const *names, size_t n,
                                     uint32_t flags);
/* Pops `count` merged adapters (LIFO; 0 = all) and restores W = W' − Δ (DoRA: W'/(m/n) − Δ,
 * IA3: W'/(l + 1e-8)) in fp32, as PEFT does: within 2 ulp of max(|W|, |W'|) per element for
 * LoRA; bit-exact once every adapter of a RAI_ADAPTER_MERGE_KEEP_ORIGINAL merge is unmerged. */
RAI_API rai_status rai_adapter_unmerge(rai_adapter_model *model, int32_t count);

/* out [out,in] (f32/bf16/f16) = module `module`'s weight with the named adapters (NULL/0 = the
 * active ones) merged in fp32 — LoRA W + Δ, DoRA (m/‖W+Δ‖)(W+Δ), IA3 W⊙l — applied to `master`
 * [out,in] (f32/bf16/f16) when given, else to the module's own weight (dequantized when 4-bit).
 * Nothing in the model changes. This is the "merge into the bf16/fp16 master" of QLoRA: pass
 * the dense master, then requantize `out` with rai_q4_quantize if a 4-bit model is wanted.
 * Non-finite results: RAI_ERROR_OUT_OF_RANGE. */
RAI_API rai_status rai_adapter_merged_weight(rai_adapter_model *model, const char *module,
                                             const char *const *names, size_t n,
                                             const rai_tensor *master, rai_tensor *out);

/* HF PEFT directories: adapter_config.json + adapter_model.safetensors. Loading fails loudly
 * (RAI_ERROR_FORMAT naming the module) when a targeted module has no tensors, a tensor has an
 * unexpected key or shape, or peft_type is missing; keys with or without ".default." load.
 * Saving writes PEFT's key names (no adapter name), __metadata__ {"format": "pt"}, and tensors
 * in `dtype` (NULL = f32). */
RAI_API rai_status rai_adapter_load_peft(rai_adapter_model *model, const char *dir,
                                         const char *name);
RAI_API rai_status rai_adapter_save_peft(rai_adapter_model *model, const char *name,
                                         const char *dir, const rai_dtype *dtype);

#if !defined(SWIG) && !defined(RAI_CFFI_CDEF)
static inline rai_status rai_adapter_params_init(rai_adapter_params *params) {
    return rai_adapter_params_init_sized(params, sizeof *params);
}
static inline rai_status rai_lora_linear_params_init(rai_lora_linear_params *params) {
    return rai_lora_linear_params_init_sized(params, sizeof *params);
}
#endif
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
