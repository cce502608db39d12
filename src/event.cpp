#include "event.h"

namespace fastsync {

Event::Event(Stream s) : state_(std::make_shared<State>()), stream_(s) {}

void Event::signal(bool report_unreported) {
  scheduler::enqueue_control(stream_, [st = state_, report_unreported] {
    st->error = scheduler::take_error();
    if (!st->error && report_unreported) st->error = scheduler::take_unreported();
    // Release order on the counter publishes `error` to waiters.
    st->counter.advance_to(1);
  });
}

void Event::wait_quiet() const { state_->counter.wait_for(1); }

void Event::wait() const {
  wait_quiet();
  if (auto& e = state_->error) {
    *e->reported = true;
    std::rethrow_exception(e->error);
  }
}

void Event::wait(Stream s, uint64_t position) const {
  scheduler::enqueue_control(s, [st = state_, position] {
    st->counter.wait_for(1);
    if (st->error && position >= st->error->position) scheduler::set_error(st->error);
  });
}

bool Event::is_signaled() const { return state_->counter.reached(1); }

std::exception_ptr Event::error_for(uint64_t position) const {
  auto& e = state_->error;
  if (!e || position < e->position) return nullptr;
  *e->reported = true;
  return e->error;
}

}  // namespace fastsync
