#include "scheduler.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "sync.h"
#include "timeline.h"

namespace fastsync::scheduler {

namespace {
// The worker whose tasks the calling thread is running; lets control tasks
// reach their stream's error slot.
thread_local Worker* current_worker = nullptr;
// The error spoiling the inputs of the Task::always task this thread runs.
thread_local ErrorRef running_cause;

alignas(64) sync::Counter completed;  // tasks finished, ever
alignas(64) std::atomic<int> n_outstanding{0};
std::atomic<size_t> n_inflight_bytes{0};
}  // namespace

class Worker {
  friend class Gate;

 public:
  Worker() : thread_([this] { loop(); }) { thread_.detach(); }

  void push(Task t, bool wake) {
    {
      std::lock_guard lk(mutex_);
      queue_.push_back(std::move(t));
    }
    enqueued_.fetch_add(1, std::memory_order_relaxed);
    // A parked stream waits for its gate, not for work: whoever resumes it
    // finds this task in the queue (the queue's lock orders the two).
    if (wake && !parked_for_.load(std::memory_order_seq_cst)) pushed_.increment();
  }
  // Wakes the worker if work waits in the queue and the stream is not
  // parked (a wake with nothing to do would only cost a futex call).
  void wake_if_queued() {
    if (parked_for_.load(std::memory_order_seq_cst)) return;
    bool empty;
    {
      std::lock_guard lk(mutex_);
      empty = queue_.empty();
    }
    if (!empty) pushed_.increment();
  }
  // Hands the stream its queued work: wakes the worker, unless the next
  // task waits on a closed gate. Then the stream parks on that gate here
  // (whoever opens it resumes the stream, often running its next tasks on
  // the opener's thread), where a woken worker would only spin up to park
  // it itself. If another thread holds the stream, that one hands the work
  // over when it lets go (the note take() leaves).
  void wake_or_park() {
    if (settle()) pushed_.increment();
  }
  // Whether the stream has a task to run now (none: idle, parked, or held
  // by another thread). A stream whose next task waits on a closed gate
  // parks on it here and is not runnable.
  bool runnable_or_park() { return settle(); }
  uint64_t enqueued() const { return enqueued_.load(std::memory_order_relaxed); }
  // While parked: the worker of the stream whose task opens the gate.
  Worker* parked_for() const { return parked_for_.load(std::memory_order_acquire); }

  // Runs the queued tasks on the calling thread, if no other thread is
  // running this stream's tasks now and the stream is not parked; returns
  // whether it ran any. The stream's tasks still run one at a time and in
  // order: whoever holds `running_` takes the queue a batch at a time. It
  // stops before a task that waits on a closed gate (the stream parks on
  // it), and before any task once stop(task) says so; what is left of the
  // batch stays with the stream for whoever runs it next: its worker, woken
  // for it, unless `hand_off` is false (a thread that will come back for it,
  // or wake the worker when it stops pushing quietly: help_quiet).
  template <typename Stop>
  bool run_queued(Stop stop, bool hand_off = true) {
    if (parked_for_.load(std::memory_order_acquire)) return false;
    if (!take()) return false;
    Worker* prev = std::exchange(current_worker, this);
    size_t n = 0;
    while (!parked_for_.load(std::memory_order_relaxed)) {
      if (taken_at_ == taken_.size()) {
        taken_.clear();
        taken_at_ = 0;
        std::lock_guard lk(mutex_);
        std::swap(taken_, queue_);
        if (taken_.empty()) break;
      }
      Task& t = taken_[taken_at_];
      if (waits(t) && park_for(t)) break;
      if (stop(t)) break;
      next_ = taken_at_ + 1 < taken_.size() ? &taken_[taken_at_ + 1] : nullptr;
      run(t);
      ++taken_at_;
      ++n;
    }
    next_ = nullptr;
    current_worker = prev;
    const bool left = taken_at_ < taken_.size();
    const bool missed = release();
    // Tasks pushed while we held the stream, or left by a stop: the worker
    // may have seen the push, failed to take the stream and gone back to
    // sleep. Wake it (unless the stream parked: its gate resumes it).
    bool more = left;
    if (!hand_off) {
      // Only if someone failed to take the stream while we held it.
      more = missed;
    } else if (!more) {
      std::lock_guard lk(mutex_);
      more = !queue_.empty();
    }
    if (more && !parked_for_.load(std::memory_order_seq_cst)) pushed_.increment();
    return n > 0;
  }
  bool run_queued() {
    return run_queued([](const Task&) { return false; });
  }

