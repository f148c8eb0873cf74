// Element-wise and row-wise ternary kernels for rai_vsa_matrix on CUDA devices: zero, bind /
// unbind / mul / add_clamped, permute, random rows, int8 validation / packing / unpacking, bundle.
// Every kernel computes exactly what the CPU reference in src/ternary computes.
#include "ternary/chacha8.h"
#include "ternary_common.cuh"
#include "scratch.cuh"
#include "ternary_kernels.h"

namespace raicuda::ternary {

namespace {

__global__ void zero_kernel(u64 *w, size_t n) {
    for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<size_t>(gridDim.x) * blockDim.x)
        w[i] = 0;
}

__global__ void binary_kernel(int op, const u64 *a, const u64 *b, u64 *out, size_t rows, size_t b_rows,
                              size_t wpad) {
    const size_t n = rows * wpad;
    for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < n;
         idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
        const size_t r = idx / wpad, w = idx % wpad;
        const u64 *ar = a + r * 2 * wpad;
        const u64 *br = b + (b_rows == 1 ? 0 : r) * 2 * wpad;
        u64 *o = out + r * 2 * wpad;
        const u64 xp = ar[w], xm = ar[wpad + w], yp = br[w], ym = br[wpad + w];
        u64 p, m;
        if (op == 2) {  // mul
            p = (xp & yp) | (xm & ym);
            m = (xp & ym) | (xm & yp);
        } else if (op == 3) {  // add_clamped
            p = (xp & ~ym) | (yp & ~xm);
            m = (xm & ~yp) | (ym & ~xp);
        } else {  // bind adds -b (b's planes swapped), unbind adds b
            const u64 xz = ~(xp | xm), yz = ~(yp | ym);
            const u64 sp = op == 0 ? ym : yp, sm = op == 0 ? yp : ym;
            p = (xp & yz) | (xz & sp) | (xm & sm);
            m = (xm & yz) | (xz & sm) | (xp & sp);
        }
        o[w] = p;
        o[wpad + w] = m;
    }
}

__device__ inline u64 get_bits(const u64 *src, size_t off, size_t len) {
    const size_t w = off / 64, sh = off % 64;
    u64 v = src[w] >> sh;
    if (sh != 0 && sh + len > 64) v |= src[w + 1] << (64 - sh);
    return len == 64 ? v : v & ((1ULL << len) - 1);
}

// One thread per output word: output [s, dim) holds input [0, dim - s), output [0, s) holds
// input [dim - s, dim).
__global__ void permute_kernel(const u64 *src, u64 *dst, size_t rows, size_t dim, size_t wpad, size_t s) {
    const size_t n = rows * 2 * wpad;
    for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < n;
         idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
        const size_t plane_index = idx / wpad, w = idx % wpad;  // plane_index = 2 * row + plane
        const u64 *in = src + plane_index * wpad;
        const size_t lo = w * 64;
        u64 v = 0;
        if (lo < dim) {
            const size_t hi = lo + 64 < dim ? lo + 64 : dim;
            if (lo < s) {
                const size_t end = hi < s ? hi : s;
                v |= get_bits(in, lo + dim - s, end - lo);
            }
            if (hi > s) {
                const size_t start = lo > s ? lo : s;
                v |= get_bits(in, start - s, hi - start) << (start - lo);
            }
        }
        dst[idx] = v;
    }
}

// COUNTER generator: one thread per (row, word).
__global__ void random_counter_kernel(u64 *data, size_t rows, size_t dim, size_t wpad, int distribution, u64 seed,
                                      u64 thr) {
    const size_t n = rows * wpad;
    for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < n;
         idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
        const size_t r = idx / wpad, w = idx % wpad;
        const u64 base = mix64(seed + r);
        u64 p = 0, m = 0;
        for (size_t j = 0; j < 64 && w * 64 + j < dim; ++j) {
            const u64 i = w * 64 + j;
            const int t = trit_from(mix64(base + (i + 1) * 0x9E3779B97F4A7C15ULL), distribution, thr);
            p |= static_cast<u64>(t == 1) << j;
            m |= static_cast<u64>(t == -1) << j;
        }
        data[r * 2 * wpad + w] = p;
        data[r * 2 * wpad + wpad + w] = m;
    }
}

