// Events on CPU streams are a counter advanced by a control task; events on
// GPU streams are a mark on the stream's timeline (backend.h).
#include "event.h"

#include <stdexcept>

namespace fastsync {

Event::Event(Stream s) : state_(std::make_shared<State>()), stream_(s) {
  if (s.device == Device::Type::gpu) state_->mark = gpu::make_mark(s);
}

void Event::signal(bool report_unreported) {
  if (state_->mark) {
    gpu::place(*state_->mark, /*end_of_eval=*/true);
    return;
  }
  scheduler::enqueue_control(stream_, [st = state_, report_unreported] {
    st->error = scheduler::take_error();
    if (!st->error && report_unreported) st->error = scheduler::take_unreported();
    // Release order on the counter publishes `error` to waiters.
    st->counter.advance_to(1);
  });
}

void Event::wait_quiet() const {
  if (state_->mark) {
    gpu::host_wait(*state_->mark);
    return;
  }
  // Run the stream's queued work here rather than wait for its worker to
  // wake up and run it (scheduler::help).
  while (!state_->counter.reached(1) && scheduler::help(stream_)) {
  }
  state_->counter.wait_for(1);
}

scheduler::ErrorRef Event::error() const {
  return state_->mark ? gpu::error(*state_->mark) : state_->error;
}

void Event::wait() const {
  wait_quiet();
  if (auto e = error()) {
    *e->reported = true;
    std::rethrow_exception(e->error);
  }
}

void Event::wait(Stream s, uint64_t position) const {
  if (state_->mark) {
    gpu::stream_wait(state_->mark, s, position);
    return;
  }
  if (s.device == Device::Type::gpu) {
    // Crossings (backend.h) order CPU producers before GPU consumers.
    throw std::logic_error("[eval] a GPU stream cannot wait on a CPU event directly");
  }
  scheduler::enqueue_control(s, [st = state_, position] {
    st->counter.wait_for(1);
    if (st->error && position >= st->error->position) scheduler::set_error(st->error);
  });
}

bool Event::is_signaled() const {
  return state_->mark ? gpu::reached(*state_->mark) : state_->counter.reached(1);
}

std::exception_ptr Event::error_for(uint64_t position) const {
  auto e = error();
  if (!e || position < e->position) return nullptr;
  *e->reported = true;
  return e->error;
}

}  // namespace fastsync
