// Marks on GPU streams: points on a stream's timeline (encoder.h), the GPU
// half of events and fences. A mark is made on the encoding thread and
// placed there later (events are placed at the end of an eval); waiters on
// any thread wait until it is placed, then until the GPU writes the stream's
// timeline word up to its value. A GPU stream waiting on a mark waits on the
// CUDA event recorded at the same point: no host thread blocks.
#include <cuda_runtime.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "backend/common/flow.h"
#include "backend/cuda/encoder.h"
#include "backend/cuda/gpu_timeline.h"
#include "backend/cuda/runtime.h"

namespace fastsync::cuda {

namespace {
std::mutex event_pool_mutex;
std::vector<cudaEvent_t>& event_pool() {
  static auto* p = new std::vector<cudaEvent_t>();
  return *p;
}
}  // namespace

cudaEvent_t take_event() {
  {
    std::lock_guard lk(event_pool_mutex);
    auto& p = event_pool();
    if (!p.empty()) {
      cudaEvent_t e = p.back();
      p.pop_back();
      return e;
    }
  }
  cudaEvent_t e;
  check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
  return e;
}

void give_event(cudaEvent_t e) {
  std::lock_guard lk(event_pool_mutex);
  event_pool().push_back(e);
}

namespace {

class GpuMark : public Mark {
 public:
  explicit GpuMark(CommandEncoder& enc) : encoder(&enc) {}
  ~GpuMark() override {
    if (event) give_event(event);
  }

  bool reached() const override {
    if (light.load(std::memory_order_acquire)) {
      // An event recorded inside an open capture cannot be queried (and the
      // failed query would stay as the thread's last CUDA error).
      if (captured.load(std::memory_order_acquire)) return false;
      return cudaEventQuery(event) == cudaSuccess;
    }
    uint64_t v = value.load(std::memory_order_acquire);
    return v != 0 && encoder->reached(v);
  }

  void wait() const override {
    uint64_t v = value.load(std::memory_order_acquire);
    while (v == 0) {
      if (light.load(std::memory_order_acquire)) {
        // Not on the timeline (rarely waited on by the host). Inside an
        // open capture it is recorded again once the encoding thread
        // launches the graph, at the latest by the end of its eval.
        while (captured.load(std::memory_order_acquire)) std::this_thread::yield();
        check(cudaEventSynchronize(event), "cudaEventSynchronize");
        return;
      }
      // Placed by the encoding thread within microseconds of being made.
      std::this_thread::yield();
      v = value.load(std::memory_order_acquire);
    }
    encoder->wait_for(v);
  }

  // Settles the mark: runs its probes (each failed op and each spoiled
  // buffer that arrived is noted in the flow), then spoils what the ops
  // before the mark computed from them. Returns this stream's first error.
  scheduler::ErrorRef error() const override {
    auto e = first_error(probes);
    if (flow) flow->walk(flow_end);
    return e;
  }

  // Exact: the buffer carries the error that spoiled it, once settled.
  scheduler::ErrorRef error_for(uint64_t position, const Data* data) const override {
    auto e = error();
    if (!data) return e && position >= e->position ? e : nullptr;
    return data->spoiled();
  }

  bool placed() const {
    return value.load(std::memory_order_acquire) != 0 || light.load(std::memory_order_acquire);
  }

