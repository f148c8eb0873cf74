// The "adapters/1" CUDA table: LoRA / DoRA linear forward and backward, and mixed batches.
//
// Forward, fast path (no DoRA, no dropout, a dense base, adapters in the act dtype): everything
// stays in the act dtype. M <= 8: a small kernel for T = s·x·Aᵀ and one matrix-vector kernel
// that streams W once and adds the bias and the B·T expansion in its epilogue. Larger M: the
// adapter term y = bias + T·Bᵀ first (small kernels up to M = 128, cuBLASLt above), then the base
// GEMM y = x·Wᵀ + 1·y in cuBLASLt (see lora_forward_gemm for the rounding).
// Forward, general path (DoRA, dropout, QLoRA's y-already-holds-the-base, f32 adapters on a
// 16-bit base): the adapter input is converted to fp32 once (with the dropout mask applied, the
// same counter-based mask as the CPU path), t = x_d·Aᵀ runs as an fp32 cuBLASLt GEMM, the base
// product x·Wᵀ as a cuBLASLt GEMM in the activation dtype with an fp32 result, and one fused
// epilogue kernel adds the bias, the B·t expansion (tiled through shared memory) and the DoRA
// scaling and writes y in the activation dtype. Backward reuses cuBLASLt for every product with
// fp32 accumulation and fuses the DoRA reductions and the dropout mask into small kernels.
// Mixed batches: one base GEMM for all rows, then one segmented shrink kernel and one
// segmented expand kernel for all adapters (rows grouped by adapter on the host).
// cuBLASLt plans (descriptors + heuristic result) are cached per thread, with one persistent
// workspace per thread and device (lt_gemm).
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "cuda_adapters_abi.h"
#include "error_util.cuh"
#include "rng.h"

namespace raicuda {

namespace {

using rai::adapters::dropout_keep;
using rai::adapters::mix_key;

constexpr uint64_t kStreamInput = 1;  // the CPU path's input-dropout stream (tuners.cpp)

#define ADP_LT(expr, err, what)                                                                         \
    do {                                                                                                \
        const cublasStatus_t adp_st_ = (expr);                                                          \
        if (adp_st_ != CUBLAS_STATUS_SUCCESS) {                                                         \
            std::snprintf((err)->message, sizeof((err)->message), "%s failed: cuBLAS status %d", what, \
                          static_cast<int>(adp_st_));                                                   \
            return adp_st_ == CUBLAS_STATUS_ALLOC_FAILED ? RAI_ERROR_OUT_OF_MEMORY : RAI_ERROR_BACKEND; \
        }                                                                                               \
    } while (0)

__device__ __forceinline__ float ld(const void *p, int t, int64_t i) {
    if (t == RAICUDA_F32) return static_cast<const float *>(p)[i];
    if (t == RAICUDA_BF16) return __bfloat162float(static_cast<const __nv_bfloat16 *>(p)[i]);
    return __half2float(static_cast<const __half *>(p)[i]);
}
__device__ __forceinline__ void st(void *p, int t, int64_t i, float v) {
    if (t == RAICUDA_F32) static_cast<float *>(p)[i] = v;
    else if (t == RAICUDA_BF16) static_cast<__nv_bfloat16 *>(p)[i] = __float2bfloat16(v);
    else static_cast<__half *>(p)[i] = __float2half(v);
}
cudaDataType_t cuda_type(int t) { return t == RAICUDA_F32 ? CUDA_R_32F : t == RAICUDA_BF16 ? CUDA_R_16BF : CUDA_R_16F; }
size_t type_size(int t) { return t == RAICUDA_F32 ? 4 : 2; }
unsigned blocks_for(int64_t n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

// ---------------------------------------------------------------- scratch and cuBLASLt

// Stream-ordered scratch memory, freed (in stream order) when the scope ends.
class Scratch {
public:
    explicit Scratch(cudaStream_t s) : s_(s) {}
    ~Scratch() {
        for (void *p : ptrs_) cudaFreeAsync(p, s_);
    }
    template <class T>
    int get(size_t count, T **out, raicuda_err *err) {
        void *p = nullptr;
        RAICUDA_TRY(cudaMallocAsync(&p, count * sizeof(T) + 16, s_), err, "cudaMallocAsync");
        ptrs_.push_back(p);
        *out = static_cast<T *>(p);
        return 0;
    }

private:
    cudaStream_t s_;
    std::vector<void *> ptrs_;
};

int lt_handle(int32_t ordinal, cublasLtHandle_t *out, raicuda_err *err) {
    constexpr int kMaxDevices = 64;
    static std::mutex mu;
    static cublasLtHandle_t handles[kMaxDevices] = {};
    if (ordinal < 0 || ordinal >= kMaxDevices) {
        std::snprintf(err->message, sizeof err->message, "CUDA device %d out of range", ordinal);
        return RAI_ERROR_NO_DEVICE;
    }
    std::lock_guard<std::mutex> lock(mu);
    if (handles[ordinal] == nullptr) ADP_LT(cublasLtCreate(&handles[ordinal]), err, "cublasLtCreate");
    *out = handles[ordinal];
    return 0;
}

// One GEMM's shape: row-major D[M,N] = alpha·op(A)·op(B) + beta·C (+ bias[N]), C == D. op(A) is
// [M,K]: A stored [M,K] (lda), or [K,M] when ta. op(B) is [K,N]: B stored [K,N] (ldb), or [N,K]
// when tb. A and B in ab_type, C/D (and the bias) in c_type; fp32 accumulation and scales.
// Mapped onto cuBLASLt's column-major Dᵀ = op(B)ᵀ·op(A)ᵀ.
struct Gemm {
    bool ta = false, tb = false;
    int64_t M = 0, N = 0, K = 0, lda = 0, ldb = 0, ldc = 0;
    int ab_type = RAICUDA_F32, c_type = RAICUDA_F32;
    const void *bias = nullptr;  // CUBLASLT_EPILOGUE_BIAS when set
};

// Largest power of two (<= 256) dividing the address. The heuristic assumes 256-byte aligned
// operands unless told otherwise, so a cached algorithm is keyed on the alignments it was chosen for.
int64_t align_of(const void *p) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    const uintptr_t low = a & (~a + 1);
    return (a == 0 || low >= 256) ? 256 : static_cast<int64_t>(low);
}

// A cached matmul plan: descriptors and the heuristic's algorithm (found == false: none exists).
struct LtPlan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
    cublasLtMatmulAlgo_t algo{};
    size_t ws = 0;
    bool found = false;
    LtPlan() = default;
    LtPlan(const LtPlan &) = delete;
    LtPlan &operator=(const LtPlan &) = delete;
    ~LtPlan() {
        if (lc) cublasLtMatrixLayoutDestroy(lc);
        if (lb) cublasLtMatrixLayoutDestroy(lb);
        if (la) cublasLtMatrixLayoutDestroy(la);
        if (op) cublasLtMatmulDescDestroy(op);
    }
};

// The persistent cuBLASLt workspace of one device for one thread. Calls from one thread may use
// several streams: `done` marks the last use (on `last`) so another stream waits for it first.
struct DeviceWorkspace {
    void *p = nullptr;
    size_t bytes = 0;
    cudaEvent_t done = nullptr;
    cudaStream_t last = nullptr;
    bool used = false, init = false;
};

constexpr size_t kWorkspaceBytes = size_t{32} << 20;
constexpr size_t kMaxPlans = 512;

using PlanKey = std::array<int64_t, 17>;
struct PlanKeyHash {
    size_t operator()(const PlanKey &k) const {
        uint64_t h = 0;
        for (int64_t v : k) h = rai::adapters::splitmix64(h ^ static_cast<uint64_t>(v));
        return static_cast<size_t>(h);
    }
};

// Thread-local, so no locking: plans (host objects) and workspaces are only used by their thread.
struct LtThreadCache {
    std::unordered_map<PlanKey, std::unique_ptr<LtPlan>, PlanKeyHash> plans;
    std::vector<DeviceWorkspace> ws;  // by device ordinal
    LtThreadCache() = default;
    LtThreadCache(const LtThreadCache &) = delete;
    LtThreadCache &operator=(const LtThreadCache &) = delete;
    ~LtThreadCache() {  // errors ignored: this may run while the process (and the runtime) shuts down
        plans.clear();
        int cur = 0;
        const bool restore = cudaGetDevice(&cur) == cudaSuccess;
        for (size_t d = 0; d < ws.size(); ++d) {
            if (!ws[d].init) continue;
            cudaSetDevice(static_cast<int>(d));
            if (ws[d].p) cudaFree(ws[d].p);
            if (ws[d].done) cudaEventDestroy(ws[d].done);
        }
        if (restore) cudaSetDevice(cur);
    }
};
LtThreadCache &lt_cache() {
    thread_local LtThreadCache cache;
    return cache;
}

int device_workspace(int32_t ordinal, DeviceWorkspace **out, raicuda_err *err) {
    auto &ws = lt_cache().ws;
    if (ws.size() <= static_cast<size_t>(ordinal)) ws.resize(static_cast<size_t>(ordinal) + 1);
    DeviceWorkspace &w = ws[static_cast<size_t>(ordinal)];
    if (!w.init) {
        RAICUDA_TRY(cudaEventCreateWithFlags(&w.done, cudaEventDisableTiming), err, "cudaEventCreate");
        w.init = true;
        if (cudaMalloc(&w.p, kWorkspaceBytes) == cudaSuccess) {
            w.bytes = kWorkspaceBytes;
        } else {  // run without a workspace (algorithms that need none) rather than fail
            w.p = nullptr;
            cudaGetLastError();
        }
    }
    *out = &w;
    return 0;
}

int make_plan(cublasLtHandle_t h, const Gemm &g, const void *A, const void *B, const void *C, size_t ws_bytes,
              LtPlan &p, raicuda_err *err) {
    const cudaDataType_t dt = cuda_type(g.ab_type), ct = cuda_type(g.c_type);
    // first operand: B, (tb ? T : N), stored col-major (tb ? [K,N] : [N,K])
    const cublasOperation_t t1 = g.tb ? CUBLAS_OP_T : CUBLAS_OP_N, t2 = g.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    ADP_LT(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), err, "cublasLtMatmulDescCreate");
    ADP_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &t1, sizeof t1), err, "TRANSA");
    ADP_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &t2, sizeof t2), err, "TRANSB");
    if (g.bias != nullptr) {
        const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        const int32_t bias_type = static_cast<int32_t>(ct);
        ADP_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi), err, "EPILOGUE");
        ADP_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type),
               err, "BIAS_DATA_TYPE");
        // the heuristic reads the pointer's alignment
        ADP_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof g.bias), err,
               "BIAS_POINTER");
    }
    ADP_LT(cublasLtMatrixLayoutCreate(&p.la, dt, g.tb ? g.K : g.N, g.tb ? g.N : g.K, g.ldb), err, "layout B");
    ADP_LT(cublasLtMatrixLayoutCreate(&p.lb, dt, g.ta ? g.M : g.K, g.ta ? g.K : g.M, g.lda), err, "layout A");
    ADP_LT(cublasLtMatrixLayoutCreate(&p.lc, ct, g.N, g.M, g.ldc), err, "layout C");
    cublasLtMatmulPreference_t pref = nullptr;
    ADP_LT(cublasLtMatmulPreferenceCreate(&pref), err, "cublasLtMatmulPreferenceCreate");
    struct PrefGuard {
        cublasLtMatmulPreference_t p;
        ~PrefGuard() { cublasLtMatmulPreferenceDestroy(p); }
    } guard{pref};
    // cuBLASLt's A is our B and its B our A (see Gemm).
    const uint32_t al_a = static_cast<uint32_t>(align_of(B)), al_b = static_cast<uint32_t>(align_of(A)),
                   al_c = static_cast<uint32_t>(align_of(C));
    ADP_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes,
                                                sizeof ws_bytes),
           err, "workspace preference");
    ADP_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a),
           err, "alignment preference");
    ADP_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b),
           err, "alignment preference");
    ADP_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof al_c),
           err, "alignment preference");
    ADP_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof al_c),
           err, "alignment preference");
    cublasLtMatmulHeuristicResult_t heur{};
    int found = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(h, p.op, p.la, p.lb, p.lc, p.lc, pref, 1, &heur, &found);
    if (st == CUBLAS_STATUS_NOT_SUPPORTED) found = 0;  // no algorithm: cached as such
    else ADP_LT(st, err, "cublasLtMatmulAlgoGetHeuristic");
    if (found > 0) {
        p.algo = heur.algo;
        p.ws = heur.workspaceSize;
        p.found = true;
    }
    return 0;
}

