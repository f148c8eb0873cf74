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
/* Makes work queued later on the context's stream wait until the work queued so far on `stream`
 * (another cudaStream_t, e.g. a __cuda_array_interface__ producer's) is done. Does not block the
 * host. RAI_ERROR_UNSUPPORTED on a CPU context; NULL means the legacy default stream. */
RAI_API rai_status rai_context_wait_stream(rai_context *ctx, void *stream);

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
/*
 * BitNet b1.58: ternary weights {-1, 0, +1} times a scale, int8 activations, and the layouts
 * others read (bitnet.cpp I2_S, llama.cpp TQ1_0 / TQ2_0, tritter-accel BYTE2, trit-vsa bit
 * planes). Full description, bit layouts and compatibility statements: docs/bitnet.md.
 *
 * Logical trits are int8 tensors holding -1, 0 or +1 (anything else: INVALID_ARGUMENT naming
 * the element). Weights are [out, in] (rows = output features). All tensors must be
 * contiguous (RAI_ERROR_LAYOUT otherwise).
 *
 * Weight scales: the scale tensor's shape says the granularity everywhere it is an input:
 *   [1]                one scale for the whole tensor
 *   [out]              one scale per row
 *   [out, G]           G scales per row, each for in/G consecutive columns (G must divide in)
 * A scale is always the dequantization multiplier: w ~= trit * scale.
 */

typedef enum rai_bitnet_granularity {
    RAI_BITNET_GRANULARITY_GROUP = 0,  /* default: groups of group_size columns (default 64) */
    RAI_BITNET_GRANULARITY_ROW = 1,
    RAI_BITNET_GRANULARITY_TENSOR = 2
} rai_bitnet_granularity;

/* What an all-zero granule (mean |w| == 0) or a tiny mean gives. */
typedef enum rai_bitnet_eps_mode {
    /* default, bitnet-quantize (Rust) parity: scale = mean|w|, 1.0 when that mean is exactly 0;
     * q = round(w / scale) */
    RAI_BITNET_EPS_RUST = 0,
    /* official BitNet reference: scale = max(mean|w|, eps) and q = round(w * (1 / scale)) */
    RAI_BITNET_EPS_CLAMP = 1
} rai_bitnet_eps_mode;

typedef enum rai_bitnet_round_mode {
    RAI_BITNET_ROUND_HALF_AWAY = 0, /* default: 0.5 -> 1, -0.5 -> -1 (Rust, C round) */
    RAI_BITNET_ROUND_HALF_EVEN = 1  /* 0.5 -> 0, 1.5 -> 2 (PyTorch, numpy) */
} rai_bitnet_round_mode;

/* Absmean weight ternarization. */
typedef struct rai_bitnet_weight_params {
    uint32_t struct_size;
    int32_t granularity;  /* rai_bitnet_granularity; 0 = GROUP */
    uint64_t group_size;  /* columns per group for GROUP; 0 = 64; must divide in */
    int32_t eps_mode;     /* rai_bitnet_eps_mode; 0 = RUST */
    int32_t round_mode;   /* rai_bitnet_round_mode; 0 = HALF_AWAY */
    float eps;            /* EPS_CLAMP floor; 0 = 1e-5 */
    int32_t reserved0;
} rai_bitnet_weight_params;

RAI_API rai_status rai_bitnet_weight_params_init_sized(rai_bitnet_weight_params *params, size_t struct_size);

/* How activation scales are stored. */
typedef enum rai_bitnet_act_scale_mode {
    /* default, bitnet-quantize parity: scale = absmax / Qmax (1.0 when absmax == 0),
     * q = clamp(round(x / scale), -Qmax, Qmax), stored scale is the multiplier: x ~= q * scale */
    RAI_BITNET_ACT_RUST = 0,
    /* official BitNet: s = Qmax / max(absmax, eps), q = clamp(round(x * s), -Qmax - 1, Qmax),
     * stored s is the divisor: x ~= q / s */
    RAI_BITNET_ACT_OFFICIAL = 1
} rai_bitnet_act_scale_mode;

/* Absmax activation quantization, per token (each row of the flattened [tokens, hidden]). */
typedef struct rai_bitnet_act_params {
    uint32_t struct_size;
    int32_t bits;        /* 2..8; 0 = 8. Qmax = 2^(bits-1) - 1 */
    int32_t scale_mode;  /* rai_bitnet_act_scale_mode; 0 = RUST */
    int32_t round_mode;  /* rai_bitnet_round_mode; 0 = HALF_AWAY */
    int32_t per_tensor;  /* 0 = one scale per token (default); 1 = one scale for the tensor */
    float eps;           /* OFFICIAL floor on absmax; 0 = 1e-5 */
} rai_bitnet_act_params;

RAI_API rai_status rai_bitnet_act_params_init_sized(rai_bitnet_act_params *params, size_t struct_size);

/* w: f32, bf16 or f16 [out, in] -> trits: i8 [out, in] and scales: f32 [1] (TENSOR), [out]
 * (ROW) or [out, in / group_size] (GROUP). CPU contexts only (RAI_ERROR_UNSUPPORTED on CUDA):
 * weights are quantized once, then prepared for any device with rai_ternary_weight_create.
 * A non-finite weight: INVALID_ARGUMENT. */
RAI_API rai_status rai_bitnet_quantize_weights(rai_context *ctx, const rai_bitnet_weight_params *params,
                                               const rai_tensor *w, rai_tensor *trits, rai_tensor *scales);
/* w[o, i] = trits[o, i] * scale(o, i), f32 [out, in]. CPU contexts only. */
RAI_API rai_status rai_bitnet_dequantize_weights(rai_context *ctx, const rai_tensor *trits,
                                                 const rai_tensor *scales, rai_tensor *w);

/* x: f32 or bf16 [..., hidden] (ndim >= 1) -> q: i8 of the same shape, scales: f32 with one
 * value per token ([tokens] or x's shape without the last dimension), or [1] with per_tensor.
 * CPU and CUDA; q and scales are bit-identical on both. On the CPU a non-finite x is
 * INVALID_ARGUMENT; on CUDA it is not detected. */
RAI_API rai_status rai_bitnet_quantize_activations(rai_context *ctx, const rai_bitnet_act_params *params,
                                                   const rai_tensor *x, rai_tensor *q, rai_tensor *scales);
/* x = q * scale (RUST) or q / s (OFFICIAL), f32 of q's shape. CPU and CUDA. */
RAI_API rai_status rai_bitnet_dequantize_activations(rai_context *ctx, const rai_bitnet_act_params *params,
                                                     const rai_tensor *q, const rai_tensor *scales,
                                                     rai_tensor *x);
/* SubLN: y = x / sqrt(mean(x^2) + norm_eps) * gamma (gamma NULL = ones, else f32 [hidden]), then
 * quantized as rai_bitnet_quantize_activations does. norm_eps <= 0 means 1e-6. The sum of
 * squares is accumulated in double in a fixed order, so q and scales are bit-identical on the
 * CPU and CUDA. */
RAI_API rai_status rai_bitnet_rmsnorm_quantize(rai_context *ctx, const rai_bitnet_act_params *params,
                                               const rai_tensor *x, const rai_tensor *gamma, float norm_eps,
                                               rai_tensor *q, rai_tensor *scales);

/* Straight-through estimator, forward: y = clamp(round(x / scale), lo, hi) * scale (f32, same
 * shape; round_mode rai_bitnet_round_mode). Ternary STE: lo = -1, hi = 1; int8: -127, 127.
 * scale must be finite and > 0, lo <= hi. CPU and CUDA. */
RAI_API rai_status rai_bitnet_ste_forward(rai_context *ctx, const rai_tensor *x, float scale, float lo, float hi,
                                          int32_t round_mode, rai_tensor *y);
/* Straight-through estimator, backward: grad_x = grad_y (the pass-through; f32, same shape). */
RAI_API rai_status rai_bitnet_ste_backward(rai_context *ctx, const rai_tensor *grad_y, rai_tensor *grad_x);

/* Packed ternary layouts (host memory; no context). Byte layouts: docs/bitnet.md. */
typedef enum rai_ternary_layout {
    RAI_TERNARY_LAYOUT_PLANES = 1, /* trit-vsa bit planes: per row ceil(in/64) u64 "plus" words then
                                      as many "minus" words, trit i at bit i%64 of word i/64 */
    RAI_TERNARY_LAYOUT_BYTE2 = 2,  /* tritter-accel: 4 trits per byte, LSB first, 01=+1 10=-1 00=0,
                                      each row padded to a byte; code 11 unpacks as 0 */
    RAI_TERNARY_LAYOUT_U32_16 = 3, /* bitnet-quantize CubeCL: BYTE2 codes, 16 per little-endian u32,
                                      each row padded to a u32 */
    RAI_TERNARY_LAYOUT_I2_S = 4,   /* bitnet.cpp I2_S (x86, QK 128): code = trit + 1, block of 128
                                      in 32 bytes, byte p = trits p, p+32, p+64, p+96 at bits
                                      7:6, 5:4, 3:2, 1:0; then the f32 tensor scale and 28 zero
                                      bytes. rows * in must be a multiple of 128 */
    RAI_TERNARY_LAYOUT_TQ1_0 = 5,  /* llama.cpp TQ1_0 (type 34): 54 bytes per 256; in % 256 == 0 */
    RAI_TERNARY_LAYOUT_TQ2_0 = 6   /* llama.cpp TQ2_0 (type 35): 66 bytes per 256; in % 256 == 0 */
} rai_ternary_layout;

/* Bytes a [rows, cols] trit matrix takes in `layout`. A shape the layout cannot hold:
 * RAI_ERROR_SHAPE_MISMATCH naming the block size. */
RAI_API rai_status rai_ternary_packed_size(int32_t layout, size_t rows, size_t cols, size_t *out_bytes);

/* trits: i8 [rows, cols] -> packed: u8 with at least rai_ternary_packed_size bytes
 * (RAI_ERROR_BUFFER_TOO_SMALL otherwise; the message gives the size). scales: NULL for PLANES,
 * BYTE2 and U32_16 (they hold no scale); for I2_S one scale ([1], or any granularity whose
 * values are all equal); for TQ1_0 / TQ2_0 any granularity that is constant within every
 * 256-column block (tensor, row, or groups that are multiples or equal runs of 256), else
 * RAI_ERROR_UNSUPPORTED. TQ scales are stored as f16 (rounded to nearest even; a scale that
 * overflows f16 or a non-zero one that rounds to 0 is RAI_ERROR_OUT_OF_RANGE). */
RAI_API rai_status rai_ternary_pack(int32_t layout, const rai_tensor *trits, const rai_tensor *scales,
                                    rai_tensor *packed);
