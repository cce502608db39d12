// Fence: orders work across streams inside one evaluation; a handle over the
// latest mark a producer stream placed for its consumers (backend/backend.h).
//
// The eval driver makes one fence per producer stream per eval. After the
// producer encodes an array that another stream consumes, `update` places a
// mark on the producer stream; before the consumer encodes its use, `wait`
// encodes, on the consumer stream, a wait for the latest mark. Between CPU
// streams the mark is usually a position on the producer stream instead
// (StreamEncoder::fence_position): no object per update, and no signal
// folded into the producer's task. Neither call
// blocks the calling (encoding) thread. An error on the producer stream
// reaches the consumer in the buffers it spoiled (an error known only by
// position, a CPU task's that declared no outputs, poisons the consumer
// stream).
//
// Thread-safety: encoding thread only (under the driver's lock).
#pragma once

#include <cstdint>
#include <memory>

#include "stream.h"

namespace fastsync {

class Mark;

class Fence {
 public:
  explicit Fence(Stream producer) : producer_(producer) {}
  void update();
  void wait(Stream consumer) const;
  const Stream& stream() const { return producer_; }
  // Updates so far: identifies the latest (a mark's address would not: a
  // freed mark's memory may hold the next one).
  uint32_t count() const { return count_; }

 private:
  Stream producer_;
  std::shared_ptr<Mark> mark_;  // null when the latest update is a position
  uint64_t position_ = 0;
  uint32_t count_ = 0;
};

}  // namespace fastsync