// Runs one GEMM with a plan cached per thread, keyed on everything the heuristic looks at (the
// shape, types, epilogue, operand alignments, workspace size) but not on alpha/beta or the
// pointers themselves. A miss costs the heuristic (tens of us); a hit only the cublasLtMatmul
// call. `no_algo` given: a missing algorithm sets it and runs nothing.
int lt_gemm(int32_t ordinal, cudaStream_t s, const Gemm &g, float alpha, const void *A, const void *B, float beta,
            void *C, raicuda_err *err, bool *no_algo = nullptr) {
    if (g.M == 0 || g.N == 0) return 0;
    cublasLtHandle_t h = nullptr;
    if (int rc = lt_handle(ordinal, &h, err)) return rc;
    DeviceWorkspace *w = nullptr;
    if (int rc = device_workspace(ordinal, &w, err)) return rc;
    const PlanKey key = {ordinal,     g.ta,        g.tb,        g.M,
                         g.N,         g.K,         g.lda,       g.ldb,
                         g.ldc,       g.ab_type,   g.c_type,    g.bias != nullptr,
                         align_of(A), align_of(B), align_of(C), align_of(g.bias),
                         static_cast<int64_t>(w->bytes)};
    auto &plans = lt_cache().plans;
    auto it = plans.find(key);
    if (it == plans.end()) {
        if (plans.size() >= kMaxPlans) plans.clear();
        auto plan = std::make_unique<LtPlan>();
        if (int rc = make_plan(h, g, A, B, C, w->bytes, *plan, err)) return rc;
        it = plans.emplace(key, std::move(plan)).first;
    }
    LtPlan &p = *it->second;
    if (!p.found) {
        if (no_algo != nullptr) {
            *no_algo = true;
            return 0;
        }
        std::snprintf(err->message, sizeof err->message, "cuBLASLt has no algorithm for a %lldx%lldx%lld GEMM",
                      static_cast<long long>(g.M), static_cast<long long>(g.N), static_cast<long long>(g.K));
        return RAI_ERROR_BACKEND;
    }
    if (g.bias != nullptr)
        ADP_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof g.bias), err,
               "BIAS_POINTER");
    void *wp = nullptr;
    if (p.ws > 0) {
        if (w->used && w->last != s) RAICUDA_TRY(cudaStreamWaitEvent(s, w->done, 0), err, "cudaStreamWaitEvent");
        wp = w->p;
    }
    ADP_LT(cublasLtMatmul(h, p.op, &alpha, B, p.la, A, p.lb, &beta, C, p.lc, C, p.lc, &p.algo, wp, p.ws, s), err,
           "cublasLtMatmul");
    if (p.ws > 0) {
        RAICUDA_TRY(cudaEventRecord(w->done, s), err, "cudaEventRecord");
        w->last = s;
        w->used = true;
    }
    return 0;
}