// TRITVSA_XS64 generator: sequential, one thread per row.
__global__ void random_xs64_kernel(u64 *data, size_t rows, size_t dim, size_t wpad, int distribution, u64 seed,
                                   u64 thr) {
    for (size_t r = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; r < rows;
         r += static_cast<size_t>(gridDim.x) * blockDim.x) {
        u64 *plus = data + r * 2 * wpad, *minus = plus + wpad;
        u64 state = seed + r, p = 0, m = 0;
        for (size_t i = 0; i < dim; ++i) {
            u64 s = state + static_cast<u64>(i) * 0x9E3779B97F4A7C15ULL;
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            state += s;
            const int t = trit_from(s, distribution, thr);
            p |= static_cast<u64>(t == 1) << (i % 64);
            m |= static_cast<u64>(t == -1) << (i % 64);
            if (i % 64 == 63 || i + 1 == dim) {
                plus[i / 64] = p;
                minus[i / 64] = m;
                p = m = 0;
            }
        }
        for (size_t w = words_for(dim); w < wpad; ++w) plus[w] = minus[w] = 0;
    }
}

// TRITTER_CHACHA8 generator (dense only): one thread per (row, word), four ChaCha8 blocks each,
// the same chacha8.h code the CPU runs.
__global__ void random_chacha8_kernel(u64 *data, size_t rows, size_t dim, size_t wpad, u64 seed) {
    namespace cc = rai::ternary::chacha8;
    const size_t n = rows * wpad;
    for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < n;
         idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
        const size_t r = idx / wpad, w = idx % wpad;
        uint64_t p = 0, m = 0;
        if (w * 64 < dim) {
            const int len = dim - w * 64 < 64 ? static_cast<int>(dim - w * 64) : 64;
            cc::planes_word(cc::key_from_u64(seed + r), w, len, p, m);
        }
        data[r * 2 * wpad + w] = p;
        data[r * 2 * wpad + wpad + w] = m;
    }
}

__global__ void validate_kernel(const int8_t *src, long long s0, long long s1, size_t rows, size_t dim,
                                unsigned long long *first_bad) {
    const size_t n = rows * dim;
    for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < n;
         idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
        const size_t r = idx / dim, j = idx % dim;
        const int8_t x = src[static_cast<long long>(r) * s0 + static_cast<long long>(j) * s1];
        if (x < -1 || x > 1) atomicMin(first_bad, static_cast<unsigned long long>(idx));
    }
}

__global__ void pack_kernel(const int8_t *src, long long s0, long long s1, u64 *dst, size_t rows, size_t dim,
                            size_t wpad) {
    const size_t n = rows * wpad;
    for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < n;
         idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
        const size_t r = idx / wpad, w = idx % wpad;
        u64 p = 0, m = 0;
        for (size_t j = 0; j < 64 && w * 64 + j < dim; ++j) {
            const int8_t x = src[static_cast<long long>(r) * s0 + static_cast<long long>(w * 64 + j) * s1];
            p |= static_cast<u64>(x == 1) << j;
            m |= static_cast<u64>(x == -1) << j;
        }
        dst[r * 2 * wpad + w] = p;
        dst[r * 2 * wpad + wpad + w] = m;
    }
}

__global__ void unpack_kernel(const u64 *src, int8_t *dst, long long s0, long long s1, size_t rows, size_t dim,
                              size_t wpad) {
    const size_t n = rows * dim;
    for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < n;
         idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
        const size_t r = idx / dim, j = idx % dim;
        const u64 bit = 1ULL << (j % 64);
        const u64 *row = src + r * 2 * wpad;
        dst[static_cast<long long>(r) * s0 + static_cast<long long>(j) * s1] =
            static_cast<int8_t>(((row[j / 64] & bit) != 0) - ((row[wpad + j / 64] & bit) != 0));
    }
}

