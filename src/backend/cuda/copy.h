// Strided copies on the GPU, shared by every primitive that needs one.
// Encoding thread; kernels launch on the encoder's stream.
#pragma once

#include "array.h"
#include "backend/cuda/encoder.h"

namespace fastsync::cuda {

// Copies `src` into `dst` element by element (same shape, any strides,
// dtype converted as astype does). Both in device memory.
void copy_gpu(CommandEncoder& enc, const array& src, const array& dst);
// `a` when it is row-contiguous, otherwise a row-contiguous device copy of
// it that the current op keeps as a temporary.
array contiguous_gpu(CommandEncoder& enc, const array& a);

}  // namespace fastsync::cuda
