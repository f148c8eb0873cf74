// Registration of borrowed (parameter, gradient) tensor pairs, shared by rai_optimizer and
// rai_hybrid: every check in one place, through TensorCheck.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/context.h"

namespace rai::train {

struct Slot {
    std::string name;
    float *param = nullptr;  // borrowed
    float *grad = nullptr;   // borrowed
    std::size_t n = 0;
    std::vector<int64_t> shape;
    // Row-major matrix view for low-rank work: rows = shape[0], cols = n / rows (1-D: 1 x n).
    int64_t rows() const { return shape.size() >= 2 ? shape[0] : 1; }
    int64_t cols() const { return rows() ? static_cast<int64_t>(n) / rows() : 0; }
};

// Validates and describes a new registration: f32, contiguous, on ctx's device, equal shapes,
// param and grad distinct and not overlapping each other or `existing`. A NULL name becomes
// "param<index>".
Slot make_slot(const rai_context &ctx, const char *name, const rai_tensor *param, const rai_tensor *grad,
               const std::vector<Slot> &existing);

// Checks a caller tensor that receives slot data (f32, contiguous, on ctx's device, slot shape).
float *check_output(const rai_context &ctx, const char *what, const rai_tensor *t, const Slot &slot);

}  // namespace rai::train