// Row-major C[M,N] (fp32) = alpha·op(A)·op(B) + beta·C, A and B in `type` (see Gemm).
int gemm_rm(int32_t ordinal, cudaStream_t s, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
            const void *A, int64_t lda, const void *B, int64_t ldb, int type, float beta, float *C, int64_t ldc,
            raicuda_err *err) {
    Gemm g;
    g.ta = ta, g.tb = tb, g.M = M, g.N = N, g.K = K, g.lda = lda, g.ldb = ldb, g.ldc = ldc;
    g.ab_type = type, g.c_type = RAICUDA_F32;
    return lt_gemm(ordinal, s, g, alpha, A, B, beta, C, err);
}

// ---------------------------------------------------------------- kernels

// out[i] = keep(i) ? x[i]/(1-p) : 0 (fp32); p == 0: a plain conversion. Optionally also writes
// the dropped values in the activation dtype (for the DoRA base term on drop(x)).
__global__ void k_input(const void *x, int t, int64_t n, float p, uint64_t key, float *out, void *out_act) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= n) return;
    float v = ld(x, t, i);
    if (p > 0.0f) v = dropout_keep(key, static_cast<uint64_t>(i), p) ? v * (1.0f / (1.0f - p)) : 0.0f;
    out[i] = v;
    if (out_act != nullptr) st(out_act, t, i, v);
}

__global__ void k_to_f32(const void *x, int t, int64_t n, float scale, float *out) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i < n) out[i] = scale * ld(x, t, i);
}

// DoRA: n[j] = ‖W[j,:] + s·B[j,:]·A‖ (one block per row, fp64 accumulation like the CPU).
__global__ void k_dora_norm(const void *w, int t, const float *A, const float *B, float s, int64_t N, int64_t K,
                            int64_t r, float *norm) {
    const int64_t j = blockIdx.x;
    double acc = 0;
    for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
        float d = 0.0f;
        for (int64_t q = 0; q < r; ++q) d = fmaf(B[j * r + q], A[q * K + k], d);
        const double v = static_cast<double>(w ? ld(w, t, j * K + k) : 0.0f) + static_cast<double>(s) * d;
        acc += v * v;
    }
    __shared__ double red[256];
    red[threadIdx.x] = acc;
    __syncthreads();
    for (int o = blockDim.x / 2; o > 0; o >>= 1) {
        if (threadIdx.x < o) red[threadIdx.x] += red[threadIdx.x + o];
        __syncthreads();
    }
    if (threadIdx.x == 0) norm[j] = static_cast<float>(sqrt(red[0]));
}

// The fused epilogue: y[i,j] = base + s·Σ_q T[i,q]·B[j,q] (+ DoRA), with the T and B tiles
// staged in shared memory (32 rows × 32 columns × 32 ranks per step).
//   base = Y0 + bias           (has_base == 0)   or the y already there (has_base == 1)
//   DoRA: base + (g-1)·Y0d + g·s·L, g = mag[j]/norm[j], Y0d = drop(x)·Wᵀ or Y0
constexpr int kTile = 32;
__global__ void k_epilogue(void *y, int t, const float *Y0, const float *Y0d, const void *bias, const float *T,
                           const float *B, const float *mag, const float *norm, float s, int64_t M, int64_t N,
                           int64_t r, int has_base) {
    __shared__ float ts[kTile][kTile + 1];
    __shared__ float bs[kTile][kTile + 1];
    const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kTile, j0 = static_cast<int64_t>(blockIdx.x) * kTile;
    const int tx = threadIdx.x, ty = threadIdx.y;  // blockDim (32, 8): each thread 4 rows
    float acc[4] = {0, 0, 0, 0};
    for (int64_t q0 = 0; q0 < r; q0 += kTile) {
        for (int rr = ty; rr < kTile; rr += blockDim.y) {
            const int64_t ti = i0 + rr, bj = j0 + rr, q = q0 + tx;
            ts[rr][tx] = (ti < M && q < r) ? T[ti * r + q] : 0.0f;
            bs[rr][tx] = (bj < N && q < r) ? B[bj * r + q] : 0.0f;
        }
        __syncthreads();
        for (int q = 0; q < kTile; ++q) {
            const float b = bs[tx][q];
            for (int k = 0; k < 4; ++k) acc[k] = fmaf(ts[ty + k * 8][q], b, acc[k]);
        }
        __syncthreads();
    }
    const int64_t j = j0 + tx;
    if (j >= N) return;
    for (int k = 0; k < 4; ++k) {
        const int64_t i = i0 + ty + k * 8;
        if (i >= M) continue;
        const int64_t e = i * N + j;
        float base = has_base ? ld(y, t, e) : Y0[e] + (bias ? ld(bias, t, j) : 0.0f);
        float v;
        if (mag != nullptr) {
            const float g = mag[j] / norm[j];
            v = base + ((g - 1.0f) * (Y0d ? Y0d[e] : Y0[e]) + g * (acc[k] * s));
        } else {
            v = base + s * acc[k];
        }
        st(y, t, e, v);
    }
}

// DoRA backward reductions, one block per output column j:
//   dmag[j] (+)= Σ_i dY·(Yb + s·L)/n;  G = dY·g·s;  dY0 = dY·(g-1)
__global__ void k_dora_back(const float *dY, const float *Yb, const float *L, const float *mag, const float *norm,
                            float s, int64_t M, int64_t N, float *G, float *dY0, float *dmag, int accumulate) {
    const int64_t j = blockIdx.x;
    const float g = mag[j] / norm[j];
    double acc = 0;
    for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
        const int64_t e = i * N + j;
        const float dy = dY[e];
        acc += static_cast<double>(dy) * (Yb[e] + s * L[e]);
        G[e] = dy * g * s;
        dY0[e] = dy * (g - 1.0f);
    }
    __shared__ double red[256];
    red[threadIdx.x] = acc;
    __syncthreads();
    for (int o = blockDim.x / 2; o > 0; o >>= 1) {
        if (threadIdx.x < o) red[threadIdx.x] += red[threadIdx.x + o];
        __syncthreads();
    }
    if (threadIdx.x == 0 && dmag != nullptr) {
        const float v = static_cast<float>(red[0] / norm[j]);
        dmag[j] = accumulate ? dmag[j] + v : v;
    }
}

// dx = base + mask ⊙ adapter (fp32 parts; `base` NULL: the dx already there, in act dtype).
__global__ void k_dx(void *dx, int t, const float *base, const float *adapter, int64_t n, float p, uint64_t key) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i >= n) return;
    float m = 1.0f;
    if (p > 0.0f) m = dropout_keep(key, static_cast<uint64_t>(i), p) ? 1.0f / (1.0f - p) : 0.0f;
    const float b = base ? base[i] : ld(dx, t, i);
    st(dx, t, i, b + m * adapter[i]);
}

