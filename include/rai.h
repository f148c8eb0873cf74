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
