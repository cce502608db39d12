// Streams: a device plus an index. Work on one stream runs in order; work on
// different streams may run concurrently (ordered by fences and events).
//
// The stream registry holds one StreamState per stream ever made: the only
// per-stream record in the runtime (its encoder, its CPU worker). States are
// made under the registry's mutex and never destroyed, so looking one up by
// index takes no lock (ops and the eval driver do it on every op).
//
// Thread-safety: all functions may be called from any thread; the stream
// context override (`StreamContext`) is thread-local, so `with mx.stream(s)`
// on one Python thread does not redirect work issued by another.
#pragma once

#include <atomic>
#include <optional>
#include <variant>

#include "device.h"

namespace fastsync {

struct Stream {
  int index;
  Device device;
  Stream(int i, Device d) : index(i), device(d) {}
  bool operator==(const Stream& o) const { return index == o.index; }
  bool operator!=(const Stream& o) const { return index != o.index; }
  std::string str() const;
};

class StreamEncoder;
namespace scheduler {
class Worker;
}

// Everything the runtime keeps per stream.
struct StreamState {
  explicit StreamState(Stream s) : stream(s) {}
  Stream stream;
  // Made with the stream by its device's backend; never destroyed (workers
  // and GPU callbacks may still touch it during static teardown).
  StreamEncoder* encoder = nullptr;
  // CPU streams: the thread running its tasks and holding its error slot,
  // started on first use (scheduler.cpp).
  std::atomic<scheduler::Worker*> worker{nullptr};
  // Set once work was encoded here: synchronize() waits for these streams.
  std::atomic<bool> used{false};
};

// The state of a stream made by new_stream/default_stream. Lock-free.
StreamState& stream_state(const Stream& s);
StreamState& stream_state(int index);
inline StreamEncoder& encoder(const Stream& s) { return *stream_state(s).encoder; }

// Ops take a stream, a device (its default stream) or nothing (the default).
using StreamOrDevice = std::variant<std::monostate, Stream, Device>;

Stream default_stream(Device d);
void set_default_stream(Stream s);
Stream new_stream(Device d);
Stream to_stream(const StreamOrDevice& s);
int num_streams();

// RAII: makes `s` the default stream (and its device the default device) on
// this thread until destroyed.
class StreamContext {
 public:
  explicit StreamContext(StreamOrDevice s);
  ~StreamContext();
  StreamContext(const StreamContext&) = delete;
  StreamContext& operator=(const StreamContext&) = delete;

 private:
  std::optional<Stream> prev_;
};

}  // namespace fastsync
