// AdaLoRA's budget allocator and orthogonal regulariser with PEFT's arithmetic (peft/tuners/
// adalora: RankAllocator, AdaLoraModel.update_and_allocate and forward). Element-wise updates
// are float32 as in torch (each product and sum rounded); the means behind the triplet scores
// are summed in double, so a score may differ from torch's in the last bit.
#include "adalora.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "../core/error.h"

namespace rai::adapters {

namespace {

constexpr const char *kSuffix[3] = {"lora_A", "lora_E", "lora_B"};

// The module's A [r, in], E [r, 1], B [out, r].
std::array<Param *, 3> triplet(ModuleAdapter &ma) {
    return {&ma.get(kSuffix[0]), &ma.get(kSuffix[1]), &ma.get(kSuffix[2])};
}

int64_t initial_budget(const Adapter &a) {
    int64_t n = 0;
    for (const ModuleAdapter &ma : a.modules) n += ma.r;  // PEFT: the sum of lora_A's rows
    return n;
}

// RankAllocator.update_ipt: sensitivity |p·grad| smoothed with beta1, its deviation with beta2.
void update_ipt(AdaloraAllocator &st, Adapter &a, const AdapterConfig &c) {
    const float b1 = static_cast<float>(c.beta1), c1 = static_cast<float>(1.0 - c.beta1);
    const float b2 = static_cast<float>(c.beta2), c2 = static_cast<float>(1.0 - c.beta2);
    for (ModuleAdapter &ma : a.modules) {
        std::array<AdaloraAllocator::Ema, 3> &emas = st.ema[ma.module];
        const std::array<Param *, 3> ps = triplet(ma);
        for (int k = 0; k < 3; ++k) {
            const Param &p = *ps[k];
            AdaloraAllocator::Ema &e = emas[k];
            if (e.ipt.size() != p.value.size()) e.ipt.assign(p.value.size(), 0.0f), e.unc.assign(p.value.size(), 0.0f);
            for (std::size_t i = 0; i < p.value.size(); ++i) {
                const float ipt = std::fabs(p.value[i] * p.grad[i]);
                const float s1 = b1 * e.ipt[i], t1 = c1 * ipt;
                e.ipt[i] = s1 + t1;
                const float s2 = b2 * e.unc[i], t2 = c2 * std::fabs(ipt - e.ipt[i]);
                e.unc[i] = s2 + t2;
            }
        }
    }
}

// RankAllocator.mask_to_budget: one score per singular value (its E entry's score plus the mean
// scores of its lora_A row and lora_B column); those at or below the (init - budget)-th smallest
// are zeroed in E. Returns the rank pattern.
std::vector<RankMask> mask_to_budget(AdaloraAllocator &st, Model &m, Adapter &a, int64_t init_bgt, int64_t budget) {
    std::vector<std::vector<float>> scores;
    std::vector<float> all;
    for (ModuleAdapter &ma : a.modules) {
        const std::array<Param *, 3> ps = triplet(ma);
        const auto it = st.ema.find(ma.module);
        require(it != st.ema.end() && it->second[0].ipt.size() == ps[0]->value.size(), RAI_ERROR_INVALID_ARGUMENT,
                "adalora: no importance scores yet for module \"" + m.modules()[ma.module].name +
                    "\" (call rai_adapter_adalora_update from the first step on)");
        const std::array<AdaloraAllocator::Ema, 3> &e = it->second;
        auto score = [&](int k, std::size_t i) { return e[k].ipt[i] * e[k].unc[i]; };
        const int64_t r = ma.r, in = ps[0]->shape[1], out = ps[2]->shape[0];
        std::vector<float> s(static_cast<std::size_t>(r));
        for (int64_t j = 0; j < r; ++j) {
            double sa = 0, sb = 0;
            for (int64_t i = 0; i < in; ++i) sa += score(0, static_cast<std::size_t>(j * in + i));
            for (int64_t o = 0; o < out; ++o) sb += score(2, static_cast<std::size_t>(o * r + j));
            const float ma_ = static_cast<float>(sa / static_cast<double>(in));
            const float mb_ = static_cast<float>(sb / static_cast<double>(out));
            const float ab = ma_ + mb_;
            s[static_cast<std::size_t>(j)] = score(1, static_cast<std::size_t>(j)) + ab;
        }
        all.insert(all.end(), s.begin(), s.end());
        scores.push_back(std::move(s));
    }
    // torch.kthvalue(all, k = init - budget): the k-th smallest. k = 0 (nothing to drop; PEFT's
    // kthvalue would raise) masks nothing.
    const int64_t k = init_bgt - budget;
    float threshold = -INFINITY;
    if (k > 0 && !all.empty()) {
        const std::size_t kk = static_cast<std::size_t>(std::min<int64_t>(k, static_cast<int64_t>(all.size()))) - 1;
        std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(kk), all.end());
        threshold = all[kk];
    }
    std::vector<RankMask> pattern;
    for (std::size_t mi = 0; mi < a.modules.size(); ++mi) {
        ModuleAdapter &ma = a.modules[mi];
        Param &E = ma.get(kSuffix[1]);
        RankMask rm;
        rm.module = m.modules()[ma.module].name;
        for (std::size_t j = 0; j < scores[mi].size(); ++j) {
            const bool drop = scores[mi][j] <= threshold;
            if (drop) E.value[j] = 0.0f;
            rm.keep.push_back(drop ? 0 : 1);
        }
        pattern.push_back(std::move(rm));
    }
    return pattern;
}

// RankAllocator.mask_using_rank_pattern: zero the E entries the final pattern drops.
void mask_using_pattern(Model &m, Adapter &a) {
    for (ModuleAdapter &ma : a.modules) {
        const RankMask *rm = a.cfg.rank_mask_for(m.modules()[ma.module].name);
        if (rm == nullptr) continue;
        Param &E = ma.get(kSuffix[1]);
        for (std::size_t j = 0; j < E.value.size() && j < rm->keep.size(); ++j)
            if (rm->keep[j] == 0) E.value[j] = 0.0f;
    }
}

}  // namespace

