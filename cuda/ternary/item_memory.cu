// Item-memory kernels: the q x m similarity matrix of packed rows (a popcount "GEMM" over 64 x 64
// tiles with the words staged through shared memory), and top-k search on order-preserving keys,
// equal keys ranked by increasing item index. Up to 64 queries with k <= 32 take a fused pass: a block
// scores an item chunk against up to 16 queries and keeps each query's best k, a second kernel merges
// the chunks' lists; no q x m key matrix, and with one query the pass is bound by reading the items.
// Otherwise the tiles write the keys, then k <= 32 selects per query and larger k sorts with CUB's
// stable segmented radix sort.
#include <climits>

#include <cub/device/device_segmented_radix_sort.cuh>

#include "scratch.cuh"
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

// ---- top-k for few queries (q <= kFewQ, k <= kSelectMax): one fused pass over the items, no q x m
// key matrix. Each block scores a contiguous chunk of items against a group of up to kGroupQ queries
// (8 lanes per item row, 16-byte loads, the queries in shared memory) and keeps the best k per query;
// a second kernel merges the blocks' lists. A (key, item) pair is packed into one int64 (key in the
// high half, ~item in the low half), so that ">" is ranks_before and the values of distinct items
// are distinct: every list below is a sorted set of such values with ties settled by the packing.
constexpr int kFewQ = 64;   // queries for this path; beyond, the tiles' reuse of item words wins
constexpr int kGroupQ = 16;  // queries per block (more would not fit the registers)
constexpr int kWarps = kThreads / 32;
constexpr int kGroupLanes = 8;                // lanes per item: 8 x 16 B = 128 B of a plane per step
constexpr int kItemsPerPass = kThreads / kGroupLanes;
constexpr size_t kFewQSmem = 48 * 1024;       // shared memory of a block (the static default limit)
constexpr long long kNone = LLONG_MIN;        // below every packed value
constexpr unsigned kFull = 0xffffffffu;

// Real keys lie in [INT_MIN, INT_MAX] (order_key of a float, or +-raw with raw <= dim < 2^31), so the
// product does not overflow and the result exceeds kNone (the low half of a real item is >= 2^31).
__device__ inline long long pack_key(long long key, int item) {
    return key * 4294967296LL + static_cast<long long>(0xFFFFFFFFu - static_cast<unsigned>(item));
}
__device__ inline long long packed_key(long long v) {
    return static_cast<int>(static_cast<unsigned>(static_cast<unsigned long long>(v) >> 32));
}
__device__ inline int packed_item(long long v) {
    return static_cast<int>(0xFFFFFFFFu - static_cast<unsigned>(static_cast<unsigned long long>(v)));
}

// A warp's list: lane t < k holds the t-th best value, lanes >= k hold kNone. Inserts v, which the
// caller has checked beats the k-th (so v is not kNone and lands at a position < k).
__device__ inline void list_insert(long long &list, long long v, int k, int lane) {
    const int pos = __popc(__ballot_sync(kFull, list > v));
    const long long up = __shfl_up_sync(kFull, list, 1);
    if (lane < k) list = lane < pos ? list : (lane == pos ? v : up);
}

// The union's best k of two warp lists: the elementwise max of a and reversed b is a bitonic sequence
// holding the 32 best, which a bitonic merge sorts (descending).
__device__ inline long long list_merge(long long a, long long b, int k, int lane) {
    const long long rb = __shfl_sync(kFull, b, 31 - lane);
    long long c = a > rb ? a : rb;
    for (int off = 16; off > 0; off /= 2) {
        const long long o = __shfl_xor_sync(kFull, c, off);
        c = (lane & off) ? (c < o ? c : o) : (c > o ? c : o);
    }
    return lane < k ? c : kNone;
}

// The 32 lanes' values sorted descending across the lanes (a bitonic sorting network).
__device__ inline long long warp_sort(long long v, int lane) {
    for (int size = 2; size <= 32; size *= 2)
        for (int stride = size / 2; stride > 0; stride /= 2) {
            const long long o = __shfl_xor_sync(kFull, v, stride);
            const bool take_max = ((lane & size) == 0) == ((lane & stride) == 0);
            v = take_max ? (v > o ? v : o) : (v < o ? v : o);
        }
    return v;
}

