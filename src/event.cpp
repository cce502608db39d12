#include "event.h"

#include "backend/backend.h"

namespace fastsync {

Event::Event(Stream s) : mark_(encoder(s).make_mark()), stream_(s) {}

void Event::signal(MarkKind kind) { encoder(stream_).place(mark_, kind); }

void Event::signal() { signal(MarkKind::event); }

namespace {
// A host thread waiting for a mark: a "wait" span on its track (a zero
// length one when the mark was reached already: it still says who waited
// for whom). A host thread may run the stream's queued work meanwhile:
// those tasks show on the stream's track inside it.
void traced_wait(const Mark& m) {
  if (!timeline::on()) return m.wait();
  int64_t t0 = timeline::now();
  m.wait();
  timeline::span({timeline::current_track(), "wait", timeline::intern("wait (host)"), t0,
                  timeline::now(), 0, m.trace_id});
}
}  // namespace

void Event::wait_quiet() const { traced_wait(*mark_); }

void Event::wait() const {
  traced_wait(*mark_);
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
