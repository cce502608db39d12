// Strided copy with dtype conversion: the kernel behind astype, contiguous
// copies of views and broadcasts. Runs on a stream worker.
#pragma once

#include "array.h"

namespace fastsync::cpu {

// out[i] = cast(in[i]) over out's shape; both use their own strides.
void copy_kernel(const array& in, array& out);

}  // namespace fastsync::cpu