// Inserts the values of the lanes in `from` that beat the list's k-th: one by one when they are few,
// else sorted and merged.
__device__ inline void list_offer(long long &list, long long v, unsigned from, int k, int lane) {
    constexpr int kInsertMax = 4;
    long long kth = __shfl_sync(kFull, list, k - 1);
    unsigned better = __ballot_sync(kFull, v > kth) & from;
    if (__popc(better) > kInsertMax) {
        list = list_merge(list, warp_sort((better >> lane) & 1u ? v : kNone, lane), k, lane);
        return;
    }
    while (better != 0) {
        const long long c = __shfl_sync(kFull, v, __ffs(better) - 1);
        better &= better - 1;
        if (c > kth) {
            list_insert(list, c, k, lane);
            kth = __shfl_sync(kFull, list, k - 1);
        }
    }
}

// Bytes of dynamic shared memory of fewq_kernel: the queries, reused for the warps' lists at the end,
// then the queries' nnz.
__host__ __device__ inline size_t fewq_union_bytes(int nq, size_t wpad) {
    const size_t queries = static_cast<size_t>(nq) * 2 * wpad * sizeof(u64);
    const size_t lists = static_cast<size_t>(nq) * kWarps * 32 * sizeof(long long);
    return queries > lists ? queries : lists;
}
inline size_t fewq_smem_bytes(int nq, size_t wpad) { return fewq_union_bytes(nq, wpad) + nq * sizeof(u64); }

// Resident blocks per SM the kernel is built for (registers grow with NQ); the grid is one wave of them.
constexpr int fewq_blocks_per_sm(int nq) { return nq <= 2 ? 4 : (nq <= 4 ? 3 : 2); }

