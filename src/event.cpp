#include "event.h"

#include "backend/backend.h"

namespace fastsync {

Event::Event(Stream s) : mark_(encoder(s).make_mark()), stream_(s) {}

void Event::signal(MarkKind kind) { encoder(stream_).place(mark_, kind); }

void Event::signal() { signal(MarkKind::event); }

void Event::wait_quiet() const { mark_->wait(); }

void Event::wait() const {
  mark_->wait();
  if (auto e = mark_->error()) {
    *e->reported = true;
    std::rethrow_exception(e->error);
  }
}

void Event::wait(Stream s, uint64_t position) const { encoder(s).wait(mark_, position); }

bool Event::is_signaled() const { return mark_->reached(); }

std::exception_ptr Event::error_for(uint64_t position, const Data* data) const {
  auto e = mark_->error_for(position, data);
  if (!e) return nullptr;
  *e->reported = true;
  return e->error;
}

}  // namespace fastsync
