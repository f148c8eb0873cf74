// Item-memory kernels: the q x m similarity matrix of packed rows (a popcount "GEMM" over 64 x 64
// tiles with the words staged through shared memory), and top-k search (scores as order-preserving
// 64-bit keys, sorted per query with CUB's stable segmented radix sort, so equal scores keep the
// increasing item order).
#include <climits>

#include <cub/device/device_segmented_radix_sort.cuh>

#include "ternary_common.cuh"
#include "ternary_kernels.h"

namespace raicuda::ternary {

namespace {

constexpr int kTileQ = 64, kTileM = 64, kChunk = 16;  // 16 words per plane per shared-memory stage

// Where a tile kernel puts its results.
struct Sink {
    int kind;  // 0: f32 values, 1: i32 values, 2: int64 top-k keys
    int metric;
    size_t dim;
    const u64 *nnz_q;  // cosine only
    const u64 *nnz_i;
    void *out;
    long long s0, s1;  // element strides (kinds 0, 1); kind 2: row stride m, column stride 1
};

__device__ inline long long order_key(float f) {
    const int bits = __float_as_int(f);
    return static_cast<long long>(bits >= 0 ? bits : bits ^ 0x7FFFFFFF);
}
__device__ inline float key_float(long long key) {
    const int bits = static_cast<int>(key);
    return __int_as_float(bits >= 0 ? bits : bits ^ 0x7FFFFFFF);
}

__device__ inline void store(const Sink &s, size_t i, size_t j, long long raw) {
    if (s.kind == 2) {
        long long key;
        if (s.metric == 0) key = order_key(metric_value(0, raw, s.nnz_q[i], s.nnz_i[j], s.dim));
        else if (s.metric == 1) key = raw;
        else key = -raw;  // every hamming-based metric: fewer differences rank first
        static_cast<long long *>(s.out)[static_cast<long long>(i) * s.s0 + static_cast<long long>(j) * s.s1] = key;
        return;
    }
    const long long off = static_cast<long long>(i) * s.s0 + static_cast<long long>(j) * s.s1;
    if (s.kind == 1) {
        static_cast<int32_t *>(s.out)[off] =
            static_cast<int32_t>(s.metric == 4 ? static_cast<long long>(s.dim) - raw : raw);
    } else {
        const u64 nq = s.metric == 0 ? s.nnz_q[i] : 0, ni = s.metric == 0 ? s.nnz_i[j] : 0;
        static_cast<float *>(s.out)[off] = metric_value(s.metric, raw, nq, ni, s.dim);
    }
}

// One block of 256 threads computes a 64 x 64 tile of (query, item) pairs; thread (tx, ty) owns
// queries ty + 16a and items tx + 16b (a, b < 4). raw = dot (agree - disagree) or hamming.
template <bool Hamming>
__global__ void __launch_bounds__(256) tile_kernel(const u64 *Q, size_t q, const u64 *I, size_t m, size_t wpad,
                                                   Sink sink) {
    __shared__ u64 sqp[kTileQ][kChunk + 1], sqm[kTileQ][kChunk + 1];
    __shared__ u64 sip[kTileM][kChunk + 1], sim[kTileM][kChunk + 1];
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const size_t q0 = static_cast<size_t>(blockIdx.y) * kTileQ, m0 = static_cast<size_t>(blockIdx.x) * kTileM;
    long long acc[4][4];
    for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) acc[a][b] = 0;
    for (size_t w0 = 0; w0 < wpad; w0 += kChunk) {
        for (int e = threadIdx.x; e < kTileQ * kChunk; e += blockDim.x) {
            const int row = e / kChunk, k = e % kChunk;
            const size_t w = w0 + k;
            const size_t qi = q0 + row, mi = m0 + row;
            const bool qok = qi < q && w < wpad, mok = mi < m && w < wpad;
            sqp[row][k] = qok ? Q[qi * 2 * wpad + w] : 0;
            sqm[row][k] = qok ? Q[qi * 2 * wpad + wpad + w] : 0;
            sip[row][k] = mok ? I[mi * 2 * wpad + w] : 0;
            sim[row][k] = mok ? I[mi * 2 * wpad + wpad + w] : 0;
        }
        __syncthreads();
        for (int k = 0; k < kChunk; ++k) {
            u64 ip[4], im[4];
            for (int b = 0; b < 4; ++b) {
                ip[b] = sip[tx + 16 * b][k];
                im[b] = sim[tx + 16 * b][k];
            }
            for (int a = 0; a < 4; ++a) {
                const u64 xp = sqp[ty + 16 * a][k], xm = sqm[ty + 16 * a][k];
                for (int b = 0; b < 4; ++b) {
                    if (Hamming) {
                        acc[a][b] += __popcll((xp ^ ip[b]) | (xm ^ im[b]));
                    } else {
                        acc[a][b] += __popcll((xp & ip[b]) | (xm & im[b]));
                        acc[a][b] -= __popcll((xp & im[b]) | (xm & ip[b]));
                    }
                }
            }
        }
        __syncthreads();
    }
    for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) {
            const size_t i = q0 + ty + 16 * a, j = m0 + tx + 16 * b;
            if (i < q && j < m) store(sink, i, j, acc[a][b]);
        }
}