// Grid (query groups of NQ, item chunks of per_block). Writes cand[(i * chunks + c) * k + t]: the t-th
// best of query i in chunk c (kNone where the chunk has fewer than k items). Needs 16-byte aligned rows.
template <int NQ, bool Hamming>
__global__ void __launch_bounds__(kThreads, fewq_blocks_per_sm(NQ))
    fewq_kernel(const u64 *Q, size_t q, const u64 *I, size_t m, size_t wpad, size_t dim, int metric, int k,
                size_t per_block, long long *cand) {
    extern __shared__ __align__(16) unsigned char fewq_smem[];
    const size_t half = wpad / 2;  // 16-byte pairs per plane (wpad is a multiple of 8)
    const ulonglong2 *sq = reinterpret_cast<const ulonglong2 *>(fewq_smem);
    long long *slist = reinterpret_cast<long long *>(fewq_smem);
    u64 *snnz = reinterpret_cast<u64 *>(fewq_smem + fewq_union_bytes(NQ, wpad));
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const size_t q0 = static_cast<size_t>(blockIdx.x) * NQ;
    const int nq = q - q0 < static_cast<size_t>(NQ) ? static_cast<int>(q - q0) : NQ;
    {
        u64 *dst = reinterpret_cast<u64 *>(fewq_smem);
        const size_t words = static_cast<size_t>(NQ) * 2 * wpad, valid = static_cast<size_t>(nq) * 2 * wpad;
        for (size_t e = threadIdx.x; e < words; e += kThreads) dst[e] = e < valid ? Q[q0 * 2 * wpad + e] : 0;
    }
    __syncthreads();
    const bool cosine = metric == 0;
    if (cosine) {
        const u64 *src = reinterpret_cast<const u64 *>(fewq_smem);
        for (int t = warp; t < NQ; t += kWarps) {
            unsigned long long n = 0;
            for (size_t w = lane; w < 2 * wpad; w += 32) n += __popcll(src[t * 2 * wpad + w]);
            for (int off = 16; off > 0; off /= 2) n += __shfl_xor_sync(kFull, n, off);
            if (lane == 0) snnz[t] = n;
        }
        __syncthreads();
    }

    long long list[NQ];
#pragma unroll
    for (int t = 0; t < NQ; ++t) list[t] = kNone;
    const int grp = lane / kGroupLanes, gl = lane % kGroupLanes;
    const size_t begin = static_cast<size_t>(blockIdx.y) * per_block;
    const size_t end = m - begin < per_block ? m : begin + per_block;
    const ulonglong2 *I2 = reinterpret_cast<const ulonglong2 *>(I);
    for (size_t j0 = begin; j0 < end; j0 += kItemsPerPass) {
        const size_t j = j0 + warp * (32 / kGroupLanes) + grp;
        const bool valid = j < end;
        // A row of wpad pairs; past the end, the chunk's first row stands in (loaded, never offered).
        const ulonglong2 *row = I2 + (valid ? j : begin) * wpad;
        int acc[NQ];
#pragma unroll
        for (int t = 0; t < NQ; ++t) acc[t] = 0;
        int nz = 0;
        // Unrolled for loads in flight when the queries are few; with 8 or 16 it would spill.
#pragma unroll(NQ <= 4 ? 4 : 1)
        for (size_t p = gl; p < half; p += kGroupLanes) {
            const ulonglong2 ip = __ldg(row + p), im = __ldg(row + half + p);
#pragma unroll
            for (int t = 0; t < NQ; ++t) {
                const ulonglong2 xp = sq[t * wpad + p], xm = sq[t * wpad + half + p];
                if (Hamming) {
                    acc[t] += __popcll((xp.x ^ ip.x) | (xm.x ^ im.x)) + __popcll((xp.y ^ ip.y) | (xm.y ^ im.y));
                } else {
                    acc[t] += __popcll((xp.x & ip.x) | (xm.x & im.x)) + __popcll((xp.y & ip.y) | (xm.y & im.y)) -
                              __popcll((xp.x & im.x) | (xm.x & ip.x)) - __popcll((xp.y & im.y) | (xm.y & ip.y));
                }
            }
            if (cosine) nz += __popcll(ip.x) + __popcll(ip.y) + __popcll(im.x) + __popcll(im.y);
        }
        // Sum over the group's 8 lanes; then every lane of a group holds its item's totals.
#pragma unroll
        for (int t = 0; t < NQ; ++t)
            for (int off = kGroupLanes / 2; off > 0; off /= 2) acc[t] += __shfl_xor_sync(kFull, acc[t], off);
        if (cosine)
            for (int off = kGroupLanes / 2; off > 0; off /= 2) nz += __shfl_xor_sync(kFull, nz, off);
        // One lane per group offers its item (the same key as store() computes for kind 2).
        const unsigned leaders = __ballot_sync(kFull, valid && gl == 0);
#pragma unroll
        for (int t = 0; t < NQ; ++t) {
            if (t >= nq) break;
            const long long raw = acc[t];
            long long key;
            if (cosine) key = order_key(metric_value(0, raw, snnz[t], static_cast<u64>(nz), dim));
            else if (metric == 1) key = raw;
            else key = -raw;
            list_offer(list[t], pack_key(key, static_cast<int>(j)), leaders, k, lane);
        }
    }
    // The block's best k per query: merge the warps' lists through shared memory (the queries'
    // space, free once every warp is done with it).
    __syncthreads();
#pragma unroll
    for (int t = 0; t < NQ; ++t) slist[(t * kWarps + warp) * 32 + lane] = list[t];
    __syncthreads();
    const size_t chunks = gridDim.y;
    for (int t = warp; t < nq; t += kWarps) {
        long long best = slist[t * kWarps * 32 + lane];
        for (int w = 1; w < kWarps; ++w) best = list_merge(best, slist[(t * kWarps + w) * 32 + lane], k, lane);
        if (lane < k) cand[((q0 + t) * chunks + blockIdx.y) * k + lane] = best;
    }
}

