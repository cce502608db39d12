// One worker thread per CPU stream, running that stream's tasks in order
// (the Worker lives in the stream's StreamState, stream.h). The tasks may
// also run on a host thread waiting for them (help) or on the thread that
// opened the gate the stream was parked on (Gate): whoever holds the stream
// runs them, one at a time, in order.
//
// Tasks are enqueued by the eval driver (under its encoding lock) and by
// host-side synchronization (`synchronize`, which only enqueues control
// tasks). A task that throws spoils the buffers it was to write
// (Data::spoil); a later task that reads or updates a spoiled buffer is
// skipped and spoils its own outputs in turn, so an error reaches exactly
// the arrays computed from it, on every CPU stream, while independent work
// runs on. The stream also keeps the error until a control task (an event
// signal) takes it and hands it to waiters of the whole event. An error
// known only by position (from a task that declared no outputs) poisons the stream instead: every
// compute task is skipped until the event. Control tasks always run.
//
// Outstanding tasks are counted process-wide so the driver can cap how far
// encoding runs ahead of compute.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <vector>

#include "stream.h"
#include "sync.h"
#include "task.h"

namespace fastsync::scheduler {

void enqueue(const Stream& s, Task t);
inline void enqueue(const Stream& s, TaskFn fn) { enqueue(s, Task{std::move(fn), {}, false}); }
inline void enqueue_control(const Stream& s, TaskFn fn) {
  enqueue(s, Task{std::move(fn), {}, true});
}

// While one lives on a thread (a synchronous eval's encoding), that thread's
// pushes wake no stream worker: the thread is about to wait for the work and
// runs it itself (help), and a worker woken for it would only race it for
// the stream and keep a core spinning (on a 2-core machine, two ranks'
// workers doubled a collective's latency; a chain of 1,000 small ops ran at
// half speed). release() ends that: the streams pushed to quietly are
// woken, except `keep`, whose work the caller is about to wait for (the
// scope's end wakes it if work is still queued there then). A stream
// whose next task waits on a closed gate is not woken but parked on it:
// the gate's opener resumes it. A throttle (the cap on tasks or bytes in
// flight) runs the quiet work itself when only one of the streams can run
// now (the others idle or parked: a chain hopping between streams), and
// otherwise wakes the streams' workers, so parallel streams stay parallel;
// a host wait that must block wakes anything still quiet. Past four
// streams, pushes wake as usual.
class QuietPushes {
 public:
  QuietPushes();
  ~QuietPushes() { release(nullptr); }
  QuietPushes(const QuietPushes&) = delete;
  QuietPushes& operator=(const QuietPushes&) = delete;
  void release(const Stream* keep);
};
// Wakes the workers of the streams this thread pushed to quietly.
void wake_quiet();
// The same, but pushes after this stay quiet: for an encoding thread about
// to make something outside the CPU streams (a GPU stream's wait on a CPU
// task) depend on work pushed so far, which may sit behind any stream it
// pushed to quietly. Later pushes cannot be what that work waits for.
void wake_quiet_so_far();
// Wakes the worker of `s` if it has work queued that nobody runs.
void wake(const Stream& s);

// The next task enqueued on `s` first waits behind `gate` (kept alive by
// `owner`; Task::gate, with `position` as Task::gate_position): a wait on
// another CPU stream folded into the task after it. A second such wait
// before that task, or a task with a gate of its own, enqueues the first as
// a task that only waits. Encoding thread (every enqueue on `s` picks it up,
// whoever makes the task: the order holds on every path).
void wait_before_next(const Stream& s, const Gate& gate, std::shared_ptr<const void> owner,
                      uint64_t position);

// A fence between CPU streams as a position, with no mark (Fence::update):
// the next task enqueued on `s` first waits until `producer` has run `pos`
// tasks (its tasks enqueued so far, as light_point gave them), as
// wait_before_next waits for a gate; the stream parks on `producer` until
// it gets there. An error of `producer` known only by position that was
// live right after its task `pos` poisons `s` from that task on, as a fence
// mark's error does. Encoding thread.
void wait_after(const Stream& s, const Stream& producer, uint64_t pos);
// Whether a fence on `s` at its latest task may be a position (wait_after)
// rather than a mark, and that position. Not while a wait is pending on `s`
// (the fence must follow it), nor once a task of `s` has poisoned it by
// position: such errors then travel in marks, and the few positions handed
// out before keep an exact record of them. Encoding thread.
bool light_point(const Stream& s, uint64_t& pos);

// Folds `signal` into the task enqueued last on `s`, if that task is still
// queued (no thread took it yet) and no wait is pending (wait_before_next):
// it fires right after that task, and `signal` is moved from. Returns false
// otherwise, `signal` untouched (the caller enqueues a control task with
// no compute that carries it, in Task::then). Saves a task per point: a
// chain hopping between CPU streams places one per op.
bool attach(const Stream& s, std::shared_ptr<Signal>& signal);

// Tasks enqueued on `s` so far. The driver stamps each array with this
// position, so an error can be matched to the arrays it spoiled: those at or
// after the failing task.
uint64_t enqueued(const Stream& s);

// Whether `s` is parked on a gate now (a moment's view; for tests).
bool is_parked(const Stream& s);

// A thread about to wait for a point on `s` runs the tasks queued there
// itself, when no other thread is running any of them: on machines with
// fewer cores than busy threads a hand-off to a sleeping (or descheduled)
// worker costs far more than the small tasks most waits are for. It stops
// as soon as done() holds (the point was reached) and leaves the rest to
// the stream's worker. A stream parked on a gate (below) gets the help its
// gate's stream needs first. Returns whether it ran any. Must not be called
// from inside a task (a stream's waits on other CPU streams go through a
// Gate).
bool help(const Stream& s, const std::function<bool()>& done);

// A task's error, and the stream position from which work is spoiled by it.
struct TaskError {
  std::exception_ptr error;
  uint64_t position;
  // Rethrown to someone already; shared by the copies an error leaves on
  // the streams it travels to.
  std::shared_ptr<std::atomic<bool>> reported = std::make_shared<std::atomic<bool>>(false);
  // Whether the error's reach is known only by position (everything after
  // it on the stream): a CPU task's that declared no outputs. Other errors
  // travel in the buffers they spoiled (Data::spoil: a CPU task's as it
  // runs, a GPU kernel's once its mark is settled), and other streams need
  // not be poisoned.
  bool by_position = true;
};
using ErrorRef = std::shared_ptr<TaskError>;

// A point on a CPU stream that tasks of other CPU streams wait for (a CPU
// mark). A stream whose next task waits on a closed gate does not block its
// thread: it parks (gives the stream up, its tasks stay queued) and the
// thread that opens the gate resumes it, running a short stretch of the
// parked stream's tasks itself before handing the rest to that stream's
// worker. A dependency between two streams then costs no thread hand-off:
// a chain of small ops alternating between streams runs on one thread.
//
// Any thread may open a gate or test it; wait() blocks. Open once, never
// closed again.
class Gate {
 public:
  // `owner`: the CPU stream whose task opens it.
  explicit Gate(const Stream& owner) : owner_(owner) {}
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  bool is_open() const { return counter_.reached(1); }
  // Blocks until open (spins, then sleeps).
  void wait() const { counter_.wait_for(1); }
  // Opens the gate with the error of the work before it, if any (release
  // order: what the opener wrote before is visible to whoever sees it open),
  // then resumes the streams parked on it.
  void open(ErrorRef error = nullptr);
  // The same, leaving the streams parked on it in `parked` for the caller to
  // resume (resume_parked) once every gate it opens at this point is open:
  // a task whose signals open two gates (a fence, then an event) must not
  // run a resumed stream's stretch before the second gate opens.
  void open_into(ErrorRef error, Parked& parked);
  // Once open: the error it was opened with.
  const ErrorRef& error() const { return error_; }
  const Stream& owner() const { return owner_; }