// Segmented shrink: T[row, q] = Σ_k x[perm[row], k]·A_a[q, k] for the rows of each segment
// (grid.x = segment, grid.y strides over its rows; one warp per (row, q)).
__global__ void k_sgmv_shrink(const void *x, int t, int pt, int64_t K, const int64_t *perm, const int64_t *seg_start,
                              const int32_t *seg_adapter, const void *const *A, const int32_t *ranks, int32_t rmax,
                              float *T) {
    const int seg = blockIdx.x;
    const int32_t a = seg_adapter[seg];
    if (a < 0) return;
    const int64_t r0 = seg_start[seg], r1 = seg_start[seg + 1];
    const int32_t r = ranks[a];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    const int64_t work = (r1 - r0) * r;
    for (int64_t w = static_cast<int64_t>(blockIdx.y) * warps + warp; w < work;
         w += static_cast<int64_t>(gridDim.y) * warps) {
        const int64_t row = r0 + w / r, q = w % r;
        const int64_t src = perm[row];
        float acc = 0.0f;
        for (int64_t k = lane; k < K; k += 32) acc = fmaf(ld(x, t, src * K + k), ld(A[a], pt, q * K + k), acc);
        for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, o);
        if (lane == 0) T[row * rmax + q] = acc;
    }
}

// Segmented expand + epilogue: y[perm[row], j] = Y0 + bias + s_a·Σ_q T[row,q]·B_a[j,q].
__global__ void k_sgmv_expand(void *y, int t, int pt, const float *Y0, const void *bias, int64_t N, const int64_t *perm,
                              const int64_t *seg_start, const int32_t *seg_adapter, const void *const *B,
                              const int32_t *ranks, const float *scaling, int32_t rmax, const float *T) {
    const int seg = blockIdx.x;
    const int32_t a = seg_adapter[seg];
    const int64_t r0 = seg_start[seg], r1 = seg_start[seg + 1];
    const int64_t work = (r1 - r0) * N;
    for (int64_t w = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x; w < work;
         w += static_cast<int64_t>(gridDim.y) * blockDim.x) {
        const int64_t row = r0 + w / N, j = w % N;
        const int64_t dst = perm[row];
        float v = Y0[dst * N + j] + (bias ? ld(bias, t, j) : 0.0f);
        if (a >= 0) {
            float acc = 0.0f;
            for (int32_t q = 0; q < ranks[a]; ++q) acc = fmaf(T[row * rmax + q], ld(B[a], pt, j * ranks[a] + q), acc);
            v += scaling[a] * acc;
        }
        st(y, t, dst * N + j, v);
    }
}

// ---------------------------------------------------------------- fast path kernels
//
// The fast path keeps x, W, A, B, bias and y in the act dtype (no conversion passes) and T =
// s·x·Aᵀ in fp32. For M <= kSmallM the base product is a matrix-vector product bound by reading
// W: one kernel streams W once and adds the bias and the B·T expansion in its epilogue (fp32
// throughout, y rounded once). T comes from a small kernel launched just before; on sm_90 the
// main kernel is a programmatic dependent launch that streams W while T is computed and waits
// for it (griddepcontrol.wait: the first kernel complete, its writes visible) only in the
// epilogue; without PDL the wait returns at once and stream order does the same.

constexpr int64_t kSmallM = 8;
constexpr int kShrinkThreads = 256;
constexpr int kGemvThreads = 128;
constexpr int kGemvRows = 4;  // W rows per block (x values loaded once serve all four)

template <class T>
__device__ __forceinline__ float to_f(T v) {
    if constexpr (std::is_same<T, float>::value) return v;
    else if constexpr (std::is_same<T, __nv_bfloat16>::value) return __bfloat162float(v);
    else return __half2float(v);
}
template <class T>
__device__ __forceinline__ T from_f(float v) {
    if constexpr (std::is_same<T, float>::value) return v;
    else if constexpr (std::is_same<T, __nv_bfloat16>::value) return __float2bfloat16(v);
    else return __float2half(v);
}

// V consecutive elements as floats: one 16-byte load (p 16-byte aligned) or V == 1.
template <class T, int V>
__device__ __forceinline__ void load_v(const T *p, float (&o)[V]) {
    if constexpr (V == 1) {
        o[0] = to_f(p[0]);
    } else {
        static_assert(V * sizeof(T) == 16, "one 16-byte load");
        const uint4 u = __ldg(reinterpret_cast<const uint4 *>(p));
        const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            if constexpr (std::is_same<T, float>::value) {
                o[e] = __uint_as_float(w[e]);
            } else if constexpr (std::is_same<T, __nv_bfloat16>::value) {
                o[2 * e] = __uint_as_float(w[e] << 16);  // bf16 -> f32 is exact: the high half
                o[2 * e + 1] = __uint_as_float(w[e] & 0xffff0000u);
            } else {
                o[2 * e] = __half2float(__ushort_as_half(static_cast<unsigned short>(w[e] & 0xffffu)));
                o[2 * e + 1] = __half2float(__ushort_as_half(static_cast<unsigned short>(w[e] >> 16)));
            }
        }
    }
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// T[i,q] = s·Σ_k x[i,k]·A[q,k] (fp32) for a tile of MR rows × QB ranks per block (grid
// ceil(r/QB) × ceil(M/MR)); the block's threads stride over K with V-element loads (V > 1:
// K % V == 0, x and A 16-byte aligned); fixed reduction order.
template <class T, int MR, int QB, int V>
__global__ void __launch_bounds__(kShrinkThreads)
    k_shrink(const T *__restrict__ x, const T *__restrict__ A, int64_t M, int64_t K, int64_t r, float s,
             float *__restrict__ Tq) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    cudaTriggerProgrammaticLaunchCompletion();  // a dependent launch may start now
#endif
    const int64_t q0 = static_cast<int64_t>(blockIdx.x) * QB, i0 = static_cast<int64_t>(blockIdx.y) * MR;
    const int64_t nq = r - q0 < QB ? r - q0 : QB, ni = M - i0 < MR ? M - i0 : MR;
    float acc[MR][QB];
#pragma unroll
    for (int i = 0; i < MR; ++i)
#pragma unroll
        for (int qq = 0; qq < QB; ++qq) acc[i][qq] = 0.0f;
    for (int64_t k = static_cast<int64_t>(threadIdx.x) * V; k < K; k += kShrinkThreads * V) {
        float xv[MR][V];
#pragma unroll
        for (int i = 0; i < MR; ++i) {
            if (i < ni) {
                load_v<T, V>(x + (i0 + i) * K + k, xv[i]);
            } else {
#pragma unroll
                for (int e = 0; e < V; ++e) xv[i][e] = 0.0f;
            }
        }
#pragma unroll
        for (int qq = 0; qq < QB; ++qq) {
            if (qq < nq) {
                float av[V];
                load_v<T, V>(A + (q0 + qq) * K + k, av);
#pragma unroll
                for (int i = 0; i < MR; ++i)
#pragma unroll
                    for (int e = 0; e < V; ++e) acc[i][qq] = fmaf(xv[i][e], av[e], acc[i][qq]);
            }
        }
    }
    constexpr int kWarps = kShrinkThreads / 32;
    __shared__ float red[kWarps][MR * QB];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
    for (int i = 0; i < MR; ++i)
