// rai quantize IN.safetensors OUT --format nf4|fp4|nf4-dq|tq2_0|tq1_0|i2_s|bitnet [options]
//
// Quantizes the linear weights of a whole checkpoint through the public C API (docs/cli.md):
// selected tensors go to the format's output (quantize_output.h), all others are copied
// unchanged. Each quantized tensor is dequantized from what was stored to measure its
// reconstruction error; the output file is written at the end through a temporary file, so an
// error leaves nothing behind.
#include <sys/stat.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "../../src/adapters/half.h"  // header-only fp32/bf16/f16 conversions
#include "commands.h"
#include "host_tensor.h"
#include "progress.h"
#include "quantize_output.h"
#include "tensor_select.h"

namespace {

const char kUsage[] =
    "usage: rai quantize IN.safetensors OUT --format nf4|fp4|nf4-dq|tq2_0|tq1_0|i2_s|bitnet\n"
    "         [--blocksize N]                        4-bit block size (32..4096, default 64)\n"
    "         [--granularity tensor|row|group] [--group-size N]   ternary scales\n"
    "         [--include REGEX] [--exclude REGEX]    which tensors (default: 2-D linear weights)\n"
    "         [--verbose]                            one line per tensor on stderr\n"
    "OUT is safetensors (nf4, fp4, nf4-dq, i2_s, bitnet) or GGUF (tq2_0, tq1_0); see docs/cli.md\n";

int usage_error(const std::string &message) {
    std::fprintf(stderr, "rai quantize: %s\n%s", message.c_str(), kUsage);
    return 2;
}

int fail(const std::string &message) {
    std::fprintf(stderr, "rai quantize: %s\n", message.c_str());
    return 1;
}

bool parse_count(const char *text, uint64_t *out) {
    char *end = nullptr;
    if (text[0] < '0' || text[0] > '9') return false;
    *out = std::strtoull(text, &end, 10);
    return *end == '\0' && *out > 0 && *out < (1ull << 40);
}

std::string shape_text(int32_t ndim, const int64_t *shape) {
    std::string s = "[";
    for (int32_t d = 0; d < ndim; ++d) s += (d ? ", " : "") + std::to_string(shape[d]);
    return s + "]";
}

uint64_t file_size(const char *path) {
    struct stat sb {};
    return ::stat(path, &sb) == 0 ? static_cast<uint64_t>(sb.st_size) : 0;
}

// sqrt(sum (x - r)^2 / sum x^2) in double; 0 for an exact reconstruction of an all-zero tensor.
double relative_rms(const rai_tensor &view, const std::vector<float> &restored) {
    namespace ra = rai::adapters;
    ra::Fp kind = ra::Fp::F32;
    ra::float_kind(view.dtype, &kind);
    std::vector<float> x(restored.size());
    if (!x.empty()) ra::load_floats(kind, static_cast<const char *>(view.data) + view.byte_offset, x.data(), x.size());
    double err = 0, ref = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const double d = static_cast<double>(x[i]) - restored[i];
        err += d * d;
        ref += static_cast<double>(x[i]) * x[i];
    }
    if (ref == 0) return err == 0 ? 0.0 : INFINITY;
    return std::sqrt(err / ref);
}

// Bytes the quantized tensors take in the written file: each name N and its keys "N.<suffix>"
// (safetensors), or the tensor N (GGUF). Reading the file back also proves that it opens.
bool measure_output(const char *path, bool gguf, const std::set<std::string> &quantized, uint64_t *bytes,
                    std::string *why) {
    *bytes = 0;
    auto owner = [&](const std::string &name) {
        if (quantized.count(name)) return true;
        for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1))
            if (quantized.count(name.substr(0, dot))) return true;
        return false;
    };
    if (gguf) {
        rai_gguf_reader *r = nullptr;
        rai_status st = rai_gguf_reader_open(path, &r);
        if (st != RAI_OK) return (*why = api_error(path, st), false);
        rai_gguf_file_info fi;
        rai_gguf_file_info_init(&fi);
        rai_gguf_reader_get_info(r, &fi);
        for (uint64_t i = 0; i < fi.tensor_count; ++i) {
            rai_gguf_tensor_info ti;
            rai_gguf_tensor_info_init(&ti);
            if (rai_gguf_reader_tensor(r, i, &ti) == RAI_OK && quantized.count(ti.name)) *bytes += ti.nbytes;
        }
        rai_gguf_reader_destroy(r);
        return true;
    }
    rai_safetensors *f = nullptr;
    rai_status st = rai_safetensors_open(path, &f);
    if (st != RAI_OK) return (*why = api_error(path, st), false);
    size_t n = 0;
    rai_safetensors_count(f, &n);
    for (size_t i = 0; i < n; ++i) {
        rai_safetensors_tensor_info info;
        rai_safetensors_tensor_info_init(&info);
        if (rai_safetensors_get_info(f, i, &info) == RAI_OK && owner(info.name)) *bytes += info.nbytes;
    }
    rai_safetensors_destroy(f);
    return true;
}