// One block per query: the best k of its `per_query` candidates (chunks x k values), written out.
__global__ void __launch_bounds__(kThreads) fewq_merge_kernel(const long long *cand, size_t per_query, int k,
                                                              int metric, size_t dim, int64_t *index, long long is0,
                                                              long long is1, float *score, long long ss0,
                                                              long long ss1) {
    constexpr int kAhead = 8;  // loads in flight per lane
    __shared__ long long slist[kWarps][32];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const long long *c = cand + blockIdx.x * per_query;
    long long list = kNone;
    for (size_t e0 = static_cast<size_t>(warp) * 32; e0 < per_query; e0 += static_cast<size_t>(kThreads) * kAhead) {
        long long v[kAhead];
#pragma unroll
        for (int a = 0; a < kAhead; ++a) {
            const size_t e = e0 + static_cast<size_t>(a) * kThreads + lane;
            v[a] = e < per_query ? c[e] : kNone;
        }
#pragma unroll
        for (int a = 0; a < kAhead; ++a) list_offer(list, v[a], kFull, k, lane);
    }
    slist[warp][lane] = list;
    __syncthreads();
    for (int h = kWarps / 2; h > 0; h /= 2) {  // a tree: warp w < h merges in warp w + h's list
        if (warp < h) {
            list = list_merge(list, slist[warp + h][lane], k, lane);
            slist[warp][lane] = list;
        }
        __syncthreads();
    }
    if (warp != 0) return;
    const long long best = list;
    if (lane < k) {
        // Only with k > m (refused by the caller) could a list end in kNone; written as the selection does.
        const long long key = best == kNone ? kNone : packed_key(best);
        const int item = best == kNone ? INT_MAX : packed_item(best);
        const long long i = blockIdx.x;
        index[i * is0 + static_cast<long long>(lane) * is1] = item;
        if (score != nullptr) score[i * ss0 + static_cast<long long>(lane) * ss1] = key_score(key, metric, dim);
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

template <int NQ>
int fewq_launch(const u64 *Q, size_t q, const u64 *I, size_t m, size_t wpad, size_t dim, int metric, int k,
                size_t per_block, size_t chunks, long long *cand, cudaStream_t s, raicuda_err *err) {
    const dim3 grid(static_cast<unsigned>((q + NQ - 1) / NQ), static_cast<unsigned>(chunks));
    const size_t smem = fewq_smem_bytes(NQ, wpad);
    if (metric >= 2) fewq_kernel<NQ, true><<<grid, kThreads, smem, s>>>(Q, q, I, m, wpad, dim, metric, k, per_block, cand);
    else fewq_kernel<NQ, false><<<grid, kThreads, smem, s>>>(Q, q, I, m, wpad, dim, metric, k, per_block, cand);
    RAICUDA_TERNARY_LAUNCHED(err, "ternary fewq_kernel launch");
    return 0;
}

// Top-k by fewq_kernel when it applies (*done = true), else nothing (the caller takes the general path).
int fewq_topk(const u64 *Q, size_t q, const u64 *I, size_t m, size_t dim, size_t wpad, size_t k, int32_t metric,
              int32_t ordinal, int64_t *index, int64_t is0, int64_t is1, float *score, int64_t ss0, int64_t ss1,
              cudaStream_t s, bool *done, raicuda_err *err) {
    *done = false;
    const int nq = q <= 1 ? 1 : (q <= 2 ? 2 : (q <= 4 ? 4 : (q <= 8 ? 8 : kGroupQ)));  // queries per block
    const bool aligned = (reinterpret_cast<std::uintptr_t>(Q) | reinterpret_cast<std::uintptr_t>(I)) % 16 == 0;
    if (q > static_cast<size_t>(kFewQ) || k == 0 || k > static_cast<size_t>(kSelectMax) || k > m || !aligned ||
        wpad % 2 != 0 || fewq_smem_bytes(nq, wpad) > kFewQSmem)
        return 0;
    int sms = 0;
    RAICUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, ordinal), err, "cudaDeviceGetAttribute");
    // One wave of blocks with the same number of items (whole passes): a chunk per block.
    const size_t want = static_cast<size_t>(sms < 1 ? 1 : sms) * static_cast<size_t>(fewq_blocks_per_sm(nq));
    const size_t passes = (m + kItemsPerPass - 1) / kItemsPerPass;  // m >= k >= 1
    const size_t per_block = (passes + want - 1) / want * kItemsPerPass;
    const size_t chunks = (m + per_block - 1) / per_block;
    raicuda::Scratch sc(s);
    long long *c = nullptr;
    if (int rc = sc.get(q * chunks * k, &c, err)) return rc;
    const int kk = static_cast<int>(k);
    int st;
    switch (nq) {
    case 1: st = fewq_launch<1>(Q, q, I, m, wpad, dim, metric, kk, per_block, chunks, c, s, err); break;
    case 2: st = fewq_launch<2>(Q, q, I, m, wpad, dim, metric, kk, per_block, chunks, c, s, err); break;
    case 4: st = fewq_launch<4>(Q, q, I, m, wpad, dim, metric, kk, per_block, chunks, c, s, err); break;
    case 8: st = fewq_launch<8>(Q, q, I, m, wpad, dim, metric, kk, per_block, chunks, c, s, err); break;
    default: st = fewq_launch<kGroupQ>(Q, q, I, m, wpad, dim, metric, kk, per_block, chunks, c, s, err); break;
    }
    if (st != 0) return st;
    fewq_merge_kernel<<<static_cast<unsigned>(q), kThreads, 0, s>>>(c, chunks * k, kk, metric, dim, index, is0, is1,
                                                                    score, ss0, ss1);
    RAICUDA_TERNARY_LAUNCHED(err, "ternary fewq_merge_kernel launch");
    *done = true;
    return 0;
}

}  // namespace

