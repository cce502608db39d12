#include "backend/cpu/encoder.h"

#include <algorithm>
#include <chrono>
#include <typeinfo>
#include <utility>

#include "backend/cpu/profile.h"
#include "pool.h"
#include "primitive.h"
#include "sync.h"
#include "timeline.h"

namespace fastsync::cpu {

namespace {

// While an op has named fewer buffers than this, keep() skips one named
// again (a scan of at most this many).
constexpr size_t kDedupeInputs = 16;

// A point on a CPU stream: reached when it fires, right after the task
// before it (folded into that task, or a control task of its own).
class CpuMark final : public Mark, public scheduler::Signal {
 public:
  explicit CpuMark(Stream s) : stream_(s), gate_(s) {}

  bool reached() const override { return gate_.is_open(); }
  void wait() const override {
    // A host thread runs the stream's queued work itself, up to this mark,
    // rather than wait for the worker to wake up and run it
    // (scheduler::help). Other CPU streams wait through the gate and never
    // block here (CommandEncoder::wait).
    if (!scheduler::in_task()) {
      auto done = [this] { return reached(); };
      while (!reached() && scheduler::help(stream_, done)) {
      }
      if (reached()) return;
      // Someone else runs it: make sure that someone is awake.
      scheduler::wake_quiet();
      scheduler::wake(stream_);
    }
    gate_.wait();
  }
  const scheduler::Gate& gate() const { return gate_; }
  scheduler::ErrorRef error() const override { return gate_.error(); }
  // Exact: the buffer carries the error that spoiled it (Data::spoil).
  scheduler::ErrorRef error_for(uint64_t position, const Data* data) const override {
    return data ? data->spoiled() : Mark::error_for(position, data);
  }

  // On the encoding thread, when placed: what it is for and the buffers
  // released as it is reached.
  void arm(MarkKind kind, scheduler::KeepList retained) {
    kind_ = kind;
    retained_ = std::move(retained);
  }

  // On the stream's thread. The retained buffers are released before the
  // mark is reached: whoever wakes on it (eval returning) finds that memory
  // free.
  void fire(scheduler::Parked& parked) override {
    int64_t t0 = timeline::on() ? timeline::now() : 0;
    retained_.clear();
    scheduler::ErrorRef e;
    switch (kind_) {
      case MarkKind::fence: e = scheduler::current_error(); break;
      case MarkKind::event: e = scheduler::take_error(); break;
      case MarkKind::sync:
        e = scheduler::take_error();
        if (!e) e = scheduler::take_unreported();
        break;
    }
    // Opening the gate publishes the error to waiters (release order); the
    // caller resumes the streams parked on it.
    gate_.open_into(std::move(e), parked);
    if (t0) {
      timeline::span(
          {timeline::stream_track(stream_.index), "signal",
           timeline::intern(kind_ == MarkKind::fence ? "signal (fence)" : "signal (event)"), t0,
           timeline::now(), trace_id});
    }
  }