struct Options {
    const char *in = nullptr, *out = nullptr;
    QuantizeOptions q;
    TensorFilter filter;
    bool verbose = false;
};

// 0 when parsed, else the exit code.
int parse(int argc, char **argv, Options *o) {
    std::vector<const char *> pos;
    bool have_format = false;
    std::string why;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        uint64_t n = 0;
        if (a == "--verbose" || a == "-v") {
            o->verbose = true;
        } else if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return -1;
        } else if (a == "--format" || a == "--blocksize" || a == "--granularity" || a == "--group-size" ||
                   a == "--include" || a == "--exclude") {
            if (!has_value) return usage_error(a + " needs a value");
            const char *v = argv[++i];
            if (a == "--format") {
                o->q.format = v, have_format = true;
            } else if (a == "--blocksize") {
                if (!parse_count(v, &n) || n > 4096) return usage_error(std::string("--blocksize takes a number, got '") + v + "'");
                o->q.blocksize = static_cast<int32_t>(n);
            } else if (a == "--group-size") {
                if (!parse_count(v, &n)) return usage_error(std::string("--group-size takes a positive number, got '") + v + "'");
                o->q.group_size = n;
            } else if (a == "--granularity") {
                const std::string g = v;
                if (g == "tensor") o->q.granularity = RAI_BITNET_GRANULARITY_TENSOR;
                else if (g == "row") o->q.granularity = RAI_BITNET_GRANULARITY_ROW;
                else if (g == "group") o->q.granularity = RAI_BITNET_GRANULARITY_GROUP;
                else return usage_error("--granularity must be tensor, row or group, got '" + g + "'");
            } else if (a == "--include" ? !o->filter.set_include(v, &why) : !o->filter.set_exclude(v, &why)) {
                return usage_error(why);
            }
        } else if (a.size() > 1 && a[0] == '-') {
            return usage_error("unknown option '" + a + "'");
        } else {
            pos.push_back(argv[i]);
        }
    }
    if (pos.size() != 2) return usage_error("expected IN.safetensors and OUT");
    if (!have_format) return usage_error("--format is required");
    o->in = pos[0], o->out = pos[1];
    return 0;
}

}  // namespace