// One thread per output word. Unweighted: the CPU's bit-sliced counting (groups of 7 into 3-bit
// counters, ripple into `planes`-bit counters, MSB-first comparison). Weighted: exact int32 sums.
__global__ void bundle_kernel(const u64 *rows_data, size_t n, const int32_t *weights, size_t dim, size_t wpad,
                              int tie_break, u64 seed, u64 *out) {
    for (size_t w = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; w < wpad;
         w += static_cast<size_t>(gridDim.x) * blockDim.x) {
        u64 gt = 0, lt = 0, ties = 0;
        if (weights == nullptr) {
            int planes = 1;
            while (planes < 64 && (n >> planes) != 0) ++planes;
            u64 P[64], M[64];
            for (int k = 0; k < planes; ++k) P[k] = M[k] = 0;
            u64 voters = 0;
            for (size_t r0 = 0; r0 < n; r0 += 7) {
                const size_t r1 = r0 + 7 < n ? r0 + 7 : n;
                u64 p0 = 0, p1 = 0, p2 = 0, m0 = 0, m1 = 0, m2 = 0;
                for (size_t r = r0; r < r1; ++r) {
                    u64 x = rows_data[r * 2 * wpad + w], y = rows_data[r * 2 * wpad + wpad + w];
                    voters |= x | y;
                    u64 c = p0 & x;
                    p0 ^= x;
                    x = c;
                    c = p1 & x;
                    p1 ^= x;
                    p2 ^= c;
                    c = m0 & y;
                    m0 ^= y;
                    y = c;
                    c = m1 & y;
                    m1 ^= y;
                    m2 ^= c;
                }
                u64 cp = 0, cm = 0;
                for (int k = 0; k < planes; ++k) {
                    const u64 ip = k == 0 ? p0 : (k == 1 ? p1 : (k == 2 ? p2 : 0));
                    const u64 im = k == 0 ? m0 : (k == 1 ? m1 : (k == 2 ? m2 : 0));
                    const u64 sp = P[k] ^ ip, sm = M[k] ^ im;
                    const u64 np = (P[k] & ip) | (cp & sp), nm = (M[k] & im) | (cm & sm);
                    P[k] = sp ^ cp;
                    M[k] = sm ^ cm;
                    cp = np;
                    cm = nm;
                }
            }
            u64 eq = ~0ULL;
            for (int k = planes - 1; k >= 0; --k) {
                gt |= eq & P[k] & ~M[k];
                lt |= eq & M[k] & ~P[k];
                eq &= ~(P[k] ^ M[k]);
            }
            ties = eq & voters;
        } else {
            int32_t c[64];
            for (int j = 0; j < 64; ++j) c[j] = 0;
            u64 voters = 0;
            for (size_t r = 0; r < n; ++r) {
                const int32_t wr = weights[r];
                if (wr == 0) continue;
                const u64 x = rows_data[r * 2 * wpad + w], y = rows_data[r * 2 * wpad + wpad + w];
                voters |= x | y;
                for (int j = 0; j < 64; ++j)
                    c[j] += wr * (static_cast<int32_t>((x >> j) & 1u) - static_cast<int32_t>((y >> j) & 1u));
            }
            for (int j = 0; j < 64 && w * 64 + j < dim; ++j) {
                gt |= static_cast<u64>(c[j] > 0) << j;
                lt |= static_cast<u64>(c[j] < 0) << j;
                ties |= static_cast<u64>(c[j] == 0) << j;
            }
            ties &= voters;
        }
        if (tie_break == 1) {
            for (u64 t = ties; t != 0; t &= t - 1) {
                const int j = __ffsll(static_cast<long long>(t)) - 1;
                if (counter_u64(seed, w * 64 + j) >> 63) gt |= 1ULL << j;
                else lt |= 1ULL << j;
            }
        }
        out[w] = gt;
        out[wpad + w] = lt;
    }
}

}  // namespace