/* packed (exactly rai_ternary_packed_size bytes) -> trits: i8 [rows, cols]; scales (NULL to
 * skip; must be NULL for layouts without scales): f32 [1] for I2_S, [rows, cols / 256] for
 * TQ1_0 / TQ2_0. Invalid codes (both plane bits set, I2_S / TQ2_0 code 3, non-zero padding) are
 * RAI_ERROR_FORMAT; BYTE2 / U32_16 code 11 unpacks as 0 as in tritter-accel. */
RAI_API rai_status rai_ternary_unpack(int32_t layout, const rai_tensor *packed, rai_tensor *trits,
                                      rai_tensor *scales);
/* llama.cpp's reference quantizer (quantize_row_tq1_0_ref / _tq2_0_ref), bit for bit: per 256
 * block d = max|x| (stored f16), trit = lroundf(x * (1/d)). x: f32 [rows, cols], cols % 256 == 0;
 * layout TQ1_0 or TQ2_0. */
RAI_API rai_status rai_ternary_quantize_tq(int32_t layout, const rai_tensor *x, rai_tensor *packed);

/* A ternary weight prepared for the fast kernels of one device (an opaque "prepared" layout
 * per backend; today bitnet.cpp's I2_S interleave per row, rows padded to 128 columns, on the
 * CPU and on CUDA). */
typedef struct rai_ternary_weight rai_ternary_weight;

typedef struct rai_ternary_weight_info {
    uint32_t struct_size;
    int32_t granularity;        /* rai_bitnet_granularity */
    uint64_t out_features;
    uint64_t in_features;
    uint64_t group_size;        /* columns per scale: in for ROW and TENSOR */
    uint64_t scale_count;
    uint64_t packed_bytes;      /* bytes of the prepared trits */
    uint64_t nonzero;           /* number of non-zero trits */
    double sparsity;            /* zero trits / all trits (1.0 for an empty weight) */
    double compression_ratio;   /* bitnet-quantize's formula:
                                   4 * out * in / (ceil(in / 32) * 8 * out + 4 * scale_count) */
    rai_device device;
} rai_ternary_weight_info;

RAI_API rai_status rai_ternary_weight_info_init_sized(rai_ternary_weight_info *info, size_t struct_size);

/* trits: i8 [out, in] and scales (see above) in host memory -> a weight on ctx's device (the
 * data is copied; the tensors are not kept). */
RAI_API rai_status rai_ternary_weight_create(rai_context *ctx, const rai_tensor *trits, const rai_tensor *scales,
                                             rai_ternary_weight **out);
RAI_API void rai_ternary_weight_destroy(rai_ternary_weight *weight);
RAI_API rai_status rai_ternary_weight_get_info(const rai_ternary_weight *weight, rai_ternary_weight_info *info);
/* Back to host trits [out, in] and scales (the shape of its granularity); either may be NULL.
 * ctx must be on the weight's device. Synchronous. */
RAI_API rai_status rai_ternary_weight_unpack(rai_context *ctx, const rai_ternary_weight *weight, rai_tensor *trits,
                                             rai_tensor *scales);

/* Ternary GEMM / GEMV on ctx's device: x [..., in] -> y [..., out] (same leading dimensions),
 * y[b, o] = sum_g scale[o, g] * sum_{i in g} trit[o, i] * x[b, i] (+ bias[o]).
 *   x f32 or bf16, y f32: float accumulation (backends agree within a stated tolerance).
 *   x i8 with x_scales (f32 [tokens] or [1]; act->scale_mode says multiplier or divisor), y f32:
 *     the W2A8 path: exact int32 sums per scale group, then
 *     y = (sum_g float(isum_g) * scale_g) * x_scale (or / s) + bias, in that order.
 *   x i8, x_scales NULL, y i32: the raw integer dot sum_i trit * x (no scales, no bias).
 * Integer sums are bit-identical on every backend. bias: NULL or f32 [out]. act: NULL = defaults.
 * Asynchronous on CUDA (queued on the context's stream). */
RAI_API rai_status rai_ternary_gemm(rai_context *ctx, const rai_ternary_weight *weight, const rai_tensor *x,
                                    const rai_tensor *x_scales, const rai_bitnet_act_params *act,
                                    const rai_tensor *bias, rai_tensor *y);

/* BitLinear: a ternary weight, an optional bias and activation quantization settings. */
typedef struct rai_bitlinear rai_bitlinear;

typedef enum rai_bitlinear_mode {
    RAI_BITLINEAR_WFP = 0,   /* y = x * dequant(W)^T + b (full-precision activations) */
    RAI_BITLINEAR_FAKEQ = 1, /* y = dequant(quant(x)) * dequant(W)^T + b, in float */
    RAI_BITLINEAR_W2A8 = 2   /* int8 activations times trits with int32 sums (rai_ternary_gemm) */
} rai_bitlinear_mode;

/* Quantizes weight (host f32/bf16/f16 [out, in]) with wparams and keeps a copy of bias (host
 * f32 [out] or NULL) on ctx's device; aparams are used by FAKEQ and W2A8. NULL params =
 * defaults. */
RAI_API rai_status rai_bitlinear_create(rai_context *ctx, const rai_bitnet_weight_params *wparams,
                                        const rai_bitnet_act_params *aparams, const rai_tensor *weight,
                                        const rai_tensor *bias, rai_bitlinear **out);
/* The same from already ternary weights: trits i8 [out, in] and scales, in host memory. */
RAI_API rai_status rai_bitlinear_create_from_trits(rai_context *ctx, const rai_bitnet_act_params *aparams,
                                                   const rai_tensor *trits, const rai_tensor *scales,
                                                   const rai_tensor *bias, rai_bitlinear **out);
RAI_API void rai_bitlinear_destroy(rai_bitlinear *layer);
/* The layer's weight (borrowed: valid until the layer is destroyed). */
RAI_API rai_status rai_bitlinear_weight(const rai_bitlinear *layer, const rai_ternary_weight **out);
/* x: f32 or bf16 [..., in] (e.g. [batch, in] or [batch, seq, in]) -> y: f32 [..., out] on ctx's
 * device; mode rai_bitlinear_mode. Asynchronous on CUDA. */
RAI_API rai_status rai_bitlinear_forward(rai_context *ctx, const rai_bitlinear *layer, int32_t mode,
                                         const rai_tensor *x, rai_tensor *y);

#if !defined(SWIG) && !defined(RAI_CFFI_CDEF)
static inline rai_status rai_bitnet_weight_params_init(rai_bitnet_weight_params *params) {
    return rai_bitnet_weight_params_init_sized(params, sizeof *params);
}
static inline rai_status rai_bitnet_act_params_init(rai_bitnet_act_params *params) {
    return rai_bitnet_act_params_init_sized(params, sizeof *params);
}
static inline rai_status rai_ternary_weight_info_init(rai_ternary_weight_info *info) {
    return rai_ternary_weight_info_init_sized(info, sizeof *info);
}
#endif
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

/* ---- GGUF (llama.cpp's model file format, version 3; docs/bitnet.md) */

/* Metadata value types, with GGUF's numbers. */
typedef enum rai_gguf_type {
    RAI_GGUF_TYPE_UINT8 = 0,
    RAI_GGUF_TYPE_INT8 = 1,
    RAI_GGUF_TYPE_UINT16 = 2,
    RAI_GGUF_TYPE_INT16 = 3,
    RAI_GGUF_TYPE_UINT32 = 4,
    RAI_GGUF_TYPE_INT32 = 5,
    RAI_GGUF_TYPE_FLOAT32 = 6,
    RAI_GGUF_TYPE_BOOL = 7, /* one byte, 0 or 1 */
    RAI_GGUF_TYPE_STRING = 8,
    RAI_GGUF_TYPE_ARRAY = 9,
    RAI_GGUF_TYPE_UINT64 = 10,
    RAI_GGUF_TYPE_INT64 = 11,
    RAI_GGUF_TYPE_FLOAT64 = 12
} rai_gguf_type;

/* Tensor types rai writes and decodes, with ggml's numbers. The reader lists tensors of every
 * ggml type it knows (their raw bytes can be read); these are the ones it converts. */
typedef enum rai_ggml_type {
    RAI_GGML_TYPE_F32 = 0,
    RAI_GGML_TYPE_F16 = 1,
    RAI_GGML_TYPE_I8 = 24,
    RAI_GGML_TYPE_I16 = 25,
    RAI_GGML_TYPE_I32 = 26,
    RAI_GGML_TYPE_I64 = 27,
    RAI_GGML_TYPE_F64 = 28,
    RAI_GGML_TYPE_BF16 = 30,
    RAI_GGML_TYPE_TQ1_0 = 34,
    RAI_GGML_TYPE_TQ2_0 = 35
} rai_ggml_type;

/* Writer: collects metadata and tensors in memory (copies), then writes the file in one go as
 * llama.cpp's gguf reader expects it: little-endian GGUF v3, tensors in the order added, each at
 * the running offset padded to the alignment. */
typedef struct rai_gguf_writer rai_gguf_writer;

RAI_API rai_status rai_gguf_writer_create(rai_gguf_writer **out);
RAI_API void rai_gguf_writer_destroy(rai_gguf_writer *writer);
/* One scalar metadata value: `value` points to one value of `type` (a numeric type, or BOOL as
 * one uint8_t 0 or 1). Keys are non-empty and unique (a repeat: RAI_ERROR_INVALID_ARGUMENT).
 * "general.alignment" (UINT32, a power of two) sets the data alignment (default 32). */
RAI_API rai_status rai_gguf_writer_add_kv(rai_gguf_writer *writer, const char *key, int32_t type, const void *value);
RAI_API rai_status rai_gguf_writer_add_kv_string(rai_gguf_writer *writer, const char *key, const char *value);
/* An array of `count` numeric (or BOOL) values of elem_type. */
RAI_API rai_status rai_gguf_writer_add_kv_array(rai_gguf_writer *writer, const char *key, int32_t elem_type,
                                                const void *values, size_t count);
RAI_API rai_status rai_gguf_writer_add_kv_string_array(rai_gguf_writer *writer, const char *key,
                                                       const char *const *values, size_t count);
/* A host tensor (1 to 4 dimensions; GGUF stores them innermost first) stored as ggml_type:
 * f32 as F32, F16, BF16 (round to nearest even) or TQ1_0 / TQ2_0 (llama.cpp's reference
 * quantizer: lossy absmax ternarization, last dimension % 256 == 0); f16 as F16 or F32; bf16 as
 * BF16 or F32; i8, i32, i64, f64 as I8, I32, I64, F64. Names are 1..63 bytes and unique. */