  // The gate this stream parked on opened (resume_parked, on the opener's
  // thread). If the opener is a stream's task whose own stream has nothing
  // to run next, it runs a short stretch of this stream's tasks itself (when
  // `may_run_here`: one stream per opening task): the two streams' work
  // then continues on one thread with no hand-off. Else (or for what the
  // stretch leaves) this stream's worker is woken.
  void resume(bool may_run_here) {
    parked_for_.store(nullptr, std::memory_order_seq_cst);
    Worker* opener = current_worker;
    if (may_run_here && opener && !resuming && opener->idle_next()) {
      resuming = true;
      // The clock starts at the second task: most stretches (a chain
      // hopping between streams) run one task, then park.
      int ran_before = 0;
      std::chrono::steady_clock::time_point deadline;
      bool ran = run_queued([&](const Task& t) {
        // A task that may block on something outside the CPU streams (a GPU
        // stream, other ranks) could wait for work of the opener's stream,
        // which is suspended here: it runs on this stream's own worker.
        if (t.blocks || t.always) return true;
        if (ran_before++ == 0) return false;
        const auto now = std::chrono::steady_clock::now();
        if (ran_before == 2) deadline = now + kStretch;
        return now > deadline;
      });
      resuming = false;
      // Anything it left (or pushed meanwhile) woke the worker already.
      if (ran) return;
    }
    pushed_.increment();
  }

  // Poisons the stream from the running task on with `source`, an error
  // that travelled by position from another stream.
  void poison_from(const ErrorRef& source) {
    if (poison) return;
    // A fresh copy: `source` belongs to a mark other streams read.
    poison =
        std::make_shared<TaskError>(TaskError{source->error, executed, source->reported, true});
    poisoned();
    note(poison);
  }

  // -- Fences as positions (wait_after). Another stream's task that waits
  // for this stream to have run `pos` tasks checks done_ and, short of it,
  // parks here (waiting_); whoever runs this stream resumes it after the
  // task that gets there (reached). An error known only by position travels
  // with such a fence through the record of poisoned spans.

  // Whether this stream has run `pos` tasks (their signals fired).
  bool done(uint64_t pos) const { return done_.load(std::memory_order_acquire) >= pos; }

