// Convolutions through Intel's oneDNN (PyPI's onednn-cpu-gomp wheel, or
// libdnnl.so.3 on the loader path), loaded at run time the way MKL is
// (blas.h). Its JIT kernels convolve channels-last float32 images directly,
// with no patch matrix: a 3x3 ResNet layer's training step took 116-119 ms
// on a 2-core x86-64 VM against 215-289 as im2col + MKL's GEMM (on AMD,
// MKL's GEMM does not take its AVX-512 paths).
//
// The fused convolution kernels (convolution.cpp) ask plan() first and fall
// back to their own chunked GEMM when it returns null: oneDNN not found,
// FASTSYNC_ONEDNN=0, a dtype other than float32, or a geometry oneDNN does
// not take (flip, input dilation, cropping).
//
// Threads: plan() on the encoding thread (it builds and caches oneDNN's
// primitive for the shape, which JIT-compiles on first use; a mutex guards
// the cache). run() on a stream worker, under the BLAS pool lock: oneDNN
// splits each call over its own OpenMP team of all the cores.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "array.h"
#include "backend/common/conv.h"

namespace fastsync::cpu::onednn {

enum class Pass { forward, input_grad, weight_grad };

struct Plan;  // the cached primitive and its weight reorder, if any

// The primitive for this convolution pass: n images of c_in channels into
// c_out channels. Null when oneDNN does not run it (see above).
std::shared_ptr<const Plan> plan(Pass pass, const ConvGeometry& g, int64_t n, int64_t c_in,
                                 int64_t c_out, Dtype dtype);

// Bytes of scratch run() needs beside the operands (the weight in oneDNN's
// preferred layout), 0 when none.
size_t scratch_bytes(const Plan& p);

// Runs the pass on row-contiguous buffers: images (N, *in, C) and
// (N, *out, O), weight (O, *kernel, C / G). forward: x, w -> y;
// input_grad: w, dy -> dx; weight_grad: x, dy -> dw. `a` and `b` are the
// two operands in those orders, `out` the result. Throws std::runtime_error
// with oneDNN's status when a call fails.
void run(const Plan& p, const void* a, const void* b, void* out, void* scratch);

// "oneDNN 3.2.0 (/path/libdnnl.so.3)", or why it is not used.
std::string describe();

}  // namespace fastsync::cpu::onednn
