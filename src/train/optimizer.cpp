#include "optimizer.h"

#include <cmath>
#include <cstring>
#include <string>

#include "../core/error.h"
#include "hybrid.h"

namespace rai::train {

namespace {

constexpr char kOptMagic[8] = {'R', 'A', 'I', 'O', 'P', 'T', 'S', 'T'};
constexpr uint32_t kOptVersion = 1;

void check_unit_open(float v, const char *field) {
    require(std::isfinite(v) && v > 0.0f && v < 1.0f, RAI_ERROR_INVALID_ARGUMENT,
            std::string("params->") + field + " is " + std::to_string(v) + ", expected a value in (0, 1)");
}

}  // namespace

OptConfig resolve_optimizer_params(const rai_optimizer_params &p) {
    OptConfig c;
    require(p.kind >= RAI_OPTIMIZER_SGD && p.kind <= RAI_OPTIMIZER_ADAMW, RAI_ERROR_INVALID_ARGUMENT,
            "params->kind is " + std::to_string(p.kind) + ", expected RAI_OPTIMIZER_SGD, _MOMENTUM or _ADAMW");
    c.kind = p.kind;
    if (p.lr != 0.0f) c.lr = p.lr;
    require(std::isfinite(c.lr) && c.lr > 0.0f, RAI_ERROR_INVALID_ARGUMENT,
            "params->lr is " + std::to_string(p.lr) + ", expected a finite value > 0");
    if (p.momentum != 0.0f) c.momentum = p.momentum;
    check_unit_open(c.momentum, "momentum");
    if (p.beta1 != 0.0f) c.beta1 = p.beta1;
    check_unit_open(c.beta1, "beta1");
    if (p.beta2 != 0.0f) c.beta2 = p.beta2;
    check_unit_open(c.beta2, "beta2");
    if (p.eps != 0.0f) c.eps = p.eps;
    require(std::isfinite(c.eps) && c.eps > 0.0f, RAI_ERROR_INVALID_ARGUMENT,
            "params->eps is " + std::to_string(p.eps) + ", expected a finite value > 0");
    c.weight_decay = p.weight_decay;
    require(std::isfinite(c.weight_decay) && c.weight_decay >= 0.0f, RAI_ERROR_INVALID_ARGUMENT,
            "params->weight_decay is " + std::to_string(p.weight_decay) + ", expected a finite value >= 0");
    c.max_grad_norm = p.max_grad_norm;
    require(std::isfinite(c.max_grad_norm) && c.max_grad_norm >= 0.0f, RAI_ERROR_INVALID_ARGUMENT,
            "params->max_grad_norm is " + std::to_string(p.max_grad_norm) + ", expected a finite value >= 0");
    require(p.nesterov == 0 || p.nesterov == 1, RAI_ERROR_INVALID_ARGUMENT,
            "params->nesterov is " + std::to_string(p.nesterov) + ", expected 0 or 1");
    require(p.nesterov == 0 || p.kind == RAI_OPTIMIZER_MOMENTUM, RAI_ERROR_INVALID_ARGUMENT,
            "params->nesterov needs kind RAI_OPTIMIZER_MOMENTUM");
    c.nesterov = p.nesterov;
    return c;
}

float clip_factor(double norm, float max_norm) {
    if (max_norm <= 0.0f) return 1.0f;
    const double f = static_cast<double>(max_norm) / (norm + 1e-6);
    return f < 1.0 ? static_cast<float>(f) : 1.0f;
}

}  // namespace rai::train

using namespace rai::train;

rai_optimizer::rai_optimizer(rai_context &c, const OptConfig &config)
    : ctx(c), ops(make_ops(c)), cfg(config), lr(config.lr) {}

rai_optimizer::~rai_optimizer() {
    if (attached != nullptr) attached->optimizer_destroyed(this);
}

std::size_t rai_optimizer::buffers_per_slot() const {
    return cfg.kind == RAI_OPTIMIZER_ADAMW ? 2 : cfg.kind == RAI_OPTIMIZER_MOMENTUM ? 1 : 0;
}

uint32_t rai_optimizer::add_param(const char *name, const rai_tensor *param, const rai_tensor *grad) {
    rai::require(attached == nullptr, RAI_ERROR_INVALID_ARGUMENT,
                 "opt: is attached to a rai_hybrid; register tensors before attaching");
    rai::require(t == 0, RAI_ERROR_INVALID_ARGUMENT, "opt: has already stepped; register every tensor first");
    Slot s = make_slot(ctx, name, param, grad, slots);
    std::vector<DevVec> bufs;
    for (std::size_t b = 0; b < buffers_per_slot(); ++b) bufs.emplace_back(*ops, s.n);
    slots.push_back(std::move(s));
    state.push_back(std::move(bufs));
    return static_cast<uint32_t>(slots.size() - 1);
}

double rai_optimizer::grad_norm() {
    ops->sumsq_begin(slots.size());
    for (std::size_t i = 0; i < slots.size(); ++i) ops->sumsq_add(i, slots[i].n, slots[i].grad);
    return std::sqrt(ops->sumsq_end());
}

