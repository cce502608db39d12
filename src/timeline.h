// The timeline trace (`with fastsync.trace(path)`, FASTSYNC_TRACE=path): what
// every stream and thread did and waited for, written as Chrome trace-event
// JSON that the Perfetto UI opens (python -m fastsync.trace draws a PNG).
//
// Who records: the CPU encoder (encode spans on the calling thread, run spans
// of dispatched compute, signal and wait control tasks on the stream's track),
// the GPU encoder (the same, GPU spans timed by CUDA events), host waits in
// Event, throttle stalls in the CPU backend, the allocators, and crossings.
// A signal and the waits it releases share a mark id; the writer draws one
// flow arrow from the signal to each wait.
//
// Cost: off by default; each hook starts with on(), one relaxed load of a
// flag. When on, a thread records into its own buffer (a mutex per buffer,
// taken by another thread only in stop()). start() and stop() from any
// thread; GPU spans are resolved by the hooks stop() runs (on_stop).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>

namespace fastsync::timeline {

// Global, read lock-free by every hook; written by start()/stop() only.
extern std::atomic<bool> g_on;
inline bool on() { return g_on.load(std::memory_order_relaxed); }

// Nanoseconds on the steady clock.
int64_t now();

// A track: one per stream (its compute: a CPU worker's tasks, a GPU
// stream's kernels) and one per host thread.
struct Track {
  int id;
};
Track stream_track(int stream_index);
// The stream whose task the calling thread runs (TaskScope), else the
// calling thread's own track.
Track current_track();

// Marks a stream task's extent on this thread: current_track() answers the
// stream's track inside it.
class TaskScope {
 public:
  explicit TaskScope(int stream_index);
  ~TaskScope();
  TaskScope(const TaskScope&) = delete;
  TaskScope& operator=(const TaskScope&) = delete;

 private:
  int saved_;
};

struct Arg {
  const char* key;  // a literal
  int64_t value;
};

// Names are interned: records carry a number, the writer the text. Any
// thread; a thread-local cache makes a repeated name cost a compare.
using Name = uint32_t;
Name intern(const char* name);
Name intern(const std::string& name);

// A finished span. `signal`: a mark id this span signals (0: none);
// `waits_for`: a mark id whose signal ended this span (0: none).
// `category` is a literal.
struct Span {
  Track track;
  const char* category;
  Name name;
  int64_t begin;
  int64_t end;
  uint64_t signal = 0;
  uint64_t waits_for = 0;
};
void span(const Span& s, std::initializer_list<Arg> args = {});
// An allocation or free on a track: its bytes and the allocator's bytes in
// use after it (the writer draws a bytes-in-use counter per allocator from
// these).
void memory(Track t, Name name, Name counter, int64_t bytes, int64_t in_use);

// Ids for signals that are not marks (a crossing's flag); marks take theirs
// from the same sequence.
uint64_t new_signal_id();

// Begins recording into `path` (throws std::logic_error when a trace is
// already recording, std::runtime_error when the file cannot be written).
void start(const std::string& path);
// Runs the on_stop hooks, writes the file, returns its path (throws
// std::logic_error when none is recording).
std::string stop();
// Counts start() calls: a backend keeps per-trace state (a GPU clock
// reference) keyed by it.
uint64_t session();
// A hook stop() runs before writing (a backend resolving its GPU spans).
// Registered once per backend; called under stop()'s lock.
void on_stop(std::function<void()> hook);

}  // namespace fastsync::timeline