  CommandEncoder* encoder;
  std::atomic<uint64_t> value{0};  // 0 until placed; release-published
  std::atomic<bool> light{false};  // placed without a timeline value
  // Recorded inside the open capture of `origin` (light marks only): only
  // streams joining that capture may wait on it until it is recorded again.
  std::atomic<bool> captured{false};
  CommandEncoder* origin = nullptr;
  cudaEvent_t event = nullptr;
  ProbeList probes;  // written before `value`
  // The stream's log of this eval and how much of it precedes the mark
  // (null: nothing before the mark can have failed). Written before `value`.
  std::shared_ptr<Flow> flow;
  size_t flow_end = 0;
};

}  // namespace

MarkRef CommandEncoder::make_mark() { return std::make_shared<GpuMark>(*this); }

cudaError_t CommandEncoder::record_captured_marks(const scheduler::ErrorRef& error) {
  // After the launch: a later wait on one of these, from outside any
  // capture, waits for the whole graph (a little later than the op, never
  // too early). Marks already dropped need nothing. A failed run's error
  // joins the probes each copied when placed (before the run's fate was
  // known), so a stream that reads past one learns of it.
  auto marks = std::move(captured_marks_);
  captured_marks_.clear();
  cudaError_t failed = cudaSuccess;
  for (auto& w : marks) {
    auto mark = w.lock();
    if (!mark) continue;
    auto& m = static_cast<GpuMark&>(*mark);
    if (error) m.probes = push_probe(m.probes, [error]() -> scheduler::ErrorRef { return error; });
    cudaError_t r = cudaEventRecord(m.event, cuda_stream());
    if (failed == cudaSuccess) failed = r;
    // Released even if the record failed: a host waiter must not spin on
    // it forever (a stream waiting on it then reports the failure).
    m.captured.store(false, std::memory_order_release);
  }
  return failed;
}

void CommandEncoder::place(const MarkRef& mark, MarkKind kind) {
  // A mark only GPU streams wait on (a fence between GPU streams: CPU
  // consumers of GPU data wait on crossing marks) skips the timeline write,
  // whose system-wide memory barrier costs the GPU microseconds. The end of
  // an eval closes the stream's error segment: the next mark starts clean.
  const bool end_of_eval = kind != MarkKind::fence;
  place_mark(mark, /*host_visible=*/kind != MarkKind::fence, end_of_eval);
  if (end_of_eval) {
    const bool probed = static_cast<const GpuMark&>(*mark).probes != nullptr;
    settle_reached(probed ? mark : nullptr);
  }
}

void CommandEncoder::settle_reached(const MarkRef& placed) {
  // An eval's probes hold the marks of the evals it waited on, whose probes
  // hold theirs: left alone, a loop of async_evals nobody reads would keep
  // every eval's log alive, and settling the last one would recurse through
  // all of them. Evals the GPU is past are settled here, oldest first, which
  // frees their logs and cuts the chain.
  while (!unsettled_.empty()) {
    auto m = unsettled_.front().lock();
    if (m && !m->reached()) break;
    if (m) m->error();
    unsettled_.pop_front();
  }
  if (placed) unsettled_.push_back(placed);
}

MarkRef CommandEncoder::mark_for_host() {
  auto m = make_mark();
  place_mark(m, /*host_visible=*/true, /*end_of_eval=*/false, /*gpu_waiters=*/false);
  return m;
}

void CommandEncoder::place_mark(const MarkRef& mark, bool host_visible, bool end_of_eval,
                                bool gpu_waiters) {
  // Made by make_mark above. A host waiter must find its work launched; a
  // fence stays inside the capture, if any, for the streams that join it.
  auto& m = static_cast<GpuMark&>(*mark);
  if (host_visible) end_graph();
  // Error slots written before the mark reach the host with a point, so
  // settling the mark knows every op before it that failed.
  uint64_t v = host_visible ? place_point() : 0;
  if (!host_visible && slots_used_ > 0) place_point();  // ends the capture
  if (capturing()) {
    m.origin = &origin();
    m.captured.store(true, std::memory_order_release);
    m.origin->captured_marks_.push_back(mark);
  }
  // Host waiters read the timeline; the event (a microsecond of the host's
  // time) is for GPU streams, and for a trace's span of the signal.
  if (gpu_waiters || !host_visible || timeline::on()) {
    auto traced = timeline::on() ? gpu_timeline::begin(cuda_stream()) : gpu_timeline::Open{};
    m.event = take_event();
    check(cudaEventRecord(m.event, cuda_stream()), "cudaEventRecord");
    if (traced.begin) {
      gpu_timeline::end(traced, cuda_stream(), stream().index, "signal",
                        timeline::intern(host_visible ? "signal (event)" : "signal (fence)"),
                        m.trace_id);
    }
  }
  m.probes = probes();
  m.flow = flow_;
  m.flow_end = flow_ ? flow_->size() : 0;
  if (end_of_eval) end_segment();
  if (host_visible) {
    m.value.store(v, std::memory_order_release);
  } else {
    m.light.store(true, std::memory_order_release);
  }
}

void CommandEncoder::wait(const MarkRef& mark, uint64_t position) {
  auto* m = dynamic_cast<GpuMark*>(mark.get());
  if (!m) {
    // Crossings (crossing.cpp) order CPU producers before GPU consumers.
    throw std::logic_error("[eval] a GPU stream cannot wait on a CPU stream's mark directly");
  }
  if (!m->placed())
    throw std::logic_error("[eval] a GPU stream would wait on a mark not yet placed");
  if (!m->event)
    throw std::logic_error("[eval] a GPU stream would wait on a mark made for host waiters only");
  if (m->encoder != this) {
    const bool captured = m->captured.load(std::memory_order_acquire);
    CommandEncoder* o = m->origin;
    if (captured && &origin() == o) {
      // Both inside the same capture: a dependency of the graph.
      check(cudaStreamWaitEvent(cuda_stream(), m->event, 0), "cudaStreamWaitEvent");
    } else if (captured && o->stream().device.index == stream().device.index && o->capturing()) {
      end_graph();  // this stream's own run, or another capture it joined
      join(*o, m->event);
    } else {
      if (captured) o->end_graph();  // records the mark's event again, outside it
      end_graph();                   // a captured run cannot wait on an event recorded outside it
      auto traced = timeline::on() ? gpu_timeline::begin(cuda_stream()) : gpu_timeline::Open{};
      check(cudaStreamWaitEvent(cuda_stream(), m->event, 0), "cudaStreamWaitEvent");
      if (traced.begin) {
        gpu_timeline::end(traced, cuda_stream(), stream().index, "wait",
                          timeline::intern("wait (stream)"), 0, m->trace_id);
      }
    }
  }
  // What the mark's stream spoiled before it may be read here: settling
  // this stream settles that one first and takes its spoiled buffers. A
  // mark without probes can carry no error (nor can the data before it).
  (void)position;
  if (!m->probes) return;
  add_probe([mark, source = m->flow, flow = flow()]() -> scheduler::ErrorRef {
    mark->error();
    if (source) flow->absorb(*source);
    return nullptr;
  });
}

}  // namespace fastsync::cuda