  // Parks `w`, whose next task waits for `pos` here; false if this stream
  // got there meanwhile (then `w` runs on). Of the two (this registration
  // then a look at done_, reached()'s store to done_ then a look at
  // n_waiting_), one sees the other (all seq_cst): no wake-up is lost.
  // `w` shows as parked only once it is (others skip a parked stream, and
  // a helper would leave it to nobody); reached() takes the lock before it
  // resumes `w`, so after that.
  bool park_until(Worker* w, uint64_t pos) {
    std::lock_guard lk(wait_mutex_);
    waiting_.push_back({w, pos});
    n_waiting_.fetch_add(1, std::memory_order_seq_cst);
    if (done_.load(std::memory_order_seq_cst) >= pos) {
      waiting_.pop_back();
      n_waiting_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    w->parked_for_.store(this, std::memory_order_seq_cst);
    return true;
  }

  // The error known only by position that was live right after this
  // stream's task `pos`, if any (what a fence mark placed there would carry).
  ErrorRef poison_at(uint64_t pos) {
    if (!poisoned_ever_.load(std::memory_order_acquire)) return nullptr;
    std::lock_guard lk(wait_mutex_);
    for (auto& span : spans_) {
      if (span.from <= pos && pos < span.until) return span.error;
    }
    return nullptr;
  }

  // light_point's part (encoding thread): whether a fence at `pos` may be a
  // position. Positions handed out reach at most light_reach_, which this
  // raises ahead in steps (a store per step, not per fence); a poisoning
  // task records its span when it is within that reach. Of the two (the
  // raise then a look at poisoned_ever_, poisoned()'s store then its look
  // at light_reach_), one sees the other.
  bool lightable(uint64_t pos) {
    // After a signal folded into that task, a position could not tell the
    // fence from what the signal did (an event lifting an error): a mark
    // then follows the signal in order.
    if (folded_at_ == pos || poisoned_ever_.load(std::memory_order_relaxed)) return false;
    if (light_reach_.load(std::memory_order_relaxed) < pos)
      light_reach_.store(pos + kReachStep, std::memory_order_seq_cst);
    if (poisoned_ever_.load(std::memory_order_seq_cst)) return false;
    light_handed_ = pos;
    return true;
  }

  // The poison was lifted by this stream's task `executed`: for a fence
  // handed out at that task before the lifting signal was folded in, it
  // was still live (Task::late_from).
  void lifted() {
    if (!poisoned_ever_.load(std::memory_order_relaxed)) return;
    std::lock_guard lk(wait_mutex_);
    for (auto& span : spans_) {
      if (span.until == UINT64_MAX) span.until = executed + (lift_late_ ? 1 : 0);
    }
  }

  // Folds `signal` into the newest queued task (scheduler::attach).
  bool attach(std::shared_ptr<Signal>& signal) {
    if (pending_wait.pending()) return false;
    std::lock_guard lk(mutex_);
    if (queue_.empty()) return false;
    Task& last = queue_.back();
    for (uint8_t i = 0; i < last.then.size(); ++i) {
      if (!last.then[i]) {
        last.then[i] = std::move(signal);
        // A fence at this task was handed out as a position before this
        // signal (the queue's last task is the latest enqueued).
        if (light_handed_ == enqueued() && i < last.late_from) last.late_from = i;
        folded_at_ = enqueued();
        return true;
      }
    }
    return false;
  }

  // A wait for the next task pushed (scheduler::wait_before_next). Touched
  // by the encoding thread only: it makes every task and pushes it.
  struct PendingWait {
    const Gate* gate = nullptr;
    std::shared_ptr<const void> owner;
    uint64_t position = 0;
    Worker* after = nullptr;  // or a position on this worker (wait_after)
    bool pending() const { return gate || after; }
  } pending_wait;

  // Touched by whoever holds `running_` (the worker, or a thread helping).
  // poison: an error whose reach is known only by position (it came from a
  // GPU stream, or a failing task declared no outputs): every compute task
  // is skipped until an event takes it. failed: the first error since the
  // last event, which reports it. last_error: for synchronize.
  ErrorRef poison;
  ErrorRef failed;
  ErrorRef last_error;
  uint64_t executed = 0;

  // `cause` (from this stream or another) as an error of this stream's
  // current task: positions compare against this stream's.
  ErrorRef here(const ErrorRef& cause) const {
    if (cause->position == executed) return cause;
    return std::make_shared<TaskError>(
        TaskError{cause->error, executed, cause->reported, cause->by_position});
  }
  void note(const ErrorRef& e) {
    if (failed) return;
    failed = e;
    last_error = e;
  }

 private:
  void loop() {
    for (;;) {
      uint32_t seen = pushed_.value();
      if (!run_queued()) pushed_.wait_change(seen);
    }
  }

  // The error spoiling what `t` reads or updates in place, if any.
  static ErrorRef spoiled_input(const Task& t) {
    ErrorRef e;
    auto check = [&](const Data* d) {
      if (!e && d) e = d->spoiled();
    };
    t.keep.for_each(check);
    t.outputs.for_each(check);
    return e;
  }

  void fail(Task& t, ErrorRef e) {
    if (t.outputs.empty()) {
      // What it spoiled is unknown: everything after it, until the event.
      if (!e->by_position)
        e = std::make_shared<TaskError>(TaskError{e->error, executed, e->reported});
      if (!poison) {
        poison = e;
        poisoned();
      }
    }
    t.outputs.for_each([&](Data* d) { d->spoil(e); });
    note(e);
  }

  void run(Task& t) {
    ++executed;
    if (t.gate) {
      // The wait's part of the task (open: it ran past the park check).
      const ErrorRef& e = t.gate->error();
      if (e && e->by_position && t.gate_position >= e->position) poison_from(e);
    } else if (t.after) {
      if (auto e = t.after->poison_at(t.gate_position)) poison_from(e);
    }
    ErrorRef cause = t.control ? nullptr : poison;
    if (cause) {
      cause = here(cause);
    } else if (!t.control) {
      // An error that reached this task through its data travels on in its
      // outputs, whatever its origin: it must not poison streams by position.
      if (auto e = spoiled_input(t)) {
        cause = std::make_shared<TaskError>(TaskError{e->error, executed, e->reported, false});
      }
    }
    if (t.fn && (!cause || t.always)) {
      running_cause = cause;
      // A traced task: a run span on its stream's track (a collective's in
      // its own category: every rank enters it, and the span shows how long
      // this rank waited for the others).
      const int64_t t0 = t.trace_name && timeline::on() ? timeline::now() : 0;
      std::optional<timeline::TaskScope> scope;
      if (t0) scope.emplace(t.trace_stream);
      try {
        t.fn();
      } catch (...) {
        if (!cause) {
          cause = std::make_shared<TaskError>(TaskError{std::current_exception(), executed});
          cause->by_position = false;  // fail() decides
        }
      }
      if (t0) {
        timeline::span({timeline::stream_track(t.trace_stream), t.always ? "collective" : "run",
                        t.trace_name, t0, timeline::now()});
      }
    }
    running_cause = nullptr;
    if (cause) fail(t, cause);
    t.fn.reset();
    t.keep.clear();
    t.gate_owner.reset();
    if (t.bytes) n_inflight_bytes.fetch_sub(t.bytes, std::memory_order_relaxed);
    n_outstanding.fetch_sub(1, std::memory_order_release);
    completed.increment();
    // Every gate the task's signals open is open before a stream parked on
    // one of them runs here: a waiter on the second (the eval's event) must
    // not wait for a stretch resumed by the first (a fence).
    Parked parked;
    if (t.then[0]) {  // slots fill in order
      for (size_t i = 0; i < t.then.size(); ++i) {
        if (!t.then[i]) continue;
        lift_late_ = i >= t.late_from;
        std::exchange(t.then[i], nullptr)->fire(parked);
      }
      lift_late_ = false;
    }
    reached(parked);
    resume_parked(parked);
  }

  // After each task (its signals fired): publishes how far this stream got
  // and takes out the streams parked until here.
  void reached(Parked& parked) {
    done_.store(executed, std::memory_order_seq_cst);
    if (n_waiting_.load(std::memory_order_seq_cst) == 0) return;
    std::lock_guard lk(wait_mutex_);
    for (size_t i = 0; i < waiting_.size();) {
      if (waiting_[i].second <= executed) {
        parked.add(waiting_[i].first);
        waiting_[i] = waiting_.back();
        waiting_.pop_back();
        n_waiting_.fetch_sub(1, std::memory_order_relaxed);
      } else {
        ++i;
      }
    }
  }

  // Poison was just set (by this stream's task `executed`): positions handed
  // out up to light_reach_ may ask about it (poison_at), so it is recorded
  // as a span, closed when an event lifts it (lifted).
  void poisoned() {
    poisoned_ever_.store(true, std::memory_order_seq_cst);
    if (executed > light_reach_.load(std::memory_order_seq_cst)) return;
    std::lock_guard lk(wait_mutex_);
    spans_.push_back({executed, UINT64_MAX, poison});
  }

  // Whether this stream, whose task runs now, has nothing to run after it:
  // the batch is at its end with nothing queued, or its next task waits on
  // a closed gate (the stream would park).
  bool idle_next() {
    if (next_) return waits(*next_);
    // The batch ends here: the next task is the queue's first.
    std::lock_guard lk(mutex_);
    return queue_.empty() || waits(queue_.front());
  }

  // Whether `t` waits for another stream's point not reached yet.
  static bool waits(const Task& t) {
    if (t.gate) return !t.gate->is_open();
    return t.after && !t.after->done(t.gate_position);
  }
  // Parks this stream on what `t` waits for; false if that is reached now.
  bool park_for(const Task& t) {
    if (t.gate) return const_cast<Gate*>(t.gate)->park(this);
    return t.after->park_until(this, t.gate_position);
  }

  // How long an opener runs a resumed stream's tasks before handing the
  // rest to that stream's worker.
  static constexpr std::chrono::microseconds kStretch{50};
  // Whether this thread runs a resumed stream's stretch now: a stretch opens
  // no nested stretch (each one suspends a stream up the stack).
  static thread_local bool resuming;

  alignas(64) sync::SpinMutex mutex_;  // held for a push or a swap only
  std::vector<Task> queue_;
  // Parked: the worker of the stream whose task opens the gate this stream
  // waits on (set by the thread running the stream when it parks, cleared
  // by whoever opens the gate). Not the gate: a host thread following parks
  // (help) must not touch a gate its owner may free once it opened.
  std::atomic<Worker*> parked_for_{nullptr};
  // The batch taken from the queue and how far it ran; the task after the
  // running one. Touched only by whoever holds `running_`.
  std::vector<Task> taken_;
  size_t taken_at_ = 0;
  Task* next_ = nullptr;
  std::atomic<bool> running_{false};  // a thread is running this stream's tasks
  // Someone failed to take the stream while another thread held it: the
  // holder hands the stream's work to its worker when it lets go, even if
  // it meant to keep it (hand_off false), so that no wake-up is lost.
  std::atomic<bool> missed_{false};

  // Takes the stream (running_). A failed taker leaves a note for the
  // holder, then looks again: of the two (its note, the holder's release),
  // one sees the other (both seq_cst), so either the holder finds the note
  // or the taker finds the stream free and takes it.
  bool take() {
    for (;;) {
      if (!running_.exchange(true, std::memory_order_seq_cst)) return true;
      missed_.store(true, std::memory_order_seq_cst);
      if (running_.load(std::memory_order_seq_cst)) return false;
    }
  }
  // Lets the stream go; whether someone failed to take it meanwhile.
  bool release() {
    running_.store(false, std::memory_order_seq_cst);
    return missed_.exchange(false, std::memory_order_seq_cst);
  }
  // Takes the stream for a moment, parking it if its next task waits on a
  // closed gate; whether it has a task to run now.
  bool settle() {
    if (parked_for_.load(std::memory_order_acquire) || !take()) return false;
    bool runnable = false, parked = parked_for_.load(std::memory_order_acquire);
    if (!parked) {
      if (taken_at_ == taken_.size()) {
        taken_.clear();
        taken_at_ = 0;
        std::lock_guard lk(mutex_);
        std::swap(taken_, queue_);
      }
      if (taken_at_ < taken_.size()) {
        const Task& t = taken_[taken_at_];
        parked = waits(t) && park_for(t);
        runnable = !parked;
      }
    }
    // A taker that failed meanwhile (the worker, woken for a push or by a
    // gate that resumed the stream after it parked here) left this to us.
    if (release() && !parked_for_.load(std::memory_order_seq_cst)) pushed_.increment();
    if (!runnable && !parked) {
      std::lock_guard lk(mutex_);
      runnable = !queue_.empty();
    }
    return runnable;
  }
  std::atomic<uint64_t> enqueued_{0};
  // Fences as positions. done_: tasks run (written by whoever holds the
  // stream, read by the streams waiting on it); n_waiting_: the streams
  // parked in waiting_, read after every task.
  alignas(64) std::atomic<uint64_t> done_{0};
  std::atomic<int> n_waiting_{0};
  // Under wait_mutex_: the streams parked until a position here, and the
  // spans of positions [from, until) where this stream was poisoned, for
  // the positions handed out. Kept for good: only poisonings that start
  // within light_reach_ are recorded, and it stops rising at the first.
  struct PoisonSpan {
    uint64_t from, until;
    ErrorRef error;
  };
  sync::SpinMutex wait_mutex_;
  std::vector<std::pair<Worker*, uint64_t>> waiting_;
  std::vector<PoisonSpan> spans_;
  std::atomic<bool> poisoned_ever_{false};
  std::atomic<uint64_t> light_reach_{0};
  uint64_t light_handed_ = 0;        // the latest position handed out; encoding thread
  uint64_t folded_at_ = UINT64_MAX;  // the latest task a signal was folded into; the same
  bool lift_late_ = false;           // the signal firing now is late (lifted())
  static constexpr uint64_t kReachStep = 1024;
  alignas(64) sync::Counter pushed_;  // on its own line: the idle worker spins on it
  std::thread thread_;
};

thread_local bool Worker::resuming = false;

namespace {
Worker& worker(const Stream& s);
}  // namespace

bool Gate::park(Worker* w) {
  std::lock_guard lk(mutex_);
  // Under the lock: open() sets the counter before taking it, so either
  // this sees the gate open or open() sees `w` in the list.
  if (is_open()) return false;
  w->parked_for_.store(&worker(owner_), std::memory_order_seq_cst);
  parked_.add(w);
  return true;
}

void Gate::open_into(ErrorRef error, Parked& parked) {
  error_ = std::move(error);
  counter_.advance_to(1);
  // Taken out here: a resumed stream may run tasks that release the mark
  // this gate belongs to.
  std::lock_guard lk(mutex_);
  for (size_t i = 0; i < parked_.size(); ++i) parked.add(parked_.at(i));
  parked_ = Parked{};
}

void Gate::open(ErrorRef error) {
  Parked parked;
  open_into(std::move(error), parked);
  resume_parked(parked);
}

void resume_parked(const Parked& parked) {
  const size_t n = parked.size();
  if (n == 0) return;
  for (size_t i = 1; i < n; ++i) parked.at(i)->resume(/*may_run_here=*/false);
  parked.at(0)->resume(/*may_run_here=*/true);
}

namespace {
// A stream's worker is started on first use under workers_mutex and kept in
// its StreamState, read lock-free after. Workers are never destroyed: their
// threads are detached and parked when idle, so process exit needs no join.
std::mutex workers_mutex;

Worker& worker(const Stream& s) {
  auto& slot = stream_state(s).worker;
  if (Worker* w = slot.load(std::memory_order_acquire)) return *w;
  std::lock_guard lk(workers_mutex);
  Worker* w = slot.load(std::memory_order_relaxed);
  if (!w) {
    w = new Worker();
    slot.store(w, std::memory_order_release);
  }
  return *w;
}

}  // namespace

namespace {
// The calling thread's quiet pushes (QuietPushes): whether they are on,
// and the streams pushed to without a wake. Thread-local.
struct Quiet {
  bool on = false;
  std::array<Worker*, 4> workers{};
  int n = 0;
  Worker* kept = nullptr;