__global__ void nnz_kernel(const u64 *rows_data, size_t rows, size_t wpad, u64 *nnz) {
    for (size_t r = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; r < rows;
         r += static_cast<size_t>(gridDim.x) * blockDim.x) {
        u64 n = 0;
        for (size_t w = 0; w < 2 * wpad; ++w) n += __popcll(rows_data[r * 2 * wpad + w]);
        nnz[r] = n;
    }
}

int launch_tiles(const u64 *Q, size_t q, const u64 *I, size_t m, size_t wpad, bool hamming, const Sink &sink,
                 cudaStream_t s, raicuda_err *err) {
    const size_t gx = (m + kTileM - 1) / kTileM, gy = (q + kTileQ - 1) / kTileQ;
    if (gx == 0 || gy == 0) return 0;
    if (gy > 65535) {
        std::snprintf(err->message, sizeof err->message, "ternary similarity: %zu queries exceed one launch", q);
        return RAI_ERROR_UNSUPPORTED;
    }
    const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
    if (hamming) tile_kernel<true><<<grid, 256, 0, s>>>(Q, q, I, m, wpad, sink);
    else tile_kernel<false><<<grid, 256, 0, s>>>(Q, q, I, m, wpad, sink);
    RAICUDA_TERNARY_LAUNCHED(err, "ternary tile_kernel launch");
    return 0;
}

// Device memory for the duration of a call, freed in stream order.
struct Scratch {
    void *p = nullptr;
    cudaStream_t s;
    explicit Scratch(cudaStream_t stream) : s(stream) {}
    ~Scratch() {
        if (p) cudaFreeAsync(p, s);
    }
    cudaError_t alloc(size_t bytes) { return cudaMallocAsync(&p, bytes == 0 ? 1 : bytes, s); }
};

__global__ void iota_mod_kernel(int *vals, size_t n, size_t m) {
    for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < n;
         idx += static_cast<size_t>(gridDim.x) * blockDim.x)
        vals[idx] = static_cast<int>(idx % m);
}

__global__ void offsets_kernel(int *offsets, size_t segments, size_t m) {
    for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx <= segments;
         idx += static_cast<size_t>(gridDim.x) * blockDim.x)
        offsets[idx] = static_cast<int>(idx * m);
}

// The score a top-k key stands for (the inverse of store()'s key for each metric).
__device__ inline float key_score(long long key, int metric, size_t dim) {
    if (metric == 0) return key_float(key);
    if (metric == 1) return static_cast<float>(key);
    return metric_value(metric, -key, 0, 0, dim);
}

// ---- top-k by selection (k <= kSelectMax): one block of kThreads per query.
constexpr int kSelectMax = 32;
constexpr long long kNoKey = LLONG_MIN;  // below every real key (real keys fit in 32 bits)

// a ranks before b: higher key, or the same key and the lower item index.
__device__ inline bool ranks_before(long long ka, int ia, long long kb, int ib) {
    return ka > kb || (ka == kb && ia < ib);
}

