// What the core runtime asks of a GPU backend. The CUDA backend (src/cuda)
// implements it; builds without one link no_gpu.cpp, which reports that no
// GPU exists (and whose other entry points are never reached, since no GPU
// stream can be created then).
//
// Called on the encoding thread (under the eval driver's lock) unless noted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "allocator.h"
#include "scheduler.h"
#include "stream.h"

namespace fastsync {
class array;
struct Data;
}

namespace fastsync::gpu {

// Any thread.
bool is_available();

// A point on a GPU stream's timeline: reached once everything encoded on
// that stream before it is done. Carries the errors of that work. Opaque
// here; shared by events, fences and the tasks waiting on them.
struct Mark;
using MarkRef = std::shared_ptr<Mark>;

// A mark on `s`, not yet placed: waiters wait until it is placed and reached.
MarkRef make_mark(const Stream& s);
// Places `m` after all work encoded on its stream so far. `end_of_eval`
// closes the stream's error segment (the next mark starts clean). A mark
// only GPU streams wait on (a fence between GPU streams) need not be
// host-visible: it skips the timeline write, whose system-wide memory
// barrier costs the GPU microseconds.
void place(Mark& m, bool end_of_eval, bool host_visible = true);
// Any thread: whether `m` is placed and the GPU reached it.
bool reached(const Mark& m);
// Any thread: blocks until reached (spins, then sleeps in short steps).
void host_wait(const Mark& m);
// After reached: the first error of the work before `m`, or null.
scheduler::ErrorRef error(const Mark& m);
// Makes `consumer` wait for `m` without blocking this thread: a GPU-side
// wait on a GPU stream, a task on a CPU stream. An error carried by `m`
// that spoiled `position` of m's stream poisons the consumer.
void stream_wait(const MarkRef& m, const Stream& consumer, uint64_t position);

// Work encoded on `s` so far (ops committed): positions of arrays on it.
uint64_t position(const Stream& s);

// The op just encoded by eval_gpu is done encoding: retain its buffers until
// the GPU is past it (`inputs` except those donated, and for multi-output
// ops the `outputs`).
void commit(const Stream& s, const std::vector<array>& inputs, const std::vector<array>& outputs);
// eval_gpu threw: forget what the op declared.
void discard(const Stream& s);
// Keeps `d` alive until the GPU is past the work encoded on `s` so far.
void retain(const Stream& s, std::shared_ptr<Data> d);

// Crossings. `in` is an input of an op on `consumer` that lives on the other
// device; returns a view of the same values that `consumer` can read, and
// encodes the movement ordered after `in`'s producer (on the producer's
// stream) plus the consumer's wait for it. `producer` is the stream that
// computes `in`, if it may still be in flight.
array to_device(const array& in, const std::optional<Stream>& producer, const Stream& consumer);
array to_host(const array& in, const std::optional<Stream>& producer, const Stream& consumer);
// Any thread: a host copy of an evaluated, computed device array (for
// reads from Python). Blocks.
array host_copy(const array& in);

// Device memory statistics and limits (allocator::Allocator interface).
allocator::Allocator& device_allocator();
// Bytes of device buffers kept for GPU work the host has not seen done.
size_t inflight_bytes();
// Memory pressure: wait until some retained device buffers are released.
// Returns false if nothing is pending.
bool wait_for_memory();
// Blocks until all GPU work encoded so far is done (any thread).
void synchronize_all();

}  // namespace fastsync::gpu
