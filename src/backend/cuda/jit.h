// Kernels compiled at run time with NVRTC: code the build cannot know in
// advance, such as compile's fused elementwise chains (fused.cu).
//
// NVRTC is loaded at first use (FASTSYNC_NVRTC_PATH, the loader's path, the
// CUDA toolkit, or the directory python/fastsync/_cuda_libs.py finds in the
// nvidia-cuda-nvrtc wheel). A source may include the runtime's device-safe
// headers (backend/common/elementwise.h and what it includes), embedded in
// the library at build time; the few C and C++ library headers they name
// are stood in for, since NVRTC ships none. Each source is compiled once
// per device architecture and kept for the life of the process.
//
// Threads: any. A mutex guards the cache; a compile (tens of milliseconds)
// runs under it, on the encoding thread in practice.
#pragma once

#include <cuda_runtime.h>

#include <string>

namespace fastsync::cuda::jit {

// Whether NVRTC can be loaded; else `why` says what was tried.
bool available(std::string* why = nullptr);
// The NVRTC library in use ("" until one is loaded).
std::string nvrtc_path();
// The extern "C" kernel `name` of `source`, compiled for the current
// device. Raises with NVRTC's log when the source does not compile.
cudaKernel_t kernel(const std::string& source, const std::string& name);

}  // namespace fastsync::cuda::jit