  // Whether a push to `w` may stay quiet; notes `w` to wake later. Past
  // four streams, pushes wake as usual.
  bool contains(const Worker* w) const {
    return on && std::find(workers.begin(), workers.begin() + n, w) != workers.begin() + n;
  }
  bool take(Worker* w) {
    if (!on) return false;
    if (contains(w)) return true;
    if (n == static_cast<int>(workers.size())) return false;
    workers[n++] = w;
    return true;
  }
  // Ends quiet pushes and wakes the streams pushed to quietly, but `keep`:
  // that one is left to the caller (who runs its work as it waits), and
  // woken by the next wake_all if work is still queued there by then.
  void wake_all(Worker* keep) {
    on = false;
    if (kept && kept != keep) kept->wake_or_park();
    kept = nullptr;
    for (int i = 0; i < n; ++i) {
      if (workers[i] == keep) {
        kept = keep;
      } else {
        workers[i]->wake_or_park();
      }
    }
    n = 0;
  }
};
thread_local Quiet quiet;
}  // namespace

QuietPushes::QuietPushes() {
  quiet.wake_all(nullptr);  // a nested scope starts clean
  quiet.on = true;
}

void QuietPushes::release(const Stream* keep) {
  // Only a CPU stream has a worker; `keep` may be another device's.
  quiet.wake_all(keep ? stream_state(*keep).worker.load(std::memory_order_acquire) : nullptr);
}

void wake_quiet() { quiet.wake_all(nullptr); }

void wake_quiet_so_far() {
  const bool on = quiet.on;
  quiet.wake_all(nullptr);
  quiet.on = on;
}

void wake(const Stream& s) { worker(s).wake_if_queued(); }

namespace {
void push(Worker& w, Task t) {
  n_outstanding.fetch_add(1, std::memory_order_relaxed);
  if (t.bytes) n_inflight_bytes.fetch_add(t.bytes, std::memory_order_relaxed);
  bool silent = quiet.take(&w);
  w.push(std::move(t), !silent);
}

// Moves `w`'s pending wait into `t`.
void take_pending_wait(Worker& w, Task& t) {
  auto& p = w.pending_wait;
  t.gate = std::exchange(p.gate, nullptr);
  t.gate_owner = std::move(p.owner);
  t.gate_position = p.position;
  t.after = std::exchange(p.after, nullptr);
}

// Pushes `w`'s pending wait as a task that only waits (no fn).
void push_pending_wait(Worker& w) {
  Task only{TaskFn{}, {}, true};
  take_pending_wait(w, only);
  push(w, std::move(only));
}
}  // namespace

void enqueue(const Stream& s, Task t) {
  Worker& w = worker(s);
  if (w.pending_wait.pending()) {
    if (t.gate || t.after) {
      push_pending_wait(w);
    } else {
      take_pending_wait(w, t);
    }
  }
  push(w, std::move(t));
}

void wait_before_next(const Stream& s, const Gate& gate, std::shared_ptr<const void> owner,
                      uint64_t position) {
  Worker& w = worker(s);
  if (w.pending_wait.pending()) push_pending_wait(w);
  w.pending_wait = {&gate, std::move(owner), position, nullptr};
}

void wait_after(const Stream& s, const Stream& producer, uint64_t pos) {
  Worker& p = worker(producer);
  // Got there already, with no error to carry: nothing to wait for. (A
  // poisoning at or before `pos` was recorded before done_ passed it.)
  if (p.done(pos) && !p.poison_at(pos)) return;
  Worker& w = worker(s);
  if (w.pending_wait.pending()) push_pending_wait(w);
  w.pending_wait = {nullptr, nullptr, pos, &p};
}

bool light_point(const Stream& s, uint64_t& pos) {
  Worker& w = worker(s);
  if (w.pending_wait.pending()) return false;
  pos = w.enqueued();
  return w.lightable(pos);
}

uint64_t enqueued(const Stream& s) { return worker(s).enqueued(); }

bool is_parked(const Stream& s) { return worker(s).parked_for() != nullptr; }

bool attach(const Stream& s, std::shared_ptr<Signal>& signal) { return worker(s).attach(signal); }

namespace {
bool help_worker(Worker* w, const std::function<bool()>& done, bool hand_off = true) {
  if (w->run_queued([&](const Task&) { return done(); }, hand_off)) return true;
  // Parked: help the stream it waits for, up to the point it waits on (its
  // opener may then run this stream's tasks too, or wake its worker). A
  // chain of parks ends at a stream that can run: each gate was placed
  // before the task that waits on it.
  for (int hops = 0; hops < 64; ++hops) {
    Worker* owner = w->parked_for();
    if (!owner || owner == w || done()) return false;
    // Work left on a stream outside this thread's quiet set goes to its
    // worker: nothing here would hand it over later.
    if (owner->run_queued([&](const Task&) { return done() || w->parked_for() != owner; },
                          hand_off || !quiet.contains(owner))) {
      return true;
    }
    w = owner;
  }
  return false;
}

// A throttle's wait on the encoding thread: when only one of the streams it
// pushed to quietly can run now (the others idle, or parked on gates: a
// chain that hops between streams), the thread runs that work itself until
// done(); the gates it opens resume the parked ones (it holds no stream: it
// is not inside a task). With several runnable, their workers run them in
// parallel instead (false: nothing ran).
bool help_quiet(const std::function<bool()>& done) {
  if (!quiet.on || in_task()) return false;
  Worker* only = nullptr;
  for (int i = 0; i < quiet.n; ++i) {
    if (!quiet.workers[i]->runnable_or_park()) continue;
    if (only) return false;
    only = quiet.workers[i];
  }
  return only && help_worker(only, done, /*hand_off=*/false);
}
}  // namespace

bool help(const Stream& s, const std::function<bool()>& done) {
  return help_worker(&worker(s), done);
}

bool in_task() { return current_worker != nullptr; }

int outstanding() { return n_outstanding.load(std::memory_order_acquire); }

void wait_outstanding_at_most(int n) {
  auto done = [n] { return outstanding() <= n; };
  while (!done() && help_quiet(done)) {
  }
  if (!done()) wake_quiet();
  for (;;) {
    uint32_t seen = completed.value();
    if (outstanding() <= n) return;
    completed.wait_change(seen);
  }
}

size_t inflight_bytes() { return n_inflight_bytes.load(std::memory_order_relaxed); }

void wait_for_a_completion() {
  uint32_t seen = completed.value();
  if (outstanding() == 0) return;
  if (help_quiet([&] { return completed.value() != seen; })) return;
  wake_quiet();
  completed.wait_change(seen);
}

size_t env_mib(const char* var, long fallback) {
  const char* e = std::getenv(var);
  long v = e ? std::atol(e) : fallback;
  return static_cast<size_t>(v > 0 ? v : fallback) << 20;
}

size_t max_inflight_bytes() {
  // MiB, fractions allowed: the default is a quarter.
  static const size_t cap = [] {
    const char* e = std::getenv("FASTSYNC_MAX_INFLIGHT_MB");
    double mib = e ? std::strtod(e, nullptr) : 0.0;
    return static_cast<size_t>((mib > 0 ? mib : 0.25) * double(1 << 20));
  }();
  return cap;
}

int max_outstanding() {
  static const int cap = [] {
    const char* e = std::getenv("FASTSYNC_MAX_OUTSTANDING");
    int v = e ? std::atoi(e) : 256;
    return v > 0 ? v : 256;
  }();
  return cap;
}

ErrorRef current_error() {
  auto* w = current_worker;
  if (!w) return nullptr;
  return w->poison ? w->poison : w->failed;
}

ErrorRef take_error() {
  auto* w = current_worker;
  if (!w) return nullptr;
  auto p = std::exchange(w->poison, nullptr);
  if (p) w->lifted();
  auto f = std::exchange(w->failed, nullptr);
  return p ? p : f;
}

void set_error(const ErrorRef& source) {
  if (auto* w = current_worker) w->poison_from(source);
}

ErrorRef take_unreported() {
  auto* w = current_worker;
  if (!w || !w->last_error) return nullptr;
  auto e = std::exchange(w->last_error, nullptr);
  return e->reported->exchange(true) ? nullptr : e;
}

ErrorRef spoiled_inputs() { return running_cause; }

}  // namespace fastsync::scheduler