int cmd_quantize(int argc, char **argv) {
    Options o;
    if (const int rc = parse(argc, argv, &o)) return rc < 0 ? 0 : rc;
    std::string why;
    std::unique_ptr<QuantizeOutput> output = make_quantize_output(o.q, &why);
    if (!output) return usage_error(why);
    const bool gguf = o.q.format == "tq1_0" || o.q.format == "tq2_0";

    rai_safetensors *in = nullptr;
    rai_status st = rai_safetensors_open(o.in, &in);
    if (st != RAI_OK) return fail(api_error(o.in, st));
    std::unique_ptr<rai_safetensors, void (*)(rai_safetensors *)> in_guard(in, rai_safetensors_destroy);
    rai_context *ctx = nullptr;
    if ((st = create_cpu_context(&ctx)) != RAI_OK) return fail(api_error("context", st));
    std::unique_ptr<rai_context, void (*)(rai_context *)> ctx_guard(ctx, rai_context_destroy);

    size_t count = 0;
    rai_safetensors_count(in, &count);
    Progress progress(count, o.verbose);
    std::set<std::string> quantized;
    size_t copied = 0, kept = 0;
    uint64_t bytes_quantized_in = 0, bytes_copied = 0;
    double err_sum = 0, err_max = -1;
    std::string err_max_name;
    for (size_t i = 0; i < count; ++i) {
        rai_safetensors_tensor_info info;
        rai_safetensors_tensor_info_init(&info);
        if ((st = rai_safetensors_get_info(in, i, &info)) != RAI_OK) return progress.finish(), fail(api_error(o.in, st));
        const std::string name = info.name;
        bool quantize = o.filter.selects(info);
        if (quantize && !is_float16_32(info.dtype)) {
            progress.finish();
            return fail("tensor \"" + name + "\" is " + info.dtype_name +
                        "; only F32, F16 and BF16 tensors can be quantized (narrow --include or add --exclude)");
        }
        const std::string cannot = quantize ? output->cannot_hold(info) : "";
        if (!cannot.empty()) {
            // Picked by the default rule: keep it as it is (as llama.cpp's quantize falls back);
            // named by --include: the user asked for something the format cannot do.
            if (o.filter.has_include()) return progress.finish(), fail("tensor \"" + name + "\": " + cannot);
            progress.note("rai quantize: keeping \"" + name + "\" " + shape_text(info.ndim, info.shape) +
                          " unquantized: " + cannot);
            quantize = false;
            ++kept;
        }
        std::string line;
        if (quantize) {
            rai_tensor view;
            Quantized q;
            if ((st = rai_safetensors_tensor_view(in, i, &view)) != RAI_OK) return progress.finish(), fail(api_error(name, st));
            if (!output->quantize(ctx, info, view, &q, &why)) return progress.finish(), fail(why);
            const double err = relative_rms(view, q.restored);
            quantized.insert(name);
            bytes_quantized_in += info.nbytes;
            err_sum += err;
            if (err > err_max) err_max = err, err_max_name = name;
            char buf[64];
            std::snprintf(buf, sizeof buf, "relative RMS error %.6f", err);
            line = "quantized " + name + " " + info.dtype_name + " " + shape_text(info.ndim, info.shape) + " " + buf;
        } else {
            if (!output->copy(info, &why)) return progress.finish(), fail(why);
            ++copied;
            bytes_copied += info.nbytes;
            line = "copied    " + name + " " + info.dtype_name + " " + shape_text(info.ndim, info.shape);
        }
        progress.step(name, line);
    }
    progress.finish();

    // The input's __metadata__ is kept; a GGUF file gets it as "safetensors.<key>" strings.
    size_t nmeta = 0;
    rai_safetensors_metadata_count(in, &nmeta);
    for (size_t k = 0; k < nmeta; ++k) {
        const char *key = nullptr, *value = nullptr;
        if (rai_safetensors_metadata_get(in, k, &key, &value) != RAI_OK) continue;
        if (!output->set_metadata(gguf ? std::string("safetensors.") + key : key, value, &why)) return fail(why);
    }
    if (!output->set_metadata("rai.quantize.format", o.q.format, &why)) return fail(why);
    if (!output->save(o.out, &why)) return fail(why);

    uint64_t bytes_quantized_out = 0;
    if (!measure_output(o.out, gguf, quantized, &bytes_quantized_out, &why)) return fail("written file: " + why);
    const uint64_t size_in = file_size(o.in), size_out = file_size(o.out);
    auto ratio = [](uint64_t a, uint64_t b) { return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b); };
    std::printf("rai quantize: %s -> %s (%s)\n", o.in, o.out, output->describe().c_str());
    std::printf("quantized: %zu tensors, %" PRIu64 " -> %" PRIu64 " bytes (%.2fx)\n", quantized.size(),
                bytes_quantized_in, bytes_quantized_out, ratio(bytes_quantized_in, bytes_quantized_out));
    std::printf("copied: %zu tensors, %" PRIu64 " bytes", copied, bytes_copied);
    if (kept != 0) std::printf(" (%zu selected but kept: the format cannot hold their shape)", kept);
    std::printf("\nfile: %" PRIu64 " -> %" PRIu64 " bytes (%.2fx)\n", size_in, size_out, ratio(size_in, size_out));
    if (quantized.empty()) {
        std::printf("mean relative RMS error: n/a (no tensor quantized)\n");
        std::fprintf(stderr, "rai quantize: warning: no tensor was quantized; %s is a copy\n", o.out);
    } else {
        std::printf("mean relative RMS error: %.6f over %zu tensors (max %.6f, %s)\n",
                    err_sum / static_cast<double>(quantized.size()), quantized.size(), err_max, err_max_name.c_str());
    }
    return 0;
}
