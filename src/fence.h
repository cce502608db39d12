// Fence: orders work across streams inside one evaluation.
//
// The eval driver makes one fence per producer stream per eval. After the
// producer encodes an array that another stream consumes, `update` encodes a
// counter bump on the producer stream; before the consumer encodes its use,
// `wait` encodes, on the consumer stream, a wait for the latest bump. Neither
// call blocks the calling (encoding) thread. An error on the producer stream
// travels through the fence and poisons the consumer stream.
//
// Thread-safety: update/wait are called under the driver's encoding lock;
// the encoded tasks synchronize through the shared state.
#pragma once

#include <exception>
#include <atomic>
#include <memory>
#include <mutex>

#include "backend.h"
#include "scheduler.h"
#include "stream.h"
#include "sync.h"

namespace fastsync {

class Fence {
 public:
  explicit Fence(Stream producer);
  void update();
  void wait(Stream consumer) const;
  const Stream& stream() const { return producer_; }
  uint32_t count() const { return count_; }

 private:
  struct State {
    sync::Counter counter;
    // The producer's error, set at most once; has_error lets consumers skip
    // the lock on the (usual) error-free path.
    std::atomic<bool> has_error{false};
    std::mutex mutex;
    scheduler::ErrorRef error;
    // GPU producers: the mark of the latest update.
    gpu::MarkRef mark;
  };
  std::shared_ptr<State> state_;
  Stream producer_;
  uint32_t count_ = 0;  // bumps encoded so far
};

}  // namespace fastsync
