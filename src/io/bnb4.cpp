// bitsandbytes Linear4bit checkpoints: for module prefix p, the keys
//   p.weight, p.weight.absmax, p.weight.quant_map, [p.weight.nested_absmax,
//   p.weight.nested_quant_map,] p.weight.quant_state.bitsandbytes__{nf4,fp4}
// (bnb QuantState.as_dict(packed=True)). The JSON blob holds quant_type, blocksize, dtype, shape
// and, with double quantisation, nested_blocksize, nested_dtype and nested_offset.
#include "bnb4.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "../quant/q4_state.h"
#include "dtype.h"
#include "error.h"
#include "json.h"
#include "safetensors.h"
#include "tensor_check.h"

namespace rai::bnb4 {

namespace {

std::string quoted(const std::string &s) {
    std::string out;
    json::append_string(out, s);
    return out;
}

[[noreturn]] void bad(const std::string &key, const std::string &what) {
    throw Error(RAI_ERROR_FORMAT, "bitsandbytes checkpoint: " + quoted(key) + " " + what);
}

const st::TensorEntry &entry(const rai_safetensors &f, const std::string &key, const std::string &why) {
    const int64_t i = f.find(key);
    if (i < 0) bad(key, "is missing" + why);
    return f.tensors[static_cast<std::size_t>(i)];
}

int64_t numel(const st::TensorEntry &t) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    return n;
}

const unsigned char *bytes_of(const rai_safetensors &f, const st::TensorEntry &t) { return f.data + t.begin; }

// A tensor of the given dtype with `count` elements (any shape).
void expect(const st::TensorEntry &t, const char *dtype, int64_t count, const std::string &why) {
    if (t.dtype != dtype) bad(t.name, "has dtype " + t.dtype + ", expected " + dtype + why);
    if (numel(t) != count)
        bad(t.name, "has " + std::to_string(numel(t)) + " elements, expected " + std::to_string(count) + why);
}

rai_dtype torch_dtype(const std::string &name) {
    if (name == "float32") return dtype::f32;
    if (name == "float16") return dtype::f16;
    if (name == "bfloat16") return dtype::bf16;
    return rai_dtype{0, 0, 0};
}

}  // namespace