RAI_API rai_status rai_gguf_writer_add_tensor(rai_gguf_writer *writer, const char *name, const rai_tensor *tensor,
                                              int32_t ggml_type);

/* Fail (RAI_ERROR_OUT_OF_RANGE) instead of rounding a scale that is not exactly an f16. */
#define RAI_GGUF_EXACT_SCALES 0x1u

/* A ternary weight, losslessly: trits i8 [rows, cols] (host) and scales in a BitNet scale shape
 * (see rai_ternary_pack) stored as TQ1_0 or TQ2_0 (cols % 256 == 0). A scale layout that is
 * not constant within each 256-column block (e.g. groups of 64 with different values) is
 * RAI_ERROR_UNSUPPORTED naming the tensor; scales are stored as f16 (rounded to nearest even,
 * or refused with RAI_GGUF_EXACT_SCALES). */
RAI_API rai_status rai_gguf_writer_add_ternary(rai_gguf_writer *writer, const char *name, int32_t ggml_type,
                                               const rai_tensor *trits, const rai_tensor *scales, uint32_t flags);
/* Writes the file atomically (a temporary file in the same directory, then rename): on error no
 * file is left at `path` and an existing one is untouched. RAI_ERROR_IO names path and reason. */
RAI_API rai_status rai_gguf_writer_write(const rai_gguf_writer *writer, const char *path);

/* Reader: parses and validates the whole header on open (bounds, overflow, duplicate keys and
 * names, known types, alignment, tensor ranges inside the file and not overlapping); tensor
 * data is read on demand. A malformed or truncated file: RAI_ERROR_FORMAT naming what and where;
 * big-endian files and versions other than 2 and 3: RAI_ERROR_UNSUPPORTED. Strings and pointers
 * it returns stay valid until rai_gguf_reader_destroy. Concurrent reads are safe. */
typedef struct rai_gguf_reader rai_gguf_reader;

typedef struct rai_gguf_file_info {
    uint32_t struct_size;
    uint32_t version;
    uint64_t kv_count;
    uint64_t tensor_count;
    uint64_t alignment;
    uint64_t data_offset; /* file offset of the tensor data section */
    uint64_t file_size;
} rai_gguf_file_info;

typedef struct rai_gguf_kv_info {
    uint32_t struct_size;
    int32_t type;        /* rai_gguf_type */
    int32_t array_type;  /* element type when type is ARRAY, else -1 */
    int32_t reserved0;
    const char *key;     /* NUL-terminated copy of the key */
    uint64_t count;      /* elements of an array, else 1 */
    const void *data;    /* the value(s), little-endian, for numeric and BOOL types; NULL for strings
                            (use rai_gguf_reader_kv_string) */
} rai_gguf_kv_info;

typedef struct rai_gguf_tensor_info {
    uint32_t struct_size;
    int32_t ggml_type;
    const char *name;
    int32_t ndim;
    int32_t reserved0;
    int64_t shape[4];    /* row-major order, outermost first (GGUF ne reversed); ndim entries */
    uint64_t offset;     /* file offset of the data */
    uint64_t nbytes;
} rai_gguf_tensor_info;

RAI_API rai_status rai_gguf_file_info_init_sized(rai_gguf_file_info *info, size_t struct_size);
RAI_API rai_status rai_gguf_kv_info_init_sized(rai_gguf_kv_info *info, size_t struct_size);
RAI_API rai_status rai_gguf_tensor_info_init_sized(rai_gguf_tensor_info *info, size_t struct_size);

RAI_API rai_status rai_gguf_reader_open(const char *path, rai_gguf_reader **out);
RAI_API void rai_gguf_reader_destroy(rai_gguf_reader *reader);
RAI_API rai_status rai_gguf_reader_get_info(const rai_gguf_reader *reader, rai_gguf_file_info *info);
/* Metadata entry `index` (< kv_count, else RAI_ERROR_OUT_OF_RANGE). */
RAI_API rai_status rai_gguf_reader_kv(const rai_gguf_reader *reader, size_t index, rai_gguf_kv_info *info);
/* *index = the entry with this key, or -1. */
RAI_API rai_status rai_gguf_reader_find_kv(const rai_gguf_reader *reader, const char *key, int64_t *index);
/* A STRING value (element 0) or element `element` of a string array: bytes (not necessarily
 * NUL-free; a NUL is appended) and length. */
RAI_API rai_status rai_gguf_reader_kv_string(const rai_gguf_reader *reader, size_t index, size_t element,
                                             const char **value, size_t *length);
RAI_API rai_status rai_gguf_reader_tensor(const rai_gguf_reader *reader, size_t index, rai_gguf_tensor_info *info);
/* *index = the tensor with this name, or -1. */
RAI_API rai_status rai_gguf_reader_find_tensor(const rai_gguf_reader *reader, const char *name, int64_t *index);
/* The stored bytes of a tensor. *needed = nbytes always; a smaller capacity:
 * RAI_ERROR_BUFFER_TOO_SMALL and nothing read. */
RAI_API rai_status rai_gguf_reader_read_raw(const rai_gguf_reader *reader, size_t index, void *dst, size_t capacity,
                                            size_t *needed);
/* Decodes a tensor into a host tensor of its shape: f32 from F32, F16, BF16, TQ1_0, TQ2_0 (as
 * llama.cpp dequantizes); or the same values for a matching dtype (F16 -> f16, BF16 -> bf16,
 * I8 -> i8, I32 -> i32, I64 -> i64, F64 -> f64). */
RAI_API rai_status rai_gguf_reader_read_tensor(const rai_gguf_reader *reader, size_t index, rai_tensor *dst);
/* A TQ1_0 / TQ2_0 tensor as lossless trits i8 [rows, cols] (cols = the innermost dimension) and
 * its f16 block scales as f32 [rows, cols / 256] (NULL to skip). A TQ2_0 code 3 (not a trit):
 * RAI_ERROR_FORMAT. */
RAI_API rai_status rai_gguf_reader_read_ternary(const rai_gguf_reader *reader, size_t index, rai_tensor *trits,
                                                rai_tensor *scales);

#if !defined(SWIG) && !defined(RAI_CFFI_CDEF)
static inline rai_status rai_gguf_file_info_init(rai_gguf_file_info *info) {
    return rai_gguf_file_info_init_sized(info, sizeof *info);
}
static inline rai_status rai_gguf_kv_info_init(rai_gguf_kv_info *info) {
    return rai_gguf_kv_info_init_sized(info, sizeof *info);
}
static inline rai_status rai_gguf_tensor_info_init(rai_gguf_tensor_info *info) {
    return rai_gguf_tensor_info_init_sized(info, sizeof *info);
}
#endif
/* (section end: files: safetensors, GGUF) */

/* ======================================================= adapters: LoRA family */
/* Parameter-efficient adapters with HF PEFT semantics and files: LoRA (rsLoRA, DoRA), IA3, VeRA,
 * LoHa, LoKr, AdaLoRA. Two levels:
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
    RAI_PEFT_LOKR = 5,
    RAI_PEFT_ADALORA = 6 /* AdaLoRA at a fixed rank pattern: r is init_r, rank_pattern
                            {"<module>.lora_E": [true, false, ...]} keeps singular values; the
                            schedule (target_r, tinit, tfinal, deltaT, beta1/2, orth_reg_weight)
                            takes PEFT's defaults and total_step 1 (PEFT requires one): set them
                            with rai_adapter_add_json */
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

/* ---- adapter model (state in host memory; compute on the context's device) */

typedef struct rai_adapter_model rai_adapter_model;

/* The model keeps `ctx` (borrowed: it must outlive the model) and computes on its device.
 * The state stays in host memory whatever the device: the tensors given to add_linear,
 * get_weight, merged_weight, get/set_tensor and get_grad are host tensors. On a CUDA context
 * the compute calls (forward, forward_mixed, backward) take tensors on the context's device and
 * queue their work on its stream, returning once it is done; every tuner runs there, with the
 * base weight kept on the device in its dtype (refreshed after merges), adapter parameters sent
 * up at each call and gradients brought back into the host gradients. The base product runs in
 * the weight's dtype (x converted to it, as torch's F.linear); the adapter math in fp32.
 * 4-bit modules (add_linear_q4) need a CPU context (RAI_ERROR_UNSUPPORTED on CUDA; use
 * rai_lora_linear_* with a 4-bit base there). */
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
/* JSON {"modules": [{"name", "out", "in", "dtype", "bias", "fan_in_fan_out"}...],
 * "adapters": [{"name", "peft_type", "modules", "parameters"}...], "active": [{"name",
 * "weight"}...], "merged": [names...], "enabled": bool, "training": bool}; release with rai_free. */
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

/* AdaLoRA training (PEFT's AdaLoraModel), for an adapter added at its full init_r:
 * rai_adapter_adalora_update is update_and_allocate(global_step): call it once per step after
 * backward (and the optimizer step), before zeroing gradients. Before total_step - tfinal it
 * updates the importance EMAs (beta1, beta2) from |p * grad| of lora_A, lora_E, lora_B and, every
 * deltaT steps after tinit, zeroes the singular values (lora_E entries) whose score is among the
 * lowest (init budget - the cubic budget); at total_step - tfinal it takes the final mask at
 * target_r per module; afterwards it re-applies that mask. The adapter's rank_pattern (config
 * JSON, saved directories: tensors saved pruned to it, as PEFT does) follows the mask.
 * out_budget (may be NULL) receives the budget. RAI_ERROR_INVALID_ARGUMENT for a non-AdaLoRA
 * adapter, global_step < 0, total_step unset, or an adapter loaded pruned (rank < init_r).
 * rai_adapter_adalora_orth_reg returns orth_reg_weight * mean over lora_A and lora_B of
 * ||P Pᵀ - I||_F (A: P = lora_A, B: P = lora_Bᵀ) in *out_loss (add it to the loss, as PEFT's
 * forward does) and, when accumulate_grad != 0, adds its gradient to the adapter's gradients. */
RAI_API rai_status rai_adapter_adalora_update(rai_adapter_model *model, const char *adapter,
                                              int64_t global_step, int64_t *out_budget);
RAI_API rai_status rai_adapter_adalora_orth_reg(rai_adapter_model *model, const char *adapter,
                                                int32_t accumulate_grad, float *out_loss);

/* y = module(x) with the active adapters: x [..., in], y [..., out]; f32/bf16/f16, contiguous,
 * on the context's device. In training mode each call draws fresh dropout masks (the same on
 * every device). */
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
    /* Appended after the first release (an older, shorter struct gets momentum 0). */
    float momentum;          /* momentum correction (DGC) in [0, 1); 0 = off. See below. */
    uint32_t reserved1;      /* must be 0 */
} rai_gc_params;

