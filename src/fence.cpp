#include "fence.h"

#include "scheduler.h"

namespace fastsync {

Fence::Fence(Stream producer) : state_(std::make_shared<State>()), producer_(producer) {}

void Fence::update() {
  uint32_t v = ++count_;
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
  scheduler::enqueue_control(consumer, [st = state_, v = count_] {
    st->counter.wait_for(v);
    if (st->has_error.load(std::memory_order_acquire)) {
      std::lock_guard lk(st->mutex);
      scheduler::set_error(st->error);
    }
  });
}

}  // namespace fastsync
