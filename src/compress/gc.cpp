// rai_gc: error-feedback gradient compression (CPU reference implementation and the CUDA path).
#include "gc.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "../core/dtype.h"
#include "../core/error.h"
#include "../core/tensor_check.h"
#include "gc_common.h"
#include "gc_kernels.h"
#include "gc_parallel.h"

namespace rai::gc {

namespace {

// ---------------------------------------------------------------- little-endian byte access
template <class T>
void put(uint8_t *p, T v) {
    std::memcpy(p, &v, sizeof v);  // x86 and every platform rai targets are little-endian
}
template <class T>
T get(const uint8_t *p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

bool is_bf16(const rai_dtype &d) { return dtype::equal(d, dtype::bf16); }

[[noreturn]] void fail(rai_status st, const std::string &msg) { throw Error(st, msg); }

}  // namespace

const char *encoding_name(uint8_t e) {
    switch (e) {
    case kRawF32: return "raw f32";
    case kRawBf16: return "raw bf16";
    case kTopk: return "top-k";
    case kSign: return "sign";
    case kTernary: return "ternary";
    case kQsgd: return "qsgd";
    case kPsgdPQ: return "powersgd P,Q";
    case kPsgdP: return "powersgd P round";
    case kPsgdQ: return "powersgd Q round";
    case kVsa: return "vsa";
    default: return "unknown";
    }
}

const char *method_name(int32_t m) {
    switch (m) {
    case RAI_GC_NONE: return "NONE";
    case RAI_GC_TOPK: return "TOPK";
    case RAI_GC_SIGN: return "SIGN";
    case RAI_GC_TERNARY: return "TERNARY";
    case RAI_GC_TERNARY_STOCH: return "TERNARY_STOCH";
    case RAI_GC_QSGD: return "QSGD";
    case RAI_GC_POWERSGD: return "POWERSGD";
    case RAI_GC_VSA_COMPAT: return "VSA_COMPAT";
    default: return "unknown";
    }
}

void write_header(uint8_t *d, const Header &h) {
    put<uint32_t>(d + 0, kMagic);
    put<uint16_t>(d + 4, h.version);
    d[6] = h.method;
    d[7] = h.encoding;
    put<uint32_t>(d + 8, h.id);
    put<uint32_t>(d + 12, h.tag);
    put<uint64_t>(d + 16, h.numel);
    put<uint64_t>(d + 24, h.step);
    put<uint32_t>(d + 32, h.peers);
    put<uint32_t>(d + 36, h.payload_bytes);
}

bool method_is_biased(int32_t m) {
    return m == RAI_GC_TOPK || m == RAI_GC_SIGN || m == RAI_GC_TERNARY || m == RAI_GC_POWERSGD ||
           m == RAI_GC_VSA_COMPAT;
}

Config make_config(const rai_gc_params &p) {
    Config c;
    require(p.method >= RAI_GC_NONE && p.method <= RAI_GC_VSA_COMPAT, RAI_ERROR_INVALID_ARGUMENT,
            "params->method " + std::to_string(p.method) + " is not a rai_gc_method");
    c.method = p.method;
    if (p.ratio != 0.0f) {
        require(p.ratio > 0.0f && p.ratio <= 1.0f, RAI_ERROR_INVALID_ARGUMENT,
                "params->ratio " + std::to_string(p.ratio) + " is outside (0, 1]");
        c.ratio = p.ratio;
    }
    if (p.rank != 0) {
        require(p.rank <= 4096, RAI_ERROR_INVALID_ARGUMENT, "params->rank " + std::to_string(p.rank) + " is above 4096");
        c.rank = p.rank;
    }
    if (p.power_iters != 0) {
        require(p.power_iters <= 64, RAI_ERROR_INVALID_ARGUMENT,
                "params->power_iters " + std::to_string(p.power_iters) + " is above 64");
        c.power_iters = p.power_iters;
    }
    if (p.qsgd_levels != 0) {
        require(p.qsgd_levels <= 32767, RAI_ERROR_INVALID_ARGUMENT,
                "params->qsgd_levels " + std::to_string(p.qsgd_levels) + " is outside [1, 32767]");
        c.qsgd_levels = p.qsgd_levels;
    }
    uint32_t bits = 1;  // magnitude bits
    while ((1u << bits) - 1 < c.qsgd_levels) ++bits;
    c.qsgd_width = bits + 1 <= 2 ? 2 : bits + 1 <= 4 ? 4 : bits + 1 <= 8 ? 8 : 16;
    if (p.vsa_dimension != 0) {
        require(p.vsa_dimension <= (1u << 24), RAI_ERROR_INVALID_ARGUMENT,
                "params->vsa_dimension " + std::to_string(p.vsa_dimension) + " is above 2^24");
        c.vsa_dimension = p.vsa_dimension;
    }
    if (p.vsa_ratio != 0.0f) {
        require(p.vsa_ratio > 0.0f && p.vsa_ratio <= 1.0f, RAI_ERROR_INVALID_ARGUMENT,
                "params->vsa_ratio " + std::to_string(p.vsa_ratio) + " is outside (0, 1]");
        c.vsa_ratio = p.vsa_ratio;
    }
    require(p.error_feedback >= RAI_GC_EF_DEFAULT && p.error_feedback <= RAI_GC_EF_OFF, RAI_ERROR_INVALID_ARGUMENT,
            "params->error_feedback " + std::to_string(p.error_feedback) + " is not a RAI_GC_EF_* value");
    c.error_feedback = p.error_feedback == RAI_GC_EF_ON ||
                       (p.error_feedback == RAI_GC_EF_DEFAULT && method_is_biased(c.method));
    require((p.flags & ~RAI_GC_MEASURE_QUALITY) == 0, RAI_ERROR_INVALID_ARGUMENT, "params->flags has unknown bits");
    require(p.reserved0 == 0, RAI_ERROR_INVALID_ARGUMENT, "params->reserved0 must be 0");
    require(p.reserved1 == 0, RAI_ERROR_INVALID_ARGUMENT, "params->reserved1 must be 0");
    require(p.momentum >= 0.0f && p.momentum < 1.0f, RAI_ERROR_INVALID_ARGUMENT,
            "params->momentum " + std::to_string(p.momentum) + " is outside [0, 1)");
    require(p.momentum == 0.0f || c.error_feedback, RAI_ERROR_INVALID_ARGUMENT,
            "params->momentum (momentum correction) needs error feedback: the velocity is compressed with its "
            "residual (set params->error_feedback to RAI_GC_EF_ON)");
    c.momentum = p.momentum;
    c.flags = p.flags;
    c.warmup_steps = p.warmup_steps;
    c.seed = p.seed;
    return c;
}

uint32_t config_tag(const Config &c) {
    // Everything a receiver needs to decode the same way: method, seed and the method's knobs.
    uint64_t h = mix64(0x7261692d67630001ull ^ static_cast<uint64_t>(c.method));
    auto add = [&](uint64_t v) { h = mix64(h ^ v); };
    uint32_t fr, fv;
    std::memcpy(&fr, &c.ratio, 4);
    std::memcpy(&fv, &c.vsa_ratio, 4);
    add(c.seed);
    switch (c.method) {
    case RAI_GC_TOPK: add(fr); break;
    case RAI_GC_QSGD: add(c.qsgd_levels); break;
    case RAI_GC_POWERSGD: add(c.rank); add(c.power_iters); break;
    case RAI_GC_VSA_COMPAT: add(c.vsa_dimension); add(fv); break;
    default: break;
    }
    return static_cast<uint32_t>(h ^ (h >> 32));
}

void FloatBuf::resize_device(cuda::DevicePool &pool, int32_t ordinal, std::size_t n) {
    host_.clear();
    dev_ = {};
    dev_ = pool.take(ordinal, std::max<std::size_t>(n, 1) * sizeof(float));
    size_ = n;
}

namespace {

// ---------------------------------------------------------------- CUDA helpers
const raicuda_backend &be() { return cuda::require_plugin(); }

void d2h(const rai_gc &gc, void *dst, const void *src, std::size_t bytes) {
    if (bytes == 0) return;
    cuda::check([&](raicuda_err *e) {
        return be().memcpy_sync(gc.ctx->device.device_id, dst, src, bytes, RAICUDA_DEVICE_TO_HOST, gc.ctx->stream, e);
    });
}
void h2d(const rai_gc &gc, void *dst, const void *src, std::size_t bytes) {
    if (bytes == 0) return;
    cuda::check([&](raicuda_err *e) {
        return be().memcpy_sync(gc.ctx->device.device_id, dst, src, bytes, RAICUDA_HOST_TO_DEVICE, gc.ctx->stream, e);
    });
}
void d2d(const rai_gc &gc, void *dst, const void *src, std::size_t bytes) {
    if (bytes == 0) return;
    cuda::check([&](raicuda_err *e) {
        return be().memcpy_sync(gc.ctx->device.device_id, dst, src, bytes, RAICUDA_DEVICE_TO_DEVICE, gc.ctx->stream, e);
    });
}
#define GC_CUDA(gc, call) cuda::check([&](raicuda_err *e_) { return (gc).cuda->call; })
#define GC_DEV(gc) (gc).ctx->device.device_id, (gc).ctx->stream
#define GC_ERR e_

// ---------------------------------------------------------------- sizes
bool sends_raw(const rai_gc &gc, const TensorState &ts) {
    return gc.cfg.method == RAI_GC_NONE || ts.step < gc.cfg.warmup_steps ||
           (gc.cfg.method == RAI_GC_POWERSGD && ts.rank == 0);
}

uint64_t topk_k(const rai_gc &gc, const TensorState &ts) {
    const double k = std::ceil(static_cast<double>(gc.cfg.ratio) * static_cast<double>(ts.numel));
    return std::min<uint64_t>(ts.numel, std::max<uint64_t>(1, static_cast<uint64_t>(k)));
}

std::size_t raw_payload(const TensorState &ts) { return ts.numel * (is_bf16(ts.dtype) ? 2 : 4); }

std::size_t compressed_payload(const rai_gc &gc, const TensorState &ts) {
    const std::size_t n = ts.numel;
    switch (gc.cfg.method) {
    case RAI_GC_TOPK: return n == 0 ? 4 : 4 + 8 * topk_k(gc, ts);
    case RAI_GC_SIGN: return 4 + ceil_div(n, 8);
    case RAI_GC_TERNARY:
    case RAI_GC_TERNARY_STOCH: return 4 + ceil_div(n, 4);
    case RAI_GC_QSGD: return 12 + 4 * ceil_div(n, kQsgdBucket) + ceil_div(n * gc.cfg.qsgd_width, 8);
    case RAI_GC_POWERSGD: return 12 + 4 * (std::size_t{ts.rows} + ts.cols) * ts.rank;
    case RAI_GC_VSA_COMPAT: return 8 + ceil_div(ts.vsa_dim, 4);
    default: return raw_payload(ts);
    }
}

std::size_t current_message_size(const rai_gc &gc, const TensorState &ts) {
    return kHeaderBytes + (sends_raw(gc, ts) ? raw_payload(ts) : compressed_payload(gc, ts));
}

void check_capacity(void *out, std::size_t capacity, std::size_t needed, std::size_t *written, bool *query) {
    require_not_null(written, "written");
    *query = out == nullptr && capacity == 0;
    if (*query) {
        *written = needed;
        return;
    }
    require_not_null(out, "out");
    if (capacity < needed) {
        *written = needed;
        throw Error(RAI_ERROR_BUFFER_TOO_SMALL, "out: capacity " + std::to_string(capacity) + " bytes, the message needs " +
                                                    std::to_string(needed));
    }
}

// ---------------------------------------------------------------- message parsing
struct Parsed {
    Header h;
    const uint8_t *payload = nullptr;
};

Parsed parse(const rai_gc &gc, const TensorState &ts, const void *msg, std::size_t len, const char *name) {
    require_not_null(msg, name);
    const auto *b = static_cast<const uint8_t *>(msg);
    const std::string n(name);
    if (len < kHeaderBytes)
        fail(RAI_ERROR_FORMAT, n + ": " + std::to_string(len) + " bytes is shorter than the 40-byte header (truncated)");
    if (get<uint32_t>(b) != kMagic) fail(RAI_ERROR_FORMAT, n + ": not a rai gradient-compression message (bad magic)");
    Parsed p;
    p.h.version = get<uint16_t>(b + 4);
    if (p.h.version != kFormatVersion)
        fail(RAI_ERROR_FORMAT, n + ": wire format version " + std::to_string(p.h.version) + ", this rai reads version " +
                                   std::to_string(kFormatVersion));
    p.h.method = b[6];
    p.h.encoding = b[7];
    p.h.id = get<uint32_t>(b + 8);
    p.h.tag = get<uint32_t>(b + 12);
    p.h.numel = get<uint64_t>(b + 16);
    p.h.step = get<uint64_t>(b + 24);
    p.h.peers = get<uint32_t>(b + 32);
    p.h.payload_bytes = get<uint32_t>(b + 36);
    if (len < kHeaderBytes + p.h.payload_bytes)
        fail(RAI_ERROR_FORMAT, n + ": truncated: " + std::to_string(len) + " bytes, the header announces " +
                                   std::to_string(kHeaderBytes + p.h.payload_bytes));
    if (p.h.method != gc.cfg.method)
        fail(RAI_ERROR_INVALID_ARGUMENT, n + ": message of method " + method_name(p.h.method) +
                                             ", this compressor uses " + method_name(gc.cfg.method));
    if (p.h.tag != gc.tag)
        fail(RAI_ERROR_INVALID_ARGUMENT,
             n + ": message from a compressor with other parameters or another seed (configuration tag differs)");
    if (p.h.id != ts.id)
        fail(RAI_ERROR_INVALID_ARGUMENT,
             n + ": message of tensor id " + std::to_string(p.h.id) + ", expected " + std::to_string(ts.id));
    if (p.h.numel != ts.numel)
        fail(RAI_ERROR_SHAPE_MISMATCH, n + ": message of " + std::to_string(p.h.numel) + " elements, tensor " +
                                           std::to_string(ts.id) + " has " + std::to_string(ts.numel));
    if (p.h.peers == 0) fail(RAI_ERROR_FORMAT, n + ": peer count 0");
    p.payload = b + kHeaderBytes;
    // Payload size by encoding.
    const std::size_t nel = ts.numel, pl = p.h.payload_bytes;
    auto need = [&](std::size_t expect) {
        if (pl != expect)
            fail(RAI_ERROR_FORMAT, n + ": " + encoding_name(p.h.encoding) + " payload of " + std::to_string(pl) +
                                       " bytes, expected " + std::to_string(expect));
    };
    switch (p.h.encoding) {
    case kRawF32: need(4 * nel); break;
    case kRawBf16: need(2 * nel); break;
    case kTopk: {
        if (pl < 4) need(4);
        const uint32_t k = get<uint32_t>(p.payload);
        if (k > nel) fail(RAI_ERROR_FORMAT, n + ": top-k count " + std::to_string(k) + " exceeds the tensor size");
        need(4 + 8 * std::size_t{k});
        const uint8_t *ix = p.payload + 4;
        for (uint32_t j = 0; j < k; ++j) {
            const uint32_t i = get<uint32_t>(ix + 4 * j);
            if (i >= nel || (j > 0 && i <= get<uint32_t>(ix + 4 * (j - 1))))
                fail(RAI_ERROR_FORMAT, n + ": top-k indices out of range or not strictly ascending");
        }
        break;
    }
    case kSign: need(4 + ceil_div(nel, 8)); break;
    case kTernary: need(4 + ceil_div(nel, 4)); break;
    case kQsgd: {
        if (pl < 12) need(12);
        const uint32_t lv = get<uint32_t>(p.payload), w = get<uint32_t>(p.payload + 4), bk = get<uint32_t>(p.payload + 8);
        if (lv != gc.cfg.qsgd_levels || w != gc.cfg.qsgd_width || bk != kQsgdBucket)
            fail(RAI_ERROR_FORMAT, n + ": qsgd levels/width/bucket do not match the compressor");
        need(12 + 4 * ceil_div(nel, kQsgdBucket) + ceil_div(nel * w, 8));
        break;
    }
    case kPsgdPQ:
    case kPsgdP:
    case kPsgdQ: {
        if (pl < 12) need(12);
        const uint32_t m = get<uint32_t>(p.payload), c = get<uint32_t>(p.payload + 4), r = get<uint32_t>(p.payload + 8);
        if (m != ts.rows || c != ts.cols || r == 0 || ts.rank == 0)
            fail(RAI_ERROR_FORMAT, n + ": powersgd factor shape does not match the tensor");
        if (p.h.encoding != kPsgdPQ && r != ts.rank)
            fail(RAI_ERROR_FORMAT, n + ": powersgd round message of rank " + std::to_string(r) + ", expected " +
                                       std::to_string(ts.rank));
        const std::size_t rows = p.h.encoding == kPsgdPQ ? std::size_t{m} + c : (p.h.encoding == kPsgdP ? m : c);
        need(12 + 4 * rows * r);
        break;
    }
    case kVsa: {
        if (pl < 8) need(8);
        const uint32_t dim = get<uint32_t>(p.payload);
        if (dim != ts.vsa_dim) fail(RAI_ERROR_FORMAT, n + ": vsa dimension does not match the tensor");
        need(8 + ceil_div(dim, 4));
        break;
    }
    default: fail(RAI_ERROR_FORMAT, n + ": unknown encoding " + std::to_string(p.h.encoding));
    }
    return p;
}

// ---------------------------------------------------------------- PowerSGD pieces (CPU)
// Each output element is summed by one thread in a fixed order, so the split over the pool never
// changes a bit.
// P (rows x r) = M (rows x cols) Q (cols x r): split over rows of M.
void matmul_mq(const float *M, const float *Q, float *P, uint32_t rows, uint32_t cols, uint32_t r) {
    par::for_rows(rows, std::size_t{cols} * r, [&](std::size_t i0, std::size_t i1) {
        std::vector<float> acc(r);
        for (std::size_t i = i0; i < i1; ++i) {
            std::fill(acc.begin(), acc.end(), 0.0f);
            const float *mi = M + i * cols;
            for (uint32_t j = 0; j < cols; ++j) {
                const float v = mi[j];
                const float *qj = Q + std::size_t{j} * r;
                for (uint32_t c = 0; c < r; ++c) acc[c] += v * qj[c];
            }
            std::copy(acc.begin(), acc.end(), P + i * r);
        }
    });
}
// Q (cols x r) = M^T P: split over columns of M (rows of Q), each summed over the rows of M in
// ascending order, as the single-threaded loop does.
void matmul_mtp(const float *M, const float *P, float *Q, uint32_t rows, uint32_t cols, uint32_t r) {
    par::for_rows(cols, std::size_t{rows} * r, [&](std::size_t j0, std::size_t j1) {
        std::fill(Q + j0 * r, Q + j1 * r, 0.0f);
        for (uint32_t i = 0; i < rows; ++i) {
            const float *mi = M + std::size_t{i} * cols;
            const float *pi = P + std::size_t{i} * r;
            for (std::size_t j = j0; j < j1; ++j) {
                const float v = mi[j];
                float *qj = Q + j * r;
                for (uint32_t c = 0; c < r; ++c) qj[c] += v * pi[c];
            }
        }
    });
}
// out (rows x cols) = P (rows x r) Q^T (Q: cols x r); accumulates when add. Split over rows.
void matmul_pqt(const float *P, const float *Q, float *out, uint32_t rows, uint32_t cols, uint32_t r, bool add) {
    par::for_rows(rows, std::size_t{cols} * r, [&](std::size_t i0, std::size_t i1) {
        for (std::size_t i = i0; i < i1; ++i) {
            const float *pi = P + i * r;
            float *oi = out + i * cols;
            for (uint32_t j = 0; j < cols; ++j) {
                const float *qj = Q + std::size_t{j} * r;
                float s = 0.0f;
                for (uint32_t c = 0; c < r; ++c) s += pi[c] * qj[c];
                oi[j] = add ? oi[j] + s : s;
            }
        }
    });
}

// Sums of |x| and x^2 over fixed blocks, combined in block order (independent of the split).
void abs_stats_blocked(const float *x, std::size_t n, double *sum_abs, double *sum_sq) {
    const kern::Kernels &K = kern::kernels();
    std::vector<double> a(par::block_count(n)), q(par::block_count(n));
    par::for_blocks(n, [&](std::size_t b, std::size_t lo, std::size_t hi) { K.abs_stats(x + lo, hi - lo, &a[b], &q[b]); });
    double sa = 0, sq = 0;
    for (std::size_t b = 0; b < a.size(); ++b) sa += a[b], sq += q[b];
    *sum_abs = sa;
    *sum_sq = sq;
}

// m = g + r (r may be null), elementwise over the pool.
void ef_add_blocked(const float *g, const float *r, float *m, std::size_t n) {
    const kern::Kernels &K = kern::kernels();
    par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) { K.ef_add(g + lo, r ? r + lo : nullptr, m + lo, hi - lo); });
}

}  // namespace

