// Packed ternary layouts: trit-vsa planes, tritter-accel BYTE2, bitnet-quantize U32_16,
// bitnet.cpp I2_S (x86) and llama.cpp TQ1_0 / TQ2_0, bit for bit. Host memory only.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "../../core/dtype.h"
#include "../../core/error.h"
#include "bitnet.h"
#include "../../core/half.h"

namespace rai::bitnet {

namespace {

constexpr int64_t kI2sBlock = 128;

const char *layout_name(int32_t layout) {
    switch (layout) {
    case RAI_TERNARY_LAYOUT_PLANES: return "PLANES";
    case RAI_TERNARY_LAYOUT_BYTE2: return "BYTE2";
    case RAI_TERNARY_LAYOUT_U32_16: return "U32_16";
    case RAI_TERNARY_LAYOUT_I2_S: return "I2_S";
    case RAI_TERNARY_LAYOUT_TQ1_0: return "TQ1_0";
    case RAI_TERNARY_LAYOUT_TQ2_0: return "TQ2_0";
    default: return nullptr;
    }
}

void check_layout(int32_t layout) {
    require(layout_name(layout) != nullptr, RAI_ERROR_INVALID_ARGUMENT,
            "layout is " + std::to_string(layout) +
                ", expected PLANES (1), BYTE2 (2), U32_16 (3), I2_S (4), TQ1_0 (5) or TQ2_0 (6)");
}

bool has_scales(int32_t layout) {
    return layout == RAI_TERNARY_LAYOUT_I2_S || layout == RAI_TERNARY_LAYOUT_TQ1_0 ||
           layout == RAI_TERNARY_LAYOUT_TQ2_0;
}

std::size_t mul(std::size_t a, std::size_t b) {
    require(b == 0 || a <= std::numeric_limits<std::size_t>::max() / b, RAI_ERROR_OUT_OF_RANGE,
            "packed size overflows size_t");
    return a * b;
}

std::size_t add(std::size_t a, std::size_t b) {
    require(a <= std::numeric_limits<std::size_t>::max() - b, RAI_ERROR_OUT_OF_RANGE, "packed size overflows size_t");
    return a + b;
}

// [rows, cols] of a trit tensor: 2-D, or 1-D as one row.
std::pair<int64_t, int64_t> matrix_shape(TensorCheck &t) {
    const rai_tensor &d = t.tensor();
    require(d.ndim == 1 || d.ndim == 2, RAI_ERROR_SHAPE_MISMATCH,
            "trits: expected a [rows, cols] (or [cols]) tensor, got shape " + t.shape_string());
    return d.ndim == 2 ? std::make_pair(d.shape[0], d.shape[1]) : std::make_pair(int64_t{1}, d.shape[0]);
}

void set_bit(uint8_t *base, int64_t i) { base[i / 8] = static_cast<uint8_t>(base[i / 8] | (1u << (i % 8))); }
bool get_bit(const uint8_t *base, int64_t i) { return (base[i / 8] >> (i % 8)) & 1u; }

// Branch-free (random trits defeat branch prediction): -1 -> 10, 0 -> 00, +1 -> 01; 11 -> 0.
uint8_t byte2_code(int8_t t) {
    static constexpr uint8_t kCode[3] = {2u, 0u, 1u};
    return kCode[t + 1];
}
int8_t byte2_trit(uint32_t code) {
    static constexpr int8_t kTrit[4] = {0, 1, -1, 0};
    return kTrit[code & 3u];
}

// BYTE2 / U32_16 rows four trits per byte at a time (the per-trit loops above are for the tail):
// one byte of codes from four trits, and the four trits of one byte from a 256-entry table.
// For a valid trit, (t & 3) ^ (t >> 7 & 1) is its BYTE2 code (+1 -> 01, 0 -> 00, -1 -> 10) with
// no table, which the compiler can vectorize.
inline uint32_t byte2_code_arith(int8_t t) {
    const auto b = static_cast<uint8_t>(t);
    return (b & 3u) ^ (b >> 7);
}
inline uint8_t byte2_pack4(const int8_t *t) {
    return static_cast<uint8_t>(byte2_code_arith(t[0]) | byte2_code_arith(t[1]) << 2 | byte2_code_arith(t[2]) << 4 |
                                byte2_code_arith(t[3]) << 6);
}
struct Byte2Table {
    int8_t trits[256][4];
    constexpr Byte2Table() : trits{} {
        for (int b = 0; b < 256; ++b)
            for (int i = 0; i < 4; ++i) {
                const int code = (b >> (2 * i)) & 3;
                trits[b][i] = static_cast<int8_t>(code == 1 ? 1 : (code == 2 ? -1 : 0));
            }
    }
};
constexpr Byte2Table kByte2Table{};

// Byte offset and bit shift of flat element f in I2_S (x86).
inline std::size_t i2s_byte(int64_t f) { return static_cast<std::size_t>((f / kI2sBlock) * 32 + f % 32); }
inline int i2s_shift(int64_t f) { return 6 - 2 * static_cast<int>((f % kI2sBlock) / 32); }

std::string fmtf(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

}  // namespace

std::size_t packed_size(int32_t layout, int64_t rows, int64_t cols) {
    check_layout(layout);
    require(rows >= 0 && cols >= 0, RAI_ERROR_INVALID_ARGUMENT, "rows and cols must not be negative");
    const auto r = static_cast<std::size_t>(rows), c = static_cast<std::size_t>(cols);
    switch (layout) {
    case RAI_TERNARY_LAYOUT_PLANES: return mul(r, mul((c + 63) / 64, 16));
    case RAI_TERNARY_LAYOUT_BYTE2: return mul(r, (c + 3) / 4);
    case RAI_TERNARY_LAYOUT_U32_16: return mul(r, mul((c + 15) / 16, 4));
    case RAI_TERNARY_LAYOUT_I2_S: {
        const std::size_t n = mul(r, c);
        require(n % kI2sBlock == 0, RAI_ERROR_SHAPE_MISMATCH,
                "I2_S packs blocks of 128 weights: rows * cols = " + std::to_string(n) + " is not a multiple of 128");
        return add(n / 4, 32);
    }
    default: {
        require(c % kTqBlock == 0, RAI_ERROR_SHAPE_MISMATCH,
                std::string(layout_name(layout)) + " packs blocks of 256 weights along a row: cols = " +
                    std::to_string(c) + " is not a multiple of 256");
        return mul(mul(r, c / kTqBlock), tq_block_bytes(layout));
    }
    }
}

std::size_t tq_block_bytes(int32_t layout) { return layout == RAI_TERNARY_LAYOUT_TQ1_0 ? kTq1Bytes : kTq2Bytes; }

// ------------------------------------------------------------------ TQ1_0 / TQ2_0 (llama.cpp)

void tq_pack_raw(int32_t layout, const int8_t *trits, const uint16_t *d, int64_t n, uint8_t *out) {
    const int64_t nb = n / kTqBlock;
    for (int64_t b = 0; b < nb; ++b) {
        const int8_t *x = trits + b * kTqBlock;
        if (layout == RAI_TERNARY_LAYOUT_TQ2_0) {
            uint8_t *y = out + b * static_cast<int64_t>(kTq2Bytes);
            for (int j = 0; j < 64; j += 32)
                for (int m = 0; m < 32; ++m) {
                    uint32_t q = 0;
                    for (int k = 0; k < 4; ++k) q |= static_cast<uint32_t>(x[(j / 32) * 128 + m + k * 32] + 1) << (2 * k);
                    y[j + m] = static_cast<uint8_t>(q);
                }
            y[64] = static_cast<uint8_t>(d[b] & 0xff);
            y[65] = static_cast<uint8_t>(d[b] >> 8);
        } else {
            uint8_t *y = out + b * static_cast<int64_t>(kTq1Bytes);
            // qs[0..31]: elements m + 32k (k = 0..4), first element most significant
            for (int m = 0; m < 32; ++m) {
                uint32_t q = 0;
                for (int k = 0; k < 5; ++k) q = q * 3 + static_cast<uint32_t>(x[m + 32 * k] + 1);
                y[m] = static_cast<uint8_t>((q * 256 + 242) / 243);
            }
            // qs[32..47]: elements 160 + m + 16k
            for (int m = 0; m < 16; ++m) {
                uint32_t q = 0;
                for (int k = 0; k < 5; ++k) q = q * 3 + static_cast<uint32_t>(x[160 + m + 16 * k] + 1);
                y[32 + m] = static_cast<uint8_t>((q * 256 + 242) / 243);
            }
            // qh[0..3]: elements 240 + j + 4k (k = 0..3), then a zero padding digit
            for (int j = 0; j < 4; ++j) {
                uint32_t q = 0;
                for (int k = 0; k < 4; ++k) q = q * 3 + static_cast<uint32_t>(x[240 + j + 4 * k] + 1);
                q *= 3;
                y[48 + j] = static_cast<uint8_t>((q * 256 + 242) / 243);
            }
            y[52] = static_cast<uint8_t>(d[b] & 0xff);
            y[53] = static_cast<uint8_t>(d[b] >> 8);
        }
    }
}

namespace {
constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
inline int tq1_digit(uint8_t byte, int k) {
    const auto q = static_cast<uint8_t>(byte * kPow3[k]);
    return (static_cast<uint16_t>(q) * 3) >> 8;
}
}  // namespace

void tq_unpack_raw(int32_t layout, const uint8_t *in, int64_t n, int8_t *trits, uint16_t *d, const std::string &what) {
    const int64_t nb = n / kTqBlock;
    for (int64_t b = 0; b < nb; ++b) {
        int8_t *x = trits + b * kTqBlock;
        if (layout == RAI_TERNARY_LAYOUT_TQ2_0) {
            const uint8_t *y = in + b * static_cast<int64_t>(kTq2Bytes);
            for (int j = 0; j < 64; j += 32)
                for (int k = 0; k < 4; ++k)
                    for (int m = 0; m < 32; ++m) {
                        const int code = (y[j + m] >> (2 * k)) & 3;
                        const int64_t e = (j / 32) * 128 + m + k * 32;
                        if (code == 3)
                            throw Error(RAI_ERROR_FORMAT, what + ": TQ2_0 block " + std::to_string(b) + " element " +
                                                              std::to_string(e) + " has code 3, which is not a trit");
                        x[e] = static_cast<int8_t>(code - 1);
                    }
            if (d) d[b] = static_cast<uint16_t>(y[64] | (y[65] << 8));
        } else {
            const uint8_t *y = in + b * static_cast<int64_t>(kTq1Bytes);
            for (int k = 0; k < 5; ++k)
                for (int m = 0; m < 32; ++m) x[m + 32 * k] = static_cast<int8_t>(tq1_digit(y[m], k) - 1);
            for (int k = 0; k < 5; ++k)
                for (int m = 0; m < 16; ++m) x[160 + m + 16 * k] = static_cast<int8_t>(tq1_digit(y[32 + m], k) - 1);
            for (int k = 0; k < 4; ++k)
                for (int j = 0; j < 4; ++j) x[240 + j + 4 * k] = static_cast<int8_t>(tq1_digit(y[48 + j], k) - 1);
            if (d) d[b] = static_cast<uint16_t>(y[52] | (y[53] << 8));
        }
    }
}

void tq_quantize_raw(int32_t layout, const float *x, int64_t n, uint8_t *out) {
    const int64_t nb = n / kTqBlock;
    std::vector<int8_t> t(kTqBlock);
    for (int64_t b = 0; b < nb; ++b) {
        const float *xb = x + b * kTqBlock;
        float amax = 0.0f;
        for (int64_t j = 0; j < kTqBlock; ++j) {
            const float a = std::fabs(xb[j]);
            if (!(a <= FLT_MAX))
                throw Error(RAI_ERROR_INVALID_ARGUMENT,
                            "x: element " + std::to_string(b * kTqBlock + j) + " is not finite");
            amax = a > amax ? a : amax;
        }
        const float id = amax != 0.0f ? 1.0f / amax : 0.0f;
        for (int64_t j = 0; j < kTqBlock; ++j) {
            float v = xb[j] * id;
            if (v != v) v = 0.0f;  // 0 * inf when 1/amax overflows (llama.cpp: undefined)
            v = clampf(v, -1.0f, 1.0f);
            t[static_cast<std::size_t>(j)] = static_cast<int8_t>(std::lround(v));  // lroundf: half away from zero
        }
        const uint16_t d = half::f32_to_f16(amax);
        tq_pack_raw(layout, t.data(), &d, kTqBlock, out + b * static_cast<int64_t>(tq_block_bytes(layout)));
    }
}

void tq_dequantize_raw(int32_t layout, const uint8_t *in, int64_t n, float *out) {
    const int64_t nb = n / kTqBlock;
    const std::size_t bs = tq_block_bytes(layout);
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t *y = in + b * static_cast<int64_t>(bs);
        float *o = out + b * kTqBlock;
        if (layout == RAI_TERNARY_LAYOUT_TQ2_0) {
            const float d = half::f16_to_f32(static_cast<uint16_t>(y[64] | (y[65] << 8)));
            for (int j = 0; j < 64; j += 32)
                for (int k = 0; k < 4; ++k)
                    for (int m = 0; m < 32; ++m)
                        o[(j / 32) * 128 + m + k * 32] = static_cast<float>(((y[j + m] >> (2 * k)) & 3) - 1) * d;
        } else {
            const float d = half::f16_to_f32(static_cast<uint16_t>(y[52] | (y[53] << 8)));
            for (int k = 0; k < 5; ++k)
                for (int m = 0; m < 32; ++m) o[m + 32 * k] = static_cast<float>(tq1_digit(y[m], k) - 1) * d;
            for (int k = 0; k < 5; ++k)
                for (int m = 0; m < 16; ++m) o[160 + m + 16 * k] = static_cast<float>(tq1_digit(y[32 + m], k) - 1) * d;
            for (int k = 0; k < 4; ++k)
                for (int j = 0; j < 4; ++j) o[240 + j + 4 * k] = static_cast<float>(tq1_digit(y[48 + j], k) - 1) * d;
        }
    }
}

std::vector<uint16_t> tq_block_scales(const ScaleMap &map, const float *scales, const std::string &what) {
    const int64_t per_row = map.cols / kTqBlock;
    std::vector<uint16_t> d(static_cast<std::size_t>(map.rows * per_row));
    for (int64_t r = 0; r < map.rows; ++r)
        for (int64_t b = 0; b < per_row; ++b) {
            const int64_t c0 = b * kTqBlock, c1 = c0 + kTqBlock - 1;
            const float s = scales[map.index(r, c0 / map.group)];
            if (map.gran == Gran::Group)
                for (int64_t g = c0 / map.group + 1; g <= c1 / map.group; ++g)
                    if (!(scales[map.index(r, g)] == s))
                        throw Error(RAI_ERROR_UNSUPPORTED,
                                    what + ": row " + std::to_string(r) + " has different scales in columns " +
                                        std::to_string(c0) + ".." + std::to_string(c1) + " (group size " +
                                        std::to_string(map.group) +
                                        "), but TQ1_0 / TQ2_0 hold one scale per 256-column block: this scale "
                                        "layout cannot be stored losslessly");
            if (!(std::fabs(s) <= FLT_MAX))
                throw Error(RAI_ERROR_INVALID_ARGUMENT, what + ": the scale of row " + std::to_string(r) + " columns " +
                                                            std::to_string(c0) + ".." + std::to_string(c1) +
                                                            " is not finite");
            const uint16_t h = half::f32_to_f16(s);
            if ((h & 0x7fffu) == 0x7c00u)
                throw Error(RAI_ERROR_OUT_OF_RANGE, what + ": scale " + fmtf(s) + " of row " + std::to_string(r) +
                                                        " does not fit f16 (max 65504)");
            if (!(s == 0.0f || (h & 0x7fffu) != 0))
                throw Error(RAI_ERROR_OUT_OF_RANGE,
                            what + ": scale " + fmtf(s) + " of row " + std::to_string(r) + " rounds to 0 in f16");
            d[static_cast<std::size_t>(r * per_row + b)] = h;
        }
    return d;
}

// ------------------------------------------------------------------ tensor-level pack / unpack

void pack(int32_t layout, const rai_tensor *trits_, const rai_tensor *scales_, const rai_tensor *packed_) {
    check_layout(layout);
    TensorCheck trits("trits", trits_);
    trits.dtype(dtype::i8).contiguous();
    require_host(trits, "trits");
    const auto [rows, cols] = matrix_shape(trits);
    const std::size_t need = packed_size(layout, rows, cols);
    const auto *t = static_cast<const int8_t *>(trits.data());
    check_trits(t, rows, cols, "trits");

    std::vector<uint16_t> tq_d;
    float i2s_scale = 0.0f;
    if (has_scales(layout)) {
        require(scales_ != nullptr, RAI_ERROR_INVALID_ARGUMENT,
                std::string("scales must not be NULL: ") + layout_name(layout) + " stores scales");
        TensorCheck scales("scales", scales_);
        require_host(scales, "scales");
        const ScaleMap map = scale_map_from(scales, rows, cols, "scales");
        const auto *s = static_cast<const float *>(scales.data());
        if (layout == RAI_TERNARY_LAYOUT_I2_S) {
            const int64_t n = map.count();
            for (int64_t i = 1; i < n; ++i)
                if (s[i] != s[0])
                    throw Error(RAI_ERROR_UNSUPPORTED, "scales: I2_S holds one scale per tensor, but scales[" +
                                                           std::to_string(i) + "] = " + fmtf(s[i]) +
                                                           " differs from scales[0] = " + fmtf(s[0]));
            i2s_scale = s[0];
        } else {
            tq_d = tq_block_scales(map, s, "scales");
        }
    } else {
        require(scales_ == nullptr, RAI_ERROR_INVALID_ARGUMENT,
                std::string("scales must be NULL: ") + layout_name(layout) + " stores no scales");
    }

    TensorCheck packed("packed", packed_);
    packed.dtype(dtype::u8).contiguous();
    require_host(packed, "packed");
    require(static_cast<uint64_t>(packed.numel()) >= need, RAI_ERROR_BUFFER_TOO_SMALL,
            std::string("packed: ") + layout_name(layout) + " of [" + std::to_string(rows) + ", " +
                std::to_string(cols) + "] needs " + std::to_string(need) + " bytes, got " +
                std::to_string(packed.numel()));
    auto *out = static_cast<uint8_t *>(packed.data());
    std::memset(out, 0, need);

    switch (layout) {
    case RAI_TERNARY_LAYOUT_PLANES: {
        const int64_t plane = (cols + 63) / 64 * 8;
        for (int64_t r = 0; r < rows; ++r) {
            uint8_t *plus = out + r * 2 * plane, *minus = plus + plane;
            for (int64_t c = 0; c < cols; ++c) {
                const int8_t v = t[r * cols + c];
                if (v > 0) set_bit(plus, c);
                else if (v < 0) set_bit(minus, c);
            }
        }
        break;
    }
    case RAI_TERNARY_LAYOUT_BYTE2:
    case RAI_TERNARY_LAYOUT_U32_16: {
        const int64_t stride = layout == RAI_TERNARY_LAYOUT_BYTE2 ? (cols + 3) / 4 : (cols + 15) / 16 * 4;
        for (int64_t r = 0; r < rows; ++r) {
            const int8_t *row = t + r * cols;
            int64_t c = 0;
            for (; c + 4 <= cols; c += 4) out[r * stride + c / 4] = byte2_pack4(row + c);
            for (; c < cols; ++c) out[r * stride + c / 4] |= static_cast<uint8_t>(byte2_code(row[c]) << (2 * (c % 4)));
        }
        break;
    }
    case RAI_TERNARY_LAYOUT_I2_S: {
        // Per block of 128: byte j holds elements j, j + 32, j + 64, j + 96 at shifts 6, 4, 2, 0
        // (i2s_byte / i2s_shift), written a whole byte at a time.
        const int64_t n = rows * cols;
        for (int64_t b0 = 0; b0 < n; b0 += kI2sBlock) {
            const int8_t *tb = t + b0;
            uint8_t *ob = out + b0 / 4;
            for (int j = 0; j < 32; ++j)
                ob[j] = static_cast<uint8_t>((tb[j] + 1) << 6 | (tb[j + 32] + 1) << 4 | (tb[j + 64] + 1) << 2 |
                                             (tb[j + 96] + 1));
        }
        std::memcpy(out + n / 4, &i2s_scale, 4);
        break;
    }
    default: tq_pack_raw(layout, t, tq_d.data(), rows * cols, out); break;
    }
}

void unpack(int32_t layout, const rai_tensor *packed_, const rai_tensor *trits_, const rai_tensor *scales_) {
    check_layout(layout);
    TensorCheck trits("trits", trits_);
    trits.dtype(dtype::i8).contiguous();
    require_host(trits, "trits");
    const auto [rows, cols] = matrix_shape(trits);
    const std::size_t need = packed_size(layout, rows, cols);
    TensorCheck packed("packed", packed_);
    packed.dtype(dtype::u8).contiguous();
    require_host(packed, "packed");
    require(static_cast<uint64_t>(packed.numel()) == need, RAI_ERROR_SHAPE_MISMATCH,
            std::string("packed: ") + layout_name(layout) + " of [" + std::to_string(rows) + ", " +
                std::to_string(cols) + "] is " + std::to_string(need) + " bytes, got " +
                std::to_string(packed.numel()));
    float *scale_out = nullptr;
    if (scales_ != nullptr) {
        require(has_scales(layout), RAI_ERROR_INVALID_ARGUMENT,
                std::string("scales must be NULL: ") + layout_name(layout) + " stores no scales");
        TensorCheck scales("scales", scales_);
        scales.dtype(dtype::f32).contiguous();
        require_host(scales, "scales");
        if (layout == RAI_TERNARY_LAYOUT_I2_S)
            require(scales.numel() == 1, RAI_ERROR_SHAPE_MISMATCH,
                    "scales: I2_S holds one scale, expected shape [1], got " + scales.shape_string());
        else
            scales.shape({rows, cols / kTqBlock});
        scale_out = static_cast<float *>(scales.data());
    }
    const auto *in = static_cast<const uint8_t *>(packed.data());
    std::vector<int8_t> t(static_cast<std::size_t>(rows * cols));
    std::vector<float> s;

    switch (layout) {
    case RAI_TERNARY_LAYOUT_PLANES: {
        const int64_t plane = (cols + 63) / 64 * 8;
        for (int64_t r = 0; r < rows; ++r) {
            const uint8_t *plus = in + r * 2 * plane, *minus = plus + plane;
            for (int64_t c = 0; c < cols; ++c) {
                const bool p = get_bit(plus, c), m = get_bit(minus, c);
                if (p && m)
                    throw Error(RAI_ERROR_FORMAT, "packed: row " + std::to_string(r) + " column " + std::to_string(c) +
                                                      " has both the plus and the minus bit set");
                t[static_cast<std::size_t>(r * cols + c)] = p ? 1 : (m ? -1 : 0);
            }
            for (int64_t c = cols; c < plane * 8; ++c)
                if (get_bit(plus, c) || get_bit(minus, c))
                    throw Error(RAI_ERROR_FORMAT, "packed: row " + std::to_string(r) +
                                                      " has non-zero padding bits after column " +
                                                      std::to_string(cols - 1));
        }
        break;
    }
    case RAI_TERNARY_LAYOUT_BYTE2:
    case RAI_TERNARY_LAYOUT_U32_16: {
        const int64_t stride = layout == RAI_TERNARY_LAYOUT_BYTE2 ? (cols + 3) / 4 : (cols + 15) / 16 * 4;
        for (int64_t r = 0; r < rows; ++r) {
            int8_t *row = t.data() + r * cols;
            int64_t c = 0;
            for (; c + 4 <= cols; c += 4) std::memcpy(row + c, kByte2Table.trits[in[r * stride + c / 4]], 4);
            for (; c < cols; ++c) row[c] = byte2_trit((in[r * stride + c / 4] >> (2 * (c % 4))) & 3u);
        }
        break;
    }
    case RAI_TERNARY_LAYOUT_I2_S: {
        const int64_t n = rows * cols;
        for (int64_t b0 = 0; b0 < n; b0 += kI2sBlock) {
            const uint8_t *ib = in + b0 / 4;
            int8_t *tb = t.data() + b0;
            unsigned bad = 0;  // a code 3 anywhere: both bits of a pair set
            for (int j = 0; j < 32; ++j) {
                const unsigned v = ib[j];
                bad |= v & (v >> 1) & 0x55u;
                tb[j] = static_cast<int8_t>(static_cast<int>(v >> 6) - 1);
                tb[j + 32] = static_cast<int8_t>(static_cast<int>((v >> 4) & 3u) - 1);
                tb[j + 64] = static_cast<int8_t>(static_cast<int>((v >> 2) & 3u) - 1);
                tb[j + 96] = static_cast<int8_t>(static_cast<int>(v & 3u) - 1);
            }
            if (bad)
                for (int64_t f = b0; f < b0 + kI2sBlock; ++f)
                    if (((in[i2s_byte(f)] >> i2s_shift(f)) & 3) == 3)
                        throw Error(RAI_ERROR_FORMAT,
                                    "packed: I2_S element " + std::to_string(f) + " has code 3, which is not a trit");
        }
        s.resize(1);
        std::memcpy(s.data(), in + n / 4, 4);
        break;
    }
    default: {
        std::vector<uint16_t> d(static_cast<std::size_t>(rows * (cols / kTqBlock)));
        tq_unpack_raw(layout, in, rows * cols, t.data(), d.data(), "packed");
        s.resize(d.size());
        for (std::size_t i = 0; i < d.size(); ++i) s[i] = half::f16_to_f32(d[i]);
        break;
    }
    }
    std::memcpy(trits.data(), t.data(), t.size());
    if (scale_out != nullptr) std::memcpy(scale_out, s.data(), s.size() * sizeof(float));
}

void quantize_tq(int32_t layout, const rai_tensor *x_, const rai_tensor *packed_) {
    check_layout(layout);
    require(layout == RAI_TERNARY_LAYOUT_TQ1_0 || layout == RAI_TERNARY_LAYOUT_TQ2_0, RAI_ERROR_INVALID_ARGUMENT,
            std::string("layout is ") + layout_name(layout) + ", expected TQ1_0 or TQ2_0");
    TensorCheck x("x", x_);
    x.dtype(dtype::f32).contiguous();
    require_host(x, "x");
    require(x.tensor().ndim == 1 || x.tensor().ndim == 2, RAI_ERROR_SHAPE_MISMATCH,
            "x: expected a [rows, cols] (or [cols]) tensor, got shape " + x.shape_string());
    const int64_t cols = x.tensor().shape[x.tensor().ndim - 1];
    const int64_t rows = x.tensor().ndim == 2 ? x.dim(0) : 1;
    const std::size_t need = packed_size(layout, rows, cols);
    TensorCheck packed("packed", packed_);
    packed.dtype(dtype::u8).contiguous();
    require_host(packed, "packed");
    require(static_cast<uint64_t>(packed.numel()) >= need, RAI_ERROR_BUFFER_TOO_SMALL,
            std::string("packed: ") + layout_name(layout) + " of [" + std::to_string(rows) + ", " +
                std::to_string(cols) + "] needs " + std::to_string(need) + " bytes, got " +
                std::to_string(packed.numel()));
    std::vector<uint8_t> out(need);
    tq_quantize_raw(layout, static_cast<const float *>(x.data()), rows * cols, out.data());
    std::memcpy(packed.data(), out.data(), need);
}

}  // namespace rai::bitnet
