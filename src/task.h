// The unit of work a stream worker runs: a callable plus the buffers it
// keeps alive. Built on the encoding thread, run and destroyed on a worker.
//
// Both parts store small contents inline, so handing a task to a worker
// allocates nothing: frees of memory one thread allocated on another would
// contend on the C allocator's arena lock at every op.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "array.h"

namespace fastsync::scheduler {

class Gate;
class Worker;

// The streams parked on the gates that one task's signals opened: resumed
// together once every one of those gates is open (scheduler::resume_parked).
struct Parked {
  std::array<Worker*, 4> first{};
  int n = 0;
  std::vector<Worker*> more;

  void add(Worker* w) {
    if (n < static_cast<int>(first.size())) {
      first[n++] = w;
    } else {
      more.push_back(w);
    }
  }
  size_t size() const { return static_cast<size_t>(n) + more.size(); }
  Worker* at(size_t i) const { return i < first.size() ? first[i] : more[i - first.size()]; }
};

// A point on a CPU stream reached right after a task (Task::then).
class Signal {
 public:
  virtual ~Signal() = default;
  // On the thread running the stream's tasks, inside the stream's context
  // (current_error and take_error see this stream). Opens the point's gate
  // and leaves the streams parked on it in `parked`, for the caller to
  // resume once it has fired every signal due at this point.
  virtual void fire(Parked& parked) = 0;
};

// A move-only void() callable with inline storage.
class TaskFn {
 public:
  static constexpr size_t kInline = 448;

  TaskFn() = default;
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, TaskFn>>>
  TaskFn(F&& f) {  // NOLINT: implicit from any callable
    using Fn = std::decay_t<F>;
    if constexpr (sizeof(Fn) <= kInline && alignof(Fn) <= alignof(std::max_align_t)) {
      new (buf_) Fn(std::forward<F>(f));
      ops_ = &inline_ops<Fn>;
    } else {
      *reinterpret_cast<Fn**>(buf_) = new Fn(std::forward<F>(f));
      ops_ = &heap_ops<Fn>;
    }
  }
  TaskFn(TaskFn&& o) noexcept { take(o); }
  TaskFn& operator=(TaskFn&& o) noexcept {
    if (this != &o) {
      reset();
      take(o);
    }
    return *this;
  }
  ~TaskFn() { reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  void operator()() { ops_->invoke(buf_); }
  void reset() {
    if (ops_) ops_->destroy(buf_);
    ops_ = nullptr;
  }

 private:
  struct Ops {
    void (*invoke)(void*);
    void (*move)(void* dst, void* src);
    void (*destroy)(void*);
  };
  template <typename Fn>
  static constexpr Ops inline_ops = {[](void* p) { (*static_cast<Fn*>(p))(); },
                                     [](void* d, void* s) {
                                       new (d) Fn(std::move(*static_cast<Fn*>(s)));
                                       static_cast<Fn*>(s)->~Fn();
                                     },
                                     [](void* p) { static_cast<Fn*>(p)->~Fn(); }};
  template <typename Fn>
  static constexpr Ops heap_ops = {
      [](void* p) { (**static_cast<Fn**>(p))(); },
      [](void* d, void* s) { *static_cast<Fn**>(d) = *static_cast<Fn**>(s); },
      [](void* p) { delete *static_cast<Fn**>(p); }};

  void take(TaskFn& o) {
    if (o.ops_) o.ops_->move(buf_, o.buf_);
    ops_ = std::exchange(o.ops_, nullptr);
  }

  alignas(std::max_align_t) unsigned char buf_[kInline];
  const Ops* ops_ = nullptr;
};

// Owning references to buffers, the first few stored inline.
class KeepList {
 public:
  KeepList() = default;
  KeepList(KeepList&& o) noexcept { take(o); }
  KeepList& operator=(KeepList&& o) noexcept {
    if (this != &o) {
      clear();
      take(o);
    }
    return *this;
  }
  ~KeepList() { clear(); }