// Orthonormalises the columns of P (rows x r, row-major) by Gram-Schmidt with
// re-orthogonalisation ("twice is enough"), in double. A column that is numerically dependent
// on the previous ones (common: the gradient has lower rank than r) is replaced by a fixed
// pseudo-random direction orthogonalised the same way, so the basis stays orthonormal and the
// warm start keeps exploring. Deterministic: every peer gets the same basis from the same P.
// The same host code serves the CPU and the CUDA path.
void orthogonalize(float *P, uint32_t rows, uint32_t r) {
    std::vector<double> basis(std::size_t{rows} * r), col(rows);
    auto project_out = [&](uint32_t c) {
        for (int pass = 0; pass < 2; ++pass)
            for (uint32_t d = 0; d < c; ++d) {
                const double *b = &basis[std::size_t{d} * rows];
                double dot = 0;
                for (uint32_t i = 0; i < rows; ++i) dot += col[i] * b[i];
                for (uint32_t i = 0; i < rows; ++i) col[i] -= dot * b[i];
            }
    };
    auto norm = [&] {
        double s = 0;
        for (uint32_t i = 0; i < rows; ++i) s += col[i] * col[i];
        return std::sqrt(s);
    };
    for (uint32_t c = 0; c < r; ++c) {
        for (uint32_t i = 0; i < rows; ++i) col[i] = P[std::size_t{i} * r + c];
        const double before = norm();
        project_out(c);
        double nrm = norm();
        if (!(nrm > 1e-5 * before) || !(nrm > 1e-30)) {  // dependent, zero, or not finite
            const uint64_t key = stream_key(0x5eed, kRngPowerSgdInit, rows, c);
            for (uint32_t i = 0; i < rows; ++i) col[i] = static_cast<double>(rng_uniform(key, i)) - 0.5;
            project_out(c);
            nrm = norm();
        }
        const double inv = nrm > 1e-30 ? 1.0 / nrm : 0.0;
        double *b = &basis[std::size_t{c} * rows];
        for (uint32_t i = 0; i < rows; ++i) b[i] = col[i] * inv;
    }
    for (uint32_t c = 0; c < r; ++c)
        for (uint32_t i = 0; i < rows; ++i) P[std::size_t{i} * r + c] = static_cast<float>(basis[std::size_t{c} * rows + i]);
}