#pragma unroll
        for (int qq = 0; qq < QB; ++qq) {
            const float v = warp_sum(acc[i][qq]);
            if (lane == 0) red[warp][i * QB + qq] = v;
        }
    __syncthreads();
    for (int idx = threadIdx.x; idx < MR * QB; idx += kShrinkThreads) {
        const int i = idx / QB, qq = idx % QB;
        if (i >= ni || qq >= nq) continue;
        float v = 0.0f;
        for (int w = 0; w < kWarps; ++w) v += red[w][idx];
        Tq[(i0 + i) * r + q0 + qq] = s * v;
    }
}

// y[i,j] = Σ_k x[i,k]·W[j,k] + bias[j] + Σ_q T[i,q]·B[j,q] for rows i < M <= MR: each block
// streams kGemvRows rows of W, its threads striding over K (V elements per load, V > 1:
// K % V == 0, x and W 16-byte aligned); fp32 accumulation, fixed reduction order, one rounding.
template <class T, int MR, int V>
__global__ void __launch_bounds__(kGemvThreads)
    k_small_gemv(const T *__restrict__ x, const T *__restrict__ W, const T *__restrict__ bias,
                 const float *__restrict__ Tq, const T *__restrict__ B, int64_t M, int64_t N, int64_t K, int64_t r,
                 T *__restrict__ y) {
    const int64_t j0 = static_cast<int64_t>(blockIdx.x) * kGemvRows;
    const int64_t nj = N - j0 < kGemvRows ? N - j0 : kGemvRows;
    float acc[kGemvRows][MR];
#pragma unroll
    for (int jj = 0; jj < kGemvRows; ++jj)
#pragma unroll
        for (int i = 0; i < MR; ++i) acc[jj][i] = 0.0f;
#pragma unroll 2
    for (int64_t k = static_cast<int64_t>(threadIdx.x) * V; k < K; k += kGemvThreads * V) {
        float w[kGemvRows][V];
#pragma unroll
        for (int jj = 0; jj < kGemvRows; ++jj) {
            if (jj < nj) {
                load_v<T, V>(W + (j0 + jj) * K + k, w[jj]);
            } else {
#pragma unroll
                for (int e = 0; e < V; ++e) w[jj][e] = 0.0f;
            }
        }
#pragma unroll
        for (int i = 0; i < MR; ++i) {
            if (i < M) {
                float xv[V];
                load_v<T, V>(x + i * K + k, xv);
#pragma unroll
                for (int jj = 0; jj < kGemvRows; ++jj)
#pragma unroll
                    for (int e = 0; e < V; ++e) acc[jj][i] = fmaf(w[jj][e], xv[e], acc[jj][i]);
            }
        }
    }
    constexpr int kWarps = kGemvThreads / 32;
    __shared__ float red[kWarps][kGemvRows * MR];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
    for (int jj = 0; jj < kGemvRows; ++jj)
#pragma unroll
        for (int i = 0; i < MR; ++i) {
            const float v = warp_sum(acc[jj][i]);
            if (lane == 0) red[warp][jj * MR + i] = v;
        }
    __syncthreads();
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    cudaGridDependencySynchronize();  // T is complete and visible from here on
#endif
    for (int idx = threadIdx.x; idx < kGemvRows * MR; idx += kGemvThreads) {
        const int jj = idx / MR, i = idx % MR;
        if (jj >= nj || i >= M) continue;
        float v = 0.0f;
        for (int w = 0; w < kWarps; ++w) v += red[w][idx];
        const int64_t j = j0 + jj;
        float ad = 0.0f;
        for (int64_t q = 0; q < r; ++q) ad = fmaf(Tq[i * r + q], to_f(B[j * r + q]), ad);
        y[i * N + j] = from_f<T>((v + (bias != nullptr ? to_f(bias[j]) : 0.0f)) + ad);
    }
}

// y[i,j] = bias[j]: the bias when cuBLASLt has no bias epilogue for the types.
__global__ void k_bias_rows(void *y, int t, const void *bias, int64_t M, int64_t N) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i < M * N) st(y, t, i, ld(bias, t, i % N));
}

// y[i,j] = bias[j] + Σ_q T[i,q]·B[j,q] in the act dtype (T fp32; B, bias, y act dtype), the T
// and B tiles staged in shared memory (32 rows × 32 columns × 32 ranks per step).
__global__ void k_expand(void *y, int t, const void *bias, const float *Tq, const void *B, int64_t M, int64_t N,
                         int64_t r) {
    __shared__ float ts[kTile][kTile + 1];
    __shared__ float bs[kTile][kTile + 1];
    const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kTile, j0 = static_cast<int64_t>(blockIdx.x) * kTile;
    const int tx = threadIdx.x, ty = threadIdx.y;  // blockDim (32, 8): each thread 4 rows
    float acc[4] = {0, 0, 0, 0};
    for (int64_t q0 = 0; q0 < r; q0 += kTile) {
        for (int rr = ty; rr < kTile; rr += blockDim.y) {
            const int64_t ti = i0 + rr, bj = j0 + rr, q = q0 + tx;
            ts[rr][tx] = (ti < M && q < r) ? Tq[ti * r + q] : 0.0f;
            bs[rr][tx] = (bj < N && q < r) ? ld(B, t, bj * r + q) : 0.0f;
        }
        __syncthreads();
        for (int q = 0; q < kTile; ++q) {
            const float b = bs[tx][q];
            for (int k = 0; k < 4; ++k) acc[k] = fmaf(ts[ty + k * 8][q], b, acc[k]);
        }
        __syncthreads();
    }
    const int64_t j = j0 + tx;
    if (j >= N) return;
    const float bv = bias != nullptr ? ld(bias, t, j) : 0.0f;
    for (int k = 0; k < 4; ++k) {
        const int64_t i = i0 + ty + k * 8;
        if (i < M) st(y, t, i * N + j, bv + acc[k]);
    }
}

// ---------------------------------------------------------------- the table's functions

int params_f32(cudaStream_t s, Scratch &sc, const void *p, int pt, int64_t n, const float **out, raicuda_err *err) {
    if (pt == RAICUDA_F32 || p == nullptr) {
        *out = static_cast<const float *>(p);
        return 0;
    }
    float *f = nullptr;
    if (int rc = sc.get(static_cast<size_t>(n), &f, err)) return rc;
    k_to_f32<<<blocks_for(n, 256), 256, 0, s>>>(p, pt, n, 1.0f, f);
    *out = f;
    return 0;
}

bool aligned16(const void *p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Whether the device takes programmatic dependent launches (sm_90+), cached per device.
bool pdl_ok(int32_t ordinal) {
    constexpr int kMaxDevices = 64;
    static std::atomic<int> cache[kMaxDevices] = {};  // 0 unknown, 1 no, 2 yes
    if (ordinal < 0 || ordinal >= kMaxDevices) return false;
    int v = cache[ordinal].load(std::memory_order_relaxed);
    if (v == 0) {
        int major = 0;
        if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, ordinal) != cudaSuccess) {
            cudaGetLastError();
            return false;
        }
        v = major >= 9 ? 2 : 1;
        cache[ordinal].store(v, std::memory_order_relaxed);
    }
    return v == 2;
}

