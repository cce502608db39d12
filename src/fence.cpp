#include "fence.h"

#include <cstdint>
#include <stdexcept>

#include "backend/backend.h"

namespace fastsync {

void Fence::update() {
  auto& enc = encoder(producer_);
  mark_ = enc.make_mark();
  enc.place(mark_, MarkKind::fence);
  ++count_;
}

void Fence::wait(Stream consumer) const {
  if (!mark_) throw std::logic_error("[eval] a fence is waited on before its first update");
  // Any error before the update spoils what the consumer reads.
  encoder(consumer).wait(mark_, UINT64_MAX);
}

}  // namespace fastsync