rai_q4_state *load(const rai_context &ctx, const rai_safetensors &f, const std::string &prefix) {
    const std::string p = prefix.empty() ? "weight" : prefix + ".weight";
    const std::string qs_nf4 = p + ".quant_state.bitsandbytes__nf4", qs_fp4 = p + ".quant_state.bitsandbytes__fp4";
    const bool has_nf4 = f.find(qs_nf4) >= 0, has_fp4 = f.find(qs_fp4) >= 0;
    if (has_nf4 && has_fp4) bad(qs_nf4, "and " + quoted(qs_fp4) + " are both present");
    if (!has_nf4 && !has_fp4)
        bad(qs_nf4, "(or __fp4) is missing: " + quoted(prefix) + " is not a bitsandbytes 4-bit module");
    const std::string qs_key = has_nf4 ? qs_nf4 : qs_fp4;
    const st::TensorEntry &qs = entry(f, qs_key, "");
    if (qs.dtype != "U8" || qs.shape.size() != 1) bad(qs_key, "is not a 1-D U8 tensor of UTF-8 JSON");
    const json::Value j =
        json::parse(reinterpret_cast<const char *>(bytes_of(f, qs)), static_cast<std::size_t>(qs.end - qs.begin), qs_key);
    if (j.kind != json::Kind::Object) bad(qs_key, "does not hold a JSON object");
    auto field = [&](const char *name) -> const json::Value & {
        const json::Value *v = j.find(name);
        if (v == nullptr) bad(qs_key, std::string("lacks the field \"") + name + "\"");
        return *v;
    };
    const json::Value &qt = field("quant_type");
    if (qt.kind != json::Kind::String || (qt.text != "nf4" && qt.text != "fp4"))
        bad(qs_key, "field \"quant_type\" is not \"nf4\" or \"fp4\"");
    if (qt.text != (has_nf4 ? "nf4" : "fp4")) bad(qs_key, "field \"quant_type\" is " + quoted(qt.text) + ", unlike the key");
    q4::StateMeta meta;
    meta.type = qt.text == "nf4" ? q4::kNF4 : q4::kFP4;
    int64_t bs = 0;
    if (!field("blocksize").as_int64(bs) || bs <= 0 || bs > 1 << 30) bad(qs_key, "field \"blocksize\" is not a positive integer");
    meta.blocksize = static_cast<int32_t>(bs);
    const json::Value &dt = field("dtype");
    if (dt.kind != json::Kind::String || torch_dtype(dt.text).bits == 0)
        bad(qs_key, "field \"dtype\" is not \"float32\", \"float16\" or \"bfloat16\"");
    meta.dtype = torch_dtype(dt.text);
    const json::Value &sh = field("shape");
    if (sh.kind != json::Kind::Array) bad(qs_key, "field \"shape\" is not an array");
    for (const json::Value &d : sh.items) {
        int64_t v = 0;
        if (!d.as_int64(v) || v < 0) bad(qs_key, "field \"shape\" holds something other than non-negative integers");
        meta.shape.push_back(v);
    }
    const std::string absmax_key = p + ".absmax", qmap_key = p + ".quant_map";
    const st::TensorEntry &absmax = entry(f, absmax_key, "");
    meta.nested = absmax.dtype == "U8";
    if (meta.nested) {
        int64_t nbs = 0;
        if (!field("nested_blocksize").as_int64(nbs)) bad(qs_key, "field \"nested_blocksize\" is not an integer");
        meta.nested_blocksize = static_cast<int32_t>(nbs == static_cast<int32_t>(nbs) ? nbs : -1);
        const json::Value &nd = field("nested_dtype");
        if (nd.kind != json::Kind::String || nd.text != "float32") bad(qs_key, "field \"nested_dtype\" is not \"float32\"");
        double off = 0;
        if (!field("nested_offset").as_double(off) || !std::isfinite(off))
            bad(qs_key, "field \"nested_offset\" is not a finite number");
        meta.offset = static_cast<float>(off);
    }
    std::unique_ptr<rai_q4_state> s = q4::allocate_state(ctx, meta, "bitsandbytes checkpoint: " + quoted(qs_key), RAI_ERROR_FORMAT);
    const std::string why = " (shape " + format_shape(s->shape.data(), static_cast<int32_t>(s->shape.size())) +
                            ", blocksize " + std::to_string(s->blocksize) + ")";
    // The codes.
    const st::TensorEntry &w = entry(f, p, "");
    if (w.end - w.begin < static_cast<uint64_t>(q4::codes_bytes(s->numel)))
        bad(p, "holds " + std::to_string(w.end - w.begin) + " bytes, expected " +
                   std::to_string(q4::codes_bytes(s->numel)) + " of codes" + why);
    // The quant map must be the codebook of the type.
    const st::TensorEntry &qm = entry(f, qmap_key, "");
    expect(qm, "F32", 16, "");
    float want[16], got[16];
    q4::bnb_quant_map(s->type, want);
    std::memcpy(got, bytes_of(f, qm), sizeof got);
    for (int i = 0; i < 16; ++i)
        if (!(std::fabs(got[i] - want[i]) <= 1e-6f))
            bad(qmap_key, std::string("is not the ") + (s->type == q4::kNF4 ? "NF4" : "FP4") + " codebook (entry " +
                              std::to_string(i) + ")");
    q4::HostArrays a;
    if (!s->nested) {
        expect(absmax, "F32", s->nblocks, why);
        a.absmax.resize(static_cast<std::size_t>(s->nblocks));
        std::memcpy(a.absmax.data(), bytes_of(f, absmax), a.absmax.size() * 4);
    } else {
        expect(absmax, "U8", s->nblocks, why);
        const std::string n_key = p + ".nested_absmax", nq_key = p + ".nested_quant_map";
        const st::TensorEntry &na = entry(f, n_key, " (the absmax is 8-bit: double quantisation)");
        const st::TensorEntry &nq = entry(f, nq_key, " (the absmax is 8-bit: double quantisation)");
        expect(na, "F32", s->nested_nblocks, " (" + std::to_string(s->nblocks) + " blocks / 256)");
        expect(nq, "F32", 256, "");
        a.absmax8.assign(bytes_of(f, absmax), bytes_of(f, absmax) + s->nblocks);
        a.absmax2.resize(static_cast<std::size_t>(s->nested_nblocks));
        std::memcpy(a.absmax2.data(), bytes_of(f, na), a.absmax2.size() * 4);
        a.code8.resize(256);
        std::memcpy(a.code8.data(), bytes_of(f, nq), 256 * 4);
    }
    q4::from_host(ctx, *s, a);
    return s.release();
}

