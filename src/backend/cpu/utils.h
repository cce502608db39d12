// Helpers CPU eval_cpu implementations share. Encoding thread only.
#pragma once

#include "array.h"
#include "backend/cpu/encoder.h"
#include "primitive.h"

namespace fastsync::cpu {

// Gives `out` a row-contiguous buffer: `in`'s, when `in` is donatable and
// matches in dtype and size, otherwise a fresh allocation.
void donate_or_alloc(const array& in, array& out);
void alloc(array& out);
// `in` viewed with the shape `shape` (right-aligned broadcast), no copy.
array broadcast_view(const array& in, const Shape& shape);
CommandEncoder& encoder_for(const Primitive& p);
// The usual start of an eval_cpu: a fresh buffer for `out`, and `in` and
// `out` declared to the primitive's encoder, which is returned.
CommandEncoder& begin_op(const Primitive& p, const array& in, array& out);

}  // namespace fastsync::cpu
