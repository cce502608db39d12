// The BLAS that the CPU matrix products call, chosen once per process.
//
// OpenBLAS (PyPI's scipy-openblas32) is linked and always there. Intel MKL
// replaces it when its runtime library is found (PyPI's `mkl` wheel, which
// `pip install fastsync[mkl]` brings, or libmkl_rt on the loader path): on
// x86-64 its sgemm is 15-20 % faster than OpenBLAS's at the sizes a training
// step multiplies, and PyTorch's wheels call it too. FASTSYNC_BLAS picks:
//   auto (default)  MKL when found and usable, otherwise OpenBLAS;
//   openblas        OpenBLAS;
//   mkl             MKL, or the first product fails with the loader's reasons.
// MKL is looked for already loaded in the process, in the directories of
// FASTSYNC_MKL_PATH (which `import fastsync` points at the wheel's), then on
// the loader's path. `auto` passes over an MKL that cannot use 32-bit
// integers (its interface layer set to ILP64 by someone else in the process).
//
// Threads: any; the choice is made under a static initializer on the first
// call and never changes. Both libraries run their own thread pools;
// matmul.cpp serializes the products large enough to use them.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "dynlib.h"

namespace fastsync::cpu::blas {

// The CBLAS values both libraries share (they are the reference CBLAS's).
enum Layout : int { RowMajor = 101 };
enum Trans : int { NoTrans = 111, Transpose = 112 };

using Sgemm = void(int layout, int ta, int tb, int m, int n, int k, float alpha, const float* a,
                   int lda, const float* b, int ldb, float beta, float* c, int ldc);
using Dgemm = void(int layout, int ta, int tb, int m, int n, int k, double alpha, const double* a,
                   int lda, const double* b, int ldb, double beta, double* c, int ldc);
// Complex: alpha and beta are passed by pointer, matrices as untyped pointers.
using Cgemm = void(int layout, int ta, int tb, int m, int n, int k, const void* alpha,
                   const void* a, int lda, const void* b, int ldb, const void* beta, void* c,
                   int ldc);

struct Library {
  Sgemm* sgemm = nullptr;
  Dgemm* dgemm = nullptr;
  Cgemm* cgemm = nullptr;
  std::string name;  // "MKL 2026.0.1 (/path/libmkl_rt.so.3)" or "OpenBLAS 0.3.29 (...)"
  // MKL's mkl_set_num_threads_local (the calling thread's team size, 0 for
  // the global one; returns the previous value). Null for OpenBLAS, which
  // has no per-thread setting and picks its own threshold.
  int (*set_threads_local)(int) = nullptr;
};

// While alive, what this thread asks of MKL (products, transforms) runs on
// this thread alone, with no OpenMP team. For calls too small to gain from
// a team: waking one cost more than the call itself.
// `set_threads_local` is MKL's mkl_set_num_threads_local (null: no-op).
class OnThisThread {
 public:
  explicit OnThisThread(int (*set_threads_local)(int))
      : set_(set_threads_local), prev_(set_ ? set_(1) : 0) {}
  ~OnThisThread() {
    if (set_) set_(prev_);
  }
  OnThisThread(const OnThisThread&) = delete;
  OnThisThread& operator=(const OnThisThread&) = delete;

 private:
  int (*set_)(int);
  int prev_;
};

// The library in use. Throws std::runtime_error (the loader's reasons) when
// FASTSYNC_BLAS names one that cannot be loaded, or names none we know; the
// error repeats on every call.
const Library& library();

// Held by every call large enough to use the library's thread pool (level-3
// products, LAPACK factorizations): two streams take turns with the whole
// pool instead of oversubscribing the cores or sharing its buffers (see
// matmul.cpp).
std::mutex& pool_mutex();

// Registers the pool lock's fork handler (again) so that it runs before the
// handlers registered so far: called after starting a threaded runtime that
// runs under the pool lock (MKL's OpenMP, for the BLAS or the FFT), whose own
// handler would otherwise run first, with a call of ours still in flight.
// Any thread.
void keep_fork_handler_first();

// Where MKL's single dynamic library (libmkl_rt) is looked for: already
// loaded, FASTSYNC_MKL_PATH (which `import fastsync` points at the mkl
// wheel), then the loader's path. The FFT (fft.cpp) loads it from here too.
std::vector<dynlib::Candidate> mkl_candidates();

}  // namespace fastsync::cpu::blas