 private:
  friend class Worker;
  // Registers `w` to be resumed; false if the gate is open already.
  bool park(Worker* w);

  Stream owner_;
  ErrorRef error_;  // written once, before the counter opens
  // One cache line with the lock: the opener writes both, a parker reads
  // both.
  sync::Counter counter_;
  sync::SpinMutex mutex_;
  // Under mutex_. Inline up to four: a gate is opened once, and most have
  // one stream parked on them (a chain hopping between two streams makes
  // one per op).
  Parked parked_;
};

// Resumes the streams in `parked` (Gate::open_into): at most one runs a
// stretch on this thread (the first, when the calling task's stream has
// nothing to run next); the others' workers are woken first, so they run
// beside it.
void resume_parked(const Parked& parked);

// Whether the calling thread is running a stream's task now.
bool in_task();

// Tasks enqueued and not yet finished, over all streams.
int outstanding();
// Output bytes of outstanding tasks, over all streams.
size_t inflight_bytes();
// Blocks until at most `n` tasks are outstanding.
void wait_outstanding_at_most(int n);
// Blocks until a task finishes, if any is outstanding.
void wait_for_a_completion();
// The caps the eval driver throttles CPU streams at: outstanding tasks
// (FASTSYNC_MAX_OUTSTANDING, default 256) and their output bytes
// (FASTSYNC_MAX_INFLIGHT_MB, default 0.25 MiB; one task may always be
// outstanding past it). A worker gains nothing from outputs allocated far
// ahead of its compute (encoding an op takes microseconds), while each such
// buffer adds to the peak (the CPU generation row, bench/models.py: 36.3 MiB
// at 64, 27.0 at 2, 25.7 at 1 with one task past the cap, 25.2 at 0.25; its
// quick run's prompt 23.7 at 1, 23.2 at 0.25). The GPU backend keeps its
// own, larger cap (its host must run ahead).
int max_outstanding();
size_t max_inflight_bytes();
// Environment variable `var` read as MiB, in bytes; `fallback` MiB when it is
// unset or not a positive number.
size_t env_mib(const char* var, long fallback);

// For control tasks, on the stream's own worker thread. current_error: the
// error of this stream since its last event (null if none); take_error also
// clears it and lifts any poison, so later work runs again; set_error
// poisons the stream from the running task on (an error that travelled by
// position from `source`); take_unreported: the latest
// error of this stream nobody rethrew yet.
ErrorRef current_error();
ErrorRef take_error();
void set_error(const ErrorRef& source);
ErrorRef take_unreported();
// Inside a task that runs although what it reads was spoiled (Task::always):
// that error, so the task can tell its peers (a collective's other ranks);
// null inside any other task, and outside tasks.
ErrorRef spoiled_inputs();

}  // namespace fastsync::scheduler