AdaloraBudget adalora_budget(const AdapterConfig &c, int64_t init_bgt, int64_t target_bgt, int64_t step) {
    AdaloraBudget b;
    if (step <= c.tinit) {
        b.budget = init_bgt;
    } else if (step > c.total_step - c.tfinal) {
        b.budget = target_bgt;
        b.mask = true;
    } else {
        const double mul = 1.0 - static_cast<double>(step - c.tinit) / static_cast<double>(c.total_step - c.tfinal - c.tinit);
        b.budget = static_cast<int64_t>(static_cast<double>(init_bgt - target_bgt) * (mul * mul * mul) +
                                        static_cast<double>(target_bgt));  // Python's int(): toward zero
        b.mask = step % c.delta_t == 0;
    }
    return b;
}

int64_t adalora_update_and_allocate(Model &m, Adapter &a, int64_t step) {
    const AdapterConfig &c = a.cfg;
    require(c.type == PeftType::Adalora, RAI_ERROR_INVALID_ARGUMENT,
            "adapter \"" + a.name + "\" is not an AdaLoRA adapter");
    require(step >= 0, RAI_ERROR_INVALID_ARGUMENT, "global_step must be >= 0, got " + std::to_string(step));
    require(c.total_step > 0, RAI_ERROR_INVALID_ARGUMENT,
            "adapter \"" + a.name + "\": total_step is not set (set it in the AdaLoRA config)");
    for (const ModuleAdapter &ma : a.modules)
        require(ma.r == c.r, RAI_ERROR_INVALID_ARGUMENT,
                "adapter \"" + a.name + "\": module \"" + m.modules()[ma.module].name + "\" has rank " +
                    std::to_string(ma.r) + " < init_r " + std::to_string(c.r) +
                    " (an adapter loaded pruned by a rank_pattern cannot be re-allocated)");
    if (!a.adalora) a.adalora = std::make_shared<AdaloraAllocator>();
    AdaloraAllocator &st = *a.adalora;
    const int64_t init_bgt = initial_budget(a);
    const int64_t target_bgt = static_cast<int64_t>(c.target_r) * static_cast<int64_t>(a.modules.size());
    const int64_t final_step = c.total_step - c.tfinal;
    if (step < final_step) {
        update_ipt(st, a, c);
        const AdaloraBudget b = adalora_budget(c, init_bgt, target_bgt, step);
        if (b.mask) a.cfg.rank_masks = mask_to_budget(st, m, a, init_bgt, b.budget);
        return b.budget;
    }
    if (step == final_step) {
        const AdaloraBudget b = adalora_budget(c, init_bgt, target_bgt, step);
        a.cfg.rank_masks = mask_to_budget(st, m, a, init_bgt, b.budget);
        st.ema.clear();  // reset_ipt
        return b.budget;
    }
    mask_using_pattern(m, a);
    return target_bgt;
}