int t_zero(int32_t ordinal, void *stream, uint64_t *words, size_t count, raicuda_err *err) {
    if (count == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    zero_kernel<<<blocks_for(count), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(reinterpret_cast<u64 *>(words),
                                                                                         count);
    RAICUDA_TERNARY_LAUNCHED(err, "ternary zero_kernel launch");
    return 0;
}

int t_binary(int32_t ordinal, void *stream, int32_t op, const uint64_t *a, const uint64_t *b, uint64_t *out,
             size_t rows, size_t b_rows, size_t wpad, raicuda_err *err) {
    if (rows == 0 || wpad == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    binary_kernel<<<blocks_for(rows * wpad), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        op, reinterpret_cast<const u64 *>(a), reinterpret_cast<const u64 *>(b), reinterpret_cast<u64 *>(out), rows,
        b_rows, wpad);
    RAICUDA_TERNARY_LAUNCHED(err, "ternary binary_kernel launch");
    return 0;
}

int t_permute(int32_t ordinal, void *stream, const uint64_t *src, uint64_t *dst, size_t rows, size_t dim, size_t wpad,
              int64_t shift, raicuda_err *err) {
    if (rows == 0 || wpad == 0 || dim == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    const long long n = static_cast<long long>(dim);
    const size_t s = static_cast<size_t>(((shift % n) + n) % n);
    permute_kernel<<<blocks_for(rows * 2 * wpad), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        reinterpret_cast<const u64 *>(src), reinterpret_cast<u64 *>(dst), rows, dim, wpad, s);
    RAICUDA_TERNARY_LAUNCHED(err, "ternary permute_kernel launch");
    return 0;
}

int t_random(int32_t ordinal, void *stream, uint64_t *rows_data, size_t rows, size_t dim, size_t wpad,
             int32_t generator, int32_t distribution, uint64_t seed, uint64_t sparse_threshold, raicuda_err *err) {
    if (rows == 0 || wpad == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    auto s = static_cast<cudaStream_t>(stream);
    u64 *d = reinterpret_cast<u64 *>(rows_data);
    if (generator == 2 && distribution == 0)
        random_chacha8_kernel<<<blocks_for(rows * wpad), kThreads, 0, s>>>(d, rows, dim, wpad, seed);
    else if (generator == 1)
        random_counter_kernel<<<blocks_for(rows * wpad), kThreads, 0, s>>>(d, rows, dim, wpad, distribution, seed,
                                                                          sparse_threshold);
    else if (generator == 0)
        random_xs64_kernel<<<blocks_for(rows), kThreads, 0, s>>>(d, rows, dim, wpad, distribution, seed,
                                                                 sparse_threshold);
    else {  // librai validates first; a mismatched librai must not get another generator's rows
        std::snprintf(err->message, sizeof err->message, "ternary random: generator %d with distribution %d",
                      int(generator), int(distribution));
        return RAI_ERROR_UNSUPPORTED;
    }
    RAICUDA_TERNARY_LAUNCHED(err, "ternary random kernel launch");
    return 0;
}

int t_validate_int8(int32_t ordinal, void *stream, const int8_t *src, int64_t stride0, int64_t stride1, size_t rows,
                    size_t dim, uint64_t *out_first_bad, int32_t *out_value, raicuda_err *err) {
    const unsigned long long total = static_cast<unsigned long long>(rows) * dim;
    *out_first_bad = total;
    *out_value = 0;
    if (total == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    auto s = static_cast<cudaStream_t>(stream);
    raicuda::Scratch sc(s);
    unsigned long long *d_first = nullptr;
    if (int rc = sc.get(1, &d_first, err)) return rc;
    unsigned long long host_first = total;
    cudaError_t st = cudaMemcpyAsync(d_first, &host_first, sizeof host_first, cudaMemcpyHostToDevice, s);
    if (st == cudaSuccess) {
        validate_kernel<<<blocks_for(total), kThreads, 0, s>>>(src, stride0, stride1, rows, dim, d_first);
        st = cudaGetLastError();
    }
    if (st == cudaSuccess) st = cudaMemcpyAsync(&host_first, d_first, sizeof host_first, cudaMemcpyDeviceToHost, s);
    if (st == cudaSuccess) st = cudaStreamSynchronize(s);
    RAICUDA_TRY(st, err, "ternary validate_int8");
    *out_first_bad = host_first;
    if (host_first < total) {
        const size_t r = host_first / dim, j = host_first % dim;
        int8_t v = 0;
        RAICUDA_TRY(cudaMemcpyAsync(&v, src + static_cast<long long>(r) * stride0 + static_cast<long long>(j) * stride1,
                                    1, cudaMemcpyDeviceToHost, s),
                    err, "cudaMemcpyAsync");
        RAICUDA_TRY(cudaStreamSynchronize(s), err, "cudaStreamSynchronize");
        *out_value = v;
    }
    return 0;
}

int t_pack_int8(int32_t ordinal, void *stream, const int8_t *src, int64_t stride0, int64_t stride1, uint64_t *dst,
                size_t rows, size_t dim, size_t wpad, raicuda_err *err) {
    if (rows == 0 || wpad == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    pack_kernel<<<blocks_for(rows * wpad), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        src, stride0, stride1, reinterpret_cast<u64 *>(dst), rows, dim, wpad);
    RAICUDA_TERNARY_LAUNCHED(err, "ternary pack_kernel launch");
    return 0;
}

int t_unpack_int8(int32_t ordinal, void *stream, const uint64_t *src, int8_t *dst, int64_t stride0, int64_t stride1,
                  size_t rows, size_t dim, size_t wpad, raicuda_err *err) {
    if (rows == 0 || dim == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    unpack_kernel<<<blocks_for(rows * dim), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        reinterpret_cast<const u64 *>(src), dst, stride0, stride1, rows, dim, wpad);
    RAICUDA_TERNARY_LAUNCHED(err, "ternary unpack_kernel launch");
    return 0;
}

int t_bundle(int32_t ordinal, void *stream, const uint64_t *rows_data, size_t n, const int32_t *weights, size_t dim,
             size_t wpad, int32_t tie_break, uint64_t seed, uint64_t *out, raicuda_err *err) {
    if (wpad == 0) return 0;
    RAICUDA_TRY(cudaSetDevice(ordinal), err, "cudaSetDevice");
    bundle_kernel<<<blocks_for(wpad), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        reinterpret_cast<const u64 *>(rows_data), n, weights, dim, wpad, tie_break, seed, reinterpret_cast<u64 *>(out));
    RAICUDA_TERNARY_LAUNCHED(err, "ternary bundle_kernel launch");
    return 0;
}

}  // namespace raicuda::ternary
