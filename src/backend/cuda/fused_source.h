// The CUDA source of the kernel for a Fused program (primitives/fused.h),
// which fused.cu compiles at run time with NVRTC (jit.h): straight-line code
// over the program's slots, calling the scalar functors of the unfused
// kernels (backend/common/elementwise.h, which the source includes), so a
// fused chain computes what the unfused ops compute (in float for half
// types, rounded once at the output). Pure host code, any thread.
#pragma once

#include <string>

#include "dtype.h"
#include "primitives/fused.h"

namespace fastsync::cuda {

// The source of extern "C" kernel `fused(in0, ..., out0, ..., n, m<k> for
// each cyclic input k)`, for output dtype `dtype` (every input has it) and
// input k read as reads[k]. `vectorized`: the bulk moves 16-byte units of
// each dense operand (all of them must be 16-byte aligned).
std::string fused_kernel_source(const FusedProgram& prog, Dtype dtype, const FusedRead* reads,
                                bool vectorized);
// Whether `op` computes in `dtype`'s compute type with a result of that
// type (what the fusion pass sends; anything else has no generated form).
bool fused_op_computes_in(const FusedOp& op, Dtype dtype);
// How Fused runs on this process's GPUs (fused.cu): "nvrtc (<library>)", or
// "interpreted (<why>)". device_info(gpu)["fused_kernels"] shows it.
std::string fused_kernels_description();

}  // namespace fastsync::cuda
