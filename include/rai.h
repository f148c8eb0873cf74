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
/* (section end: quantization: NF4 / FP4 4-bit) */

/* ======================================================= files: safetensors, GGUF */
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