namespace {

// VSA_COMPAT: projection entry (row i, column j) of the n x D matrix, generated on the fly:
// +sqrt(3/D) with p 0.16, -sqrt(3/D) with p 0.16, else 0 (vsa-optim's distribution), keyed by
// (seed, n, row) as vsa-optim keys its matrix by (seed, n). Four entries per 64-bit draw.
template <class F>
void vsa_row(uint64_t key, uint64_t row, uint32_t D, F &&f) {
    const uint64_t rk = mix64(key ^ mix64(row));
    for (uint32_t j0 = 0; j0 < D; j0 += 4) {
        uint64_t bits = rng_u64(rk, j0 / 4);
        for (uint32_t t = 0; t < 4 && j0 + t < D; ++t, bits >>= 16) {
            const uint32_t u = static_cast<uint32_t>(bits & 0xffff);
            if (u < 10486) f(j0 + t, 1.0f);
            else if (u < 20972) f(j0 + t, -1.0f);
        }
    }
}
uint32_t vsa_key_trit(uint64_t key, uint32_t j) { return static_cast<uint32_t>(rng_u64(key, j) % 3); }

// ---------------------------------------------------------------- CPU decode
// Decodes a parsed message into dense f32 `out` (numel values). Uses ts (PowerSGD shape, VSA
// dimension) and, for a Q-round, the open round's P.
void decode_cpu(const rai_gc &gc, const TensorState &ts, const Parsed &p, float *out) {
    const std::size_t n = ts.numel;
    const uint8_t *pl = p.payload;
    switch (p.h.encoding) {
    case kRawF32:
        par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) { std::memcpy(out + lo, pl + 4 * lo, 4 * (hi - lo)); });
        break;
    case kRawBf16:
        par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) {
            for (std::size_t i = lo; i < hi; ++i) out[i] = bf16_to_f32(get<uint16_t>(pl + 2 * i));
        });
        break;
    case kTopk: {
        par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) { std::fill(out + lo, out + hi, 0.0f); });
        const uint32_t k = get<uint32_t>(pl);
        for (uint32_t j = 0; j < k; ++j) out[get<uint32_t>(pl + 4 + 4 * j)] = get<float>(pl + 4 + 4 * std::size_t{k} + 4 * j);
        break;
    }
    case kSign: {  // a table of the 8 values of each byte
        const float s = get<float>(pl);
        std::vector<float> lut(256 * 8);
        for (uint32_t b = 0; b < 256; ++b)
            for (uint32_t j = 0; j < 8; ++j) lut[b * 8 + j] = ((b >> j) & 1) ? -s : s;
        const uint8_t *bits = pl + 4;
        par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) {
            const std::size_t full = hi / 8;  // lo is a multiple of 8
            for (std::size_t b = lo / 8; b < full; ++b) std::memcpy(out + 8 * b, &lut[std::size_t{bits[b]} * 8], 32);
            for (std::size_t i = 8 * full; i < hi; ++i) out[i] = ((bits[i / 8] >> (i % 8)) & 1) ? -s : s;
        });
        break;
    }
    case kTernary: {  // a table of the 4 values of each byte
        const float s = get<float>(pl);
        std::vector<float> lut(256 * 4);
        for (uint32_t b = 0; b < 256; ++b)
            for (uint32_t j = 0; j < 4; ++j) lut[b * 4 + j] = s * trit_value((b >> (2 * j)) & 3);
        const uint8_t *codes = pl + 4;
        par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) {
            const std::size_t full = hi / 4;  // lo is a multiple of 4
            for (std::size_t b = lo / 4; b < full; ++b) std::memcpy(out + 4 * b, &lut[std::size_t{codes[b]} * 4], 16);
            for (std::size_t i = 4 * full; i < hi; ++i) out[i] = s * trit_value((codes[i / 4] >> (2 * (i % 4))) & 3);
        });
        break;
    }
    case kQsgd: {
        const uint32_t lv = get<uint32_t>(pl), w = get<uint32_t>(pl + 4);
        const std::size_t nb = ceil_div(n, kQsgdBucket);
        const uint8_t *codes = pl + 12 + 4 * nb;
        if (w == 16) {
            par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) {
                for (std::size_t i = lo; i < hi; ++i)
                    out[i] = qsgd_value(get<uint16_t>(codes + 2 * i), get<float>(pl + 12 + 4 * (i / kQsgdBucket)), lv, w);
            });
            break;
        }
        // w in {2, 4, 8}: per bucket, a table of every code's value (the same qsgd_value).
        const uint32_t mask = (1u << w) - 1;
        par::for_blocks(n, [&](std::size_t, std::size_t blo, std::size_t bhi) {
            std::vector<float> lut(std::size_t{1} << w);
            for (std::size_t b = blo / kQsgdBucket; b < ceil_div(bhi, kQsgdBucket); ++b) {
                const float scale = get<float>(pl + 12 + 4 * b);
                for (uint32_t c = 0; c <= mask; ++c) lut[c] = qsgd_value(c, scale, lv, w);
                const std::size_t lo = b * kQsgdBucket, hi = std::min(n, lo + kQsgdBucket);
                for (std::size_t i = lo; i < hi; ++i) {
                    const std::size_t bit = i * w;
                    out[i] = lut[(codes[bit / 8] >> (bit % 8)) & mask];
                }
            }
        });
        break;
    }
    case kPsgdPQ: {
        const uint32_t r = get<uint32_t>(pl + 8);
        std::vector<float> P(std::size_t{ts.rows} * r), Q(std::size_t{ts.cols} * r);
        std::memcpy(P.data(), pl + 12, 4 * P.size());
        std::memcpy(Q.data(), pl + 12 + 4 * P.size(), 4 * Q.size());
        matmul_pqt(P.data(), Q.data(), out, ts.rows, ts.cols, r, false);
        break;
    }
    case kPsgdQ: {
        if (ts.round != 2 || ts.round_step != p.h.step)
            fail(RAI_ERROR_INVALID_ARGUMENT, "message: a PowerSGD Q-round message needs the round opened by "
                                             "rai_gc_powersgd_p and rai_gc_powersgd_q at step " +
                                                 std::to_string(p.h.step) + " on this handle");
        std::vector<float> Q(std::size_t{ts.cols} * ts.rank);
        std::memcpy(Q.data(), pl + 12, 4 * Q.size());
        matmul_pqt(ts.round_p.data(), Q.data(), out, ts.rows, ts.cols, ts.rank, false);
        break;
    }
    case kPsgdP:
        fail(RAI_ERROR_INVALID_ARGUMENT,
             "message: a PowerSGD P-round message is not decodable; pass the summed P to rai_gc_powersgd_q");
    case kVsa: {
        const uint32_t D = get<uint32_t>(pl);
        const float s = get<float>(pl + 4);
        const uint64_t pkey = stream_key(gc.cfg.seed, kRngVsaProjection, n, 0);
        const uint64_t kkey = stream_key(gc.cfg.seed, kRngVsaKey, ts.id, 0);
        std::vector<float> v(D);
        for (uint32_t j = 0; j < D; ++j) {
            const uint32_t bound = (pl[8 + j / 4] >> (2 * (j % 4))) & 3;
            v[j] = s * trit_value((bound + vsa_key_trit(kkey, j)) % 3);  // unbind
        }
        const float a = std::sqrt(3.0f / static_cast<float>(D));
        par::for_rows(n, D, [&](std::size_t i0, std::size_t i1) {
            for (std::size_t i = i0; i < i1; ++i) {
                float acc = 0.0f;
                vsa_row(pkey, i, D, [&](uint32_t j, float sg) { acc += sg * v[j]; });
                out[i] = a * acc;
            }
        });
        break;
    }
    default: fail(RAI_ERROR_FORMAT, "message: unknown encoding");
    }
}

// ---------------------------------------------------------------- CPU encode
// Encodes m (dense f32, numel values) into the payload; ts.q may be updated through q_out (the
// new PowerSGD warm start, committed by the caller).
void encode_cpu(const rai_gc &gc, const TensorState &ts, const float *m, uint8_t enc, uint8_t *pl,
                std::vector<float> *q_out) {
    const std::size_t n = ts.numel;
    const kern::Kernels &K = kern::kernels();
    switch (enc) {
    case kRawF32:
        par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) { std::memcpy(pl + 4 * lo, m + lo, 4 * (hi - lo)); });
        break;
    case kRawBf16:
        par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) {
            for (std::size_t i = lo; i < hi; ++i) put<uint16_t>(pl + 2 * i, f32_to_bf16(m[i]));
        });
        break;
    case kTopk: {
        const uint64_t k = topk_k(gc, ts);
        put<uint32_t>(pl, static_cast<uint32_t>(k));
        if (n == 0) break;
        // Exact selection of the k-th largest magnitude key: a histogram of the top 12 key bits
        // finds its bucket, nth_element runs on that bucket only. Keys, histograms, bucket
        // members and the final scan run per block; blocks are merged in order, so the result
        // (indices ascending, ties to the smaller index) does not depend on the split.
        std::vector<uint32_t> &keys = gc.scratch_keys, &sel = gc.scratch_sel;
        keys.resize(n);
        const std::size_t nb = par::block_count(n);
        std::vector<uint32_t> block_hist(nb * 4096, 0);  // a block holds at most 2^16 elements
        par::for_blocks(n, [&](std::size_t b, std::size_t lo, std::size_t hi) {
            uint32_t *h = &block_hist[b * 4096];
            for (std::size_t i = lo; i < hi; ++i) {
                keys[i] = magnitude_key(m[i]);
                ++h[keys[i] >> 20];
            }
        });
        std::vector<uint64_t> hist(4096, 0);
        for (std::size_t b = 0; b < nb; ++b)
            for (std::size_t t = 0; t < 4096; ++t) hist[t] += block_hist[b * 4096 + t];
        uint32_t bucket = 4095;
        uint64_t above_bucket = 0;
        while (above_bucket + hist[bucket] < k) above_bucket += hist[bucket--];
        // The bucket's members, gathered block by block into their final place.
        std::vector<uint64_t> sel_at(nb + 1, 0);
        for (std::size_t b = 0; b < nb; ++b) sel_at[b + 1] = sel_at[b] + block_hist[b * 4096 + bucket];
        sel.resize(sel_at[nb]);
        par::for_blocks(n, [&](std::size_t b, std::size_t lo, std::size_t hi) {
            uint64_t o = sel_at[b];
            for (std::size_t i = lo; i < hi; ++i)
                if ((keys[i] >> 20) == bucket) sel[o++] = keys[i];
        });
        const std::size_t rank = static_cast<std::size_t>(k - above_bucket - 1);
        std::nth_element(sel.begin(), sel.begin() + static_cast<std::ptrdiff_t>(rank), sel.end(),
                         std::greater<uint32_t>());
        const uint32_t thr = sel[rank];
        // Per block: how many keys are above the threshold and how many equal it.
        std::vector<uint64_t> above_b(nb, 0), equal_b(nb, 0);
        par::for_blocks(n, [&](std::size_t b, std::size_t lo, std::size_t hi) {
            uint64_t a = 0, e = 0;
            for (std::size_t i = lo; i < hi; ++i) a += keys[i] > thr, e += keys[i] == thr;
            above_b[b] = a, equal_b[b] = e;
        });
        uint64_t above = 0;
        for (uint64_t a : above_b) above += a;
        // Ties go to the smallest indices: hand the remaining slots to the blocks in order.
        std::vector<uint64_t> ties_b(nb, 0), out_at(nb, 0);
        uint64_t ties = k - above, at = 0;
        for (std::size_t b = 0; b < nb; ++b) {
            ties_b[b] = std::min(ties, equal_b[b]);
            ties -= ties_b[b];
            out_at[b] = at;
            at += above_b[b] + ties_b[b];
        }
        uint8_t *ix = pl + 4, *vx = pl + 4 + 4 * k;
        par::for_blocks(n, [&](std::size_t b, std::size_t lo, std::size_t hi) {
            uint64_t j = out_at[b], t = ties_b[b];
            for (std::size_t i = lo; i < hi; ++i) {
                if (keys[i] > thr || (keys[i] == thr && t > 0)) {
                    if (keys[i] == thr) --t;
                    put<uint32_t>(ix + 4 * j, static_cast<uint32_t>(i));
                    put<float>(vx + 4 * j, m[i]);
                    ++j;
                }
            }
        });
        break;
    }
    case kSign: {
        double sa = 0, sq = 0;
        abs_stats_blocked(m, n, &sa, &sq);
        put<float>(pl, n ? static_cast<float>(sa / static_cast<double>(n)) : 0.0f);
        par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) { K.pack_sign(m + lo, hi - lo, pl + 4 + lo / 8); });
        break;
    }
    case kTernary: {
        uint8_t *codes = pl + 4;
        std::memset(codes, 0, ceil_div(n, 4));
        if (gc.cfg.method == RAI_GC_TERNARY) {
            double sa = 0, sq = 0;
            abs_stats_blocked(m, n, &sa, &sq);
            const float thr = n ? static_cast<float>(0.7 * sa / static_cast<double>(n)) : 0.0f;
            std::vector<double> kept_b(par::block_count(n), 0.0);
            std::vector<uint64_t> cnt_b(par::block_count(n), 0);
            par::for_blocks(n, [&](std::size_t b, std::size_t lo, std::size_t hi) {
                K.pack_ternary(m + lo, hi - lo, thr, codes + lo / 4, &kept_b[b], &cnt_b[b]);
            });
            double kept = 0;
            uint64_t cnt = 0;
            for (std::size_t b = 0; b < kept_b.size(); ++b) kept += kept_b[b], cnt += cnt_b[b];
            put<float>(pl, cnt ? static_cast<float>(kept / static_cast<double>(cnt)) : 0.0f);
        } else {  // TERNARY_STOCH: the counter RNG draws element i's number, whichever thread packs it
            std::vector<float> mx_b(par::block_count(n), 0.0f);
            par::for_blocks(n, [&](std::size_t b, std::size_t lo, std::size_t hi) {
                float v = 0.0f;
                for (std::size_t i = lo; i < hi; ++i) v = std::max(v, std::fabs(m[i]));  // NaN ignored
                mx_b[b] = v;
            });
            float mx = 0.0f;
            for (float v : mx_b) mx = std::max(mx, v);
            put<float>(pl, mx);
            const uint64_t key = stream_key(gc.cfg.seed, kRngTernaryStoch, ts.id, ts.step);
            if (mx > 0.0f)
                par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) {
                    for (std::size_t i = lo; i < hi; ++i) {
                        const float p = std::fabs(m[i]) / mx;
                        if (rng_uniform(key, i) < p)
                            codes[i / 4] |= static_cast<uint8_t>((m[i] < 0 ? kTritMinus : kTritPlus) << (2 * (i % 4)));
                    }
                });
        }
        break;
    }
    case kQsgd: {
        const uint32_t lv = gc.cfg.qsgd_levels, w = gc.cfg.qsgd_width;
        put<uint32_t>(pl, lv);
        put<uint32_t>(pl + 4, w);
        put<uint32_t>(pl + 8, kQsgdBucket);
        const std::size_t nb = ceil_div(n, kQsgdBucket);
        uint8_t *codes = pl + 12 + 4 * nb;
        std::memset(codes, 0, ceil_div(n * w, 8));
        const uint64_t key = stream_key(gc.cfg.seed, kRngQsgd, ts.id, ts.step);
        // Buckets are independent and byte-aligned (512 codes of w bits); blocks hold whole buckets.
        par::for_blocks(n, [&](std::size_t, std::size_t blo, std::size_t bhi) {
            for (std::size_t b = blo / kQsgdBucket; b < ceil_div(bhi, kQsgdBucket); ++b) {
                const std::size_t lo = b * kQsgdBucket, hi = std::min(n, lo + kQsgdBucket);
                float mx = 0.0f;
                for (std::size_t i = lo; i < hi; ++i) mx = std::max(mx, std::fabs(m[i]));
                put<float>(pl + 12 + 4 * b, mx);
                for (std::size_t i = lo; i < hi; ++i) {
                    const uint32_t code = qsgd_code(m[i], mx, lv, w, rng_uniform(key, i));
                    const std::size_t bit = i * w;
                    if (w == 16) put<uint16_t>(codes + bit / 8, static_cast<uint16_t>(code));
                    else codes[bit / 8] |= static_cast<uint8_t>(code << (bit % 8));
                }
            }
        });
        break;
    }
    case kPsgdPQ: {
        const uint32_t rows = ts.rows, cols = ts.cols, r = ts.rank;
        put<uint32_t>(pl, rows);
        put<uint32_t>(pl + 4, cols);
        put<uint32_t>(pl + 8, r);
        std::vector<float> P(std::size_t{rows} * r), Q(ts.q);
        for (uint32_t it = 0; it < gc.cfg.power_iters; ++it) {
            matmul_mq(m, Q.data(), P.data(), rows, cols, r);
            orthogonalize(P.data(), rows, r);
            matmul_mtp(m, P.data(), Q.data(), rows, cols, r);
        }
        std::memcpy(pl + 12, P.data(), 4 * P.size());
        std::memcpy(pl + 12 + 4 * P.size(), Q.data(), 4 * Q.size());
        if (q_out) *q_out = std::move(Q);
        break;
    }
    case kVsa: {
        const uint32_t D = ts.vsa_dim;
        put<uint32_t>(pl, D);
        const uint64_t pkey = stream_key(gc.cfg.seed, kRngVsaProjection, n, 0);
        const uint64_t kkey = stream_key(gc.cfg.seed, kRngVsaKey, ts.id, 0);
        std::vector<float> proj(D, 0.0f);
        const float a = std::sqrt(3.0f / static_cast<float>(D));
        for (std::size_t i = 0; i < n; ++i) {
            const float g = m[i];
            if (g == 0.0f) continue;
            vsa_row(pkey, i, D, [&](uint32_t j, float sg) { proj[j] += sg * g; });
        }
        double sa = 0;
        for (uint32_t j = 0; j < D; ++j) {
            proj[j] *= a;
            sa += std::fabs(proj[j]);
        }
        const float scale = D ? static_cast<float>(sa / D) : 0.0f;
        put<float>(pl + 4, scale);
        uint8_t *codes = pl + 8;
        std::memset(codes, 0, ceil_div(D, 4));
        for (uint32_t j = 0; j < D; ++j) {
            const uint32_t t = proj[j] > scale ? kTritPlus : (proj[j] < -scale ? kTritMinus : kTritZero);
            const uint32_t bound = (t + 3 - vsa_key_trit(kkey, j)) % 3;  // bind
            codes[j / 4] |= static_cast<uint8_t>(bound << (2 * (j % 4)));
        }
        break;
    }
    default: fail(RAI_ERROR_INTERNAL, "encode: unknown encoding");
    }
}

