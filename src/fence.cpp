#include "fence.h"

#include "scheduler.h"

namespace fastsync {

Fence::Fence(Stream producer) : state_(std::make_shared<State>()), producer_(producer) {}

void Fence::update() {
  uint32_t v = ++count_;
  if (producer_.device == Device::Type::gpu) {
    state_->mark = gpu::make_mark(producer_);
    gpu::place(*state_->mark, /*end_of_eval=*/false, /*host_visible=*/false);
    return;
  }
  scheduler::enqueue_control(producer_, [st = state_, v] {
    if (auto e = scheduler::current_error(); e && !st->has_error.load()) {
      std::lock_guard lk(st->mutex);
      st->error = std::move(e);
      st->has_error.store(true, std::memory_order_release);
    }
    st->counter.advance_to(v);
  });
}

void Fence::wait(Stream consumer) const {
  if (state_->mark) {
    // Any error before the update spoils what the consumer reads.
    gpu::stream_wait(state_->mark, consumer, UINT64_MAX);
    return;
  }
  scheduler::enqueue_control(consumer, [st = state_, v = count_] {
    st->counter.wait_for(v);
    if (st->has_error.load(std::memory_order_acquire)) {
      std::lock_guard lk(st->mutex);
      scheduler::set_error(st->error);
    }
  });
}

}  // namespace fastsync
