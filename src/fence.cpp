#include "fence.h"

#include <cstdint>
#include <stdexcept>

#include "backend/backend.h"

namespace fastsync {

void Fence::update() {
  auto& enc = encoder(producer_);
  if (enc.fence_position(position_)) {
    mark_.reset();
  } else {
    mark_ = enc.make_mark();
    enc.place(mark_, MarkKind::fence);
  }
  ++count_;
}

void Fence::wait(Stream consumer) const {
  if (count_ == 0) throw std::logic_error("[eval] a fence is waited on before its first update");
  if (!mark_) {
    encoder(consumer).wait_position(producer_, position_);
    return;
  }
  // Any error before the update spoils what the consumer reads.
  encoder(consumer).wait(mark_, UINT64_MAX);
}

}  // namespace fastsync
