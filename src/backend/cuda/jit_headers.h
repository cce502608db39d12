// The runtime headers that run-time compiled kernels may include (jit.h),
// embedded in the library at build time: CMakeLists.txt generates their
// definition (jit_headers.cpp in the build directory) from the files
// themselves, so a kernel compiled by NVRTC sees exactly what nvcc saw.
#pragma once

#include <vector>

namespace fastsync::cuda::jit {

struct EmbeddedHeader {
  const char* name;  // as the sources include it: "backend/common/elementwise.h"
  const char* text;
};

const std::vector<EmbeddedHeader>& embedded_headers();

}  // namespace fastsync::cuda::jit