  // Keeps `d` as work queued on CPU stream `stream` (Data::queue): until
  // clear(), an op later on that stream may still write it in place.
  void push_back(std::shared_ptr<Data> d, int stream) {
    if (!d) return;
    d->queue(stream);
    if (n_ < inline_.size()) {
      inline_[n_++] = std::move(d);
    } else {
      more_.push_back(std::move(d));
    }
  }
  size_t size() const { return n_ + more_.size(); }
  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < n_; ++i) f(inline_[i].get());
    for (auto& d : more_) f(d.get());
  }
  // Unqueues each buffer, then releases it (the order Data::queue needs).
  void clear() {
    for (size_t i = 0; i < n_; ++i) {
      inline_[i]->unqueue();
      inline_[i].reset();
    }
    n_ = 0;
    for (auto& d : more_) d->unqueue();
    more_.clear();
  }

 private:
  void take(KeepList& o) {
    for (size_t i = 0; i < o.n_; ++i) inline_[i] = std::move(o.inline_[i]);
    n_ = o.n_;
    o.n_ = 0;
    more_ = std::move(o.more_);
    o.more_.clear();
  }

  std::array<std::shared_ptr<Data>, 4> inline_;
  size_t n_ = 0;
  std::vector<std::shared_ptr<Data>> more_;
};

// The buffers a task writes, not owned: the eval driver keeps every output
// alive until the task that writes it has run (a consumer's retention list
// or the eval's own retention of its outputs until its event).
class OutputList {
 public:
  void push_back(Data* d) {
    if (n_ < inline_.size()) {
      inline_[n_++] = d;
    } else {
      more_.push_back(d);
    }
  }
  bool empty() const { return n_ == 0; }
  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < n_; ++i) f(inline_[i]);
    for (auto* d : more_) f(d);
  }

 private:
  std::array<Data*, 2> inline_{};
  size_t n_ = 0;
  std::vector<Data*> more_;
};

struct Task {
  TaskFn fn;
  // Buffers kept alive until fn has run (retention).
  KeepList keep;
  bool control = false;
  // Bytes newly allocated for this task's outputs: counted as in flight
  // until it finishes.
  size_t bytes = 0;
  // What fn writes: spoiled (Data::spoil) when fn throws, or when it is
  // skipped because a buffer it reads (keep) or updates (outputs) was.
  OutputList outputs{};
  // Runs even when what it reads was spoiled (its outputs are spoiled all
  // the same): a collective every rank must take part in, whatever its
  // input holds, or the ranks fall out of step.
  bool always = false;
  // In a timeline trace (timeline.h): the interned name of the primitive this
  // computes (0: not traced) and its stream; the worker records its run span.
  uint32_t trace_name = 0;
  int trace_stream = -1;
  // Waits for another CPU stream's point (a wait folded into the task that
  // follows it, or a control task of its own): the task runs only once the
  // gate is open; until then the stream parks (scheduler.h). `gate_owner`
  // keeps the gate alive. Once open, an error the gate carries that is known
  // only by position, at or before `gate_position` of the gate's stream,
  // poisons this stream from this task on (as a wait task did before it).
  const Gate* gate = nullptr;
  std::shared_ptr<const void> gate_owner{};
  uint64_t gate_position = 0;
  // Or waits for another CPU stream's worker to have run `gate_position`
  // tasks (scheduler::wait_after: a fence as a position, no gate). Workers
  // live as long as the process.
  Worker* after = nullptr;
  // Fired in order right after this task ran, failed or was skipped, on the
  // thread that ran it: points on this stream (CPU marks), folded into the
  // task before them or carried by a control task with no compute. Two: a
  // fence for the next op and the eval's event often follow the same last
  // task (a separate event task would make the stream look busy to a gate's
  // opener, which then wakes a worker instead of running on: Worker::resume).
  std::array<std::shared_ptr<Signal>, 2> then{};
  // The signals from then[late_from] on were folded in after a fence at
  // this task was handed out as a position (scheduler::light_point): an
  // error they lift was still live for that fence.
  uint8_t late_from = 2;
  // May block on something other than this process's CPU streams (a GPU
  // stream's mark): never run by another stream's thread (scheduler.h).
  bool blocks = false;
};

}  // namespace fastsync::scheduler