/* Momentum correction (Lin et al., "Deep Gradient Compression", ICLR 2018). With momentum m > 0
 * each tensor keeps a velocity u <- m*u + grad, and the compressor sends u + residual instead of
 * grad + residual: the receiver's decoded (averaged) tensor is already a momentum update, so the
 * caller steps with plain SGD (momentum 0) on it. Momentum on the decoded sum instead (the
 * default, momentum 0 here) lets error feedback's delayed mass be amplified by 1/(1-m). With
 * TOPK, momentum-factor masking zeroes u where the message carries a value, so a coordinate's
 * momentum does not keep pushing after it was sent. Needs error feedback (RAI_GC_EF_ON, or the
 * default for a biased method). The velocity is per-tensor state: rai_gc_state_save keeps it. */

RAI_API rai_status rai_gc_params_init_sized(rai_gc_params *params, size_t struct_size);

/* Creates a compressor on `ctx` (borrowed). RAI_ERROR_INVALID_ARGUMENT for a ratio outside
 * (0, 1], an unknown method, levels out of range, a momentum outside [0, 1) or without error
 * feedback; RAI_ERROR_UNSUPPORTED for VSA_COMPAT on a
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

/* rai_gc_allreduce_mpi and rai_gc_allreduce_nccl flags */
#define RAI_GC_ALLREDUCE_AVERAGE 0x1u /* divide the sum by the communicator size */
/* Methods that all-gather their messages: sum every rank's decoded message instead of reducing
 * the messages. It differs from the reduce only for SIGN (the mean of the ranks' scaled signs,
 * which is what each rank's error feedback assumes was sent, instead of a majority vote);
 * PowerSGD and raw steps ignore it. */
#define RAI_GC_ALLREDUCE_SUM_DECODED 0x2u

/* Compressed all-reduce over MPI: every rank calls it with its gradient and the same tensor id;
 * afterwards grad_inout holds the (compressed) sum over ranks on every rank. `mpi_comm` points
 * to the caller's MPI_Comm (e.g. &comm; so rai.h needs no mpi.h). PowerSGD uses two
 * MPI_Allreduce calls (P, then Q), TOPK an all-gather of the sparse messages, raw steps one
 * MPI_Allreduce; the others all-gather their messages and reduce them as rai_gc_message_reduce
 * (or, with RAI_GC_ALLREDUCE_SUM_DECODED, sum their decodes).
 * The MPI calls go through the plugin librai_mpi.so (built when MPI is found; found through
 * $RAI_MPI_PLUGIN, then librai's directory, then the loader's path), so librai itself never
 * links libmpi. RAI_ERROR_UNSUPPORTED (naming why) when the plugin cannot be loaded. MPI must be
 * initialised, and the caller's MPI must be the one the plugin was built with. */
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
/* 1 when the MPI plugin (librai_mpi.so) loads, else 0. */
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
/*
 * Optimizers owned by rai (SGD, momentum, AdamW) and a caller-driven "hybrid" trainer that skips
 * some backward passes by predicting updates, with a divergence guard that really rolls back.
 * User guide, schedule arithmetic and measured results: docs/train.md.
 *
 * Tensors: f32, contiguous, on the device of the context the object was created with. Parameter
 * and gradient tensors given to *_add_param are BORROWED: rai keeps their data pointers (not the
 * descriptors) and reads or writes that memory during later calls, so the memory must stay
 * valid, at the same address, until the object is destroyed. The context is borrowed too.
 * Thread safety: each rai_optimizer and rai_hybrid serialises the calls made on it; use one per
 * training loop. On a CUDA context, parameter updates (optimizer steps, predicted updates,
 * rollbacks) are queued on the context's stream and may still run when the call returns: adopt
 * your framework's stream (rai_context_set_stream) or call rai_context_synchronize before
 * reading the parameters on another stream. The reductions rai needs (norms) synchronise.
 */

/* ---- optimizers: usable on their own, or attached to a rai_hybrid */

typedef struct rai_optimizer rai_optimizer;

typedef enum rai_optimizer_kind {
    RAI_OPTIMIZER_SGD = 0,      /* p -= lr*(g + wd*p) */
    RAI_OPTIMIZER_MOMENTUM = 1, /* PyTorch SGD with momentum (dampening 0), optional Nesterov */
    RAI_OPTIMIZER_ADAMW = 2     /* PyTorch AdamW: decoupled decay, bias-corrected moments */
} rai_optimizer_kind;

typedef struct rai_optimizer_params {
    uint32_t struct_size;
    int32_t kind;          /* rai_optimizer_kind; 0 = SGD */
    float lr;              /* 0 = 1e-3 */
    float momentum;        /* MOMENTUM: in (0, 1); 0 = 0.9 */
    float beta1;           /* ADAMW: in (0, 1); 0 = 0.9 */
    float beta2;           /* ADAMW: in (0, 1); 0 = 0.999 */
    float eps;             /* ADAMW: > 0; 0 = 1e-8 */
    float weight_decay;    /* >= 0; 0 = none. ADAMW: p *= 1 - lr*wd (decoupled); SGD, MOMENTUM: g += wd*p */
    float max_grad_norm;   /* > 0: scale gradients by min(1, max/(norm + 1e-6)), norm = global L2; 0 = off */
    int32_t nesterov;      /* MOMENTUM: 1 = Nesterov; 0 = classic */
} rai_optimizer_params;

RAI_API rai_status rai_optimizer_params_init_sized(rai_optimizer_params *params, size_t struct_size);
/* Invalid values (negative lr, beta outside (0, 1), unknown kind): RAI_ERROR_INVALID_ARGUMENT. */
RAI_API rai_status rai_optimizer_create(rai_context *ctx, const rai_optimizer_params *params,
                                        rai_optimizer **out);
RAI_API void rai_optimizer_destroy(rai_optimizer *opt);
/* Registers a parameter and its gradient (BORROWED, same shape, f32, contiguous, on the
 * context's device, not overlapping earlier registrations). name may be NULL. *out_id (may be
 * NULL) is the registration index 0, 1, ... Refused once the optimizer has stepped or is
 * attached to a rai_hybrid. */
RAI_API rai_status rai_optimizer_add_param(rai_optimizer *opt, const char *name, const rai_tensor *param,
                                           const rai_tensor *grad, uint32_t *out_id);
/* One step over every registered tensor with the gradients now in the grad buffers (which are
 * not modified). Computes the global gradient norm first (written to *out_grad_norm, may be NULL;
 * before clipping); a non-finite norm is refused with RAI_ERROR_INVALID_ARGUMENT and nothing is
 * updated. Synchronises. Refused while attached to a rai_hybrid (the hybrid steps it). */
RAI_API rai_status rai_optimizer_step(rai_optimizer *opt, float *out_grad_norm);
/* Global L2 norm of the registered gradients (double accumulation). Synchronises. */
RAI_API rai_status rai_optimizer_grad_norm(rai_optimizer *opt, float *out_norm);
/* torch.nn.utils.clip_grad_norm_: multiplies the registered gradients in place by
 * min(1, max_norm/(norm + 1e-6)); *out_norm (may be NULL) gets the norm before clipping. */
RAI_API rai_status rai_optimizer_clip_grad_norm(rai_optimizer *opt, float max_norm, float *out_norm);
RAI_API rai_status rai_optimizer_set_lr(rai_optimizer *opt, float lr);
RAI_API rai_status rai_optimizer_get_lr(const rai_optimizer *opt, float *out_lr);
/* Steps taken (the t of AdamW's bias correction). */
RAI_API rai_status rai_optimizer_step_count(const rai_optimizer *opt, uint64_t *out_steps);
/* Optimizer state (step count, lr, moment buffers) in a versioned little-endian blob.
 * state_save: RAI_ERROR_BUFFER_TOO_SMALL with *written = the needed size when capacity is too
 * small (buffer may then be NULL). state_load: same kind and registered sizes, else
 * RAI_ERROR_INVALID_ARGUMENT / RAI_ERROR_SHAPE_MISMATCH; a damaged blob RAI_ERROR_FORMAT; a blob of
 * another format version RAI_ERROR_UNSUPPORTED. A failed load changes nothing. */
RAI_API rai_status rai_optimizer_state_size(const rai_optimizer *opt, size_t *out_size);
RAI_API rai_status rai_optimizer_state_save(const rai_optimizer *opt, void *buffer, size_t capacity,
                                            size_t *written);
RAI_API rai_status rai_optimizer_state_load(rai_optimizer *opt, const void *buffer, size_t size);

/* ---- the hybrid trainer */

typedef struct rai_hybrid rai_hybrid;

typedef enum rai_hybrid_phase {
    RAI_HYBRID_PHASE_WARMUP = 0,  /* real steps that fill the predictor's history */
    RAI_HYBRID_PHASE_FULL = 1,    /* real steps */
    RAI_HYBRID_PHASE_PREDICT = 2, /* no backward: a predicted update (forward for the loss only) */
    RAI_HYBRID_PHASE_CORRECT = 3  /* a real step whose gradient also corrects the predictor */
} rai_hybrid_phase;

typedef enum rai_hybrid_schedule {
    RAI_HYBRID_SCHEDULE_FIXED = 0,   /* vsa-optim's cycle: F full, then P predict with a CORRECT
                                        every C steps (defaults: 26 steps, 9 backward) */
    RAI_HYBRID_SCHEDULE_ADAPTIVE = 1 /* FIXED plus a loss-trend rule moving F and P within bounds */
} rai_hybrid_schedule;

typedef enum rai_hybrid_predictor {
    RAI_HYBRID_PREDICTOR_DEFAULT = 0,        /* HOLD */
    RAI_HYBRID_PREDICTOR_SKIP = 1,           /* no update: the honest baseline */
    RAI_HYBRID_PREDICTOR_HOLD = 2,           /* repeat the last real update */
    RAI_HYBRID_PREDICTOR_MOMENTUM_COAST = 3, /* the optimizer stepped with a zero gradient */
    RAI_HYBRID_PREDICTOR_EMA = 4,            /* exponential moving average of real updates */
    RAI_HYBRID_PREDICTOR_WLS_LINEAR = 5,     /* vsa-optim's per-element weighted linear fit + residual */
    RAI_HYBRID_PREDICTOR_LOW_RANK_TREND = 6  /* rank-r factor of the EMA of updates (PowerSGD-style) */
} rai_hybrid_predictor;

typedef enum rai_hybrid_loss_model {
    RAI_HYBRID_LOSS_MODEL_DEFAULT = 0, /* LINEAR */
    RAI_HYBRID_LOSS_MODEL_EMA = 1,     /* level only */
    RAI_HYBRID_LOSS_MODEL_LINEAR = 2   /* level + trend (Holt) */
} rai_hybrid_loss_model;