uint8_t method_encoding(const rai_gc &gc, const TensorState &ts) {
    if (sends_raw(gc, ts)) return is_bf16(ts.dtype) ? kRawBf16 : kRawF32;
    switch (gc.cfg.method) {
    case RAI_GC_TOPK: return kTopk;
    case RAI_GC_SIGN: return kSign;
    case RAI_GC_TERNARY:
    case RAI_GC_TERNARY_STOCH: return kTernary;
    case RAI_GC_QSGD: return kQsgd;
    case RAI_GC_POWERSGD: return kPsgdPQ;
    case RAI_GC_VSA_COMPAT: return kVsa;
    default: return kRawF32;
    }
}

// Reads a contiguous f32/bf16 host tensor into f32.
void load_f32(const TensorCheck &t, float *dst) {
    const std::size_t n = static_cast<std::size_t>(t.numel());
    if (is_bf16(t.tensor().dtype)) {
        const auto *s = static_cast<const uint16_t *>(t.data());
        par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) {
            for (std::size_t i = lo; i < hi; ++i) dst[i] = bf16_to_f32(s[i]);
        });
    } else {
        std::memcpy(dst, t.data(), 4 * n);
    }
}
void store_f32(const TensorCheck &t, const float *src) {
    const std::size_t n = static_cast<std::size_t>(t.numel());
    if (is_bf16(t.tensor().dtype)) {
        auto *d = static_cast<uint16_t *>(t.data());
        par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) {
            for (std::size_t i = lo; i < hi; ++i) d[i] = f32_to_bf16(src[i]);
        });
    } else {
        std::memcpy(t.data(), src, 4 * n);
    }
}

void record_quality(const rai_gc &gc, Stats &st, const float *m, const float *d, std::size_t n) {
    if (!(gc.cfg.flags & RAI_GC_MEASURE_QUALITY)) return;
    // Per-block partial sums, added in block order: the same numbers on any thread count.
    std::vector<double> part(4 * par::block_count(n), 0.0);
    par::for_blocks(n, [&](std::size_t blk, std::size_t lo, std::size_t hi) {
        double dot = 0, aa = 0, bb = 0, df = 0;
        for (std::size_t i = lo; i < hi; ++i) {
            const double a = m[i], b = d[i];
            dot += a * b;
            aa += a * a;
            bb += b * b;
            df += (a - b) * (a - b);
        }
        part[4 * blk] = dot, part[4 * blk + 1] = aa, part[4 * blk + 2] = bb, part[4 * blk + 3] = df;
    });
    double dot = 0, aa = 0, bb = 0, df = 0;
    for (std::size_t blk = 0; blk < part.size() / 4; ++blk)
        dot += part[4 * blk], aa += part[4 * blk + 1], bb += part[4 * blk + 2], df += part[4 * blk + 3];
    st.has_quality = true;
    st.dot = dot, st.aa = aa, st.bb = bb, st.diff2 = df;
    ++st.quality_samples;
}

void record_message(Stats &st, const TensorState &ts, std::size_t bytes) {
    ++st.steps;
    st.params += ts.numel;
    st.bits_in += ts.numel * ts.dtype.bits;
    st.bits_out += 8 * static_cast<uint64_t>(bytes);
}

// ---------------------------------------------------------------- CUDA encode
// Where encode_cuda writes a message payload: host memory, or nowhere (pl == nullptr) when only
// the local reconstruction is wanted (rai_gc_apply), which saves the device-to-host copies.
struct PayloadWriter {
    const rai_gc &gc;
    uint8_t *pl;
    template <class T>
    void put(std::size_t at, T v) const {
        if (pl) rai::gc::put<T>(pl + at, v);
    }
    void from_device(std::size_t at, const void *src, std::size_t bytes) const {
        if (pl) d2h(gc, pl + at, src, bytes);
    }
    void copy(std::size_t at, const void *src, std::size_t bytes) const {
        if (pl) std::memcpy(pl + at, src, bytes);
    }
};
// Same contract as the CPU path: fills the message payload, writes the local reconstruction
// into dec (device), and returns the new warm-start Q for PowerSGD via q_out.
void encode_cuda(const rai_gc &gc, const TensorState &ts, const float *m, uint8_t enc, uint8_t *pl, float *dec,
                 std::vector<float> *q_out) {
    const std::size_t n = ts.numel;
    const PayloadWriter out{gc, pl};
    switch (enc) {
    case kRawF32:
        out.from_device(0, m, 4 * n);
        d2d(gc, dec, m, 4 * n);
        break;
    case kRawBf16: {
        DeviceScratch tmp(gc, 2 * n);
        GC_CUDA(gc, store(GC_DEV(gc), m, tmp.as<void>(), RAICUDA_GC_BF16, n, GC_ERR));
        out.from_device(0, tmp.as<void>(), 2 * n);
        GC_CUDA(gc, ef_add(GC_DEV(gc), tmp.as<void>(), RAICUDA_GC_BF16, nullptr, dec, n, GC_ERR));
        break;
    }
    case kTopk: {
        const uint64_t k = topk_k(gc, ts);
        out.put<uint32_t>(0, static_cast<uint32_t>(k));
        DeviceScratch idx(gc, 4 * k), val(gc, 4 * k);
        GC_CUDA(gc, topk(GC_DEV(gc), m, n, k, idx.as<uint32_t>(), val.as<float>(), GC_ERR));
        out.from_device(4, idx.as<void>(), 4 * k);
        out.from_device(4 + 4 * k, val.as<void>(), 4 * k);
        GC_CUDA(gc, unpack_topk(GC_DEV(gc), idx.as<uint32_t>(), val.as<float>(), k, dec, n, GC_ERR));
        break;
    }
    case kSign: {
        double st[5];
        GC_CUDA(gc, stats(GC_DEV(gc), m, n, 0.0f, st, GC_ERR));
        const float s = n ? static_cast<float>(st[0] / static_cast<double>(n)) : 0.0f;
        out.put<float>(0, s);
        DeviceScratch bits(gc, ceil_div(n, 8));
        GC_CUDA(gc, pack_sign(GC_DEV(gc), m, n, bits.as<uint8_t>(), GC_ERR));
        out.from_device(4, bits.as<void>(), ceil_div(n, 8));
        GC_CUDA(gc, unpack_sign(GC_DEV(gc), bits.as<uint8_t>(), s, dec, n, GC_ERR));
        break;
    }
    case kTernary: {
        double st[5];
        GC_CUDA(gc, stats(GC_DEV(gc), m, n, 0.0f, st, GC_ERR));
        float thr = 0.0f, scale = 0.0f;
        int32_t stoch = 0;
        uint64_t key = 0;
        if (gc.cfg.method == RAI_GC_TERNARY) {
            thr = n ? static_cast<float>(0.7 * st[0] / static_cast<double>(n)) : 0.0f;
            GC_CUDA(gc, stats(GC_DEV(gc), m, n, thr, st, GC_ERR));
            scale = st[3] > 0 ? static_cast<float>(st[4] / st[3]) : 0.0f;
        } else {
            scale = static_cast<float>(st[2]);
            stoch = 1;
            key = stream_key(gc.cfg.seed, kRngTernaryStoch, ts.id, ts.step);
        }
        out.put<float>(0, scale);
        DeviceScratch codes(gc, ceil_div(n, 4));
        GC_CUDA(gc, pack_ternary(GC_DEV(gc), m, n, thr, stoch, scale, key, codes.as<uint8_t>(), GC_ERR));
        out.from_device(4, codes.as<void>(), ceil_div(n, 4));
        GC_CUDA(gc, unpack_ternary(GC_DEV(gc), codes.as<uint8_t>(), scale, dec, n, GC_ERR));
        break;
    }
    case kQsgd: {
        const uint32_t lv = gc.cfg.qsgd_levels, w = gc.cfg.qsgd_width;
        out.put<uint32_t>(0, lv);
        out.put<uint32_t>(4, w);
        out.put<uint32_t>(8, kQsgdBucket);
        const std::size_t nb = ceil_div(n, kQsgdBucket), cb = ceil_div(n * w, 8);
        DeviceScratch scales(gc, 4 * nb), codes(gc, cb);
        const uint64_t key = stream_key(gc.cfg.seed, kRngQsgd, ts.id, ts.step);
        GC_CUDA(gc, qsgd_pack(GC_DEV(gc), m, n, kQsgdBucket, lv, w, key, scales.as<float>(), codes.as<uint8_t>(), GC_ERR));
        out.from_device(12, scales.as<void>(), 4 * nb);
        out.from_device(12 + 4 * nb, codes.as<void>(), cb);
        GC_CUDA(gc, qsgd_unpack(GC_DEV(gc), codes.as<uint8_t>(), scales.as<float>(), n, kQsgdBucket, lv, w, dec, GC_ERR));
        break;
    }
    case kPsgdPQ: {
        const uint32_t rows = ts.rows, cols = ts.cols, r = ts.rank;
        out.put<uint32_t>(0, rows);
        out.put<uint32_t>(4, cols);
        out.put<uint32_t>(8, r);
        std::vector<float> P(std::size_t{rows} * r), Q(ts.q);
        DeviceScratch dP(gc, 4 * P.size()), dQ(gc, 4 * Q.size());
        h2d(gc, dQ.as<void>(), Q.data(), 4 * Q.size());
        for (uint32_t it = 0; it < gc.cfg.power_iters; ++it) {
            GC_CUDA(gc, gemm(GC_DEV(gc), 0, 0, rows, r, cols, m, dQ.as<float>(), dP.as<float>(), GC_ERR));
            d2h(gc, P.data(), dP.as<void>(), 4 * P.size());
            orthogonalize(P.data(), rows, r);
            h2d(gc, dP.as<void>(), P.data(), 4 * P.size());
            GC_CUDA(gc, gemm(GC_DEV(gc), 1, 0, cols, r, rows, m, dP.as<float>(), dQ.as<float>(), GC_ERR));
        }
        d2h(gc, Q.data(), dQ.as<void>(), 4 * Q.size());
        out.copy(12, P.data(), 4 * P.size());
        out.copy(12 + 4 * P.size(), Q.data(), 4 * Q.size());
        GC_CUDA(gc, gemm(GC_DEV(gc), 0, 1, rows, cols, r, dP.as<float>(), dQ.as<float>(), dec, GC_ERR));
        if (q_out) *q_out = std::move(Q);
        break;
    }
    default: fail(RAI_ERROR_UNSUPPORTED, "this method has no CUDA path");
    }
}

