#include "fence.h"

#include "scheduler.h"

namespace fastsync {

Fence::Fence(Stream producer) : state_(std::make_shared<State>()), producer_(producer) {}

void Fence::update() {
  uint32_t v = ++count_;
  scheduler::enqueue_control(producer_, [st = state_, v] {
    if (auto e = scheduler::current_error()) {
      std::lock_guard lk(st->mutex);
      if (!st->error) st->error = e;
    }
    st->counter.advance_to(v);
  });
}

void Fence::wait(Stream consumer) const {
  scheduler::enqueue_control(consumer, [st = state_, v = count_] {
    st->counter.wait_for(v);
    std::lock_guard lk(st->mutex);
    if (st->error) scheduler::set_error(st->error);
  });
}

}  // namespace fastsync
