// A process-wide pool of kernel threads that splits large loops.
//
// Called from stream worker threads (inside a task). The calling worker
// always works on its own loop too, so a loop finishes even when the pool is
// busy with other streams' loops: streams share the pool, and no stream ever
// waits on another. Pool size: FASTSYNC_KERNEL_THREADS, default the number
// of cores minus one (the caller is the extra thread). Loops below the grain
// size run inline with no synchronization at all.
#pragma once

#include <cstdint>
#include <functional>

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

}  // namespace fastsync::cpu
