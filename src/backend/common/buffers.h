// Output buffers, allocated the same way by every backend's evals (each
// passes its own allocator). Encoding thread.
#pragma once

#include <initializer_list>

#include "allocator.h"
#include "array.h"

namespace fastsync {

// A row-contiguous buffer for `out` from `a`.
void alloc(array& out, allocator::Allocator& a);
// A dense buffer for `out` laid out in `like`'s axis order (the order of
// its strides, largest first), as PyTorch's empty_like keeps a permuted
// layout: an op on q viewed as (B, H, L, D) out of a (B, L, H*D) projection
// gives a result whose transpose back to (B, L, H, D) is free. Row-major
// when `like` has a broadcast axis or strided features.
void alloc_like(const array& like, array& out, allocator::Allocator& a);
// For an elementwise op: gives `out` the layout of its operands when the
// first operand with out's shape is dense in a non-row-major axis order and
// every other operand has the same strides or is a single value (NumPy's
// order 'K': transpose(x) + 1 then reads and writes memory in order). The
// buffer is a donatable operand's with that layout, else a fresh one. False,
// and nothing allocated, when the operands share no such layout.
bool alloc_like_operands(std::initializer_list<const array*> ins, array& out,
                         allocator::Allocator& a, int stream = -1);
// Gives `out` a row-contiguous buffer: `in`'s, when `in` is donatable (with
// owners queued on `stream` allowed, see array::is_donatable) and matches in
// dtype and size, otherwise a fresh one from `a`.
void donate_or_alloc(const array& in, array& out, allocator::Allocator& a, int stream = -1);
// The same over several inputs: the first of `candidates` with out's shape
// and dtype that is donatable gives its buffer (elementwise ops with
// broadcasting), otherwise a fresh one from `a`.
void donate_any_or_alloc(std::initializer_list<const array*> candidates, array& out,
                         allocator::Allocator& a, int stream = -1);

}  // namespace fastsync
