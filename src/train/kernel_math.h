// Per-element arithmetic shared by the CPU reference (ops_cpu.cpp) and the CUDA kernels
// (cuda/train/train_kernels.cu), so both backends compute the same expression in the same order.
#pragma once
#include <cmath>

#include "../core/host_device.h"
#include "cuda_train_abi.h"

namespace rai::train::math {

// One AdamW element (PyTorch torch.optim.AdamW, foreach=False, amsgrad=False). g is the raw
// gradient (0 for a coasting step); returns the new parameter value and updates m, v.
RAI_HD float adamw(float p, float g, float &m, float &v, const raicuda_adamw_args &a) {
    const float gs = g * a.grad_scale;
    const float mi = a.beta1 * m + (1.0f - a.beta1) * gs;
    const float vi = a.beta2 * v + (1.0f - a.beta2) * (gs * gs);
    m = mi;
    v = vi;
    const float p1 = p * (1.0f - a.lr * a.weight_decay);
    const float denom = sqrtf(vi) / a.bc2_sqrt + a.eps;
    return p1 - a.step_size * (mi / denom);
}

// One SGD element (PyTorch torch.optim.SGD, dampening 0). buf == nullptr: no momentum.
RAI_HD float sgd(float p, float g, float *buf, const raicuda_sgd_args &a) {
    float d = g * a.grad_scale + a.weight_decay * p;
    if (buf != nullptr) {
        const float b = a.first ? d : a.momentum * (*buf) + d;
        *buf = b;
        d = a.nesterov ? d + a.momentum * b : b;
    }
    return p - a.lr * d;
}

RAI_HD float wls_predict(float b, float v, float r, float dt, float rdecay, float scale) {
    return scale * ((b + v * dt) + r * rdecay);
}

RAI_HD float wls_correct(float r, float g, float b, float v, float dt, float keep, float rate) {
    return keep * r + rate * (g - (b + v * dt));
}

}  // namespace rai::train::math