 private:
  Stream stream_;
  scheduler::Gate gate_;
  MarkKind kind_ = MarkKind::fence;
  scheduler::KeepList retained_;
};

}  // namespace

void CommandEncoder::keep(const std::shared_ptr<Data>& d) {
  if (!d) return;
  // Each buffer once while an op names few (eval_cpu names its inputs, `x *
  // x` one of them twice, and commit names them all again); past
  // kDedupeInputs no scan, and a buffer kept twice is harmless.
  if (inputs_.size() < kDedupeInputs &&
      std::find(inputs_.begin(), inputs_.end(), d) != inputs_.end()) {
    return;
  }
  inputs_.push_back(d);
}

void CommandEncoder::set_input_array(const array& a) { keep(a.data_shared_ptr()); }

void CommandEncoder::set_output_array(const array& a) {
  if (Data* d = a.data_shared_ptr().get()) outputs_.push_back(d);
}

void CommandEncoder::add_temporary(array a) { keep(a.data_shared_ptr()); }

void CommandEncoder::add_temporaries(std::vector<array> arrays) {
  for (auto& a : arrays) keep(a.data_shared_ptr());
}

namespace {
// The primitive whose eval_cpu this thread runs while profiling (its
// dispatches are timed under this key), else null.
thread_local const std::string* profiled_op = nullptr;
// The same while a timeline trace records: the name its run spans take
// (the worker records them, scheduler.cpp).
thread_local timeline::Name traced_op = 0;
}  // namespace

void CommandEncoder::dispatch(scheduler::TaskFn fn) { dispatch(std::move(fn), false); }

void CommandEncoder::dispatch(scheduler::TaskFn fn, bool always) {
  if (profiled_op) {
    fn = [inner = std::move(fn), name = *profiled_op]() mutable {
      auto t0 = std::chrono::steady_clock::now();
      inner();
      profile::record_run(
          name.c_str(),
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    };
  }
  if (pending_) scheduler::enqueue(stream(), std::move(*pending_));
  pending_ = scheduler::Task{std::move(fn), {}, false};
  pending_->always = always;
  if (traced_op) {
    pending_->trace_name = traced_op;
    pending_->trace_stream = stream().index;
  }
}

void CommandEncoder::dispatch_always(scheduler::TaskFn fn) { dispatch(std::move(fn), true); }

void CommandEncoder::commit(const std::vector<array>& inputs, const std::vector<array>& outputs) {
  if (pending_) {
    for (auto& in : inputs) keep(in.data_shared_ptr());
    for (auto& out : outputs) set_output_array(out);
    auto& keep_list = pending_->keep;
    for (auto& d : inputs_) {
      // A buffer donated to an output lives on in that output; holding it
      // here would stop the next op in a chain from reusing it.
      if (std::find(outputs_.begin(), outputs_.end(), d.get()) != outputs_.end()) continue;
      keep_list.push_back(std::move(d), stream().index);
    }
    for (auto* d : outputs_) {
      // An output over a kept (not donated) input's buffer is a view the task
      // does not write (a send's output): its failure must not spoil the input.
      bool kept = false;
      keep_list.for_each([&](const Data* k) { kept |= k == d; });
      if (!kept) pending_->outputs.push_back(d);
    }
    if (outputs.size() > 1) {
      for (auto& out : outputs) keep_list.push_back(out.data_shared_ptr(), stream().index);
    }
    for (auto& out : outputs) {
      bool donated = false;
      for (auto& in : inputs) donated |= in.raw_ptr() == out.raw_ptr();
      if (!donated) pending_->bytes += out.nbytes();
    }
    scheduler::enqueue(stream(), std::move(*pending_));
    pending_.reset();
  } else {
    // Without a dispatch nothing reads the inputs asynchronously (views). An
    // op that made a fresh output without one (an empty product) may be the
    // last owner of an input whose task is still queued, and that task writes
    // it: keep such inputs until the next mark.
    for (auto& in : inputs) {
      const auto& d = in.data_shared_ptr();
      bool viewed = false;
      for (auto& out : outputs) viewed |= out.data_shared_ptr() == d;
      if (d && !viewed) retain(d);
    }
  }
  inputs_.clear();
  outputs_.clear();
}

void CommandEncoder::discard(const std::vector<array>& inputs) {
  pending_.reset();
  for (auto& in : inputs) {
    if (auto& d = in.data_shared_ptr()) retain(d);
  }
  inputs_.clear();
  outputs_.clear();
}

namespace {
// The stream whose op the calling thread is encoding, -1 outside one. Each
// thread sees only its own (only the encoding thread sets it).
thread_local int current_stream = -1;
}  // namespace

int encoding_stream() { return current_stream; }

void CommandEncoder::eval(Primitive& p, const std::vector<array>& inputs,
                          std::vector<array>& outputs) {
  struct Scope {
    int saved;
    explicit Scope(int s) : saved(std::exchange(current_stream, s)) {}
    ~Scope() { current_stream = saved; }
  } scope(stream().index);
  if (timeline::on()) {
    // An encode span on this thread; the compute it dispatches is named
    // after the primitive.
    struct Traced {
      explicit Traced(timeline::Name n) { traced_op = n; }
      ~Traced() { traced_op = 0; }
    } traced(timeline::intern(p.name()));
    int64_t t0 = timeline::now();
    eval_profiled(p, inputs, outputs);
    timeline::span({timeline::current_track(), "encode", traced_op, t0, timeline::now()},
                   {{"stream", stream().index}});
    return;
  }
  eval_profiled(p, inputs, outputs);
}

void CommandEncoder::eval_profiled(Primitive& p, const std::vector<array>& inputs,
                                   std::vector<array>& outputs) {
  if (!profile::enabled()) {
    p.eval_cpu(inputs, outputs);
    return;
  }
  std::string key = p.name();
  if (profile::detailed() && !outputs.empty()) {
    key += " " + shape_str(outputs[0].shape()) + " " + outputs[0].dtype().name();
  }
  struct Profiled {
    explicit Profiled(const std::string* n) { profiled_op = n; }
    ~Profiled() { profiled_op = nullptr; }
  } profiled(&key);
  auto t0 = std::chrono::steady_clock::now();
  p.eval_cpu(inputs, outputs);
  profile::record_encode(
      key.c_str(),
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
}

uint64_t CommandEncoder::position() const { return scheduler::enqueued(stream()); }

MarkRef CommandEncoder::make_mark() { return make_pooled<CpuMark>(stream()); }

void CommandEncoder::place(const MarkRef& m, MarkKind kind) {
  // Made by make_mark above. (arm leaves retained_ empty.)
  std::shared_ptr<scheduler::Signal> mark = std::static_pointer_cast<CpuMark>(m);
  static_cast<CpuMark&>(*m).arm(kind, std::move(retained_));
  // Folded into the task before it when that one is still queued. A trace
  // keeps the signal a task of its own, with its own span. Either way the
  // task runner fires it (with any signal folded into the same task later)
  // and then resumes the streams parked on it (scheduler::resume_parked).
  if (!timeline::on() && scheduler::attach(stream(), mark)) return;
  scheduler::Task t{scheduler::TaskFn{}, {}, true};
  t.then[0] = std::move(mark);
  scheduler::enqueue(stream(), std::move(t));
}

void CommandEncoder::wait(const MarkRef& m, uint64_t position) {
  // Another stream's errors travel in the buffers they spoiled (a GPU
  // stream's once its mark is settled); only an error known by position (a
  // CPU task that declared no outputs) poisons this stream.
  // (typeid: one comparison, where dynamic_cast walks the hierarchy; a CPU
  // stream waits on a fence of another per op of a chain hopping between
  // them.)
  if (typeid(*m) == typeid(CpuMark)) {
    auto cpu_mark = std::static_pointer_cast<const CpuMark>(m);
    // Another CPU stream's mark: a task here waits behind its gate (the
    // stream parks until it opens) and the scheduler applies the mark's
    // error (Task::gate_position). The next task enqueued here carries the
    // wait; while a trace records, a task of its own does, for its span.
    const scheduler::Gate& gate = cpu_mark->gate();
    if (!timeline::on()) {
      scheduler::wait_before_next(stream(), gate, std::move(cpu_mark), position);
      return;
    }
    scheduler::Task t{[id = m->trace_id, stream = stream().index] {
                        if (!timeline::on()) return;
                        const int64_t now = timeline::now();
                        timeline::span({timeline::stream_track(stream), "wait",
                                        timeline::intern("wait (stream)"), now, now, 0, id});
                      },
                      {},
                      true};
    t.gate = &gate;
    t.gate_owner = std::move(cpu_mark);
    t.gate_position = position;
    scheduler::enqueue(stream(), std::move(t));
    return;
  }
  // A GPU stream's mark, which may itself wait for work queued on CPU
  // streams: a task that blocks.
  scheduler::Task t{
      [m, position, stream = stream().index] {
        const int64_t t0 = timeline::on() ? timeline::now() : 0;
        m->wait();
        if (t0) {
          timeline::span({timeline::stream_track(stream), "wait", timeline::intern("wait (stream)"),
                          t0, timeline::now(), 0, m->trace_id});
        }
        auto e = m->error();
        if (e && e->by_position && position >= e->position) scheduler::set_error(e);
      },
      {},
      true};
  t.blocks = true;
  scheduler::enqueue(stream(), std::move(t));
}

bool CommandEncoder::fence_position(uint64_t& pos) {
  // A trace keeps marks (their signals and waits draw its arrows); buffers
  // retained for the next mark are released by one.
  if (timeline::on() || retained_.size() > 0) return false;
  return scheduler::light_point(stream(), pos);
}

void CommandEncoder::wait_position(const Stream& producer, uint64_t pos) {
  scheduler::wait_after(stream(), producer, pos);
}

void CommandEncoder::retain(std::shared_ptr<Data> d) {
  retained_.push_back(std::move(d), stream().index);
}

CommandEncoder& get_command_encoder(const Stream& s) {
  // The CPU backend made it (backend/cpu/backend.cpp).
  return static_cast<CommandEncoder&>(encoder(s));
}

}  // namespace fastsync::cpu