int t_similarity(int32_t ordinal, void *stream, const uint64_t *queries, size_t q, const uint64_t *items, size_t m,
                 size_t dim, size_t wpad, int32_t metric, int32_t out_kind, void *out, int64_t s0, int64_t s1,
                 raicuda_err *err) {
    if (q == 0 || m == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    auto s = static_cast<cudaStream_t>(stream);
    const u64 *Q = reinterpret_cast<const u64 *>(queries), *I = reinterpret_cast<const u64 *>(items);
    raicuda::Scratch sc(s);
    Sink sink{out_kind == RAICUDA_TERNARY_OUT_I32 ? 1 : 0, metric, dim, nullptr, nullptr, out, s0, s1};
    if (metric == 0) {
        u64 *nq = nullptr;
        if (int rc = sc.get(q + m, &nq, err)) return rc;
        u64 *ni = nq + q;
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
    bool done = false;
    const int fst = fewq_topk(Q, q, I, m, dim, wpad, k, metric, ordinal, index, is0, is1, score, ss0, ss1, s, &done, err);
    if (fst != 0 || done) return fst;
    // Queries per batch: at most 2^24 scores (and < 2^31) in flight.
    size_t batch = (size_t{1} << 24) / m;
    batch = batch == 0 ? 1 : (batch > q ? q : batch);
    raicuda::Scratch sc(s);
    u64 *nq = nullptr, *ni = nullptr;
    if (metric == 0) {
        if (int rc = sc.get(q + m, &nq, err)) return rc;
        ni = nq + q;
        nnz_kernel<<<blocks_for(q), kThreads, 0, s>>>(Q, q, wpad, nq);
        nnz_kernel<<<blocks_for(m), kThreads, 0, s>>>(I, m, wpad, ni);
        RAICUDA_TERNARY_LAUNCHED(err, "ternary nnz_kernel launch");
    }
    const size_t cap = batch * m;
    long long *d_keys = nullptr;
    if (int rc = sc.get(cap, &d_keys, err)) return rc;
    if (k <= static_cast<size_t>(kSelectMax)) {
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
    long long *d_keys_out = nullptr;
    int *d_vals = nullptr, *d_vals_out = nullptr, *d_off = nullptr;
    if (int rc = sc.get(cap, &d_keys_out, err)) return rc;
    if (int rc = sc.get(cap, &d_vals, err)) return rc;
    if (int rc = sc.get(cap, &d_vals_out, err)) return rc;
    if (int rc = sc.get(batch + 1, &d_off, err)) return rc;
    size_t temp_bytes = 0;
    RAICUDA_TRY(cub::DeviceSegmentedRadixSort::SortPairsDescending(
                    nullptr, temp_bytes, d_keys, d_keys_out, d_vals, d_vals_out, static_cast<int>(cap),
                    static_cast<int>(batch), d_off, d_off + 1, 0, 64, s),
                err, "cub::DeviceSegmentedRadixSort (size query)");
    char *temp = nullptr;
    if (int rc = sc.get(temp_bytes, &temp, err)) return rc;
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
                        temp, bytes, d_keys, d_keys_out, d_vals, d_vals_out, static_cast<int>(nb * m),
                        static_cast<int>(nb), d_off, d_off + 1, 0, 64, s),
                    err, "cub::DeviceSegmentedRadixSort");
        gather_kernel<<<blocks_for(nb * k), kThreads, 0, s>>>(d_keys_out, d_vals_out, nb, m, k, metric, dim, q0,
                                                             index, is0, is1, score, ss0, ss1);
        RAICUDA_TERNARY_LAUNCHED(err, "ternary gather_kernel launch");
    }
    return 0;
}

}  // namespace raicuda::ternary