// Tq[M,r] (fp32) = s·x·Aᵀ with k_shrink, MR rows × QB ranks a block.
template <class T, int MR, int QB>
int launch_shrink(cudaStream_t s, const raicuda_lora_args *a, float *Tq, raicuda_err *err) {
    const T *x = static_cast<const T *>(a->x), *A = static_cast<const T *>(a->a);
    constexpr int V = static_cast<int>(16 / sizeof(T));
    const dim3 grid(blocks_for(a->r, QB), blocks_for(a->M, MR));
    if (a->K % V == 0 && aligned16(x) && aligned16(A))
        k_shrink<T, MR, QB, V><<<grid, kShrinkThreads, 0, s>>>(x, A, a->M, a->K, a->r, a->scaling, Tq);
    else
        k_shrink<T, MR, QB, 1><<<grid, kShrinkThreads, 0, s>>>(x, A, a->M, a->K, a->r, a->scaling, Tq);
    RAICUDA_TRY(cudaGetLastError(), err, "LoRA shrink kernel");
    return 0;
}

template <class T, int MR>
int small_m_launch(int32_t ordinal, cudaStream_t s, Scratch &sc, const raicuda_lora_args *a, raicuda_err *err) {
    const int64_t M = a->M, N = a->N, K = a->K, r = a->r;
    float *Tq = nullptr;
    if (int rc = sc.get(static_cast<size_t>(M * r), &Tq, err)) return rc;
    if (int rc = launch_shrink<T, MR, 1>(s, a, Tq, err)) return rc;
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = dim3(blocks_for(N, kGemvRows));
    cfg.blockDim = dim3(kGemvThreads);
    cfg.stream = s;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = pdl_ok(ordinal) ? 1 : 0;
    const T *x = static_cast<const T *>(a->x), *w = static_cast<const T *>(a->w);
    const T *bias = static_cast<const T *>(a->bias), *B = static_cast<const T *>(a->b);
    const float *Tc = Tq;
    T *y = static_cast<T *>(a->y);
    constexpr int V = static_cast<int>(16 / sizeof(T));
    if (K % V == 0 && aligned16(x) && aligned16(w))
        RAICUDA_TRY(cudaLaunchKernelEx(&cfg, k_small_gemv<T, MR, V>, x, w, bias, Tc, B, M, N, K, r, y), err,
                    "small-M LoRA kernel");
    else
        RAICUDA_TRY(cudaLaunchKernelEx(&cfg, k_small_gemv<T, MR, 1>, x, w, bias, Tc, B, M, N, K, r, y), err,
                    "small-M LoRA kernel");
    return 0;
}

template <class T>
int small_m_forward(int32_t ordinal, cudaStream_t s, Scratch &sc, const raicuda_lora_args *a, raicuda_err *err) {
    static_assert(kSmallM == 8, "the cases below");
    if (a->M <= 1) return small_m_launch<T, 1>(ordinal, s, sc, a, err);
    if (a->M <= 2) return small_m_launch<T, 2>(ordinal, s, sc, a, err);
    if (a->M <= 4) return small_m_launch<T, 4>(ordinal, s, sc, a, err);
    return small_m_launch<T, 8>(ordinal, s, sc, a, err);
}

// Up to this M the adapter products run as the small kernels below (a launch costs a few us of
// host time, a cublasLtMatmul call over 10 us, more than these products take on the GPU there);
// above, as cuBLASLt GEMMs, which are faster on the GPU.
constexpr int64_t kKernelAdapterMaxM = 128;

// M > kSmallM: the adapter term y = bias + T·Bᵀ with T = s·x·Aᵀ first, then the base GEMM
// y = x·Wᵀ + 1·y in cuBLASLt: it accumulates onto the adapter term in fp32 inside the GEMM, so
// the base product is rounded once. For bf16/f16 the adapter term (+ bias) is rounded to the act
// dtype before that (and T too above kKernelAdapterMaxM), as PEFT does in PyTorch
// (lora_B(lora_A(x))·s is an act-dtype tensor added to the base output); f32 matches the CPU
// path to rounding.
int lora_forward_gemm(int32_t ordinal, cudaStream_t s, Scratch &sc, const raicuda_lora_args *a, raicuda_err *err) {
    const int64_t M = a->M, N = a->N, K = a->K, r = a->r;
    const int t = a->act_type;
    Gemm g;
    g.tb = true, g.ab_type = t, g.c_type = t;
    if (M <= kKernelAdapterMaxM) {
        float *Tq = nullptr;  // fp32
        if (int rc = sc.get(static_cast<size_t>(M * r), &Tq, err)) return rc;
        const int rc = t == RAICUDA_F32    ? launch_shrink<float, 4, 8>(s, a, Tq, err)
                       : t == RAICUDA_BF16 ? launch_shrink<__nv_bfloat16, 4, 8>(s, a, Tq, err)
                                           : launch_shrink<__half, 4, 8>(s, a, Tq, err);
        if (rc) return rc;
        const dim3 grid(blocks_for(N, kTile), blocks_for(M, kTile)), block(kTile, 8);
        k_expand<<<grid, block, 0, s>>>(a->y, t, a->bias, Tq, a->b, M, N, r);
        RAICUDA_TRY(cudaGetLastError(), err, "LoRA expand kernel");
    } else {
        unsigned char *T = nullptr;  // act dtype, the A operand of y = T·Bᵀ
        if (int rc = sc.get(static_cast<size_t>(M * r) * type_size(t), &T, err)) return rc;
        g.M = M, g.N = r, g.K = K, g.lda = K, g.ldb = K, g.ldc = r;  // T = s·x·Aᵀ
        if (int rc = lt_gemm(ordinal, s, g, a->scaling, a->x, a->a, 0.0f, T, err)) return rc;
        g.N = N, g.K = r, g.lda = r, g.ldb = r, g.ldc = N, g.bias = a->bias;  // y = T·Bᵀ + bias
        bool no_algo = false;
        if (int rc = lt_gemm(ordinal, s, g, 1.0f, T, a->b, 0.0f, a->y, err, &no_algo)) return rc;
        if (no_algo) {  // no bias epilogue for these types: y = bias, then y += T·Bᵀ
            k_bias_rows<<<blocks_for(M * N, 256), 256, 0, s>>>(a->y, t, a->bias, M, N);
            RAICUDA_TRY(cudaGetLastError(), err, "bias kernel");
            g.bias = nullptr;
            if (int rc = lt_gemm(ordinal, s, g, 1.0f, T, a->b, 1.0f, a->y, err)) return rc;
        }
        g.bias = nullptr;
    }
    g.M = M, g.N = N, g.K = K, g.lda = K, g.ldb = K, g.ldc = N;  // y = x·Wᵀ + y
    return lt_gemm(ordinal, s, g, 1.0f, a->x, a->w, 1.0f, a->y, err);
}

// The fast forward: no DoRA, no dropout, a dense base, adapters in the act dtype. No conversion
// passes and no fp32 intermediates of size M·N or M·K.
int lora_forward_fast(int32_t ordinal, cudaStream_t s, Scratch &sc, const raicuda_lora_args *a, raicuda_err *err) {
    if (a->M > kSmallM) return lora_forward_gemm(ordinal, s, sc, a, err);
    if (a->act_type == RAICUDA_F32) return small_m_forward<float>(ordinal, s, sc, a, err);
    if (a->act_type == RAICUDA_BF16) return small_m_forward<__nv_bfloat16>(ordinal, s, sc, a, err);
    return small_m_forward<__half>(ordinal, s, sc, a, err);
}