typedef enum rai_hybrid_divergence {
    RAI_HYBRID_DIVERGENCE_NONE = 0,
    RAI_HYBRID_DIVERGENCE_CAUTION = 1,  /* halves the current (or next) predict horizon */
    RAI_HYBRID_DIVERGENCE_WARNING = 2,  /* ends PREDICT, forces 2F full steps */
    RAI_HYBRID_DIVERGENCE_CRITICAL = 3  /* restores the snapshot bit for bit, forces 2F full steps */
} rai_hybrid_divergence;

/* rai_hybrid_params.flags */
#define RAI_HYBRID_NO_SNAPSHOT 0x1u /* no snapshot (saves 1x parameters, plus optimizer state):
                                       Critical then cannot roll back */
#define RAI_HYBRID_NO_GUARD 0x2u    /* no divergence checks (non-finite values are still refused) */

typedef struct rai_hybrid_params {
    uint32_t struct_size;
    int32_t schedule;                 /* rai_hybrid_schedule; 0 = FIXED */
    uint64_t seed;                    /* LOW_RANK_TREND's initial factor; 0 = a fixed default */
    int32_t predictor;                /* rai_hybrid_predictor; 0 = HOLD */
    int32_t loss_model;               /* rai_hybrid_loss_model; 0 = LINEAR */
    uint32_t flags;                   /* RAI_HYBRID_NO_* */
    uint32_t warmup_steps;            /* W, real steps before the first FULL; 0 = 10 */
    uint32_t full_steps;              /* F; 0 = 5 */
    uint32_t predict_steps;           /* P, steps of a predict phase, CORRECT steps included; 0 = 20 */
    uint32_t correct_every;           /* C; 0 = 5 */
    uint32_t max_consecutive_predict; /* forces a CORRECT after this many PREDICT steps in a row;
                                         0 = no limit beyond C */
    uint32_t predict_forward_every;   /* PREDICT steps ask for a forward every k-th step; 0 = 1 */
    float predict_scale;              /* damping of predicted updates, in (0, 4]; 0 = 1 */
    float ema_decay;                  /* EMA and LOW_RANK_TREND decay, in (0, 1); 0 = 0.9 */
    uint32_t wls_window;              /* WLS history window w, 1..14 (w + 2 entries kept); 0 = 8 */
    float wls_decay;                  /* WLS weight per step of age and residual decay; 0 = 0.95 */
    float wls_residual_rate;          /* WLS residual EMA rate; 0 = 0.05 */
    float wls_residual_threshold;     /* any |residual| above it forces a CORRECT; 0 = 0.5 */
    uint32_t wls_max_dt;              /* cap on the WLS extrapolation distance in steps; 0 = 20 */
    uint32_t lowrank_rank;            /* LOW_RANK_TREND rank r, 1..64; 0 = 2 */
    float confidence_threshold;       /* in [0, 1): PREDICT only when the loss model's confidence is
                                         at least this; 0 = no gate */
    uint32_t adaptive_min_full;       /* ADAPTIVE bounds; 0 = 3 */
    uint32_t adaptive_max_full;       /* 0 = 30 */
    uint32_t adaptive_min_predict;    /* 0 = 5 */
    uint32_t adaptive_max_predict;    /* 0 = 50 */
    float adaptive_loss_threshold;    /* relative loss rise that shortens PREDICT; 0 = 0.1 */
    float guard_sigma;                /* s: Caution 0.7s, Warning s, Critical 2s (one-sided z); 0 = 3 */
    float guard_grad_explode;         /* grad norm above this x baseline: Warning (10x that: Critical);
                                         0 = 100 */
    float guard_grad_vanish;          /* grad norm below this x baseline: Warning; 0 = 0.01 */
    uint32_t guard_baseline_steps;    /* real gradients averaged into the norm baseline; 0 = 50 */
    float guard_sigma_floor;          /* floor of the loss sigma, relative to the loss EMA; 0 = 0.01 */
    float rollback_lr_scale;          /* multiplies the attached optimizer's lr on each rollback, in
                                         (0, 1]; 0 = 1 */
    float guard_forecast_caution;     /* PREDICT steps: relative loss-forecast error for Caution;
                                         0 = 0.2 */
    float guard_forecast_warning;     /* ... and for Warning; 0 = 0.5 */
    uint32_t reserved0;               /* must be 0 */
} rai_hybrid_params;

typedef struct rai_hybrid_step_info {
    uint32_t struct_size;
    int32_t phase;              /* rai_hybrid_phase of this step */
    int32_t needs_forward;      /* 1: run a forward pass and report its loss */
    int32_t needs_backward;     /* 1: run forward + backward into the grad buffers, then
                                   rai_hybrid_record_gradients */
    int32_t has_prediction;     /* 1 on PREDICT steps whose predictor yields an update (all but SKIP) */
    int32_t phase_changed;      /* 1 when this step starts a new phase */
    uint64_t step;              /* 0-based step index */
    uint64_t phase_step;        /* steps into the phase (PREDICT and CORRECT share one count) */
    uint64_t cycle;             /* completed predict cycles (FULL entries after warm-up) */
    uint32_t horizon_remaining; /* steps left in this phase, this one included */
    float confidence;           /* loss model confidence in [0, 1] */
    float predicted_loss;       /* the loss model's forecast for this step; NaN when it has none */
    uint32_t reserved0;
} rai_hybrid_step_info;

/* rai_hybrid_step_result.events */
#define RAI_HYBRID_EVENT_PHASE_CHANGED 0x1u        /* this step started a new phase */
#define RAI_HYBRID_EVENT_CORRECTION 0x2u           /* a CORRECT step corrected the predictor */
#define RAI_HYBRID_EVENT_DIVERGENCE_CAUTION 0x4u
#define RAI_HYBRID_EVENT_DIVERGENCE_WARNING 0x8u
#define RAI_HYBRID_EVENT_DIVERGENCE_CRITICAL 0x10u
#define RAI_HYBRID_EVENT_ROLLED_BACK 0x20u         /* parameters (and optimizer state) restored */
#define RAI_HYBRID_EVENT_FORCED_FULL 0x40u         /* the guard forces FULL steps from the next step */
#define RAI_HYBRID_EVENT_GATE_BLOCKED 0x80u        /* low confidence kept this step in FULL */

/* rai_hybrid_step_result.divergence_signals */
#define RAI_HYBRID_SIGNAL_LOSS_ZSCORE 0x1u      /* loss above its EMA by 0.7s, s or 2s sigmas */
#define RAI_HYBRID_SIGNAL_NONFINITE 0x2u        /* NaN or Inf in the loss, gradients or the update */
#define RAI_HYBRID_SIGNAL_GRAD_EXPLODE 0x4u
#define RAI_HYBRID_SIGNAL_GRAD_VANISH 0x8u
#define RAI_HYBRID_SIGNAL_PREDICTION_ERROR 0x10u /* |loss - forecast| / max(|loss|, 0.1) above the
                                                    guard_forecast_* thresholds */
#define RAI_HYBRID_SIGNAL_ESCALATED 0x20u        /* third Warning in a row, raised to Critical */

typedef struct rai_hybrid_step_result {
    uint32_t struct_size;
    uint32_t events;             /* RAI_HYBRID_EVENT_* */
    uint64_t step;
    int32_t phase;               /* the phase this step ran in */
    int32_t divergence_level;    /* rai_hybrid_divergence */
    uint32_t divergence_signals; /* RAI_HYBRID_SIGNAL_* */
    float loss;                  /* NaN when no loss was given */
    float predicted_loss;        /* NaN when the loss model had no forecast */
    float loss_zscore;           /* NaN when not evaluated */
    float grad_norm;             /* global norm of a real gradient (before clipping); NaN otherwise */
    float update_norm;           /* norm of the applied prediction; NaN otherwise */
    float confidence;
    uint32_t reserved0;
    uint64_t rollback_step;      /* with ROLLED_BACK: parameters are as they were before this step */
} rai_hybrid_step_result;

typedef struct rai_hybrid_stats {
    uint32_t struct_size;
    int32_t phase;                    /* phase of the last step */
    uint64_t steps;                   /* completed steps */
    uint64_t forward_passes;          /* losses given (record or report) */
    uint64_t backward_passes;         /* real gradients recorded: the only count of backward work */
    uint64_t predicted_steps;         /* PREDICT steps that applied or returned a prediction */
    uint64_t skipped_steps;           /* PREDICT steps without an update (SKIP, or nothing applied) */
    uint64_t warmup_steps;            /* steps per phase */
    uint64_t full_steps;
    uint64_t predict_steps;
    uint64_t correct_steps;
    uint64_t rollbacks;
    uint64_t caution_events;
    uint64_t warning_events;
    uint64_t critical_events;
    uint64_t gate_blocks;
    uint64_t cycles;
    uint64_t phase_changes;
    uint64_t loss_forecasts;          /* losses compared with a forecast */
    uint64_t update_comparisons;      /* CORRECT steps where prediction and real update were compared */
    uint64_t state_bytes;             /* predictor, snapshot and scratch memory held by the hybrid */
    uint32_t effective_full_steps;    /* F and P now (ADAPTIVE moves them) */
    uint32_t effective_predict_steps;
    float confidence;
    float backward_fraction;          /* backward_passes / steps */
    double loss_mae;                  /* mean |loss - forecast| */
    double update_cosine_last;        /* cosine of predicted vs real update (CORRECT steps) */
    double update_cosine_mean;
    double update_rel_error_last;     /* |predicted - real| / |real| */
    double update_rel_error_mean;
    double seconds_warmup;            /* wall time from begin_step to end_step, per phase */
    double seconds_full;
    double seconds_predict;
    double seconds_correct;
    double seconds_overhead;          /* time spent inside rai's hybrid calls */
} rai_hybrid_stats;

/* rai_hybrid_state_* flags */
#define RAI_HYBRID_STATE_PARAMS 0x1u    /* include the registered parameters' values */
#define RAI_HYBRID_STATE_OPTIMIZER 0x2u /* include the attached optimizer's state */

/* rai_hybrid_metrics_json flags */
#define RAI_HYBRID_JSON_TIMINGS 0x1u /* include measured times (which differ run to run) */

