// cuBLASLt GEMMs for the plugin (adapters, 4-bit linear layers): one handle per device, and per
// thread a cache of plans (descriptors + the heuristic's algorithm) and one persistent 32 MiB
// workspace per device, so a call costs one cublasLtMatmul after the first of its shape.
#include <array>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "lt_gemm.cuh"

namespace raicuda::lt {

namespace {

int lt_handle(int32_t ordinal, cublasLtHandle_t *out, raicuda_err *err) {
    constexpr int kMaxDevices = 64;
    static std::mutex mu;
    static cublasLtHandle_t handles[kMaxDevices] = {};
    if (ordinal < 0 || ordinal >= kMaxDevices) {
        std::snprintf(err->message, sizeof err->message, "CUDA device %d out of range", ordinal);
        return RAI_ERROR_NO_DEVICE;
    }
    std::lock_guard<std::mutex> lock(mu);
    if (handles[ordinal] == nullptr) RAICUDA_LT(cublasLtCreate(&handles[ordinal]), err, "cublasLtCreate");
    *out = handles[ordinal];
    return 0;
}

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
        for (int64_t v : k) {  // splitmix64's finaliser per element
            h ^= static_cast<uint64_t>(v) + 0x9E3779B97F4A7C15ull;
            h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
            h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
            h ^= h >> 31;
        }
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
    const cudaDataType_t dt = g.ab_type, ct = g.c_type;
    // first operand: B, (tb ? T : N), stored col-major (tb ? [K,N] : [N,K])
    const cublasOperation_t t1 = g.tb ? CUBLAS_OP_T : CUBLAS_OP_N, t2 = g.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    RAICUDA_LT(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), err, "cublasLtMatmulDescCreate");
    RAICUDA_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &t1, sizeof t1), err, "TRANSA");
    RAICUDA_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &t2, sizeof t2), err, "TRANSB");
    if (g.bias != nullptr) {
        const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        const int32_t bias_type = static_cast<int32_t>(ct);
        RAICUDA_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi), err, "EPILOGUE");
        RAICUDA_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type),
               err, "BIAS_DATA_TYPE");
        // the heuristic reads the pointer's alignment
        RAICUDA_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof g.bias), err,
               "BIAS_POINTER");
    }
    RAICUDA_LT(cublasLtMatrixLayoutCreate(&p.la, dt, g.tb ? g.K : g.N, g.tb ? g.N : g.K, g.ldb), err, "layout B");
    RAICUDA_LT(cublasLtMatrixLayoutCreate(&p.lb, dt, g.ta ? g.M : g.K, g.ta ? g.K : g.M, g.lda), err, "layout A");
    RAICUDA_LT(cublasLtMatrixLayoutCreate(&p.lc, ct, g.N, g.M, g.ldc), err, "layout C");
    cublasLtMatmulPreference_t pref = nullptr;
    RAICUDA_LT(cublasLtMatmulPreferenceCreate(&pref), err, "cublasLtMatmulPreferenceCreate");
    struct PrefGuard {
        cublasLtMatmulPreference_t p;
        ~PrefGuard() { cublasLtMatmulPreferenceDestroy(p); }
    } guard{pref};
    // cuBLASLt's A is our B and its B our A (see Gemm).
    const uint32_t al_a = static_cast<uint32_t>(align_of(B)), al_b = static_cast<uint32_t>(align_of(A)),
                   al_c = static_cast<uint32_t>(align_of(C));
    RAICUDA_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes,
                                                sizeof ws_bytes),
           err, "workspace preference");
    RAICUDA_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a),
           err, "alignment preference");
    RAICUDA_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b),
           err, "alignment preference");
    RAICUDA_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof al_c),
           err, "alignment preference");
    RAICUDA_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof al_c),
           err, "alignment preference");
    cublasLtMatmulHeuristicResult_t heur{};
    int found = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(h, p.op, p.la, p.lb, p.lc, p.lc, pref, 1, &heur, &found);
    if (st == CUBLAS_STATUS_NOT_SUPPORTED) found = 0;  // no algorithm: cached as such
    else RAICUDA_LT(st, err, "cublasLtMatmulAlgoGetHeuristic");
    if (found > 0) {
        p.algo = heur.algo;
        p.ws = heur.workspaceSize;
        p.found = true;
    }
    return 0;
}

}  // namespace

// Runs one GEMM with a plan cached per thread, keyed on everything the heuristic looks at (the
// shape, types, epilogue, operand alignments, workspace size) but not on alpha/beta or the
// pointers themselves. A miss costs the heuristic (tens of us); a hit only the cublasLtMatmul
// call. `no_algo` given: a missing algorithm sets it and runs nothing.
int lt_gemm(int32_t ordinal, cudaStream_t s, const Gemm &g, float alpha, const void *A, const void *B, float beta,
            void *C, raicuda_err *err, bool *no_algo) {
    if (g.M == 0 || g.N == 0) return 0;
    cublasLtHandle_t h = nullptr;
    if (int rc = lt_handle(ordinal, &h, err)) return rc;
    DeviceWorkspace *w = nullptr;
    if (int rc = device_workspace(ordinal, &w, err)) return rc;
    const PlanKey key = {ordinal,     g.ta,        g.tb,        g.M,
                         g.N,         g.K,         g.lda,       g.ldb,
                         g.ldc,       static_cast<int64_t>(g.ab_type), static_cast<int64_t>(g.c_type),    g.bias != nullptr,
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
        RAICUDA_LT(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof g.bias), err,
               "BIAS_POINTER");
    void *wp = nullptr;
    if (p.ws > 0) {
        if (w->used && w->last != s) RAICUDA_TRY(cudaStreamWaitEvent(s, w->done, 0), err, "cudaStreamWaitEvent");
        wp = w->p;
    }
    RAICUDA_LT(cublasLtMatmul(h, p.op, &alpha, B, p.la, A, p.lb, &beta, C, p.lc, C, p.lc, &p.algo, wp, p.ws, s), err,
           "cublasLtMatmul");
    if (p.ws > 0) {
        RAICUDA_TRY(cudaEventRecord(w->done, s), err, "cudaEventRecord");
        w->last = s;
        w->used = true;
    }
    return 0;
}

}  // namespace raicuda::lt
