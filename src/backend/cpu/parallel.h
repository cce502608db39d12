// A process-wide pool of kernel threads that splits large loops.
//
// Called from stream worker threads (inside a task). The calling worker
// always works on its own loop too, so a loop finishes even when the pool is
// busy with other streams' loops: streams share the pool, and no stream ever
// waits on another. Pool size: FASTSYNC_KERNEL_THREADS, default the number
// of cores minus one (the caller is the extra thread). Loops below the grain
// size run inline with no synchronization at all.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>

#include "backend/common/strided.h"

namespace fastsync::cpu {

// Elements per chunk below which splitting does not pay (one chunk is at
// least this many elements).
inline constexpr int64_t kParallelGrain = 1 << 17;

int kernel_threads();  // pool threads + the caller

// Calls f(begin, end) over disjoint chunks covering [0, n), possibly on
// several threads at once; returns when all chunks are done. Chunk indices
// are [0, chunks) with chunks = n_chunks(n, grain); f may use
// begin / chunk_size to index per-chunk results.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);
int64_t n_chunks(int64_t n, int64_t grain);

// for_each_strided (common/strided.h) with a large plan split across the
// pool by its outermost dimension (a one-dimensional plan by elements):
// `inner` gets the same runs, called from several threads at once.
template <size_t N, typename F>
void for_each_strided_parallel(const StridedPlan<N>& p, F&& inner) {
  if (p.size < 2 * kParallelGrain) {
    for_each_strided(p, inner);
    return;
  }
  const int64_t rows = p.shape[0], per_row = p.size / rows;
  parallel_for(rows, std::max<int64_t>(1, kParallelGrain / per_row), [&](int64_t b, int64_t e) {
    StridedPlan<N> part = p;
    part.shape[0] = e - b;
    part.size = (e - b) * per_row;
    for_each_strided(part, [&](std::array<int64_t, N> offs, int64_t n, const auto& st) {
      for (size_t k = 0; k < N; ++k) offs[k] += b * p.strides[k][0];
      inner(offs, n, st);
    });
  });
}

}  // namespace fastsync::cpu
