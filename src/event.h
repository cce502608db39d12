// Event: synchronization across evaluations; a handle over a backend's mark
// (backend/backend.h).
//
// The eval driver creates one event per stream that received work and
// signals it after that work (signal is encoded, never blocking). Arrays keep
// the event of the eval that produced them, and their position on the
// stream: reading one (host wait) or consuming it on another stream (an
// encoded wait) waits on the event. An event also carries the error of a
// task that failed on its stream before the signal; it is rethrown to
// waiters of the arrays that error spoiled (those computed from the failed
// task or kernel, on any stream: Data::spoil; on a GPU stream known once
// the event is settled, backend/cuda/flow.h), and to whoever waits on the
// whole event.
//
// Thread-safety: signal and wait(Stream, ...) encode, so they are called
// where encoding is allowed (under the driver's lock); the other methods
// may be called from any thread.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>

#include "stream.h"

namespace fastsync {

class Mark;
enum class MarkKind;
struct Data;

class Event {
 public:
  explicit Event(Stream s);

  // Encodes on the event's stream: the event is reached after all earlier
  // work there, and takes that stream's error. `kind` is MarkKind::event,
  // or MarkKind::sync to also take the stream's latest error nobody has
  // seen (synchronize uses this).
  void signal(MarkKind kind);
  void signal();
  // Host wait; rethrows any carried error. Callers holding the GIL release
  // it first.
  void wait() const;
  // Host wait that does not throw.
  void wait_quiet() const;
  // Encodes on `s`: later work on `s` starts after the event is signaled. If
  // the carried error spoiled position `position` of the event's stream, it
  // poisons `s` too.
  void wait(Stream s, uint64_t position) const;
  bool is_signaled() const;
  // The carried error if it spoiled the array produced at `position` into
  // `data` (valid once signaled).
  std::exception_ptr error_for(uint64_t position, const Data* data) const;
  const Stream& stream() const { return stream_; }

 private:
  std::shared_ptr<Mark> mark_;
  Stream stream_;
};

}  // namespace fastsync