std::string quant_state_json(const rai_q4_state &s) {
    std::string j = "{\"quant_type\": \"";
    j += s.type == q4::kNF4 ? "nf4" : "fp4";
    j += "\", \"blocksize\": " + std::to_string(s.blocksize) + ", \"dtype\": \"" + q4::torch_dtype_name(s.dtype) +
         "\", \"shape\": [";
    for (std::size_t i = 0; i < s.shape.size(); ++i) j += (i ? ", " : "") + std::to_string(s.shape[i]);
    j += "]";
    if (s.nested)
        j += ", \"nested_blocksize\": " + std::to_string(s.nested_blocksize) +
             ", \"nested_dtype\": \"float32\", \"nested_offset\": " + json::python_float_repr(static_cast<double>(s.offset));
    return j + "}";
}

void save(const rai_context &ctx, rai_safetensors_writer &writer, const std::string &prefix, const rai_q4_state &s,
          const rai_tensor *codes) {
    q4::check_state_device(ctx, s, "state");
    const uint8_t *c = q4::check_codes(ctx, codes, s.numel, "codes");
    const std::string p = prefix.empty() ? "weight" : prefix + ".weight";
    for (const char *suffix : {"", ".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map",
                               ".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4"})
        for (const auto &it : writer.items)
            require(it.name != p + suffix, RAI_ERROR_INVALID_ARGUMENT,
                    "writer: " + quoted(p + suffix) + " was already added");
    const int64_t nc = q4::codes_bytes(s.numel);
    std::vector<unsigned char> host_codes(static_cast<std::size_t>(nc));
    if (s.on_cuda()) {
        const raicuda_backend &be = rai::cuda::require_plugin();
        rai::cuda::check([&](raicuda_err *e) {
            return be.memcpy_sync(s.device.device_id, host_codes.data(), c, host_codes.size(), RAICUDA_DEVICE_TO_HOST,
                                  ctx.stream, e);
        });
    } else {
        std::memcpy(host_codes.data(), c, host_codes.size());
    }
    const q4::HostArrays a = q4::to_host(ctx, s);
    float qm[16];
    q4::bnb_quant_map(s.type, qm);
    const std::string blob = quant_state_json(s);
    // Build into a copy so that a failure leaves the writer as it was.
    rai_safetensors_writer w = writer;
    st::writer_add_bytes(w, p, "U8", {nc, 1}, host_codes.data(), host_codes.size());
    if (!s.nested) {
        st::writer_add_bytes(w, p + ".absmax", "F32", {s.nblocks}, a.absmax.data(), a.absmax.size() * 4);
        st::writer_add_bytes(w, p + ".quant_map", "F32", {16}, qm, sizeof qm);
    } else {
        st::writer_add_bytes(w, p + ".absmax", "U8", {s.nblocks}, a.absmax8.data(), a.absmax8.size());
        st::writer_add_bytes(w, p + ".quant_map", "F32", {16}, qm, sizeof qm);
        st::writer_add_bytes(w, p + ".nested_absmax", "F32", {s.nested_nblocks}, a.absmax2.data(), a.absmax2.size() * 4);
        st::writer_add_bytes(w, p + ".nested_quant_map", "F32", {256}, a.code8.data(), 256 * 4);
    }
    st::writer_add_bytes(w, p + ".quant_state.bitsandbytes__" + (s.type == q4::kNF4 ? "nf4" : "fp4"), "U8",
                         {static_cast<int64_t>(blob.size())}, blob.data(), blob.size());
    writer = std::move(w);
}

}  // namespace rai::bnb4