double rai_optimizer::step() {
    rai::require(!slots.empty(), RAI_ERROR_INVALID_ARGUMENT, "opt: no parameters registered");
    const double norm = grad_norm();
    rai::require(std::isfinite(norm), RAI_ERROR_INVALID_ARGUMENT,
                 "grad: the global gradient norm is not finite (" + std::to_string(norm) + "); nothing was updated");
    const float factor = clip_factor(norm, cfg.max_grad_norm);
    begin_update();
    for (std::size_t i = 0; i < slots.size(); ++i) update_tensor(i, slots[i].grad, factor, nullptr, true);
    return norm;
}

void rai_optimizer::begin_update() { ++t; }

void rai_optimizer::update_tensor(std::size_t i, const float *grad, float grad_scale, float *upd, bool apply) {
    const Slot &s = slots[i];
    if (cfg.kind == RAI_OPTIMIZER_ADAMW) {
        const double b1 = cfg.beta1, b2 = cfg.beta2, td = static_cast<double>(t);
        AdamWArgs a{};
        a.lr = lr;
        a.beta1 = cfg.beta1;
        a.beta2 = cfg.beta2;
        a.eps = cfg.eps;
        a.weight_decay = cfg.weight_decay;
        a.step_size = static_cast<float>(static_cast<double>(lr) / (1.0 - std::pow(b1, td)));
        a.bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(b2, td)));
        a.grad_scale = grad_scale;
        a.apply = apply ? 1 : 0;
        ops->adamw(s.n, s.param, grad, state[i][0].data(), state[i][1].data(), upd, a);
    } else {
        SgdArgs a{};
        a.lr = lr;
        a.momentum = cfg.momentum;
        a.weight_decay = cfg.weight_decay;
        a.grad_scale = grad_scale;
        a.nesterov = cfg.nesterov;
        a.first = t == 1 ? 1 : 0;
        a.apply = apply ? 1 : 0;
        float *buf = cfg.kind == RAI_OPTIMIZER_MOMENTUM ? state[i][0].data() : nullptr;
        ops->sgd(s.n, s.param, grad, buf, upd, a);
    }
}

void rai_optimizer::serialize(Writer &w) const {
    w.raw(kOptMagic, sizeof kOptMagic);
    w.u32(kOptVersion);
    w.i32(cfg.kind);
    w.u32(static_cast<uint32_t>(slots.size()));
    for (const Slot &s : slots) w.u64(s.n);
    w.u64(t);
    w.f32(lr);
    w.u32(static_cast<uint32_t>(buffers_per_slot()));
    for (std::size_t i = 0; i < slots.size(); ++i)
        for (const DevVec &b : state[i]) w.floats(*ops, b.data(), b.size());
}

rai_optimizer::Parsed rai_optimizer::parse(Reader &r) const {
    char magic[8];
    r.raw(magic, 8);
    if (std::memcmp(magic, kOptMagic, 8) != 0) r.fail("is not a rai optimizer state");
    const uint32_t version = r.u32();
    if (version != kOptVersion)
        r.fail("has format version " + std::to_string(version) + "; this librai reads version " +
                   std::to_string(kOptVersion),
               RAI_ERROR_UNSUPPORTED);
    const int32_t kind = r.i32();
    if (kind != cfg.kind)
        r.fail("is for optimizer kind " + std::to_string(kind) + ", this optimizer has kind " + std::to_string(cfg.kind),
               RAI_ERROR_INVALID_ARGUMENT);
    const uint32_t n = r.u32();
    if (n != slots.size())
        r.fail("has " + std::to_string(n) + " tensors, this optimizer has " + std::to_string(slots.size()),
               RAI_ERROR_SHAPE_MISMATCH);
    for (const Slot &s : slots) {
        const uint64_t sz = r.u64();
        if (sz != s.n)
            r.fail("has " + std::to_string(sz) + " elements for '" + s.name + "', which has " + std::to_string(s.n),
                   RAI_ERROR_SHAPE_MISMATCH);
    }
    Parsed p;
    p.scalars.t = r.u64();
    p.scalars.lr = r.f32();
    if (!(std::isfinite(p.scalars.lr) && p.scalars.lr > 0.0f)) r.fail("has an invalid learning rate");
    const uint32_t nb = r.u32();
    if (nb != buffers_per_slot()) r.fail("has " + std::to_string(nb) + " buffers per tensor");
    for (const Slot &s : slots) {
        std::vector<std::vector<float>> bufs;
        for (uint32_t b = 0; b < nb; ++b) bufs.push_back(r.floats(s.n, "'" + s.name + "'"));
        p.state.push_back(std::move(bufs));
    }
    r.expect_end();
    return p;
}

void rai_optimizer::commit(const Parsed &p) {
    for (std::size_t i = 0; i < slots.size(); ++i)
        for (std::size_t b = 0; b < state[i].size(); ++b) ops->from_host(slots[i].n, state[i][b].data(), p.state[i][b].data());
    set_scalars(p.scalars);
}
