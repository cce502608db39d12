#include "event.h"

#include "scheduler.h"

namespace fastsync {

Event::Event(Stream s) : state_(std::make_shared<State>()), stream_(s) {}

void Event::signal() {
  scheduler::enqueue_control(stream_, [st = state_] {
    if (auto e = scheduler::take_error()) {
      std::lock_guard lk(st->mutex);
      st->error = e;
    }
    st->counter.advance_to(1);
  });
}

void Event::signal_from_host(std::exception_ptr e) {
  {
    std::lock_guard lk(state_->mutex);
    if (!state_->error) state_->error = e;
  }
  state_->counter.advance_to(1);
}

void Event::wait() const {
  state_->counter.wait_for(1);
  if (auto e = error()) std::rethrow_exception(e);
}

void Event::wait(Stream s) const {
  scheduler::enqueue_control(s, [st = state_] {
    st->counter.wait_for(1);
    std::lock_guard lk(st->mutex);
    if (st->error) scheduler::set_error(st->error);
  });
}

bool Event::is_signaled() const { return state_->counter.reached(1); }

std::exception_ptr Event::error() const {
  std::lock_guard lk(state_->mutex);
  return state_->error;
}

}  // namespace fastsync
