// GPU kernel of the FFT primitive: cuFFT, loaded at run time (libcufft.so.12
// from CUDA 13 or .11 from CUDA 12: already in the process, on the loader
// path, in FASTSYNC_CUFFT_PATH, which `import fastsync` points at PyPI's
// nvidia-cufft wheel, or in the toolkit), as cuBLAS is. Without it a GPU
// transform raises at eval, listing what was tried.
//
// eval_gpu (encoding thread) works as the CPU kernel (cpu/fft.cpp): one
// axis at a time, in place on a contiguous buffer, a batched 1-D plan per
// axis with the axis's stride (no transposes); the real axis first going
// forward and last going backward; the scale in one pass at the end.
//
// Plans are made once per (stream, layout) and kept for the process (as
// cuBLAS handles are): cuFFT plans must not be shared by two streams at
// once. They allocate no work area of their own; each run gets one from
// the stream's allocator. A transform ends the stream's captured CUDA graph
// first (encoder.h): making a plan allocates, which a capture forbids.
#include <cuda_runtime.h>

#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

#include "backend/cuda/copy.h"
#include "backend/cuda/kernel_utils.cuh"
#include "dynlib.h"
#include "primitives/fft.h"

namespace fastsync {

namespace {

// The cuFFT API we use (cufft.h; declared here, so building needs only the
// CUDA runtime's headers).
using cufftHandle = int;
using cufftResult = int;
enum : int { kR2C = 0x2a, kC2R = 0x2c, kC2C = 0x29 };
enum : int { kForward = -1, kInverse = 1 };

struct Cufft {
  cufftResult (*create)(cufftHandle*) = nullptr;
  cufftResult (*set_auto_allocation)(cufftHandle, int) = nullptr;
  cufftResult (*make_plan_many64)(cufftHandle, int, long long*, long long*, long long, long long,
                                  long long*, long long, long long, int, long long,
                                  size_t*) = nullptr;
  cufftResult (*set_stream)(cufftHandle, cudaStream_t) = nullptr;
  cufftResult (*set_work_area)(cufftHandle, void*) = nullptr;
  cufftResult (*exec_c2c)(cufftHandle, void*, void*, int) = nullptr;
  cufftResult (*exec_r2c)(cufftHandle, void*, void*) = nullptr;
  cufftResult (*exec_c2r)(cufftHandle, void*, void*) = nullptr;
};

constexpr const char* kVersions[] = {"12", "11"};
constexpr const char* kToolkitDir = "/usr/local/cuda/lib64";

std::vector<dynlib::Candidate> candidates() {
  std::vector<dynlib::Candidate> c;
  for (const char* v : kVersions) {
    c.push_back({.path = std::string("libcufft.so.") + v, .already_loaded = true});
  }
  for (const char* v : kVersions) c.push_back({std::string("libcufft.so.") + v});
  auto add_dir = [&](const std::string& dir) {
    for (const char* v : kVersions) {
      std::string lib = dir + "/libcufft.so." + v;
      if (dynlib::is_file(lib)) c.push_back({lib});
    }
  };
  for (const auto& entry : dynlib::path_entries("FASTSYNC_CUFFT_PATH")) {
    if (entry.is_dir) {
      add_dir(entry.path);
    } else {
      c.push_back({entry.path});
    }
  }
  if (dynlib::is_dir(kToolkitDir)) add_dir(kToolkitDir);
  return c;
}

std::mutex load_mutex;
const Cufft* loaded = nullptr;  // never freed: plans outlive every static

const Cufft& api() {
  std::lock_guard lk(load_mutex);
  if (loaded) return *loaded;
  auto a = std::make_unique<Cufft>();
  std::string why;
  auto lib = dynlib::load(
      candidates(),
      [&](dynlib::Symbols& sym) {
        sym.bind(a->create, "cufftCreate");
        sym.bind(a->set_auto_allocation, "cufftSetAutoAllocation");
        sym.bind(a->make_plan_many64, "cufftMakePlanMany64");
        sym.bind(a->set_stream, "cufftSetStream");
        sym.bind(a->set_work_area, "cufftSetWorkArea");
        sym.bind(a->exec_c2c, "cufftExecC2C");
        sym.bind(a->exec_r2c, "cufftExecR2C");
        sym.bind(a->exec_c2r, "cufftExecC2R");
      },
      {"cuFFT (libcufft.so.12 or libcufft.so.11), which the GPU backend uses for mx.fft",
       "fastsync needs cuFFT 11 or 12",
       "Install it with `pip install nvidia-cufft` (then import fastsync again), or set "
       "FASTSYNC_CUFFT_PATH to the directory that holds libcufft.so.12."},
      &why);
  if (!lib) throw std::runtime_error("[fft] " + why);
  loaded = a.release();
  return *loaded;
}

void check(cufftResult r, const char* what) {
  if (r != 0) {
    throw std::runtime_error(std::string("[fft] cuFFT ") + what + " failed with status " +
                             std::to_string(r));
  }
}

// One batched 1-D plan: `batch` transforms of n points, element x of
// transform b at b * dist + x * stride on each side.
struct PlanKey {
  cudaStream_t stream;
  int type;
  long long n, in_stride, in_dist, out_stride, out_dist, batch;
  auto tie() const {
    return std::tie(stream, type, n, in_stride, in_dist, out_stride, out_dist, batch);
  }
  bool operator<(const PlanKey& o) const { return tie() < o.tie(); }
};

struct Plan {
  cufftHandle handle;
  size_t work_bytes;
};

std::mutex plans_mutex;
auto* plans = new std::map<PlanKey, Plan>();  // never destroyed (see the top)

const Plan& plan_for(const PlanKey& k, long long in_len, long long out_len) {
  std::lock_guard lk(plans_mutex);
  auto it = plans->find(k);
  if (it != plans->end()) return it->second;
  const Cufft& f = api();
  Plan p{};
  check(f.create(&p.handle), "cufftCreate");
  check(f.set_auto_allocation(p.handle, 0), "cufftSetAutoAllocation");
  long long n = k.n, inembed = in_len, onembed = out_len;
  check(f.make_plan_many64(p.handle, 1, &n, &inembed, k.in_stride, k.in_dist, &onembed,
                           k.out_stride, k.out_dist, k.type, k.batch, &p.work_bytes),
        "cufftMakePlanMany64");
  check(f.set_stream(p.handle, k.stream), "cufftSetStream");
  return plans->emplace(k, p).first->second;
}

// Transforms of axis `ax` of a contiguous buffer of `shape` (the sample
// side's shape for real transforms; the frequency side has n / 2 + 1).
void run_axis(cuda::CommandEncoder& enc, int type, void* src, void* dst, const Shape& shape, int ax,
              int direction) {
  long long n = shape[ax], outer = 1, inner = 1;
  for (int d = 0; d < ax; ++d) outer *= shape[d];
  for (int d = ax + 1; d < static_cast<int>(shape.size()); ++d) inner *= shape[d];
  const long long m = type == kC2C ? n : n / 2 + 1;
  const long long in_len = type == kC2R ? m : n, out_len = type == kR2C ? m : n;
  PlanKey k{enc.cuda_stream(), type, n, 1, in_len, 1, out_len, outer};
  long long blocks = 1;
  if (inner > 1) {
    k = {enc.cuda_stream(), type, n, inner, 1, inner, 1, inner};
    blocks = outer;
  }
  const Plan& p = plan_for(k, in_len, out_len);
  const Cufft& f = api();
  if (p.work_bytes > 0) {
    array work = cuda::temporary(enc, {static_cast<int64_t>(p.work_bytes)}, uint8);
    check(f.set_work_area(p.handle, work.raw_ptr()), "cufftSetWorkArea");
  }
  const size_t in_item = type == kR2C ? sizeof(float) : 2 * sizeof(float);
  const size_t out_item = type == kC2R ? sizeof(float) : 2 * sizeof(float);
  for (long long b = 0; b < blocks; ++b) {
    char* in = static_cast<char*>(src) + (blocks > 1 ? b * in_len * inner * in_item : 0);
    char* out = static_cast<char*>(dst) + (blocks > 1 ? b * out_len * inner * out_item : 0);
    if (type == kC2C) {
      check(f.exec_c2c(p.handle, in, out, direction), "cufftExecC2C");
    } else if (type == kR2C) {
      check(f.exec_r2c(p.handle, in, out), "cufftExecR2C");
    } else {
      check(f.exec_c2r(p.handle, in, out), "cufftExecC2R");
    }
  }
}

__global__ void scale_kernel(float* x, int64_t n, float s) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += step) {
    x[i] *= s;
  }
}

}  // namespace

