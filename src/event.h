// Event: synchronization across evaluations.
//
// The eval driver creates one event per stream that received work and
// signals it after that work (signal is encoded, never blocking). Arrays keep
// the event of the eval that produced them: reading one (`wait()` on the
// host) or consuming it on another stream (`wait(stream)`, encoded) waits on
// it. An event also carries the error of any task that failed on its stream
// before the signal, and rethrows it to every waiter.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <exception>
#include <memory>
#include <mutex>

#include "stream.h"
#include "sync.h"

namespace fastsync {

class Event {
 public:
  explicit Event(Stream s);

  // Encodes on the event's stream: after all earlier work there, record that
  // stream's error (if any) and mark the event signaled.
  void signal();
  // Host wait; rethrows the carried error. Releases nothing: callers that
  // hold the GIL release it first.
  void wait() const;
  // Encodes on `s`: later work on `s` starts after the event is signaled; a
  // carried error poisons `s`.
  void wait(Stream s) const;
  bool is_signaled() const;
  // The carried error (valid once signaled).
  std::exception_ptr error() const;
  const Stream& stream() const { return stream_; }

  // Records an error and signals from the host: used when an eval aborts
  // after creating the event.
  void signal_from_host(std::exception_ptr e);

 private:
  struct State {
    sync::Counter counter;
    std::mutex mutex;
    std::exception_ptr error;
  };
  std::shared_ptr<State> state_;
  Stream stream_;
};

}  // namespace fastsync