int lora_forward(int32_t ordinal, void *stream, const raicuda_lora_args *a, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    Scratch sc(s);
    const int64_t M = a->M, N = a->N, K = a->K, r = a->r;
    if (M == 0 || N == 0) return 0;
    const bool training = (a->flags & RAI_LORA_TRAINING) != 0;
    const float p = training ? a->dropout : 0.0f;
    const uint64_t key = mix_key(a->dropout_key, kStreamInput);
    const bool dora = a->magnitude != nullptr, has_base = a->w == nullptr;
    if (!dora && !(p > 0.0f) && !has_base && a->param_type == a->act_type && K > 0)
        return lora_forward_fast(ordinal, s, sc, a, err);
    float *Xd = nullptr, *T = nullptr, *Y0 = nullptr, *Y0d = nullptr, *norm = nullptr;
    void *Xd_act = nullptr;
    if (int rc = sc.get(static_cast<size_t>(M * K), &Xd, err)) return rc;
    if (dora && p > 0.0f)
        if (int rc = sc.get(static_cast<size_t>(M * K) * type_size(a->act_type) / 4 + 1, reinterpret_cast<float **>(&Xd_act), err))
            return rc;
    k_input<<<blocks_for(M * K, 256), 256, 0, s>>>(a->x, a->act_type, M * K, p, key, Xd, Xd_act);
    RAICUDA_TRY(cudaGetLastError(), err, "input kernel");
    const float *A32 = nullptr, *B32 = nullptr, *mag32 = nullptr;
    if (int rc = params_f32(s, sc, a->a, a->param_type, r * K, &A32, err)) return rc;
    if (int rc = params_f32(s, sc, a->b, a->param_type, N * r, &B32, err)) return rc;
    if (int rc = params_f32(s, sc, a->magnitude, a->param_type, N, &mag32, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(M * r), &T, err)) return rc;
    if (int rc = gemm_rm(ordinal, s, false, true, M, r, K, 1.0f, Xd, K, A32, K, RAICUDA_F32, 0.0f, T, r, err)) return rc;
    if (!has_base) {
        if (int rc = sc.get(static_cast<size_t>(M * N), &Y0, err)) return rc;
        if (int rc = gemm_rm(ordinal, s, false, true, M, N, K, 1.0f, a->x, K, a->w, K, a->act_type, 0.0f, Y0, N, err))
            return rc;
    }
    if (dora) {
        if (has_base) {
            std::snprintf(err->message, sizeof err->message, "DoRA needs the base weight");
            return RAI_ERROR_INTERNAL;
        }
        if (int rc = sc.get(static_cast<size_t>(N), &norm, err)) return rc;
        k_dora_norm<<<static_cast<unsigned>(N), 256, 0, s>>>(a->w, a->act_type, A32, B32, a->scaling, N, K, r, norm);
        if (Xd_act != nullptr) {
            if (int rc = sc.get(static_cast<size_t>(M * N), &Y0d, err)) return rc;
            if (int rc = gemm_rm(ordinal, s, false, true, M, N, K, 1.0f, Xd_act, K, a->w, K, a->act_type, 0.0f, Y0d, N,
                                 err))
                return rc;
        }
    }
    const dim3 grid(blocks_for(N, kTile), blocks_for(M, kTile)), block(kTile, 8);
    k_epilogue<<<grid, block, 0, s>>>(a->y, a->act_type, Y0, Y0d, a->bias, T, B32, dora ? mag32 : nullptr, norm,
                                      a->scaling, M, N, r, has_base ? 1 : 0);
    RAICUDA_TRY(cudaGetLastError(), err, "epilogue kernel");
    return 0;
}

int lora_backward(int32_t ordinal, void *stream, const raicuda_lora_args *a, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    Scratch sc(s);
    const int64_t M = a->M, N = a->N, K = a->K, r = a->r;
    const bool training = (a->flags & RAI_LORA_TRAINING) != 0;
    const bool acc = (a->flags & RAI_LORA_ACCUMULATE) != 0;
    const float p = training ? a->dropout : 0.0f;
    const uint64_t key = mix_key(a->dropout_key, kStreamInput);
    const bool dora = a->magnitude != nullptr, has_base = a->w == nullptr;
    if (dora && has_base) {
        std::snprintf(err->message, sizeof err->message, "DoRA needs the base weight");
        return RAI_ERROR_INTERNAL;
    }
    float *Xd = nullptr, *T = nullptr, *dY = nullptr, *G = nullptr, *dT = nullptr;
    void *Xd_act = nullptr;
    if (int rc = sc.get(static_cast<size_t>(M * K), &Xd, err)) return rc;
    if (dora && p > 0.0f)
        if (int rc = sc.get(static_cast<size_t>(M * K) * type_size(a->act_type) / 4 + 1, reinterpret_cast<float **>(&Xd_act), err))
            return rc;
    k_input<<<blocks_for(M * K, 256), 256, 0, s>>>(a->x, a->act_type, M * K, p, key, Xd, Xd_act);
    const float *A32 = nullptr, *B32 = nullptr, *mag32 = nullptr;
    if (int rc = params_f32(s, sc, a->a, a->param_type, r * K, &A32, err)) return rc;
    if (int rc = params_f32(s, sc, a->b, a->param_type, N * r, &B32, err)) return rc;
    if (int rc = params_f32(s, sc, a->magnitude, a->param_type, N, &mag32, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(M * r), &T, err)) return rc;
    if (int rc = gemm_rm(ordinal, s, false, true, M, r, K, 1.0f, Xd, K, A32, K, RAICUDA_F32, 0.0f, T, r, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(M * N), &dY, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(M * N), &G, err)) return rc;
    float *dY0 = nullptr;  // DoRA: gradient of the (g-1)·Y0 term
    if (dora) {
        float *norm = nullptr, *L = nullptr, *Yb = nullptr;
        if (int rc = sc.get(static_cast<size_t>(N), &norm, err)) return rc;
        k_dora_norm<<<static_cast<unsigned>(N), 256, 0, s>>>(a->w, a->act_type, A32, B32, a->scaling, N, K, r, norm);
        if (int rc = sc.get(static_cast<size_t>(M * N), &L, err)) return rc;
        if (int rc = gemm_rm(ordinal, s, false, true, M, N, r, 1.0f, T, r, B32, r, RAICUDA_F32, 0.0f, L, N, err)) return rc;
        if (int rc = sc.get(static_cast<size_t>(M * N), &Yb, err)) return rc;
        if (int rc = gemm_rm(ordinal, s, false, true, M, N, K, 1.0f, Xd_act ? Xd_act : a->x, K, a->w, K, a->act_type, 0.0f,
                             Yb, N, err))
            return rc;
        if (int rc = sc.get(static_cast<size_t>(M * N), &dY0, err)) return rc;
        k_to_f32<<<blocks_for(M * N, 256), 256, 0, s>>>(a->dy, a->act_type, M * N, 1.0f, dY);
        k_dora_back<<<static_cast<unsigned>(N), 256, 0, s>>>(dY, Yb, L, mag32, norm, a->scaling, M, N, G, dY0,
                                                              a->dmagnitude, acc ? 1 : 0);
    } else {
        k_to_f32<<<blocks_for(M * N, 256), 256, 0, s>>>(a->dy, a->act_type, M * N, a->scaling, G);
    }
    RAICUDA_TRY(cudaGetLastError(), err, "backward kernels");
    // dB (+)= Gᵀ·T, dT = G·B, dA (+)= dTᵀ·x_d
    if (a->db != nullptr)
        if (int rc = gemm_rm(ordinal, s, true, false, N, r, M, 1.0f, G, N, T, r, RAICUDA_F32, acc ? 1.0f : 0.0f, a->db, r,
                             err))
            return rc;
    if (int rc = sc.get(static_cast<size_t>(M * r), &dT, err)) return rc;
    if (int rc = gemm_rm(ordinal, s, false, false, M, r, N, 1.0f, G, N, B32, r, RAICUDA_F32, 0.0f, dT, r, err)) return rc;
    if (a->da != nullptr)
        if (int rc = gemm_rm(ordinal, s, true, false, r, K, M, 1.0f, dT, r, Xd, K, RAICUDA_F32, acc ? 1.0f : 0.0f, a->da, K,
                             err))
            return rc;
    if (a->dx == nullptr) return 0;
    float *dXa = nullptr, *dXb = nullptr;
    if (int rc = sc.get(static_cast<size_t>(M * K), &dXa, err)) return rc;
    if (int rc = gemm_rm(ordinal, s, false, false, M, K, r, 1.0f, dT, r, A32, K, RAICUDA_F32, 0.0f, dXa, K, err)) return rc;
    if (!has_base) {
        if (int rc = sc.get(static_cast<size_t>(M * K), &dXb, err)) return rc;
        if (int rc = gemm_rm(ordinal, s, false, false, M, K, N, 1.0f, a->dy, N, a->w, K, a->act_type, 0.0f, dXb, K, err))
            return rc;
    }
    if (dora) {  // dY0·W into the masked (dropout) or the unmasked part
        const float *W32 = nullptr;
        if (int rc = params_f32(s, sc, a->w, a->act_type, N * K, &W32, err)) return rc;
        if (int rc = gemm_rm(ordinal, s, false, false, M, K, N, 1.0f, dY0, N, W32, K, RAICUDA_F32, 1.0f,
                             p > 0.0f ? dXa : dXb, K, err))
            return rc;
    }
    k_dx<<<blocks_for(M * K, 256), 256, 0, s>>>(a->dx, a->act_type, dXb, dXa, M * K, p, key);
    RAICUDA_TRY(cudaGetLastError(), err, "dx kernel");
    return 0;
}