RAI_API rai_status rai_hybrid_params_init_sized(rai_hybrid_params *params, size_t struct_size);
RAI_API rai_status rai_hybrid_step_info_init_sized(rai_hybrid_step_info *info, size_t struct_size);
RAI_API rai_status rai_hybrid_step_result_init_sized(rai_hybrid_step_result *result, size_t struct_size);
RAI_API rai_status rai_hybrid_stats_init_sized(rai_hybrid_stats *stats, size_t struct_size);
/* Static name of a phase ("warmup", "full", "predict", "correct"), or NULL. */
RAI_API const char *rai_hybrid_phase_name(int32_t phase);

RAI_API rai_status rai_hybrid_create(rai_context *ctx, const rai_hybrid_params *params, rai_hybrid **out);
/* Does not destroy an attached optimizer (it is borrowed and must outlive the hybrid). */
RAI_API void rai_hybrid_destroy(rai_hybrid *h);
/* Registers a parameter and its gradient buffer, BORROWED (see above), before the first step.
 * Same rules as rai_optimizer_add_param. */
RAI_API rai_status rai_hybrid_add_param(rai_hybrid *h, const char *name, const rai_tensor *param,
                                        const rai_tensor *grad, uint32_t *out_id);
/* Attaches an optimizer (BORROWED; must outlive h) before the first step. It must have exactly
 * h's tensors, registered in the same order. With it, record_gradients steps the optimizer and
 * predictions live in update space (delta-theta, after preconditioning); without it, the caller
 * owns its optimizer and predictions are gradients. */
RAI_API rai_status rai_hybrid_set_optimizer(rai_hybrid *h, rai_optimizer *opt);

/* The step protocol, once per training step:
 *   rai_hybrid_begin_step(h, &info);
 *   if (info.needs_backward) { forward + backward into the grad buffers;
 *                              rai_hybrid_record_gradients(h, loss); }
 *   else { rai_hybrid_apply_predicted(h) or rai_hybrid_get_predicted(h, out, n);
 *          if (info.needs_forward) { forward; rai_hybrid_report_loss(h, loss); } }
 *   rai_hybrid_end_step(h, &result);
 * Calls out of this order fail with RAI_ERROR_INVALID_ARGUMENT ("protocol: ...") and change
 * nothing. begin_step takes the snapshot when a PREDICT phase starts. */
RAI_API rai_status rai_hybrid_begin_step(rai_hybrid *h, rai_hybrid_step_info *out);
/* After a real backward (WARMUP, FULL, CORRECT): reads the grad buffers, computes the global
 * norm, steps the attached optimizer (with its clipping) and feeds the predictor. A non-finite
 * loss or gradient is refused with RAI_ERROR_INVALID_ARGUMENT: nothing is updated, the step
 * is marked Critical, and rai_hybrid_end_step then rolls back to the snapshot (if any). Without
 * an optimizer, step your own optimizer after this call. Synchronises. */
RAI_API rai_status rai_hybrid_record_gradients(rai_hybrid *h, float loss);
/* PREDICT step. With an optimizer: parameters += predicted update (MOMENTUM_COAST steps the
 * optimizer with a zero gradient). Without: the predicted gradient is written into the grad
 * buffers, for your optimizer to apply; SKIP leaves them alone (do not step then). */
RAI_API rai_status rai_hybrid_apply_predicted(rai_hybrid *h);
/* PREDICT step, alternative to apply: writes the prediction (update or gradient, as above) into
 * n == registered-count caller tensors shaped like the parameters; parameters are not touched.
 * SKIP writes zeros. */
RAI_API rai_status rai_hybrid_get_predicted(rai_hybrid *h, const rai_tensor *const *out, size_t n);
/* PREDICT step: the loss of the forward pass run after the prediction was applied. A
 * non-finite loss is refused like in record_gradients (Critical at end_step). */
RAI_API rai_status rai_hybrid_report_loss(rai_hybrid *h, float loss);
/* Closes the step: runs the divergence guard on this step's loss and acts (rollback restores
 * parameters and optimizer state bit for bit). out may be NULL. */
RAI_API rai_status rai_hybrid_end_step(rai_hybrid *h, rai_hybrid_step_result *out);
/* Abandons the open step (e.g. the caller's forward failed): when nothing was recorded or
 * applied yet the step never happened; otherwise it is ended without a loss. */
RAI_API rai_status rai_hybrid_abort_step(rai_hybrid *h);

RAI_API rai_status rai_hybrid_get_stats(const rai_hybrid *h, rai_hybrid_stats *out);
/* Counters, schedule, confidence and predictor error statistics as JSON (release with rai_free).
 * Without RAI_HYBRID_JSON_TIMINGS it is bitwise identical for identical CPU runs. */
RAI_API rai_status rai_hybrid_metrics_json(const rai_hybrid *h, uint32_t flags, char **out_json);

/* Checkpoint of the hybrid (schedule, predictor history, residuals, loss model, guard, snapshot,
 * metrics; with flags also the parameters and the attached optimizer's state) in a versioned
 * little-endian blob, between steps only. Sizes and errors as rai_optimizer_state_*; loading
 * needs the same predictor configuration and registered sizes. A failed load changes nothing. */
RAI_API rai_status rai_hybrid_state_size(const rai_hybrid *h, uint32_t flags, size_t *out_size);
RAI_API rai_status rai_hybrid_state_save(const rai_hybrid *h, uint32_t flags, void *buffer, size_t capacity,
                                         size_t *written);
RAI_API rai_status rai_hybrid_state_load(rai_hybrid *h, const void *buffer, size_t size);

/* Optional callback driver for C callers. Callbacks return 0 to continue; anything else stops
 * the run with RAI_ERROR_CANCELLED after closing the step. They may use other rai objects but
 * must not call h. */
typedef struct rai_hybrid_callbacks {
    uint32_t struct_size; /* sizeof(rai_hybrid_callbacks) */
    uint32_t reserved0;
    /* forward + backward into the registered grad buffers; *loss = the forward's loss */
    int32_t (*backward)(void *user, uint64_t step, float *loss);
    /* forward only, on the parameters after a predicted update (PREDICT steps that need one) */
    int32_t (*forward)(void *user, uint64_t step, float *loss);
    /* Required without an attached optimizer: apply the n gradients (the registered grad
       buffers, holding a real or a predicted gradient) with your optimizer. */
    int32_t (*apply_update)(void *user, uint64_t step, const rai_tensor *const *grads, size_t n);
    /* optional, after every step */
    int32_t (*on_step)(void *user, const rai_hybrid_step_result *result);
} rai_hybrid_callbacks;

/* Runs n steps of the protocol with the callbacks; *out_done (may be NULL) = steps completed.
 * A non-finite loss from a callback is handled by the guard (not an error). */
RAI_API rai_status rai_hybrid_run_steps(rai_hybrid *h, const rai_hybrid_callbacks *callbacks, void *user,
                                        uint64_t n, uint64_t *out_done);

#if !defined(SWIG) && !defined(RAI_CFFI_CDEF)
static inline rai_status rai_optimizer_params_init(rai_optimizer_params *params) {
    return rai_optimizer_params_init_sized(params, sizeof *params);
}
static inline rai_status rai_hybrid_params_init(rai_hybrid_params *params) {
    return rai_hybrid_params_init_sized(params, sizeof *params);
}
static inline rai_status rai_hybrid_step_info_init(rai_hybrid_step_info *info) {
    return rai_hybrid_step_info_init_sized(info, sizeof *info);
}
static inline rai_status rai_hybrid_step_result_init(rai_hybrid_step_result *result) {
    return rai_hybrid_step_result_init_sized(result, sizeof *result);
}
static inline rai_status rai_hybrid_stats_init(rai_hybrid_stats *stats) {
    return rai_hybrid_stats_init_sized(stats, sizeof *stats);
}
#endif
/* (section end: hybrid predictive training) */

/* ------------------------------------------------------------ ternary and VSA */
/*
 * Balanced ternary arithmetic, packed trit vectors and vector-symbolic architecture (VSA)
 * operations. Exact semantics, formats and the decisions behind them: docs/ternary.md.
 *
 * Trits are int8_t values -1, 0, +1; any other value is RAI_ERROR_INVALID_ARGUMENT naming the
 * argument (and its index). A tryte or word value out of range, and an index out of bounds, is
 * RAI_ERROR_OUT_OF_RANGE; vectors of different dimensions are RAI_ERROR_SHAPE_MISMATCH. On any
 * error, outputs are left untouched. Outputs that are vectors (`out`) must already have the
 * inputs' dimension; unless a function says otherwise they may be the same object as an input.
 *
 * Thread safety: the scalar functions are pure. rai_tvec and rai_svec objects are plain data
 * without internal locking: concurrent reads are safe, a write needs exclusive access.
 * Functions taking a rai_context serialise on it like every context function.
 */

/* -- balanced ternary scalars */

/* Largest tryte (3 trits) and word (6 trits) values; the ranges are symmetric. */
#define RAI_TRYTE3_MAX 13
#define RAI_WORD6_MAX 364
/* Raw encodings: trit k at bits 2k..2k+1 with the codes 0 = -1, 1 = 0, 2 = +1 (trit-vsa's
 * Tryte3/Word6 raw format; code 3 decodes as 0). Bits above the last trit must be zero. */
#define RAI_TRYTE3_ZERO 21u
#define RAI_WORD6_ZERO 1365u

/* value in {-1, 0, 1} -> *out; anything else RAI_ERROR_INVALID_ARGUMENT. */
RAI_API rai_status rai_trit_from_int(int32_t value, int8_t *out);
RAI_API rai_status rai_trit_neg(int8_t a, int8_t *out);
RAI_API rai_status rai_trit_mul(int8_t a, int8_t b, int8_t *out);
/* a + b = digit + 3 * carry, e.g. 1 + 1 = -1 + 3 * 1. */
RAI_API rai_status rai_trit_add(int8_t a, int8_t b, int8_t *out_digit, int8_t *out_carry);
/* Bit-plane form: +1 = (plus 1, minus 0), -1 = (0, 1), 0 = (0, 0); (1, 1) is invalid. */
RAI_API rai_status rai_trit_to_bits(int8_t a, uint8_t *out_plus, uint8_t *out_minus);
RAI_API rai_status rai_trit_from_bits(uint8_t plus, uint8_t minus, int8_t *out);

/* Tryte3: value t0 + 3 t1 + 9 t2 in [-13, 13], stored raw in a uint8_t. */
RAI_API rai_status rai_tryte3_from_int(int32_t value, uint8_t *out_raw);
RAI_API rai_status rai_tryte3_to_int(uint8_t raw, int32_t *out);
/* trits[0] is the least significant trit. */
RAI_API rai_status rai_tryte3_from_trits(const int8_t *trits /* [3] */, uint8_t *out_raw);
RAI_API rai_status rai_tryte3_to_trits(uint8_t raw, int8_t *out_trits /* [3] */);
RAI_API rai_status rai_tryte3_get_trit(uint8_t raw, size_t index, int8_t *out);
/* out_sum + 27 * out_carry = a + b. */
RAI_API rai_status rai_tryte3_add(uint8_t a, uint8_t b, uint8_t *out_sum, int8_t *out_carry);
/* out_low + 27 * out_high = a * b (both trytes). */
RAI_API rai_status rai_tryte3_mul(uint8_t a, uint8_t b, uint8_t *out_low, uint8_t *out_high);
RAI_API rai_status rai_tryte3_neg(uint8_t a, uint8_t *out);

