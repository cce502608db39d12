// The patch gathers behind the CPU convolutions (defined in conv.cpp), on
// raw buffers so that both the Im2Col/Col2Im primitives and the fused
// convolution kernels (convolution.cpp) can run them over a part of the
// batch. Called inside a task, on a stream worker; each splits its loop
// over the kernel pool (parallel.h) and returns when it is done.
#pragma once

#include <cstdint>

#include "array.h"
#include "backend/common/conv.h"

namespace fastsync::cpu {

// Patch rows [row0, row0 + rows) of the input x ((N, *in, C), element
// strides xs, any), written row-major into dst as (rows, G, *kernel, cg).
// A row is one output position of one image: row = n * out_size + position.
void im2col(const ConvGeometry& g, Dtype dtype, const void* x, const Strides& xs, int64_t cg,
            int64_t row0, int64_t rows, void* dst);

// The adjoint for `images` whole images: dst ((images, *in, G * cg),
// row-major) receives at each sample the sum of the patch entries of p
// ((images, *out, G, *kernel, cg), element strides ps) read from it.
void col2im(const ConvGeometry& g, Dtype dtype, const void* p, const Strides& ps, int64_t cg,
            int64_t images, void* dst);

}  // namespace fastsync::cpu
