// Turns a CUDA runtime error into a raicuda_err message and a rai_status return value.
#pragma once
#include <cuda_runtime.h>

#include <cstdio>

#include "cuda_backend_abi.h"

#define RAICUDA_TRY(expr, err, what)                                                                 \
    do {                                                                                             \
        const cudaError_t raicuda_st_ = (expr);                                                      \
        if (raicuda_st_ != cudaSuccess) {                                                            \
            std::snprintf((err)->message, sizeof((err)->message), "%s failed: %s (%s)", what,        \
                          cudaGetErrorString(raicuda_st_), cudaGetErrorName(raicuda_st_));           \
            return raicuda_st_ == cudaErrorNoDevice || raicuda_st_ == cudaErrorInsufficientDriver || \
                           raicuda_st_ == cudaErrorInvalidDevice                                     \
                       ? RAI_ERROR_NO_DEVICE                                                         \
                       : (raicuda_st_ == cudaErrorMemoryAllocation ? RAI_ERROR_OUT_OF_MEMORY         \
                                                                   : RAI_ERROR_BACKEND);             \
        }                                                                                            \
    } while (0)