/* Word6: 6 trits in [-364, 364], stored raw in a uint16_t; the same operations with base 729. */
RAI_API rai_status rai_word6_from_int(int32_t value, uint16_t *out_raw);
RAI_API rai_status rai_word6_to_int(uint16_t raw, int32_t *out);
RAI_API rai_status rai_word6_from_trits(const int8_t *trits /* [6] */, uint16_t *out_raw);
RAI_API rai_status rai_word6_to_trits(uint16_t raw, int8_t *out_trits /* [6] */);
RAI_API rai_status rai_word6_get_trit(uint16_t raw, size_t index, int8_t *out);
RAI_API rai_status rai_word6_add(uint16_t a, uint16_t b, uint16_t *out_sum, int8_t *out_carry);
RAI_API rai_status rai_word6_mul(uint16_t a, uint16_t b, uint16_t *out_low, uint16_t *out_high);
RAI_API rai_status rai_word6_neg(uint16_t a, uint16_t *out);
/* word = low + 27 * high. */
RAI_API rai_status rai_word6_from_trytes(uint8_t low, uint8_t high, uint16_t *out_raw);
RAI_API rai_status rai_word6_to_trytes(uint16_t raw, uint8_t *out_low, uint8_t *out_high);

/* Digit arrays: balanced ternary numbers of any length, least significant digit first. Results
 * go to `out` (capacity digits); *out_count receives the number of digits, also with
 * RAI_ERROR_BUFFER_TOO_SMALL (then nothing is written). */
/* At least max(1, min_digits) digits (zero-padded); 0 gives [0]. */
RAI_API rai_status rai_ternary_digits_from_int(int64_t value, size_t min_digits, int8_t *out, size_t capacity,
                                               size_t *out_count);
/* An empty array is 0; RAI_ERROR_OUT_OF_RANGE when the value does not fit in int64. */
RAI_API rai_status rai_ternary_digits_to_int(const int8_t *digits, size_t count, int64_t *out);
/* max(count_a, count_b) digits, plus one when the final carry is non-zero. */
RAI_API rai_status rai_ternary_digits_add(const int8_t *a, size_t count_a, const int8_t *b, size_t count_b,
                                          int8_t *out, size_t capacity, size_t *out_count);
/* Leading zeros trimmed, at least one digit; an empty input gives [0]. */
RAI_API rai_status rai_ternary_digits_mul(const int8_t *a, size_t count_a, const int8_t *b, size_t count_b,
                                          int8_t *out, size_t capacity, size_t *out_count);
/* count digits; out may be a. */
RAI_API rai_status rai_ternary_digits_neg(const int8_t *a, size_t count, int8_t *out, size_t capacity,
                                          size_t *out_count);
/* *out = -1, 0 or 1 as value(a) <, =, > value(b). */
RAI_API rai_status rai_ternary_digits_compare(const int8_t *a, size_t count_a, const int8_t *b, size_t count_b,
                                              int32_t *out);

/* -- packed trit vectors */

/* A dense vector of `dim` trits, bit-sliced into a plus and a minus plane (host memory). */
typedef struct rai_tvec rai_tvec;

/* All trits zero. dim may be 0. */
RAI_API rai_status rai_tvec_create(size_t dim, rai_tvec **out);
RAI_API void rai_tvec_destroy(rai_tvec *v);
RAI_API rai_status rai_tvec_clone(const rai_tvec *v, rai_tvec **out);
RAI_API rai_status rai_tvec_dim(const rai_tvec *v, size_t *out_dim);
/* int8 trits, count == dim; strict: a value outside {-1, 0, 1} is an error and v is unchanged. */
RAI_API rai_status rai_tvec_import_int8(rai_tvec *v, const int8_t *values, size_t count);
/* dim int8 trits into out (capacity elements). */
RAI_API rai_status rai_tvec_export_int8(const rai_tvec *v, int8_t *out, size_t capacity, size_t *out_count);
/* Bit planes as trit-vsa's PackedTritVec serialises them: ceil(dim / 32) u32 words per plane,
 * trit i at bit i % 32 of word i / 32. Import checks the word count (RAI_ERROR_SHAPE_MISMATCH),
 * that no position is set in both planes and that the padding bits are zero
 * (RAI_ERROR_INVALID_ARGUMENT). Export writes words_per_plane words to each of plus and minus. */
RAI_API rai_status rai_tvec_import_planes_u32(rai_tvec *v, const uint32_t *plus, const uint32_t *minus,
                                              size_t words);
RAI_API rai_status rai_tvec_export_planes_u32(const rai_tvec *v, uint32_t *plus, uint32_t *minus,
                                              size_t capacity_words, size_t *out_words);
/* The same with ceil(dim / 64) u64 words per plane (rai's own layout, byte-identical on
 * little-endian hosts to the u32 planes padded to an even word count). */
RAI_API rai_status rai_tvec_import_planes_u64(rai_tvec *v, const uint64_t *plus, const uint64_t *minus,
                                              size_t words);
RAI_API rai_status rai_tvec_export_planes_u64(const rai_tvec *v, uint64_t *plus, uint64_t *minus,
                                              size_t capacity_words, size_t *out_words);
RAI_API rai_status rai_tvec_get(const rai_tvec *v, size_t index, int8_t *out);
RAI_API rai_status rai_tvec_set(rai_tvec *v, size_t index, int8_t value);
RAI_API rai_status rai_tvec_count_nonzero(const rai_tvec *v, size_t *out);
RAI_API rai_status rai_tvec_count_positive(const rai_tvec *v, size_t *out);
RAI_API rai_status rai_tvec_count_negative(const rai_tvec *v, size_t *out);
/* 1 - nonzero / dim; 1.0 for dim 0. */
RAI_API rai_status rai_tvec_sparsity(const rai_tvec *v, double *out);
/* #(+1) - #(-1). */
RAI_API rai_status rai_tvec_sum(const rai_tvec *v, int64_t *out);
RAI_API rai_status rai_tvec_negate(const rai_tvec *v, rai_tvec *out);
/* Element-wise sign(a + b) (equals the bundle of two vectors). */
RAI_API rai_status rai_tvec_add_clamped(const rai_tvec *a, const rai_tvec *b, rai_tvec *out);
/* *out = 1 if a and b have the same dimension and trits, else 0. */
RAI_API rai_status rai_tvec_equal(const rai_tvec *a, const rai_tvec *b, int32_t *out);

/* A sparse vector: sorted lists of the indices holding +1 and -1 (host memory). */
typedef struct rai_svec rai_svec;

RAI_API rai_status rai_svec_create(size_t dim, rai_svec **out);
RAI_API void rai_svec_destroy(rai_svec *s);
RAI_API rai_status rai_svec_dim(const rai_svec *s, size_t *out_dim);
/* Replaces the contents. The lists need not be sorted. An index >= dim is
 * RAI_ERROR_OUT_OF_RANGE; an index twice in one list or in both lists is
 * RAI_ERROR_INVALID_ARGUMENT (stricter than trit-vsa, which double-counts duplicates). */
RAI_API rai_status rai_svec_import_indices(rai_svec *s, const uint64_t *positive, size_t count_positive,
                                           const uint64_t *negative, size_t count_negative);
/* Sorted lists; with either capacity too small, RAI_ERROR_BUFFER_TOO_SMALL and both counts. */
RAI_API rai_status rai_svec_export_indices(const rai_svec *s, uint64_t *positive, size_t capacity_positive,
                                           uint64_t *negative, size_t capacity_negative,
                                           size_t *out_count_positive, size_t *out_count_negative);
RAI_API rai_status rai_svec_get(const rai_svec *s, size_t index, int8_t *out);
RAI_API rai_status rai_svec_set(rai_svec *s, size_t index, int8_t value);
RAI_API rai_status rai_svec_nnz(const rai_svec *s, size_t *out);
/* Bytes the vector occupies (struct plus 8 bytes per index of capacity, as trit-vsa counts). */
RAI_API rai_status rai_svec_memory_bytes(const rai_svec *s, size_t *out);
/* Conversions between equal dimensions. */
RAI_API rai_status rai_svec_from_tvec(const rai_tvec *v, rai_svec *out);
RAI_API rai_status rai_svec_to_tvec(const rai_svec *s, rai_tvec *out);
RAI_API rai_status rai_svec_dot(const rai_svec *a, const rai_svec *b, int64_t *out);
RAI_API rai_status rai_svec_dot_tvec(const rai_svec *a, const rai_tvec *b, int64_t *out);
/* dot / sqrt(nnz(a) nnz(b)), 0 if either is zero. */
RAI_API rai_status rai_svec_cosine(const rai_svec *a, const rai_svec *b, float *out);
RAI_API rai_status rai_svec_cosine_tvec(const rai_svec *a, const rai_tvec *b, float *out);

/* -- VSA operations */

typedef enum rai_vsa_bind_mode {
    RAI_VSA_BIND_MOD3 = 0, /* bind = (a - b) mod 3, unbind = (c + b) mod 3 (trit-vsa; Z/3 group) */
    RAI_VSA_BIND_MUL = 1   /* bind = unbind = a * b (MAP); self-inverse only for keys without zeros */
} rai_vsa_bind_mode;

/* unbind(bind(a, b), b) == a. MOD3 bind is anti-commutative: bind(b, a) == -bind(a, b). */
RAI_API rai_status rai_vsa_bind(const rai_tvec *a, const rai_tvec *b, int32_t mode, rai_tvec *out);
RAI_API rai_status rai_vsa_unbind(const rai_tvec *c, const rai_tvec *b, int32_t mode, rai_tvec *out);
/* Left fold bind(bind(v0, v1), v2)...; count 0 is RAI_ERROR_INVALID_ARGUMENT. */
RAI_API rai_status rai_vsa_bind_many(const rai_tvec *const *vectors, size_t count, int32_t mode, rai_tvec *out);

typedef enum rai_vsa_tie_break {
    RAI_VSA_TIE_ZERO = 0,  /* a position whose sum is 0 gives 0 */
    RAI_VSA_TIE_RANDOM = 1 /* ... gives +1 or -1 from (seed, index) when some input there is
                              non-zero (positions where all inputs are 0 stay 0) */
} rai_vsa_tie_break;

