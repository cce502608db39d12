// Streams: a device plus an index. Work on one stream runs in order; work on
// different streams may run concurrently (ordered by fences and events).
//
// Thread-safety: the stream registry is guarded by a mutex; the stream context
// override (`StreamContext`) is thread-local, so `with mx.stream(s)` on one
// Python thread does not redirect work issued by another.
#pragma once

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