__global__ void __launch_bounds__(kThreads) select_topk_kernel(const long long *keys, size_t m, int k, int metric,
                                                                size_t dim, size_t q0, int64_t *index, long long is0,
                                                                long long is1, float *score, long long ss0,
                                                                long long ss1) {
    // 1. Each thread keeps the best k of the items it strides over, sorted best first.
    long long lk[kSelectMax];
    int li[kSelectMax];
    for (int t = 0; t < kSelectMax; ++t) {
        lk[t] = kNoKey;
        li[t] = INT_MAX;
    }
    const long long *row = keys + static_cast<size_t>(blockIdx.x) * m;
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) {
        const long long key = row[j];
        const int idx = static_cast<int>(j);
        if (!ranks_before(key, idx, lk[k - 1], li[k - 1])) continue;
        int p = k - 1;
        while (p > 0 && ranks_before(key, idx, lk[p - 1], li[p - 1])) {
            lk[p] = lk[p - 1];
            li[p] = li[p - 1];
            --p;
        }
        lk[p] = key;
        li[p] = idx;
    }
    // 2. k rounds: the block's best head of list wins, is written, and its list advances.
    __shared__ long long wk[kThreads / 32];
    __shared__ int wi[kThreads / 32];
    __shared__ long long best_k;
    __shared__ int best_i;
    int head = 0;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const size_t i = q0 + blockIdx.x;
    for (int t = 0; t < k; ++t) {
        long long ck = head < k ? lk[head] : kNoKey;
        int ci = head < k ? li[head] : INT_MAX;
        for (int off = 16; off > 0; off /= 2) {
            const long long ok = __shfl_down_sync(0xffffffffu, ck, off);
            const int oi = __shfl_down_sync(0xffffffffu, ci, off);
            if (ranks_before(ok, oi, ck, ci)) {
                ck = ok;
                ci = oi;
            }
        }
        if (lane == 0) {
            wk[warp] = ck;
            wi[warp] = ci;
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            long long bk = wk[0];
            int bi = wi[0];
            for (int w = 1; w < kThreads / 32; ++w)
                if (ranks_before(wk[w], wi[w], bk, bi)) {
                    bk = wk[w];
                    bi = wi[w];
                }
            best_k = bk;
            best_i = bi;
            index[static_cast<long long>(i) * is0 + static_cast<long long>(t) * is1] = bi;
            if (score != nullptr)
                score[static_cast<long long>(i) * ss0 + static_cast<long long>(t) * ss1] = key_score(bk, metric, dim);
        }
        __syncthreads();
        // Item indices are unique, so exactly one thread holds the winner at its head.
        if (head < k && li[head] == best_i && lk[head] == best_k) ++head;
        __syncthreads();
    }
}

// Writes the first k sorted entries of each query of a batch starting at query q0.
__global__ void gather_kernel(const long long *keys, const int *vals, size_t batch, size_t m, size_t k, int metric,
                              size_t dim, size_t q0, int64_t *index, long long is0, long long is1, float *score,
                              long long ss0, long long ss1) {
    const size_t n = batch * k;
    for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < n;
         idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
        const size_t b = idx / k, t = idx % k;
        const long long key = keys[b * m + t];
        const size_t i = q0 + b;
        index[static_cast<long long>(i) * is0 + static_cast<long long>(t) * is1] = vals[b * m + t];
        if (score != nullptr) score[static_cast<long long>(i) * ss0 + static_cast<long long>(t) * ss1] = key_score(key, metric, dim);
    }
}

}  // namespace

