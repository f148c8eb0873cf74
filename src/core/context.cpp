#include "context.h"

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "cuda_plugin.h"
#include "error.h"
#include "log.h"

namespace rai {

namespace {

// Applies RAI_DEVICE=cpu|cuda|cuda:N|auto on top of the params.
void apply_env_override(rai_context_params &p) {
    const char *env = std::getenv("RAI_DEVICE");
    if (env == nullptr || *env == '\0') return;
    const std::string v = env;
    if (v == "cpu") {
        p.device_type = RAI_DEVICE_CPU;
    } else if (v == "auto") {
        p.device_type = RAI_DEVICE_AUTO;
    } else if (v == "cuda") {
        p.device_type = RAI_DEVICE_CUDA;
        p.device_id = 0;
    } else if (v.rfind("cuda:", 0) == 0 && v.size() > 5 && v.size() < 15 &&
               v.find_first_not_of("0123456789", 5) == std::string::npos) {
        p.device_type = RAI_DEVICE_CUDA;
        p.device_id = std::stoi(v.substr(5));
    } else {
        throw Error(RAI_ERROR_INVALID_ARGUMENT,
                    "environment variable RAI_DEVICE='" + v + "' is not one of cpu, cuda, cuda:N, auto");
    }
}

void warn_cpu_fallback_once(const std::string &why) {
    static std::once_flag once;
    std::call_once(once, [&] { log::warn("rai: running on the CPU: " + why); });
}

}  // namespace

rai_context *create_context(const rai_context_params &params) {
    rai_context_params p = params;
    if ((p.flags & RAI_CONTEXT_IGNORE_ENV) == 0) apply_env_override(p);
    require(p.device_type == RAI_DEVICE_AUTO || p.device_type == RAI_DEVICE_CPU || p.device_type == RAI_DEVICE_CUDA,
            RAI_ERROR_INVALID_ARGUMENT,
            "params->device_type " + std::to_string(p.device_type) + " is not AUTO, CPU or CUDA");
    require(p.device_id >= 0, RAI_ERROR_INVALID_ARGUMENT,
            "params->device_id must be >= 0, got " + std::to_string(p.device_id));
    require((p.flags & ~(RAI_CONTEXT_STRICT | RAI_CONTEXT_IGNORE_ENV)) == 0, RAI_ERROR_INVALID_ARGUMENT,
            "params->flags has unknown bits");
    const bool strict = (p.flags & RAI_CONTEXT_STRICT) != 0;

    auto ctx = std::make_unique<rai_context>();
    if (p.device_type == RAI_DEVICE_CPU) {
        require(p.stream == nullptr, RAI_ERROR_INVALID_ARGUMENT, "params->stream must be NULL for a CPU context");
        ctx->device = {RAI_DEVICE_CPU, 0};
        return ctx.release();
    }

    const int32_t n = cuda::device_count();
    if (p.device_id >= n) {
        const std::string why = n == 0 ? "CUDA device " + std::to_string(p.device_id) +
                                             " requested but CUDA is not available (CUDA plugin " +
                                             cuda::status() + ")"
                                       : "CUDA device " + std::to_string(p.device_id) + " requested but " +
                                             std::to_string(n) + " available";
        if (strict) throw Error(RAI_ERROR_NO_DEVICE, why);
        warn_cpu_fallback_once(why);
        ctx->device = {RAI_DEVICE_CPU, 0};
        return ctx.release();
    }

    const raicuda_backend &be = cuda::require_plugin();
    ctx->device = {RAI_DEVICE_CUDA, p.device_id};
    if (p.stream != nullptr) {
        ctx->stream = p.stream;
        ctx->owns_stream = false;
    } else {
        cuda::check([&](raicuda_err *e) { return be.stream_create(p.device_id, &ctx->stream, e); });
        ctx->owns_stream = true;
    }
    log::info("rai: using CUDA device " + std::to_string(p.device_id));
    return ctx.release();
}

void destroy_context(rai_context *ctx) noexcept {
    if (ctx == nullptr) return;
    if (is_cuda(*ctx) && ctx->owns_stream && ctx->stream != nullptr) {
        if (const raicuda_backend *be = cuda::plugin()) be->stream_destroy(ctx->device.device_id, ctx->stream);
    }
    delete ctx;
}

void synchronize(const rai_context &ctx) {
    if (!is_cuda(ctx)) return;
    const raicuda_backend &be = cuda::require_plugin();
    cuda::check([&](raicuda_err *e) { return be.stream_synchronize(ctx.device.device_id, ctx.stream, e); });
}

void wait_stream(const rai_context &ctx, void *producer) {
    require(is_cuda(ctx), RAI_ERROR_UNSUPPORTED, "ctx is a CPU context: it has no stream that could wait");
    const raicuda_backend &be = cuda::require_plugin();
    cuda::check([&](raicuda_err *e) { return be.stream_wait(ctx.device.device_id, ctx.stream, producer, e); });
}

void set_stream(rai_context &ctx, void *stream) {
    require(is_cuda(ctx), RAI_ERROR_UNSUPPORTED, "ctx is a CPU context: it has no stream to set");
    const raicuda_backend &be = cuda::require_plugin();
    synchronize(ctx);
    void *fresh = stream;
    if (stream == nullptr) {
        if (ctx.owns_stream) return;  // already on its own stream
        cuda::check([&](raicuda_err *e) { return be.stream_create(ctx.device.device_id, &fresh, e); });
    }
    if (ctx.owns_stream && ctx.stream != nullptr) be.stream_destroy(ctx.device.device_id, ctx.stream);
    ctx.stream = fresh;
    ctx.owns_stream = (stream == nullptr);
}

}  // namespace rai