void FFT::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  enc.end_graph();  // plans allocate: not inside a capture
  const array& in = inputs[0];
  array& out = outputs[0];
  cuda::alloc(out);
  enc.set_input_array(in);
  enc.set_output_array(out);
  if (out.size() == 0) return;
  api();  // no cuFFT: raise now
  const int last = axes_.back();
  if (!real_) {
    // The first axis reads the input out of place (cuFFT leaves a
    // complex-to-complex input intact), the others work in place.
    void* from = out.raw_ptr();
    array src = in;
    if (in.dtype() == complex64) {
      src = cuda::contiguous_gpu(enc, in);
      from = src.raw_ptr();
    } else {
      cuda::copy_gpu(enc, in, out);
    }
    for (int ax : axes_) {
      run_axis(enc, kC2C, from, out.raw_ptr(), out.shape(), ax, inverse_ ? kInverse : kForward);
      from = out.raw_ptr();
    }
  } else if (!inverse_) {
    array src = cuda::contiguous_gpu(enc, in);
    run_axis(enc, kR2C, src.raw_ptr(), out.raw_ptr(), in.shape(), last, kForward);
    for (int ax : axes_) {
      if (ax != last) run_axis(enc, kC2C, out.raw_ptr(), out.raw_ptr(), out.shape(), ax, kForward);
    }
  } else {
    // cuFFT's complex-to-real overwrites its input: transform a copy.
    array work = cuda::temporary(enc, in.shape(), complex64);
    cuda::copy_gpu(enc, in, work);
    for (int ax : axes_) {
      if (ax != last) {
        run_axis(enc, kC2C, work.raw_ptr(), work.raw_ptr(), work.shape(), ax, kInverse);
      }
    }
    run_axis(enc, kC2R, work.raw_ptr(), out.raw_ptr(), out.shape(), last, kInverse);
  }
  if (scale_ != 1.0) {
    int64_t floats = out.size() * (out.dtype() == complex64 ? 2 : 1);
    scale_kernel<<<cuda::grid_for(floats), cuda::kBlock, 0, enc.cuda_stream()>>>(
        static_cast<float*>(out.raw_ptr()), floats, static_cast<float>(scale_));
    cuda::check_launch("[fft] scale kernel");
  }
}

}  // namespace fastsync