int t_similarity(int32_t ordinal, void *stream, const uint64_t *queries, size_t q, const uint64_t *items, size_t m,
                 size_t dim, size_t wpad, int32_t metric, int32_t out_kind, void *out, int64_t s0, int64_t s1,
                 raicuda_err *err) {
    if (q == 0 || m == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    auto s = static_cast<cudaStream_t>(stream);
    const u64 *Q = reinterpret_cast<const u64 *>(queries), *I = reinterpret_cast<const u64 *>(items);
    Scratch nnz(s);
    Sink sink{out_kind == RAICUDA_TERNARY_OUT_I32 ? 1 : 0, metric, dim, nullptr, nullptr, out, s0, s1};
    if (metric == 0) {
        RAICUDA_TRY(nnz.alloc((q + m) * sizeof(u64)), err, "cudaMallocAsync");
        u64 *nq = static_cast<u64 *>(nnz.p), *ni = nq + q;
        nnz_kernel<<<blocks_for(q), kThreads, 0, s>>>(Q, q, wpad, nq);
        nnz_kernel<<<blocks_for(m), kThreads, 0, s>>>(I, m, wpad, ni);
        RAICUDA_TERNARY_LAUNCHED(err, "ternary nnz_kernel launch");
        sink.nnz_q = nq;
        sink.nnz_i = ni;
    }
    return launch_tiles(Q, q, I, m, wpad, metric >= 2, sink, s, err);
}

int t_topk(int32_t ordinal, void *stream, const uint64_t *queries, size_t q, const uint64_t *items, size_t m,
           size_t dim, size_t wpad, size_t k, int32_t metric, int64_t *index, int64_t is0, int64_t is1, float *score,
           int64_t ss0, int64_t ss1, raicuda_err *err) {
    if (q == 0) return 0;
    if (m > static_cast<size_t>(0x7fffffff)) {
        std::snprintf(err->message, sizeof err->message, "ternary top-k: %zu items exceed 2^31", m);
        return RAI_ERROR_UNSUPPORTED;
    }
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    auto s = static_cast<cudaStream_t>(stream);
    const u64 *Q = reinterpret_cast<const u64 *>(queries), *I = reinterpret_cast<const u64 *>(items);
    // Queries per batch: at most 2^24 scores (and < 2^31) in flight.
    size_t batch = (size_t{1} << 24) / m;
    batch = batch == 0 ? 1 : (batch > q ? q : batch);
    Scratch nnz(s), keys(s), keys_out(s), vals(s), vals_out(s), offsets(s), temp(s);
    u64 *nq = nullptr, *ni = nullptr;
    if (metric == 0) {
        RAICUDA_TRY(nnz.alloc((q + m) * sizeof(u64)), err, "cudaMallocAsync");
        nq = static_cast<u64 *>(nnz.p);
        ni = nq + q;
        nnz_kernel<<<blocks_for(q), kThreads, 0, s>>>(Q, q, wpad, nq);
        nnz_kernel<<<blocks_for(m), kThreads, 0, s>>>(I, m, wpad, ni);
        RAICUDA_TERNARY_LAUNCHED(err, "ternary nnz_kernel launch");
    }
    const size_t cap = batch * m;
    RAICUDA_TRY(keys.alloc(cap * sizeof(long long)), err, "cudaMallocAsync");
    if (k <= static_cast<size_t>(kSelectMax)) {
        long long *d_keys = static_cast<long long *>(keys.p);
        for (size_t q0 = 0; q0 < q; q0 += batch) {
            const size_t nb = q - q0 < batch ? q - q0 : batch;
            Sink sink{2, metric, dim, nq ? nq + q0 : nullptr, ni, d_keys, static_cast<long long>(m), 1};
            const int st = launch_tiles(Q + q0 * 2 * wpad, nb, I, m, wpad, metric >= 2, sink, s, err);
            if (st != 0) return st;
            select_topk_kernel<<<static_cast<unsigned>(nb), kThreads, 0, s>>>(
                d_keys, m, static_cast<int>(k), metric, dim, q0, index, is0, is1, score, ss0, ss1);
            RAICUDA_TERNARY_LAUNCHED(err, "ternary select_topk_kernel launch");
        }
        return 0;
    }
    RAICUDA_TRY(keys_out.alloc(cap * sizeof(long long)), err, "cudaMallocAsync");
    RAICUDA_TRY(vals.alloc(cap * sizeof(int)), err, "cudaMallocAsync");
    RAICUDA_TRY(vals_out.alloc(cap * sizeof(int)), err, "cudaMallocAsync");
    RAICUDA_TRY(offsets.alloc((batch + 1) * sizeof(int)), err, "cudaMallocAsync");
    long long *d_keys = static_cast<long long *>(keys.p), *d_keys_out = static_cast<long long *>(keys_out.p);
    int *d_vals = static_cast<int *>(vals.p), *d_vals_out = static_cast<int *>(vals_out.p);
    int *d_off = static_cast<int *>(offsets.p);
    size_t temp_bytes = 0;
    RAICUDA_TRY(cub::DeviceSegmentedRadixSort::SortPairsDescending(
                    nullptr, temp_bytes, d_keys, d_keys_out, d_vals, d_vals_out, static_cast<int>(cap),
                    static_cast<int>(batch), d_off, d_off + 1, 0, 64, s),
                err, "cub::DeviceSegmentedRadixSort (size query)");
    RAICUDA_TRY(temp.alloc(temp_bytes), err, "cudaMallocAsync");
    for (size_t q0 = 0; q0 < q; q0 += batch) {
        const size_t nb = q - q0 < batch ? q - q0 : batch;
        Sink sink{2, metric, dim, nq ? nq + q0 : nullptr, ni, d_keys, static_cast<long long>(m), 1};
        const int st = launch_tiles(Q + q0 * 2 * wpad, nb, I, m, wpad, metric >= 2, sink, s, err);
        if (st != 0) return st;
        iota_mod_kernel<<<blocks_for(nb * m), kThreads, 0, s>>>(d_vals, nb * m, m);
        offsets_kernel<<<blocks_for(nb + 1), kThreads, 0, s>>>(d_off, nb, m);
        RAICUDA_TERNARY_LAUNCHED(err, "ternary top-k setup launch");
        size_t bytes = temp_bytes;
        RAICUDA_TRY(cub::DeviceSegmentedRadixSort::SortPairsDescending(
                        temp.p, bytes, d_keys, d_keys_out, d_vals, d_vals_out, static_cast<int>(nb * m),
                        static_cast<int>(nb), d_off, d_off + 1, 0, 64, s),
                    err, "cub::DeviceSegmentedRadixSort");
        gather_kernel<<<blocks_for(nb * k), kThreads, 0, s>>>(d_keys_out, d_vals_out, nb, m, k, metric, dim, q0,
                                                             index, is0, is1, score, ss0, ss1);
        RAICUDA_TERNARY_LAUNCHED(err, "ternary gather_kernel launch");
    }
    return 0;
}

}  // namespace raicuda::ternary