// Decodes a parsed message into the device f32 buffer `out` (numel values).
void decode_cuda(const rai_gc &gc, const TensorState &ts, const Parsed &p, float *out) {
    const std::size_t n = ts.numel;
    const uint8_t *pl = p.payload;
    switch (p.h.encoding) {
    case kRawF32: h2d(gc, out, pl, 4 * n); break;
    case kRawBf16: {
        DeviceScratch tmp(gc, 2 * n);
        h2d(gc, tmp.as<void>(), pl, 2 * n);
        GC_CUDA(gc, ef_add(GC_DEV(gc), tmp.as<void>(), RAICUDA_GC_BF16, nullptr, out, n, GC_ERR));
        break;
    }
    case kTopk: {
        const uint32_t k = get<uint32_t>(pl);
        DeviceScratch idx(gc, 4 * std::size_t{k}), val(gc, 4 * std::size_t{k});
        h2d(gc, idx.as<void>(), pl + 4, 4 * std::size_t{k});
        h2d(gc, val.as<void>(), pl + 4 + 4 * std::size_t{k}, 4 * std::size_t{k});
        GC_CUDA(gc, unpack_topk(GC_DEV(gc), idx.as<uint32_t>(), val.as<float>(), k, out, n, GC_ERR));
        break;
    }
    case kSign: {
        DeviceScratch bits(gc, ceil_div(n, 8));
        h2d(gc, bits.as<void>(), pl + 4, ceil_div(n, 8));
        GC_CUDA(gc, unpack_sign(GC_DEV(gc), bits.as<uint8_t>(), get<float>(pl), out, n, GC_ERR));
        break;
    }
    case kTernary: {
        DeviceScratch codes(gc, ceil_div(n, 4));
        h2d(gc, codes.as<void>(), pl + 4, ceil_div(n, 4));
        GC_CUDA(gc, unpack_ternary(GC_DEV(gc), codes.as<uint8_t>(), get<float>(pl), out, n, GC_ERR));
        break;
    }
    case kQsgd: {
        const uint32_t lv = get<uint32_t>(pl), w = get<uint32_t>(pl + 4);
        const std::size_t nb = ceil_div(n, kQsgdBucket), cb = ceil_div(n * w, 8);
        DeviceScratch scales(gc, 4 * nb), codes(gc, cb);
        h2d(gc, scales.as<void>(), pl + 12, 4 * nb);
        h2d(gc, codes.as<void>(), pl + 12 + 4 * nb, cb);
        GC_CUDA(gc, qsgd_unpack(GC_DEV(gc), codes.as<uint8_t>(), scales.as<float>(), n, kQsgdBucket, lv, w, out, GC_ERR));
        break;
    }
    case kPsgdPQ:
    case kPsgdQ: {
        const uint32_t r = get<uint32_t>(pl + 8);
        const std::size_t np = std::size_t{ts.rows} * r, nq = std::size_t{ts.cols} * r;
        DeviceScratch dP(gc, 4 * np), dQ(gc, 4 * nq);
        if (p.h.encoding == kPsgdPQ) {
            h2d(gc, dP.as<void>(), pl + 12, 4 * np);
            h2d(gc, dQ.as<void>(), pl + 12 + 4 * np, 4 * nq);
        } else {
            if (ts.round != 2 || ts.round_step != p.h.step)
                fail(RAI_ERROR_INVALID_ARGUMENT, "message: a PowerSGD Q-round message needs the round opened by "
                                                 "rai_gc_powersgd_p and rai_gc_powersgd_q on this handle");
            h2d(gc, dP.as<void>(), ts.round_p.data(), 4 * np);
            h2d(gc, dQ.as<void>(), pl + 12, 4 * nq);
        }
        GC_CUDA(gc, gemm(GC_DEV(gc), 0, 1, ts.rows, ts.cols, r, dP.as<float>(), dQ.as<float>(), out, GC_ERR));
        break;
    }
    default: {
        // P rounds and VSA: decode on the host (errors included), then copy.
        std::vector<float> host(n);
        decode_cpu(gc, ts, p, host.data());
        h2d(gc, out, host.data(), 4 * n);
    }
    }
}

}  // namespace

// ================================================================ public operations

rai_gc *create(rai_context &ctx, const rai_gc_params &params) {
    auto gc = std::make_unique<rai_gc>();
    gc->ctx = &ctx;
    gc->cfg = make_config(params);
    gc->tag = config_tag(gc->cfg);
    if (is_cuda(ctx)) {
        require(gc->cfg.method != RAI_GC_VSA_COMPAT, RAI_ERROR_UNSUPPORTED,
                "params->method VSA_COMPAT is CPU-only (compatibility method); use a CPU context");
        gc->cuda = static_cast<const raicuda_compress_api *>(cuda::require_capability(RAICUDA_COMPRESS_NAME));
        require(gc->cuda->version == 1 && gc->cuda->struct_size >= sizeof(raicuda_compress_api), RAI_ERROR_BACKEND,
                "the CUDA plugin's compress kernels are of another version");
    }
    return gc.release();
}

TensorState &tensor(rai_gc &gc, uint32_t id) {
    require(id < gc.tensors.size(), RAI_ERROR_INVALID_ARGUMENT,
            "id " + std::to_string(id) + " is not a registered tensor (" + std::to_string(gc.tensors.size()) +
                " registered)");
    return gc.tensors[id];
}
const TensorState &tensor(const rai_gc &gc, uint32_t id) { return tensor(const_cast<rai_gc &>(gc), id); }

uint32_t add_tensor(rai_gc &gc, const char *name, const rai_tensor *like) {
    TensorCheck t("like", like);
    t.dtype_in({dtype::f32, dtype::bf16});
    require(gc.tensors.size() < 0xFFFFFFFEu, RAI_ERROR_OUT_OF_RANGE, "too many tensors");
    TensorState ts;
    ts.name = name ? name : "";
    ts.id = static_cast<uint32_t>(gc.tensors.size());
    ts.dtype = like->dtype;
    ts.shape.assign(like->shape, like->shape + like->ndim);
    ts.numel = static_cast<uint64_t>(t.numel());
    const std::string who = "like" + (ts.name.empty() ? std::string() : " (" + ts.name + ")");
    // Payload sizes are u32 in the wire format; indices are u32.
    require(ts.numel <= (uint64_t{1} << 29), RAI_ERROR_OUT_OF_RANGE,
            who + ": " + std::to_string(ts.numel) + " elements; a compressed tensor holds at most 2^29 (split it)");
    if (gc.cfg.method == RAI_GC_POWERSGD && like->ndim >= 2 && ts.numel > 0) {
        const uint64_t rows = static_cast<uint64_t>(like->shape[0]), cols = ts.numel / rows;
        const uint64_t r = std::min<uint64_t>({gc.cfg.rank, rows, cols});
        if (r * (rows + cols) < rows * cols) {
            ts.rows = static_cast<uint32_t>(rows);
            ts.cols = static_cast<uint32_t>(cols);
            ts.rank = static_cast<uint32_t>(r);
            // Warm start: Q ~ N(0, 1) from the counter RNG (Box-Muller), kept on the host.
            ts.q.resize(cols * r);
            const uint64_t key = stream_key(gc.cfg.seed, kRngPowerSgdInit, ts.id, 0);
            for (std::size_t i = 0; i < ts.q.size(); ++i) {
                const double u1 = (static_cast<double>(rng_u64(key, 2 * i) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
                const double u2 = static_cast<double>(rng_u64(key, 2 * i + 1) >> 11) * (1.0 / 9007199254740992.0);
                ts.q[i] = static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
            }
        }
    }
    if (gc.cfg.method == RAI_GC_VSA_COMPAT) {
        const uint64_t d = std::max<uint64_t>(
            {gc.cfg.vsa_dimension, static_cast<uint64_t>(std::floor(static_cast<double>(ts.numel) * gc.cfg.vsa_ratio)),
             256});
        require(d <= (uint64_t{1} << 26), RAI_ERROR_OUT_OF_RANGE, who + ": VSA dimension too large");
        ts.vsa_dim = static_cast<uint32_t>(d);
    }
    // Zero-initialised state: the EF residual and the momentum-correction velocity.
    auto zeroed = [&](FloatBuf &buf) {
        if (gc.cuda) {
            buf.resize_device(gc.pool, gc.ctx->device.device_id, ts.numel);
            GC_CUDA(gc, unpack_topk(GC_DEV(gc), nullptr, nullptr, 0, buf.device(), ts.numel, GC_ERR));
        } else {
            buf.resize_host(ts.numel);
        }
    };
    if (gc.cfg.error_feedback) zeroed(ts.residual);
    if (gc.cfg.momentum != 0.0f) zeroed(ts.velocity);
    gc.tensors.push_back(std::move(ts));
    return gc.tensors.back().id;
}

std::size_t max_message_size(const rai_gc &gc, uint32_t id) {
    const TensorState &ts = tensor(gc, id);
    std::size_t raw = kHeaderBytes + raw_payload(ts);
    if (gc.cfg.method == RAI_GC_NONE || (gc.cfg.method == RAI_GC_POWERSGD && ts.rank == 0)) return raw;
    const std::size_t c = kHeaderBytes + compressed_payload(gc, ts);
    return gc.cfg.warmup_steps > 0 ? std::max(raw, c) : c;
}

void check_grad(const rai_gc &gc, const TensorState &ts, const char *name, const rai_tensor *t) {
    TensorCheck c(name, t);
    c.on(*gc.ctx).dtype_in({dtype::f32, dtype::bf16}).contiguous();
    bool same = t->ndim == static_cast<int32_t>(ts.shape.size());
    for (std::size_t i = 0; same && i < ts.shape.size(); ++i) same = t->shape[i] == ts.shape[i];
    if (!same)
        fail(RAI_ERROR_SHAPE_MISMATCH, std::string(name) + ": shape " + c.shape_string() + ", tensor " +
                                           std::to_string(ts.id) + " was registered with shape " +
                                           format_shape(ts.shape.data(), static_cast<int32_t>(ts.shape.size())));
}

void device_input(const rai_gc &gc, const TensorState &ts, const void *grad, float *m, float *u_new) {
    const int32_t gdt = is_bf16(ts.dtype) ? RAICUDA_GC_BF16 : RAICUDA_GC_F32;
    const float *res = ts.residual.size() ? ts.residual.device() : nullptr;
    if (ts.velocity.size()) {
        GC_CUDA(gc, momentum_add(GC_DEV(gc), grad, gdt, ts.velocity.device(), gc.cfg.momentum, res, u_new, m, ts.numel,
                                 GC_ERR));
    } else {
        GC_CUDA(gc, ef_add(GC_DEV(gc), grad, gdt, res, m, ts.numel, GC_ERR));
    }
}

void commit_velocity(const rai_gc &gc, TensorState &ts, FloatBuf &u_new, const float *sent_mask) {
    if (!ts.velocity.size()) return;
    if (sent_mask) {
        if (gc.cuda) {
            GC_CUDA(gc, zero_where(GC_DEV(gc), sent_mask, u_new.device(), ts.numel, GC_ERR));
        } else {
            float *u = u_new.host();
            par::for_blocks(ts.numel, [&](std::size_t, std::size_t lo, std::size_t hi) {
                for (std::size_t i = lo; i < hi; ++i)
                    if (sent_mask[i] != 0.0f) u[i] = 0.0f;
            });
        }
    }
    std::swap(ts.velocity, u_new);
}

namespace {

void check_input_dtype(const TensorState &ts, const char *name, const rai_tensor *t) {
    if (!dtype::equal(t->dtype, ts.dtype))
        fail(RAI_ERROR_DTYPE_MISMATCH, std::string(name) + ": dtype " + dtype::describe(t->dtype) + ", tensor " +
                                           std::to_string(ts.id) + " was registered as " + dtype::describe(ts.dtype));
}

// M = grad + residual (or velocity + residual with momentum correction) on the device, and the
// new velocity in u_new (allocated here when momentum is on). Changes no state.
FloatBuf make_m(const rai_gc &gc, const TensorState &ts, const rai_tensor *grad, FloatBuf &u_new) {
    TensorCheck g("grad", grad);
    FloatBuf m;
    m.resize_device(gc.pool, gc.ctx->device.device_id, ts.numel);
    if (ts.velocity.size()) u_new.resize_device(gc.pool, gc.ctx->device.device_id, ts.numel);
    device_input(gc, ts, g.data(), m.device(), u_new.size() ? u_new.device() : nullptr);
    return m;
}

// The quality numbers need host values; on the device they come from dot3.
void record_quality_any(const rai_gc &gc, Stats &st, const FloatBuf &m, const FloatBuf &d, std::size_t n) {
    if (!(gc.cfg.flags & RAI_GC_MEASURE_QUALITY)) return;
    if (!gc.cuda) return record_quality(gc, st, m.host(), d.host(), n);
    double v[3];
    GC_CUDA(gc, dot3(GC_DEV(gc), m.device(), d.device(), n, v, GC_ERR));
    st.has_quality = true;
    st.dot = v[0], st.aa = v[1], st.bb = v[2];
    st.diff2 = std::max(0.0, v[1] - 2 * v[0] + v[2]);
    ++st.quality_samples;
}

// Builds the message for M (EF already added) and the local reconstruction; commits nothing.
struct Built {
    std::vector<uint8_t> msg;  // empty when built without a payload
    std::size_t size = 0;      // the message's size either way
    uint8_t enc = 0;           // its encoding
    FloatBuf dec;
    std::vector<float> q;
    bool has_q = false;
};

// The header of ts's current message, `size` bytes in all, in encoding `enc`.
Header message_header(const rai_gc &gc, const TensorState &ts, uint8_t enc, std::size_t size) {
    Header h;
    h.method = static_cast<uint8_t>(gc.cfg.method);
    h.encoding = enc;
    h.id = ts.id;
    h.tag = gc.tag;
    h.numel = ts.numel;
    h.step = ts.step;
    h.payload_bytes = static_cast<uint32_t>(size - kHeaderBytes);
    return h;
}

// On the device, `payload` false builds only the local reconstruction and the size (for
// rai_gc_apply); the message storage is the handle's, lent to b.msg (give it back with recycle).
Built build(const rai_gc &gc, const TensorState &ts, const FloatBuf &m, bool payload = true) {
    Built b;
    const uint8_t enc = method_encoding(gc, ts);
    const std::size_t size = current_message_size(gc, ts);
    const Header h = message_header(gc, ts, enc, size);
    b.size = size;
    b.enc = enc;
    if (payload || !gc.cuda) {
        b.msg.swap(gc.scratch_msg);  // kept between calls: no allocation, no page faults
        b.msg.resize(size);
        write_header(b.msg.data(), h);
    }
    std::vector<float> *qp = enc == kPsgdPQ ? &b.q : nullptr;
    if (gc.cuda) {
        b.dec.resize_device(gc.pool, gc.ctx->device.device_id, ts.numel);
        encode_cuda(gc, ts, m.device(), enc, b.msg.empty() ? nullptr : b.msg.data() + kHeaderBytes, b.dec.device(), qp);
    } else {
        encode_cpu(gc, ts, m.host(), enc, b.msg.data() + kHeaderBytes, qp);
        b.dec.resize_host(ts.numel);
        Parsed p;
        p.h = h;
        p.payload = b.msg.data() + kHeaderBytes;
        decode_cpu(gc, ts, p, b.dec.host());
    }
    b.has_q = qp != nullptr;
    return b;
}

// residual <- M - dec (EF update), the new velocity, step++, stats; no throw after the first
// state change except from the device (which leaves the residual as it was: the new one is
// computed into m first).
void commit(rai_gc &gc, TensorState &ts, FloatBuf &m, Built &b, FloatBuf &u_new) {
    record_quality_any(gc, ts.stats, m, b.dec, ts.numel);
    if (ts.residual.size()) {
        if (gc.cuda) {
            GC_CUDA(gc, sub(GC_DEV(gc), m.device(), b.dec.device(), m.device(), ts.numel, GC_ERR));
            std::swap(ts.residual, m);
        } else {
            float *mh = m.host();
            const float *dh = b.dec.host();
            for (std::size_t i = 0; i < ts.numel; ++i) mh[i] -= dh[i];
            std::swap(ts.residual, m);
        }
    }
    commit_velocity(gc, ts, u_new, b.enc == kTopk ? (gc.cuda ? b.dec.device() : b.dec.host()) : nullptr);
    if (b.has_q) ts.q = std::move(b.q);
    record_message(ts.stats, ts, b.size);
    ts.step++;
    ts.round = 0;
}

// Gives the message storage back to the handle for the next call.
void recycle(const rai_gc &gc, Built &b) {
    if (b.msg.capacity() >= gc.scratch_msg.capacity()) gc.scratch_msg.swap(b.msg);
}

void store_any(const rai_gc &gc, const rai_tensor *out, const FloatBuf &src) {
    TensorCheck t("grad_out", out);
    if (gc.cuda) {
        GC_CUDA(gc, store(GC_DEV(gc), src.device(), t.data(), is_bf16(out->dtype) ? RAICUDA_GC_BF16 : RAICUDA_GC_F32,
                          static_cast<std::size_t>(t.numel()), GC_ERR));
        cuda::check([&](raicuda_err *e) { return be().stream_synchronize(GC_DEV(gc), e); });
    } else {
        store_f32(t, src.host());
    }
}

FloatBuf decode_any(const rai_gc &gc, const TensorState &ts, const Parsed &p) {
    FloatBuf out;
    if (gc.cuda) {
        out.resize_device(gc.pool, gc.ctx->device.device_id, ts.numel);
        decode_cuda(gc, ts, p, out.device());
    } else {
        out.resize_host(ts.numel);
        decode_cpu(gc, ts, p, out.host());
    }
    return out;
}

void copy_out(const std::vector<uint8_t> &msg, void *out, std::size_t capacity, std::size_t *written) {
    bool query = false;
    check_capacity(out, capacity, msg.size(), written, &query);
    if (query) return;
    std::memcpy(out, msg.data(), msg.size());
    *written = msg.size();
}

}  // namespace

namespace {

// The CPU step's input: m = grad + residual, or with momentum correction the new velocity
// u_new = mu*u + grad in gc.scratch_u (numel floats) and m = u_new + residual. Changes no state.
void cpu_input(const rai_gc &gc, const TensorState &ts, const rai_tensor *grad, float *m) {
    const std::size_t n = ts.numel;
    const TensorCheck g("grad", grad);
    if (ts.velocity.size()) {
        gc.scratch_u.resize(n);
        load_f32(g, m);
        const float mu = gc.cfg.momentum;
        const float *u = ts.velocity.host(), *r = ts.residual.host();
        float *un = gc.scratch_u.data();
        par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) {
            for (std::size_t i = lo; i < hi; ++i) {
                un[i] = momentum_step(mu, u[i], m[i]);
                m[i] = un[i] + r[i];
            }
        });
    } else if (!is_bf16(ts.dtype)) {
        ef_add_blocked(static_cast<const float *>(g.data()), ts.residual.size() ? ts.residual.host() : nullptr, m, n);
    } else {
        load_f32(g, m);
        if (ts.residual.size()) ef_add_blocked(m, ts.residual.host(), m, n);
    }
}

// The CPU path of a compression step, without temporaries beyond the handle's scratch: writes
// the message (current_message_size bytes) to dst and, when EF, quality measurement or the
// caller (want_dec) needs it, decodes the local reconstruction into gc.scratch_dec. State is
// committed only after everything that can fail.
void compress_cpu(rai_gc &gc, TensorState &ts, const rai_tensor *grad, uint8_t *dst, bool want_dec) {
    const std::size_t n = ts.numel;
    if (gc.scratch_m.size() < n) gc.scratch_m.resize(n);
    float *m = gc.scratch_m.data();
    cpu_input(gc, ts, grad, m);
    const uint8_t enc = method_encoding(gc, ts);
    const std::size_t size = current_message_size(gc, ts);
    const Header h = message_header(gc, ts, enc, size);
    write_header(dst, h);
    std::vector<float> q;
    encode_cpu(gc, ts, m, enc, dst + kHeaderBytes, enc == kPsgdPQ ? &q : nullptr);
    const bool measure = (gc.cfg.flags & RAI_GC_MEASURE_QUALITY) != 0;
    if (want_dec || measure || ts.residual.size()) {
        if (gc.scratch_dec.size() < n) gc.scratch_dec.resize(n);
        float *d = gc.scratch_dec.data();
        Parsed p;
        p.h = h;
        p.payload = dst + kHeaderBytes;
        decode_cpu(gc, ts, p, d);
        record_quality(gc, ts.stats, m, d, n);
        if (ts.residual.size()) {
            float *r = ts.residual.host();
            par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) {
                for (std::size_t i = lo; i < hi; ++i) r[i] = m[i] - d[i];
            });
        }
        if (ts.velocity.size()) {  // the handle's scratch becomes the state; the old velocity the scratch
            FloatBuf un;
            un.adopt_host(std::move(gc.scratch_u));
            commit_velocity(gc, ts, un, enc == kTopk ? d : nullptr);
            gc.scratch_u = std::move(un.host_vector());
        }
    }
    if (enc == kPsgdPQ) ts.q = std::move(q);
    record_message(ts.stats, ts, size);
    ts.step++;
    ts.round = 0;
}