// Blocks per segment for `work` items of the largest segment at `per_block` a block: enough for
// all of it (capped at the grid limit), and fewer when many segments would launch mostly idle
// blocks (never fewer than enough to fill the GPU for the largest one).
unsigned sgmv_grid_y(int64_t work, int64_t per_block, int32_t n_segments) {
    constexpr int64_t kMaxY = 65535, kFillGpu = 2048, kMaxBlocks = int64_t{1} << 18;
    int64_t y = (work + per_block - 1) / per_block;
    const int64_t cap = n_segments > 0 && kMaxBlocks / n_segments > kFillGpu ? kMaxBlocks / n_segments : kFillGpu;
    y = y < cap ? y : cap;
    y = y < kMaxY ? y : kMaxY;
    return static_cast<unsigned>(y < 1 ? 1 : y);
}

int lora_forward_mixed(int32_t ordinal, void *stream, const raicuda_lora_mixed_args *a, raicuda_err *err) {
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    Scratch sc(s);
    const int64_t M = a->M, N = a->N, K = a->K;
    if (M == 0 || N == 0) return 0;
    float *Y0 = nullptr, *T = nullptr, *scal = nullptr;
    int64_t *perm = nullptr, *seg = nullptr;
    int32_t *seg_ad = nullptr, *ranks = nullptr;
    const void **Ap = nullptr, **Bp = nullptr;
    int32_t rmax = 1;
    for (int32_t i = 0; i < a->n_adapters; ++i) rmax = a->ranks_host[i] > rmax ? a->ranks_host[i] : rmax;
    const int32_t na = a->n_adapters > 0 ? a->n_adapters : 1;
    if (int rc = sc.get(static_cast<size_t>(M * N), &Y0, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(M * rmax), &T, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(M), &perm, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(a->n_segments + 1), &seg, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(a->n_segments), &seg_ad, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(na), &ranks, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(na), &scal, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(na), &Ap, err)) return rc;
    if (int rc = sc.get(static_cast<size_t>(na), &Bp, err)) return rc;
    // Pageable host sources: cudaMemcpyAsync stages them before returning.
    RAICUDA_TRY(cudaMemcpyAsync(perm, a->perm_host, M * sizeof(int64_t), cudaMemcpyHostToDevice, s), err, "copy perm");
    RAICUDA_TRY(cudaMemcpyAsync(seg, a->seg_start_host, (a->n_segments + 1) * sizeof(int64_t), cudaMemcpyHostToDevice, s),
                err, "copy segments");
    RAICUDA_TRY(cudaMemcpyAsync(seg_ad, a->seg_adapter_host, a->n_segments * sizeof(int32_t), cudaMemcpyHostToDevice, s),
                err, "copy segment adapters");
    if (a->n_adapters > 0) {
        RAICUDA_TRY(cudaMemcpyAsync(ranks, a->ranks_host, a->n_adapters * sizeof(int32_t), cudaMemcpyHostToDevice, s), err,
                    "copy ranks");
        RAICUDA_TRY(cudaMemcpyAsync(scal, a->scaling_host, a->n_adapters * sizeof(float), cudaMemcpyHostToDevice, s), err,
                    "copy scaling");
        RAICUDA_TRY(cudaMemcpyAsync(Ap, a->a_host, a->n_adapters * sizeof(void *), cudaMemcpyHostToDevice, s), err,
                    "copy A pointers");
        RAICUDA_TRY(cudaMemcpyAsync(Bp, a->b_host, a->n_adapters * sizeof(void *), cudaMemcpyHostToDevice, s), err,
                    "copy B pointers");
    }
    // One base GEMM for every row.
    if (int rc = gemm_rm(ordinal, s, false, true, M, N, K, 1.0f, a->x, K, a->w, K, a->act_type, 0.0f, Y0, N, err)) return rc;
    // grid.y follows the largest segment's work so that one big segment fills the GPU; the kernels
    // stride over their rows, so any grid.y gives the same results.
    int64_t max_rows = 0;
    for (int32_t i = 0; i < a->n_segments; ++i) {
        const int64_t rows = a->seg_start_host[i + 1] - a->seg_start_host[i];
        max_rows = rows > max_rows ? rows : max_rows;
    }
    const dim3 grid_s(static_cast<unsigned>(a->n_segments), sgmv_grid_y(max_rows * rmax, 256 / 32, a->n_segments)),
        grid_e(static_cast<unsigned>(a->n_segments), sgmv_grid_y(max_rows * N, 256, a->n_segments));
    k_sgmv_shrink<<<grid_s, 256, 0, s>>>(a->x, a->act_type, a->param_type, K, perm, seg, seg_ad, Ap, ranks, rmax, T);
    k_sgmv_expand<<<grid_e, 256, 0, s>>>(a->y, a->act_type, a->param_type, Y0, a->bias, N, perm, seg, seg_ad, Bp, ranks,
                                         scal, rmax, T);
    RAICUDA_TRY(cudaGetLastError(), err, "segmented LoRA kernels");
    return 0;
}

const raicuda_adapters kTable = {sizeof(raicuda_adapters), lora_forward, lora_backward, lora_forward_mixed};

}  // namespace

const void *adapters_capability() { return &kTable; }

}  // namespace raicuda
