// Output buffers, allocated the same way by every backend's evals (each
// passes its own allocator). Encoding thread.
#pragma once

#include "allocator.h"
#include "array.h"

namespace fastsync {

// A row-contiguous buffer for `out` from `a`.
void alloc(array& out, allocator::Allocator& a);
// Gives `out` a row-contiguous buffer: `in`'s, when `in` is donatable and
// matches in dtype and size, otherwise a fresh one from `a`.
void donate_or_alloc(const array& in, array& out, allocator::Allocator& a);

}  // namespace fastsync