// One compression step on the device: M = grad + residual, the message (in the handle's buffer,
// lent to the result: give it back with recycle) and the committed state.
Built compress_cuda(rai_gc &gc, TensorState &ts, const rai_tensor *grad) {
    FloatBuf u_new;
    FloatBuf m = make_m(gc, ts, grad, u_new);
    Built b = build(gc, ts, m);
    commit(gc, ts, m, b, u_new);
    return b;
}

}  // namespace

std::vector<uint8_t> compress_to_vector(rai_gc &gc, uint32_t id, const rai_tensor *grad) {
    TensorState &ts = tensor(gc, id);
    check_grad(gc, ts, "grad", grad);
    check_input_dtype(ts, "grad", grad);
    if (!gc.cuda) {
        std::vector<uint8_t> msg(current_message_size(gc, ts));
        compress_cpu(gc, ts, grad, msg.data(), false);
        return msg;
    }
    return std::move(compress_cuda(gc, ts, grad).msg);
}

void compress(rai_gc &gc, uint32_t id, const rai_tensor *grad, void *out, std::size_t capacity, std::size_t *written) {
    TensorState &ts = tensor(gc, id);
    check_grad(gc, ts, "grad", grad);
    check_input_dtype(ts, "grad", grad);
    bool query = false;
    const std::size_t size = current_message_size(gc, ts);
    check_capacity(out, capacity, size, written, &query);
    if (query) return;
    if (!gc.cuda) {
        compress_cpu(gc, ts, grad, static_cast<uint8_t *>(out), false);
        *written = size;
        return;
    }
    Built b = compress_cuda(gc, ts, grad);
    std::memcpy(out, b.msg.data(), size);
    *written = size;
    recycle(gc, b);
}

void decompress(rai_gc &gc, uint32_t id, const void *msg, std::size_t len, rai_tensor *grad_out) {
    TensorState &ts = tensor(gc, id);
    check_grad(gc, ts, "grad_out", grad_out);
    const Parsed p = parse(gc, ts, msg, len, "message");
    if (!gc.cuda) {
        TensorCheck out("grad_out", grad_out);
        if (is_bf16(grad_out->dtype)) {
            if (gc.scratch_dec.size() < ts.numel) gc.scratch_dec.resize(ts.numel);
            decode_cpu(gc, ts, p, gc.scratch_dec.data());
            store_f32(out, gc.scratch_dec.data());
        } else {
            decode_cpu(gc, ts, p, static_cast<float *>(out.data()));  // throws before writing
        }
    } else {
        FloatBuf d = decode_any(gc, ts, p);
        store_any(gc, grad_out, d);
    }
    if (p.h.encoding == kPsgdQ) {  // completes the two-round exchange: Q_sum is the next warm start
        ts.q.assign(ts.cols * std::size_t{ts.rank}, 0.0f);
        std::memcpy(ts.q.data(), p.payload + 12, 4 * ts.q.size());
        ts.round = 0;
        ts.round_p.clear();
    }
}

void apply(rai_gc &gc, uint32_t id, rai_tensor *grad_inout) {
    TensorState &ts = tensor(gc, id);
    check_grad(gc, ts, "grad_inout", grad_inout);
    check_input_dtype(ts, "grad_inout", grad_inout);
    if (!gc.cuda) {
        gc.scratch_msg.resize(current_message_size(gc, ts));
        compress_cpu(gc, ts, grad_inout, gc.scratch_msg.data(), true);
        store_f32(TensorCheck("grad_inout", grad_inout), gc.scratch_dec.data());
        return;
    }
    // CUDA: the output is what a receiver decodes from the message: store it, then commit the state.
    FloatBuf u_new;
    FloatBuf m = make_m(gc, ts, grad_inout, u_new);
    Built b = build(gc, ts, m, false);
    TensorCheck t("grad_inout", grad_inout);
    GC_CUDA(gc, store(GC_DEV(gc), b.dec.device(), t.data(), is_bf16(ts.dtype) ? RAICUDA_GC_BF16 : RAICUDA_GC_F32,
                      ts.numel, GC_ERR));
    commit(gc, ts, m, b, u_new);
    cuda::check([&](raicuda_err *e) { return be().stream_synchronize(GC_DEV(gc), e); });
}

// ---------------------------------------------------------------- reduce
namespace {
// The peers' messages of one step, each checked (before anything is written anywhere).
std::vector<Parsed> parse_peers(const rai_gc &gc, const TensorState &ts, const std::vector<const uint8_t *> &msgs,
                                const std::vector<std::size_t> &lens) {
    require(!msgs.empty(), RAI_ERROR_INVALID_ARGUMENT, "count must be at least 1");
    std::vector<Parsed> ps;
    for (std::size_t i = 0; i < msgs.size(); ++i) {
        const std::string name = "messages[" + std::to_string(i) + "]";
        ps.push_back(parse(gc, ts, msgs[i], lens[i], name.c_str()));
        if (ps[i].h.step != ps[0].h.step)
            fail(RAI_ERROR_INVALID_ARGUMENT, name + ": step " + std::to_string(ps[i].h.step) + ", messages[0] is step " +
                                                 std::to_string(ps[0].h.step) + " (peers must reduce the same step)");
    }
    return ps;
}
}  // namespace

