// cuSOLVER (dense), loaded at run time, for the GPU factorizations
// (lapack.cu): the library and a handle per CUDA stream. Loaded as cuBLAS
// is (cublas.h): libcusolver.so.12 (CUDA 13) or .11 (CUDA 12) already in
// the process, on the loader path, in FASTSYNC_CUSOLVER_PATH (which `import
// fastsync` points at PyPI's nvidia-cusolver wheel) or in the toolkit; the
// libraries it needs (cuBLAS, cuBLASLt, cuSPARSE, nvJitLink) are loaded
// first from the same directory.
//
// The declarations are the part of cusolverDn.h fastsync calls (the
// legacy, 32-bit-size dense API); building needs no cuSOLVER headers.
//
// Threads: the encoding thread (handles per stream, made on first use and
// kept for the life of the process, as cuBLAS handles).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend/cuda/encoder.h"

namespace fastsync::cuda::cusolver {

using Handle = void*;
using Status = int;

// Typed entry points, one set per LAPACK type (S: float, D: double, C:
// complex64 as float2); T is the element, R its real type.
template <typename T, typename R>
struct Typed {
  Status (*potrf_size)(Handle, int, int, T*, int, int*);
  Status (*potrf)(Handle, int, int, T*, int, T*, int, int*);
  Status (*getrf_size)(Handle, int, int, T*, int, int*);
  Status (*getrf)(Handle, int, int, T*, int, T*, int*, int*);
  Status (*getrs)(Handle, int, int, int, const T*, int, const int*, T*, int, int*);
  Status (*geqrf_size)(Handle, int, int, T*, int, int*);
  Status (*geqrf)(Handle, int, int, T*, int, T*, T*, int, int*);
  Status (*orgqr_size)(Handle, int, int, int, const T*, int, const T*, int*);
  Status (*orgqr)(Handle, int, int, int, T*, int, const T*, T*, int, int*);
  Status (*syevd_size)(Handle, int, int, int, const T*, int, const R*, int*);
  Status (*syevd)(Handle, int, int, int, T*, int, R*, T*, int, int*);
  Status (*gesvd_size)(Handle, int, int, int*);
  Status (*gesvd)(Handle, signed char, signed char, int, int, T*, int, R*, T*, int, T*, int, T*,
                  int, R*, int*);
};

struct Api {
  Status (*Create)(Handle*);
  Status (*SetStream)(Handle, cudaStream_t);
  Typed<float, float> s;
  Typed<double, double> d;
  Typed<float2, float> c;
};

// The loaded library; throws std::runtime_error "[op] cannot load
// cuSOLVER ..." (what was tried) when it cannot be found. Any thread.
const Api& api(const char* op);

// Throws std::runtime_error "[op] fn failed with status N" unless ok.
void check(Status s, const char* op, const char* fn);

// The handle bound to `enc`'s CUDA stream.
Handle handle(CommandEncoder& enc, const char* op);

}  // namespace fastsync::cuda::cusolver