typedef struct rai_bundle_params {
    uint32_t struct_size;
    int32_t tie_break; /* rai_vsa_tie_break */
    uint64_t seed;     /* for RAI_VSA_TIE_RANDOM */
} rai_bundle_params;

RAI_API rai_status rai_bundle_params_init_sized(rai_bundle_params *params, size_t struct_size);

/* Majority: out[i] = sign(sum_k weights[k] * vectors[k][i]); zeros abstain; ties per params.
 * weights: NULL (all 1) or count int32 weights. count 0 is RAI_ERROR_INVALID_ARGUMENT; the sum
 * of |weights| must fit in int32 (RAI_ERROR_OUT_OF_RANGE). params NULL = defaults. */
RAI_API rai_status rai_vsa_bundle(const rai_tvec *const *vectors, const int32_t *weights, size_t count,
                                  const rai_bundle_params *params, rai_tvec *out);
/* Integer sums without thresholding (MAP-style): counts[i] = sum_k weights[k] * vectors[k][i],
 * dim values into counts (capacity elements). */
RAI_API rai_status rai_vsa_bundle_counts(const rai_tvec *const *vectors, const int32_t *weights, size_t count,
                                         int32_t *counts, size_t capacity, size_t *out_count);
/* counts[i] += weight * v[i] for count == dim values; RAI_ERROR_OUT_OF_RANGE (nothing added)
 * if a sum would leave int32. */
RAI_API rai_status rai_vsa_accumulate(const rai_tvec *v, int32_t weight, int32_t *counts, size_t count);
/* out[i] = +1 if counts[i] > threshold, -1 if counts[i] < -threshold, else 0; threshold >= 0
 * (0 = sign). count == out's dim. */
RAI_API rai_status rai_vsa_threshold(const int32_t *counts, size_t count, int32_t threshold, rai_tvec *out);
/* Cyclic roll: element i moves to (i + shift) mod dim; shift may be negative. */
RAI_API rai_status rai_vsa_permute(const rai_tvec *v, int64_t shift, rai_tvec *out);

RAI_API rai_status rai_vsa_dot(const rai_tvec *a, const rai_tvec *b, int64_t *out);
/* dot / sqrt(nnz(a) nnz(b)), rounded once to f32; exactly 0 if either vector is zero. */
RAI_API rai_status rai_vsa_cosine(const rai_tvec *a, const rai_tvec *b, float *out);
/* Number of positions whose trits differ (+1 vs -1 counts 1, like +1 vs 0). */
RAI_API rai_status rai_vsa_hamming_distance(const rai_tvec *a, const rai_tvec *b, size_t *out);
/* 1 - distance / dim; 1.0 for dim 0. */
RAI_API rai_status rai_vsa_hamming_similarity(const rai_tvec *a, const rai_tvec *b, float *out);
/* Number of equal positions (torchhd's hamming_similarity). */
RAI_API rai_status rai_vsa_equal_count(const rai_tvec *a, const rai_tvec *b, size_t *out);

typedef enum rai_vsa_rng {
    RAI_VSA_RNG_TRITVSA_XS64 = 0, /* bit-exact with trit-vsa CpuBackend::random (sequential) */
    RAI_VSA_RNG_COUNTER = 1,      /* counter-based SplitMix64: every index computed on its own */
    /* Bit-exact with tritter-accel's VsaOps::random (cpu_random): trit i from next_u32() number i
     * of rand_chacha's ChaCha8Rng::seed_from_u64(seed) (the full 64-bit seed; tritter's Python
     * wrapper truncates to u32 before), r = (f32)(u / (f64)UINT32_MAX): r < 0.333f -> -1,
     * r < 0.666f -> 0, else +1. RAI_VSA_DENSE only (other distributions: INVALID_ARGUMENT). */
    RAI_VSA_RNG_TRITTER_CHACHA8 = 2
} rai_vsa_rng;

typedef enum rai_vsa_distribution {
    RAI_VSA_DENSE = 0,   /* -1, 0, +1 with probability ~1/3 each */
    RAI_VSA_BIPOLAR = 1, /* -1, +1 with probability 1/2 each */
    RAI_VSA_SPARSE = 2   /* non-zero with probability `density`, then +1 or -1 evenly */
} rai_vsa_distribution;

typedef struct rai_random_params {
    uint32_t struct_size;
    int32_t generator;    /* rai_vsa_rng */
    int32_t distribution; /* rai_vsa_distribution */
    int32_t reserved0;    /* must be 0 */
    uint64_t seed;
    double density;       /* RAI_VSA_SPARSE only: in (0, 1] */
} rai_random_params;

RAI_API rai_status rai_random_params_init_sized(rai_random_params *params, size_t struct_size);
/* Fills out (all dim trits) from the generator; the same params give the same vector on every
 * backend. params NULL = defaults (TRITVSA_XS64, DENSE, seed 0). */
RAI_API rai_status rai_vsa_random(const rai_random_params *params, rai_tvec *out);

/* Static name of the packed-trit kernels the current CPU features select: "scalar", "avx2" or
 * "avx512" (AVX-512 with VPOPCNTDQ). Follows rai_cpu_set_feature_mask. */
RAI_API const char *rai_vsa_cpu_backend(void);

/* -- item memory: matrices of packed vectors on a context's device */

/* `rows` packed vectors of one dimension. Created on a context; the rows live on its device and
 * stay there between calls. Every function that takes a matrix takes a context on the matrix's
 * device (RAI_ERROR_DEVICE_MISMATCH otherwise), and tensors passed with it must be on that
 * device too. On a CUDA context the kernels of the CUDA plugin run on the context's stream
 * (RAI_ERROR_UNSUPPORTED if the plugin lacks them); get_row, set_row, write_int8 and bundle
 * with weights synchronise, the others are queued. Destroy matrices before their context. */
typedef struct rai_vsa_matrix rai_vsa_matrix;

/* All trits zero. rows and dim may be 0. */
RAI_API rai_status rai_vsa_matrix_create(rai_context *ctx, size_t rows, size_t dim, rai_vsa_matrix **out);
RAI_API void rai_vsa_matrix_destroy(rai_vsa_matrix *m);
RAI_API rai_status rai_vsa_matrix_shape(const rai_vsa_matrix *m, size_t *out_rows, size_t *out_dim);
RAI_API rai_status rai_vsa_matrix_set_row(rai_context *ctx, rai_vsa_matrix *m, size_t row, const rai_tvec *v);
RAI_API rai_status rai_vsa_matrix_get_row(rai_context *ctx, const rai_vsa_matrix *m, size_t row, rai_tvec *out);
/* Rows [row_offset, row_offset + n) from / to an int8 tensor [n, dim] on the context's device
 * (any strides). Write is strict: one invalid value and nothing is written. */
RAI_API rai_status rai_vsa_matrix_write_int8(rai_context *ctx, rai_vsa_matrix *m, size_t row_offset,
                                             const rai_tensor *src);
RAI_API rai_status rai_vsa_matrix_read_int8(rai_context *ctx, const rai_vsa_matrix *m, size_t row_offset,
                                            rai_tensor *dst);
/* Row r becomes the vector rai_vsa_random gives for params->seed + r. */
RAI_API rai_status rai_vsa_matrix_random(rai_context *ctx, rai_vsa_matrix *m, const rai_random_params *params);
/* Row-wise bind / unbind: b has a's rows or one row (used for every row). out has a's shape and
 * may be a or b. */
RAI_API rai_status rai_vsa_matrix_bind(rai_context *ctx, const rai_vsa_matrix *a, const rai_vsa_matrix *b,
                                       int32_t mode, rai_vsa_matrix *out);
RAI_API rai_status rai_vsa_matrix_unbind(rai_context *ctx, const rai_vsa_matrix *c, const rai_vsa_matrix *b,
                                         int32_t mode, rai_vsa_matrix *out);
/* Every row rolled by shift; out has m's shape and may be m. */
RAI_API rai_status rai_vsa_matrix_permute(rai_context *ctx, const rai_vsa_matrix *m, int64_t shift,
                                          rai_vsa_matrix *out);
/* Bundle of all rows of m (weights: NULL or rows values) into out, a [1, dim] matrix. */
RAI_API rai_status rai_vsa_matrix_bundle(rai_context *ctx, const rai_vsa_matrix *m, const int32_t *weights,
                                         const rai_bundle_params *params, rai_vsa_matrix *out);

typedef enum rai_vsa_metric {
    RAI_VSA_COSINE = 0,             /* as rai_vsa_cosine */
    RAI_VSA_DOT = 1,                /* as rai_vsa_dot */
    RAI_VSA_HAMMING_DISTANCE = 2,   /* as rai_vsa_hamming_distance (smaller is closer) */
    RAI_VSA_HAMMING_SIMILARITY = 3, /* as rai_vsa_hamming_similarity */
    RAI_VSA_EQUAL_COUNT = 4         /* as rai_vsa_equal_count */
} rai_vsa_metric;

/* out[i, j] = metric(queries row i, items row j): a tensor [q, m] on the context's device, f32
 * for every metric or i32 for the integer metrics (dot, hamming distance, equal count). */
RAI_API rai_status rai_vsa_similarity_matrix(rai_context *ctx, const rai_vsa_matrix *queries,
                                             const rai_vsa_matrix *items, int32_t metric, rai_tensor *out);
/* The k best items per query, best first: out_index i64 [q, k], out_score f32 [q, k] or NULL.
 * Best is the largest value, except for RAI_VSA_HAMMING_DISTANCE (smallest). Equal scores are
 * ordered by increasing item index. 1 <= k <= m. */
RAI_API rai_status rai_vsa_topk(rai_context *ctx, const rai_vsa_matrix *queries, const rai_vsa_matrix *items,
                                size_t k, int32_t metric, rai_tensor *out_index, rai_tensor *out_score);

/* ------------------------------------------------------- end of ternary and VSA */

/* ------------------------------------------------------ inline conveniences */
#if !defined(SWIG) && !defined(RAI_CFFI_CDEF)
static inline rai_status rai_context_params_init(rai_context_params *params) {
    return rai_context_params_init_sized(params, sizeof *params);
}
static inline rai_status rai_device_info_init(rai_device_info *info) {
    return rai_device_info_init_sized(info, sizeof *info);
}
static inline rai_status rai_bundle_params_init(rai_bundle_params *params) {
    return rai_bundle_params_init_sized(params, sizeof *params);
}
static inline rai_status rai_random_params_init(rai_random_params *params) {
    return rai_random_params_init_sized(params, sizeof *params);
}
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RAI_H */
