// The LoRA forward fast path (no DoRA, no dropout in effect, a dense base, adapters in the act
// dtype): everything stays in the act dtype. M <= 8: a small kernel for T = s·x·Aᵀ and one
// matrix-vector kernel that streams W once and adds the bias and the B·T expansion in its
// epilogue. Larger M: the adapter term y = bias + T·Bᵀ first (small kernels up to M = 128,
// cuBLASLt above), then the base GEMM y = x·Wᵀ + 1·y in cuBLASLt (see lora_forward_gemm for the
// rounding).
#include <atomic>
#include <type_traits>

#include "adapters_cuda.cuh"

namespace raicuda::adp {

namespace {

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

// to_f / from_f: core/launch.cuh

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
    const dim3 grid(ceil_blocks(a->r, QB), ceil_blocks(a->M, MR));
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
    cfg.gridDim = dim3(ceil_blocks(N, kGemvRows));
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
    g.tb = true, g.ab_type = cuda_type(t), g.c_type = cuda_type(t);
    if (M <= kKernelAdapterMaxM) {
        float *Tq = nullptr;  // fp32
        if (int rc = sc.get(static_cast<size_t>(M * r), &Tq, err)) return rc;
        const int rc = t == RAICUDA_F32    ? launch_shrink<float, 4, 8>(s, a, Tq, err)
                       : t == RAICUDA_BF16 ? launch_shrink<__nv_bfloat16, 4, 8>(s, a, Tq, err)
                                           : launch_shrink<__half, 4, 8>(s, a, Tq, err);
        if (rc) return rc;
        const dim3 grid(ceil_blocks(N, kTile), ceil_blocks(M, kTile)), block(kTile, 8);
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
            k_bias_rows<<<ceil_blocks(M * N, 256), 256, 0, s>>>(a->y, t, a->bias, M, N);
            RAICUDA_TRY(cudaGetLastError(), err, "bias kernel");
            g.bias = nullptr;
            if (int rc = lt_gemm(ordinal, s, g, 1.0f, T, a->b, 1.0f, a->y, err)) return rc;
        }
        g.bias = nullptr;
    }
    g.M = M, g.N = N, g.K = K, g.lda = K, g.ldb = K, g.ldc = N;  // y = x·Wᵀ + y
    return lt_gemm(ordinal, s, g, 1.0f, a->x, a->w, 1.0f, a->y, err);
}

}  // namespace

// The fast forward: no DoRA, no dropout, a dense base, adapters in the act dtype. No conversion
// passes and no fp32 intermediates of size M·N or M·K.
int lora_forward_fast(int32_t ordinal, cudaStream_t s, Scratch &sc, const raicuda_lora_args *a, raicuda_err *err) {
    if (a->M > kSmallM) return lora_forward_gemm(ordinal, s, sc, a, err);
    if (a->act_type == RAICUDA_F32) return small_m_forward<float>(ordinal, s, sc, a, err);
    if (a->act_type == RAICUDA_BF16) return small_m_forward<__nv_bfloat16>(ordinal, s, sc, a, err);
    return small_m_forward<__half>(ordinal, s, sc, a, err);
}

}  // namespace raicuda::adp