float adalora_orth_reg(Adapter &a, bool accumulate) {
    require(a.cfg.type == PeftType::Adalora, RAI_ERROR_INVALID_ARGUMENT,
            "adapter \"" + a.name + "\" is not an AdaLoRA adapter");
    const double w = a.cfg.orth_reg_weight;
    // Per parameter: f = ||C - I||_F with C = P Pᵀ (A [r, in]) or Pᵀ P (B [out, r]), both r x r.
    struct Term {
        Param *p;
        bool is_b;
        double f;
        std::vector<double> D;  // C - I
    };
    std::vector<Term> terms;
    for (ModuleAdapter &ma : a.modules) {
        for (int k : {0, 2}) {
            Param &p = ma.get(kSuffix[k]);
            const bool is_b = k == 2;
            const int64_t r = is_b ? p.shape[1] : p.shape[0], len = is_b ? p.shape[0] : p.shape[1];
            Term t{&p, is_b, 0.0, std::vector<double>(static_cast<std::size_t>(r * r))};
            auto at = [&](int64_t row, int64_t i) {  // row `row` of P as a [r, len] matrix
                return static_cast<double>(is_b ? p.value[static_cast<std::size_t>(i * r + row)]
                                                : p.value[static_cast<std::size_t>(row * len + i)]);
            };
            double f2 = 0;
            for (int64_t x = 0; x < r; ++x)
                for (int64_t y = 0; y < r; ++y) {
                    double s = 0;
                    for (int64_t i = 0; i < len; ++i) s += at(x, i) * at(y, i);
                    const double d = s - (x == y ? 1.0 : 0.0);
                    t.D[static_cast<std::size_t>(x * r + y)] = d;
                    f2 += d * d;
                }
            t.f = std::sqrt(f2);
            terms.push_back(std::move(t));
        }
    }
    if (terms.empty()) return 0.0f;
    double loss = 0;
    for (const Term &t : terms) loss += t.f;
    const double scale = w / static_cast<double>(terms.size());
    if (accumulate && w != 0.0) {
        // d f / d P = 2 D P / f for C = P Pᵀ (A) and 2 P D / f for C = Pᵀ P (B); 0 where f = 0.
        for (const Term &t : terms) {
            if (t.f == 0.0) continue;
            Param &p = *t.p;
            const int64_t r = t.is_b ? p.shape[1] : p.shape[0], len = t.is_b ? p.shape[0] : p.shape[1];
            const double g = 2.0 * scale / t.f;
            for (int64_t x = 0; x < r; ++x)
                for (int64_t i = 0; i < len; ++i) {
                    double s = 0;
                    for (int64_t y = 0; y < r; ++y)
                        s += t.D[static_cast<std::size_t>(x * r + y)] *
                             (t.is_b ? p.value[static_cast<std::size_t>(i * r + y)] : p.value[static_cast<std::size_t>(y * len + i)]);
                    const std::size_t idx = static_cast<std::size_t>(t.is_b ? i * r + x : x * len + i);
                    p.grad[idx] += static_cast<float>(g * s);
                }
        }
    }
    return static_cast<float>(scale * loss);
}

}  // namespace rai::adapters