std::vector<uint8_t> reduce_to_vector(const rai_gc &gc, uint32_t id, const std::vector<const uint8_t *> &msgs,
                                      const std::vector<std::size_t> &lens) {
    const TensorState &ts = tensor(gc, id);
    const std::vector<Parsed> ps = parse_peers(gc, ts, msgs, lens);
    uint32_t peers = 0;
    bool same_enc = true;
    for (std::size_t i = 0; i < ps.size(); ++i) {
        same_enc = same_enc && ps[i].h.encoding == ps[0].h.encoding;
        require(uint64_t{peers} + ps[i].h.peers < 0xFFFFFFFFull, RAI_ERROR_OUT_OF_RANGE, "too many peers");
        peers += ps[i].h.peers;
    }
    const std::size_t n = ts.numel;
    Header h = ps[0].h;
    h.peers = peers;
    std::vector<uint8_t> payload;
    const uint8_t enc = same_enc ? ps[0].h.encoding : 0;
    if (enc == kTopk) {
        // Union of the sorted index lists with summed values (k-way merge via a dense map is
        // simpler and exact: values are summed in peer order).
        std::vector<float> acc;
        std::vector<uint32_t> idx;
        std::vector<uint8_t> seen;
        acc.assign(n, 0.0f);
        seen.assign(n, 0);
        for (const Parsed &p : ps) {
            const uint32_t k = get<uint32_t>(p.payload);
            for (uint32_t j = 0; j < k; ++j) {
                const uint32_t i = get<uint32_t>(p.payload + 4 + 4 * j);
                acc[i] += get<float>(p.payload + 4 + 4 * std::size_t{k} + 4 * j);
                if (!seen[i]) seen[i] = 1, idx.push_back(i);
            }
        }
        std::sort(idx.begin(), idx.end());
        const std::size_t k = idx.size();
        payload.resize(4 + 8 * k);
        put<uint32_t>(payload.data(), static_cast<uint32_t>(k));
        for (std::size_t j = 0; j < k; ++j) {
            put<uint32_t>(payload.data() + 4 + 4 * j, idx[j]);
            put<float>(payload.data() + 4 + 4 * k + 4 * j, acc[idx[j]]);
        }
    } else if (enc == kSign) {
        // Majority vote: sign of the sum of the peers' signs (ties 0), scaled by the sum of the
        // peers' scales; unanimous peers give exactly the sum of their decoded messages.
        h.encoding = kTernary;
        payload.assign(4 + ceil_div(n, 4), 0);
        double scale = 0;
        for (const Parsed &p : ps) scale += get<float>(p.payload);
        put<float>(payload.data(), static_cast<float>(scale));
        par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) {  // blocks own whole bytes
            for (std::size_t i = lo; i < hi; ++i) {
                int64_t vote = 0;
                for (const Parsed &p : ps) vote += ((p.payload[4 + i / 8] >> (i % 8)) & 1) ? -1 : 1;
                const uint32_t t = vote > 0 ? kTritPlus : (vote < 0 ? kTritMinus : kTritZero);
                payload[4 + i / 4] |= static_cast<uint8_t>(t << (2 * (i % 4)));
            }
        });
    } else if (enc == kPsgdPQ) {
        // Sum of P_i Q_i^T = [P_1 .. P_k][Q_1 .. Q_k]^T: concatenate along the rank.
        uint64_t rt = 0;
        for (const Parsed &p : ps) rt += get<uint32_t>(p.payload + 8);
        require(rt * (uint64_t{ts.rows} + ts.cols) * 4 + 12 < 0xFFFFFFFFull, RAI_ERROR_OUT_OF_RANGE,
                "reduced PowerSGD message too large; reduce in smaller groups");
        const uint32_t R = static_cast<uint32_t>(rt);
        payload.assign(12 + 4 * (std::size_t{ts.rows} + ts.cols) * R, 0);
        put<uint32_t>(payload.data(), ts.rows);
        put<uint32_t>(payload.data() + 4, ts.cols);
        put<uint32_t>(payload.data() + 8, R);
        uint8_t *P = payload.data() + 12, *Q = P + 4 * std::size_t{ts.rows} * R;
        uint32_t off = 0;
        for (const Parsed &p : ps) {
            const uint32_t r = get<uint32_t>(p.payload + 8);
            const uint8_t *pp = p.payload + 12, *pq = pp + 4 * std::size_t{ts.rows} * r;
            for (uint32_t i = 0; i < ts.rows; ++i)
                std::memcpy(P + 4 * (std::size_t{i} * R + off), pp + 4 * std::size_t{i} * r, 4 * r);
            for (uint32_t j = 0; j < ts.cols; ++j)
                std::memcpy(Q + 4 * (std::size_t{j} * R + off), pq + 4 * std::size_t{j} * r, 4 * r);
            off += r;
        }
    } else if (enc == kPsgdP || enc == kPsgdQ) {
        const std::size_t cnt = (enc == kPsgdP ? std::size_t{ts.rows} : std::size_t{ts.cols}) * ts.rank;
        payload.assign(12 + 4 * cnt, 0);
        std::memcpy(payload.data(), ps[0].payload, 12);
        std::vector<float> acc(cnt, 0.0f);
        for (const Parsed &p : ps)
            for (std::size_t i = 0; i < cnt; ++i) acc[i] += get<float>(p.payload + 12 + 4 * i);
        std::memcpy(payload.data() + 12, acc.data(), 4 * cnt);
    } else {
        // Dense sum of the decoded messages (raw, ternary, qsgd, vsa, or a mixture).
        for (const Parsed &p : ps)
            if (p.h.encoding == kPsgdP || p.h.encoding == kPsgdQ)
                fail(RAI_ERROR_INVALID_ARGUMENT, "messages: PowerSGD round messages reduce only with their own round");
        h.encoding = kRawF32;
        std::vector<float> acc(n, 0.0f), tmp(n);
        for (const Parsed &p : ps) {  // each element summed in peer order
            decode_cpu(gc, ts, p, tmp.data());
            par::for_blocks(n, [&](std::size_t, std::size_t lo, std::size_t hi) {
                for (std::size_t i = lo; i < hi; ++i) acc[i] += tmp[i];
            });
        }
        payload.resize(4 * n);
        std::memcpy(payload.data(), acc.data(), 4 * n);
    }
    require(payload.size() < 0xFFFFFFFFull, RAI_ERROR_OUT_OF_RANGE, "reduced message too large");
    h.payload_bytes = static_cast<uint32_t>(payload.size());
    std::vector<uint8_t> msg(kHeaderBytes + payload.size());
    write_header(msg.data(), h);
    std::memcpy(msg.data() + kHeaderBytes, payload.data(), payload.size());
    return msg;
}

void reduce(const rai_gc &gc, uint32_t id, const void *const *msgs, const std::size_t *lens, std::size_t count,
            void *out, std::size_t capacity, std::size_t *written) {
    tensor(gc, id);
    require_not_null(written, "written");
    require(count >= 1, RAI_ERROR_INVALID_ARGUMENT, "count must be at least 1");
    require_not_null(msgs, "messages");
    require_not_null(lens, "lengths");
    std::vector<const uint8_t *> m(count);
    std::vector<std::size_t> l(lens, lens + count);
    for (std::size_t i = 0; i < count; ++i) m[i] = static_cast<const uint8_t *>(msgs[i]);
    copy_out(reduce_to_vector(gc, id, m, l), out, capacity, written);
}

void combine_gathered(rai_gc &gc, uint32_t id, const std::vector<const uint8_t *> &msgs,
                      const std::vector<std::size_t> &lens, bool sum_decoded, rai_tensor *grad) {
    if (!sum_decoded) {
        const std::vector<uint8_t> reduced = reduce_to_vector(gc, id, msgs, lens);
        decompress(gc, id, reduced.data(), reduced.size(), grad);
        return;
    }
    TensorState &ts = tensor(gc, id);
    check_grad(gc, ts, "grad_inout", grad);
    const std::vector<Parsed> ps = parse_peers(gc, ts, msgs, lens);
    for (std::size_t i = 0; i < ps.size(); ++i)
        if (ps[i].h.encoding == kPsgdP || ps[i].h.encoding == kPsgdQ)
            fail(RAI_ERROR_INVALID_ARGUMENT, "messages[" + std::to_string(i) + "]: a " + encoding_name(ps[i].h.encoding) +
                                                 " message is summed by its all-reduce, not decoded alone");
    FloatBuf sum = decode_any(gc, ts, ps[0]);
    for (std::size_t i = 1; i < ps.size(); ++i) {
        const FloatBuf d = decode_any(gc, ts, ps[i]);
        if (gc.cuda) {  // sum <- d + sum
            GC_CUDA(gc, ef_add(GC_DEV(gc), d.device(), RAICUDA_GC_F32, sum.device(), sum.device(), ts.numel, GC_ERR));
        } else {
            float *acc = sum.host();
            const float *di = d.host();
            for (std::size_t j = 0; j < ts.numel; ++j) acc[j] += di[j];
        }
    }
    store_any(gc, grad, sum);
}

// ---------------------------------------------------------------- PowerSGD two rounds
std::size_t factor_offset() { return kHeaderBytes + 12; }

namespace {
void require_powersgd(const rai_gc &gc) {
    require(gc.cfg.method == RAI_GC_POWERSGD, RAI_ERROR_INVALID_ARGUMENT,
            std::string("the two-round protocol is for POWERSGD; this compressor uses ") + method_name(gc.cfg.method));
}
}  // namespace

std::vector<uint8_t> powersgd_p_vector(rai_gc &gc, uint32_t id, const rai_tensor *grad) {
    require_powersgd(gc);
    TensorState &ts = tensor(gc, id);
    check_grad(gc, ts, "grad", grad);
    check_input_dtype(ts, "grad", grad);
    if (sends_raw(gc, ts)) return compress_to_vector(gc, id, grad);
    FloatBuf u_new;
    FloatBuf m;
    if (gc.cuda) {
        m = make_m(gc, ts, grad, u_new);
    } else {  // the CPU step's input (M in the handle's scratch, the new velocity in scratch_u)
        m.resize_host(ts.numel);
        cpu_input(gc, ts, grad, m.host());
        if (ts.velocity.size()) u_new.adopt_host(std::move(gc.scratch_u));
    }
    const std::size_t cnt = std::size_t{ts.rows} * ts.rank;
    const Header h = message_header(gc, ts, kPsgdP, kHeaderBytes + 12 + 4 * cnt);  // method is POWERSGD here
    std::vector<uint8_t> msg(kHeaderBytes + h.payload_bytes);
    write_header(msg.data(), h);
    uint8_t *pl = msg.data() + kHeaderBytes;
    put<uint32_t>(pl, ts.rows);
    put<uint32_t>(pl + 4, ts.cols);
    put<uint32_t>(pl + 8, ts.rank);
    if (gc.cuda) {
        DeviceScratch dQ(gc, 4 * ts.q.size()), dP(gc, 4 * cnt);
        h2d(gc, dQ.as<void>(), ts.q.data(), 4 * ts.q.size());
        GC_CUDA(gc, gemm(GC_DEV(gc), 0, 0, ts.rows, ts.rank, ts.cols, m.device(), dQ.as<float>(), dP.as<float>(), GC_ERR));
        d2h(gc, pl + 12, dP.as<void>(), 4 * cnt);
    } else {
        std::vector<float> P(cnt);
        matmul_mq(m.host(), ts.q.data(), P.data(), ts.rows, ts.cols, ts.rank);
        std::memcpy(pl + 12, P.data(), 4 * cnt);
    }
    ts.round_m = std::move(m);
    ts.round_u = std::move(u_new);
    ts.round = 1;
    ts.round_step = ts.step;
    return msg;
}

std::vector<uint8_t> powersgd_q_vector(rai_gc &gc, uint32_t id, const uint8_t *p_sum, std::size_t len) {
    require_powersgd(gc);
    TensorState &ts = tensor(gc, id);
    const Parsed p = parse(gc, ts, p_sum, len, "p_sum");
    if (p.h.encoding == kRawF32 || p.h.encoding == kRawBf16) return {};  // raw: no second round
    if (p.h.encoding != kPsgdP)
        fail(RAI_ERROR_INVALID_ARGUMENT, std::string("p_sum: a ") + encoding_name(p.h.encoding) +
                                             " message, expected a summed PowerSGD P-round message");
    if (ts.round != 1 || ts.round_step != p.h.step)
        fail(RAI_ERROR_INVALID_ARGUMENT, "p_sum: no open PowerSGD round at step " + std::to_string(p.h.step) +
                                             " (call rai_gc_powersgd_p first)");
    const uint32_t rows = ts.rows, cols = ts.cols, r = ts.rank;
    std::vector<float> P(std::size_t{rows} * r), Q(std::size_t{cols} * r);
    std::memcpy(P.data(), p.payload + 12, 4 * P.size());
    orthogonalize(P.data(), rows, r);
    Header h = p.h;
    h.encoding = kPsgdQ;
    h.peers = 1;
    h.payload_bytes = static_cast<uint32_t>(12 + 4 * Q.size());
    std::vector<uint8_t> msg(kHeaderBytes + h.payload_bytes);
    write_header(msg.data(), h);
    uint8_t *pl = msg.data() + kHeaderBytes;
    put<uint32_t>(pl, rows);
    put<uint32_t>(pl + 4, cols);
    put<uint32_t>(pl + 8, r);
    // Q_i = M^T P and the EF residual M - P Q_i^T (the local reconstruction).
    Built b;
    if (gc.cuda) {
        DeviceScratch dP(gc, 4 * P.size()), dQ(gc, 4 * Q.size());
        h2d(gc, dP.as<void>(), P.data(), 4 * P.size());
        GC_CUDA(gc, gemm(GC_DEV(gc), 1, 0, cols, r, rows, ts.round_m.device(), dP.as<float>(), dQ.as<float>(), GC_ERR));
        d2h(gc, Q.data(), dQ.as<void>(), 4 * Q.size());
        b.dec.resize_device(gc.pool, gc.ctx->device.device_id, ts.numel);
        GC_CUDA(gc, gemm(GC_DEV(gc), 0, 1, rows, cols, r, dP.as<float>(), dQ.as<float>(), b.dec.device(), GC_ERR));
    } else {
        matmul_mtp(ts.round_m.host(), P.data(), Q.data(), rows, cols, r);
        b.dec.resize_host(ts.numel);
        matmul_pqt(P.data(), Q.data(), b.dec.host(), rows, cols, r, false);
    }
    std::memcpy(pl + 12, Q.data(), 4 * Q.size());
    b.size = msg.size() + factor_offset() + 4 * P.size();  // the stats count what both rounds sent
    FloatBuf m = std::move(ts.round_m);
    FloatBuf u_new = std::move(ts.round_u);
    const uint64_t step = ts.step;
    commit(gc, ts, m, b, u_new);  // residual, stats, step++ (keeps the warm start until the Q sum arrives)
    ts.round = 2;
    ts.round_step = step;
    ts.round_p = std::move(P);
    return msg;
}

