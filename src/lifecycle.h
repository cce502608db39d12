// Process life cycle: fork().
//
// The runtime's threads (CPU stream workers, the kernel pool, the GPU
// backend's host threads) do not survive fork(), and a lock one of them held
// stays held in the child. A child forked after the runtime started cannot
// use it: its first eval, wait or synchronize raises a RuntimeError saying
// so, where it used to wait forever for a worker that is not there. Use the
// `spawn` start method (multiprocessing), or fork before the first eval.
#pragma once

namespace fastsync::lifecycle {

// Registers the fork handler, once; the eval driver calls it on every
// encode (a load after the first). Any thread.
void runtime_started();
// Throws std::runtime_error naming `what` in a child forked after the
// runtime started. Any thread; no lock taken.
void check_usable(const char* what);
// Whether this is such a child (what must not block there, a buffer's
// release, skips its work instead). Any thread; no lock taken.
bool is_forked_child();

}  // namespace fastsync::lifecycle