void powersgd_p(rai_gc &gc, uint32_t id, const rai_tensor *grad, void *out, std::size_t capacity,
                std::size_t *written) {
    require_powersgd(gc);
    TensorState &ts = tensor(gc, id);
    check_grad(gc, ts, "grad", grad);
    check_input_dtype(ts, "grad", grad);
    const std::size_t need = sends_raw(gc, ts) ? current_message_size(gc, ts)
                                               : kHeaderBytes + 12 + 4 * std::size_t{ts.rows} * ts.rank;
    bool query = false;
    check_capacity(out, capacity, need, written, &query);
    if (query) return;
    const std::vector<uint8_t> msg = powersgd_p_vector(gc, id, grad);
    std::memcpy(out, msg.data(), msg.size());
    *written = msg.size();
}

void powersgd_q(rai_gc &gc, uint32_t id, const void *p_sum, std::size_t len, void *out, std::size_t capacity,
                std::size_t *written) {
    require_powersgd(gc);
    TensorState &ts = tensor(gc, id);
    require_not_null(written, "written");
    const Parsed p = parse(gc, ts, p_sum, len, "p_sum");
    const bool raw = p.h.encoding == kRawF32 || p.h.encoding == kRawBf16;
    const std::size_t need = raw ? 0 : kHeaderBytes + 12 + 4 * std::size_t{ts.cols} * ts.rank;
    if (raw) {
        *written = 0;
        return;
    }
    bool query = false;
    check_capacity(out, capacity, need, written, &query);
    if (query) return;
    const std::vector<uint8_t> msg = powersgd_q_vector(gc, id, static_cast<const uint8_t *>(p_sum), len);
    std::memcpy(out, msg.data(), msg.size());
    *written = msg.size();
}

// ---------------------------------------------------------------- stats
namespace {
double residual_sq(const rai_gc &gc, const TensorState &ts) {
    if (!ts.residual.size()) return 0.0;
    if (gc.cuda) {
        double v[5];
        GC_CUDA(gc, stats(GC_DEV(gc), ts.residual.device(), ts.numel, 0.0f, v, GC_ERR));
        return v[1];
    }
    double a = 0, s = 0;
    kern::kernels().abs_stats(ts.residual.host(), ts.numel, &a, &s);
    return s;
}
}  // namespace

void get_stats(const rai_gc &gc, uint32_t id, rai_gc_stats *out) {
    require_not_null(out, "out");
    require(out->struct_size >= offsetof(rai_gc_stats, quality_samples) + sizeof(uint64_t), RAI_ERROR_STRUCT_SIZE,
            "out->struct_size is " + std::to_string(out->struct_size) + " (use rai_gc_stats_init)");
    std::vector<const TensorState *> list;
    if (id == RAI_GC_ALL_TENSORS) {
        for (const TensorState &t : gc.tensors) list.push_back(&t);
    } else {
        list.push_back(&tensor(gc, id));
    }
    rai_gc_stats s{};
    s.struct_size = out->struct_size;
    double dot = 0, aa = 0, bb = 0, df = 0, ef = 0;
    bool q = false;
    for (const TensorState *t : list) {
        s.steps += t->stats.steps;
        s.params += t->stats.params;
        s.bits_in += t->stats.bits_in;
        s.bits_out += t->stats.bits_out;
        s.quality_samples += t->stats.quality_samples;
        if (t->stats.has_quality) {
            q = true;
            dot += t->stats.dot, aa += t->stats.aa, bb += t->stats.bb, df += t->stats.diff2;
        }
        ef += residual_sq(gc, *t);
    }
    s.bits_per_param = s.params ? static_cast<double>(s.bits_out) / static_cast<double>(s.params) : 0.0;
    s.last_cosine = q && aa > 0 && bb > 0 ? dot / std::sqrt(aa * bb) : 0.0;
    s.last_rel_error = q && aa > 0 ? std::sqrt(df / aa) : 0.0;
    s.ef_norm = std::sqrt(ef);
    std::memcpy(out, &s, std::min<std::size_t>(out->struct_size, sizeof s));
}

void reset_stats(rai_gc &gc) {
    for (TensorState &t : gc.tensors) t.stats = Stats{};
}

// ---------------------------------------------------------------- state save / load
namespace {
constexpr std::size_t kStateHeader = 24;

std::size_t tensor_state_bytes(const TensorState &ts) {
    return 8 + 4 + 4 + 8 * ts.shape.size() + 8 + 8 + 4 * ts.residual.size() + 8 + 4 * ts.velocity.size() + 8 +
           4 * ts.q.size();
}
}  // namespace

std::size_t state_size(const rai_gc &gc) {
    std::size_t n = kStateHeader;
    for (const TensorState &t : gc.tensors) n += tensor_state_bytes(t);
    return n;
}

void state_save(const rai_gc &gc, void *out, std::size_t capacity, std::size_t *written) {
    const std::size_t need = state_size(gc);
    bool query = false;
    check_capacity(out, capacity, need, written, &query);
    if (query) return;
    std::vector<uint8_t> buf(need);
    uint8_t *p = buf.data();
    put<uint32_t>(p, kStateMagic);
    put<uint16_t>(p + 4, kStateVersion);
    put<uint16_t>(p + 6, 0);
    put<uint32_t>(p + 8, gc.tag);
    put<uint32_t>(p + 12, static_cast<uint32_t>(gc.cfg.method));
    put<uint32_t>(p + 16, static_cast<uint32_t>(gc.tensors.size()));
    put<uint32_t>(p + 20, gc.cfg.error_feedback ? 1u : 0u);
    p += kStateHeader;
    for (const TensorState &t : gc.tensors) {
        put<uint64_t>(p, t.numel);
        put<uint32_t>(p + 8, static_cast<uint32_t>(t.dtype.code) | (static_cast<uint32_t>(t.dtype.bits) << 8));
        put<uint32_t>(p + 12, static_cast<uint32_t>(t.shape.size()));
        p += 16;
        for (int64_t d : t.shape) put<int64_t>(p, d), p += 8;
        put<uint64_t>(p, t.step);
        put<uint64_t>(p + 8, t.residual.size());
        p += 16;
        auto floats = [&](const FloatBuf &f) {  // residual and velocity
            if (!f.size()) return;
            if (gc.cuda) d2h(gc, p, f.device(), 4 * f.size());
            else std::memcpy(p, f.host(), 4 * f.size());
            p += 4 * f.size();
        };
        floats(t.residual);
        put<uint64_t>(p, t.velocity.size());  // since state version 2
        p += 8;
        floats(t.velocity);
        put<uint32_t>(p, t.cols);
        put<uint32_t>(p + 4, t.rank);
        p += 8;
        std::memcpy(p, t.q.data(), 4 * t.q.size());
        p += 4 * t.q.size();
    }
    std::memcpy(out, buf.data(), need);
    *written = need;
}

void state_load(rai_gc &gc, const void *data, std::size_t len) {
    require_not_null(data, "data");
    const auto *b = static_cast<const uint8_t *>(data);
    auto need = [&](std::size_t off, std::size_t n) {
        if (off + n > len) fail(RAI_ERROR_FORMAT, "data: truncated state (" + std::to_string(len) + " bytes)");
    };
    need(0, kStateHeader);
    if (get<uint32_t>(b) != kStateMagic) fail(RAI_ERROR_FORMAT, "data: not a rai_gc state (bad magic)");
    const uint16_t version = get<uint16_t>(b + 4);
    if (version < 1 || version > kStateVersion)
        fail(RAI_ERROR_FORMAT, "data: state version " + std::to_string(version) + ", this rai reads 1 to " +
                                   std::to_string(kStateVersion));
    if (get<uint32_t>(b + 12) != static_cast<uint32_t>(gc.cfg.method) || get<uint32_t>(b + 8) != gc.tag)
        fail(RAI_ERROR_FORMAT, "data: state of a compressor with another method, parameters or seed");
    if (get<uint32_t>(b + 20) != (gc.cfg.error_feedback ? 1u : 0u))
        fail(RAI_ERROR_FORMAT, "data: state saved with error feedback " +
                                   std::string(get<uint32_t>(b + 20) ? "on" : "off") + ", this compressor has it " +
                                   (gc.cfg.error_feedback ? "on" : "off"));
    if (get<uint32_t>(b + 16) != gc.tensors.size())
        fail(RAI_ERROR_SHAPE_MISMATCH, "data: state of " + std::to_string(get<uint32_t>(b + 16)) + " tensors, " +
                                           std::to_string(gc.tensors.size()) + " registered");
    // Parse everything first; commit only when all of it is valid.
    struct Loaded {
        uint64_t step;
        std::vector<float> residual, velocity, q;
    };
    std::vector<Loaded> loaded;
    std::size_t off = kStateHeader;
    for (const TensorState &t : gc.tensors) {
        const std::string who = "data: tensor " + std::to_string(t.id);
        need(off, 16);
        const uint64_t numel = get<uint64_t>(b + off);
        const uint32_t dt = get<uint32_t>(b + off + 8), nd = get<uint32_t>(b + off + 12);
        off += 16;
        need(off, 8 * std::size_t{nd});
        bool same = numel == t.numel && nd == t.shape.size() &&
                    dt == (static_cast<uint32_t>(t.dtype.code) | (static_cast<uint32_t>(t.dtype.bits) << 8));
        for (uint32_t i = 0; same && i < nd; ++i) same = get<int64_t>(b + off + 8 * i) == t.shape[i];
        if (!same) fail(RAI_ERROR_SHAPE_MISMATCH, who + " was saved with another shape or dtype");
        off += 8 * std::size_t{nd};
        need(off, 16);
        Loaded L;
        L.step = get<uint64_t>(b + off);
        const uint64_t nres = get<uint64_t>(b + off + 8);
        off += 16;
        if (nres != t.residual.size()) fail(RAI_ERROR_FORMAT, who + ": residual size differs");
        need(off, 4 * nres);
        L.residual.resize(nres);
        std::memcpy(L.residual.data(), b + off, 4 * nres);
        off += 4 * nres;
        uint64_t nvel = 0;  // version 1 states predate momentum correction
        if (version >= 2) {
            need(off, 8);
            nvel = get<uint64_t>(b + off);
            off += 8;
        }
        if (nvel != t.velocity.size())
            fail(RAI_ERROR_FORMAT, who + ": saved " + (nvel ? "with" : "without") +
                                       " a momentum-correction velocity, this compressor has " +
                                       (t.velocity.size() ? "one" : "none"));
        need(off, 4 * nvel);
        L.velocity.resize(nvel);
        std::memcpy(L.velocity.data(), b + off, 4 * nvel);
        off += 4 * nvel;
        need(off, 8);
        if (get<uint32_t>(b + off) != t.cols || get<uint32_t>(b + off + 4) != t.rank)
            fail(RAI_ERROR_FORMAT, who + ": PowerSGD factor shape differs");
        off += 8;
        need(off, 4 * t.q.size());
        L.q.resize(t.q.size());
        std::memcpy(L.q.data(), b + off, 4 * t.q.size());
        off += 4 * t.q.size();
        loaded.push_back(std::move(L));
    }
    if (off != len) fail(RAI_ERROR_FORMAT, "data: " + std::to_string(len - off) + " trailing bytes");
    if (gc.cuda) {  // device copies may fail: stage all first
        std::vector<FloatBuf> res(gc.tensors.size()), vel(gc.tensors.size());
        auto stage = [&](FloatBuf &dst, const std::vector<float> &src) {
            if (src.empty()) return;
            dst.resize_device(gc.pool, gc.ctx->device.device_id, src.size());
            h2d(gc, dst.device(), src.data(), 4 * src.size());
        };
        for (std::size_t i = 0; i < gc.tensors.size(); ++i) {
            stage(res[i], loaded[i].residual);
            stage(vel[i], loaded[i].velocity);
        }
        for (std::size_t i = 0; i < gc.tensors.size(); ++i) {
            if (res[i].size()) std::swap(gc.tensors[i].residual, res[i]);
            if (vel[i].size()) std::swap(gc.tensors[i].velocity, vel[i]);
        }
    } else {
        for (std::size_t i = 0; i < gc.tensors.size(); ++i) {
            if (!loaded[i].residual.empty()) gc.tensors[i].residual.adopt_host(std::move(loaded[i].residual));
            if (!loaded[i].velocity.empty()) gc.tensors[i].velocity.adopt_host(std::move(loaded[i].velocity));
        }
    }
    for (std::size_t i = 0; i < gc.tensors.size(); ++i) {
        gc.tensors[i].step = loaded[i].step;
        gc.tensors[i].q = std::move(loaded[i].q);
        gc.tensors[i].round = 0;
    }
}

void scale_tensor(rai_gc &gc, const rai_tensor *t, float scale) {
    TensorCheck c("grad_inout", t);
    const std::size_t n = static_cast<std::size_t>(c.numel());
    if (gc.cuda) {
        FloatBuf tmp;
        tmp.resize_device(gc.pool, gc.ctx->device.device_id, n);
        GC_CUDA(gc, ef_add(GC_DEV(gc), c.data(), is_bf16(t->dtype) ? RAICUDA_GC_BF16 : RAICUDA_GC_F32, nullptr,
                           tmp.device(), n, GC_ERR));
        std::vector<float> h(n);
        d2h(gc, h.data(), tmp.device(), 4 * n);
        for (float &v : h) v *= scale;
        h2d(gc, tmp.device(), h.data(), 4 * n);
        store_any(gc, t, tmp);
        return;
    }
    std::vector<float> h(n);
    load_f32(c, h.data());
    for (float &v : h) v *= scale;
    store_f32(c, h.data());
}

}  // namespace rai::gc
