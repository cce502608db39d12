// The eval driver. Called from any thread (the Python bindings release the
// GIL first). One process-wide mutex serializes *encoding*: the graph walk,
// the calls to eval_cpu/eval_gpu and the enqueueing of tasks take
// microseconds; compute runs on the stream workers, and every host wait on
// results happens after the mutex is released. Workers never take it.
//
// The path, top to bottom:
//   1. walk the graph from the outputs, counting consumers and marking every
//      node whose output another stream consumes (needs a fence);
//   2. order the nodes into a tape: breadth-first from the outputs while the
//      frontier is narrow, depth-first past a width limit, so independent
//      branches interleave across streams yet memory stays bounded;
//   3. encode each node: stream waits for cross-stream inputs (fences) and
//      for inputs still in flight from earlier evals (events), eval_cpu or
//      eval_gpu, commit with retention, fence update, detach, throttle;
//   4. retain the outputs and signal one event per stream touched; eval waits
//      on those events, async_eval returns.
// If encoding throws, the events are still signalled after the work already
// encoded, that work is waited for, and the error is rethrown: nothing is
// left half-evaluated and no waiter hangs.
#include "transforms.h"

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

#include "backend.h"
#include "cpu/encoder.h"
#include "fence.h"
#include "primitive.h"
#include "scheduler.h"

namespace fastsync {

namespace {

// Guards everything below and all Node scratch fields.
std::mutex encode_mutex;
uint64_t eval_counter = 0;
std::vector<Stream> touched_streams;  // every stream that ever got work

// Past this many nodes in the frontier the tape goes depth-first.
constexpr size_t kMaxTapeWidth = 16;

// Per-eval, per-stream synchronization state.
struct StreamSync {
  Stream stream;
  Event event;
  std::optional<Fence> fence;
  scheduler::KeepList retained_outputs;
};

class Evaluation {
 public:
  explicit Evaluation(uint64_t id) : id_(id) {}

  void run(const std::vector<array>& outputs) {
    auto tape = build_tape(outputs);
    for (auto& node : tape) {
      encode(*node);
      node.reset();  // drop the inputs as soon as they are encoded
    }
    for (auto& o : outputs) {
      if (o.eval_id() == id_) {
        StreamSync& ss = sync_at(o.producer_stream());
        if (ss.stream.device == Device::Type::gpu) {
          gpu::retain(ss.stream, o.data_shared_ptr());
        } else {
          ss.retained_outputs.push_back(o.data_shared_ptr());
        }
      }
    }
  }

  // Signals every stream's event after its work; returns them.
  std::vector<Event> finish() {
    std::vector<Event> events;
    for (auto& ss : streams_) {
      if (ss.retained_outputs.size() > 0) {
        scheduler::enqueue(ss.stream, scheduler::Task{[] {}, std::move(ss.retained_outputs), true});
      }
      ss.event.signal();
      events.push_back(ss.event);
    }
    return events;
  }

 private:
  std::vector<std::shared_ptr<Node>> build_tape(const std::vector<array>& outputs) {
    // 1. Depth-first walk over unevaluated nodes.
    std::vector<Node*> stack;
    std::vector<std::shared_ptr<Node>> roots;
    auto visit = [&](Node* n) {
      if (n->visit_mark == id_) return;
      n->visit_mark = id_;
      n->pending_consumers = 0;
      n->needs_fence = false;
      stack.push_back(n);
    };
    for (auto& o : outputs) {
      if (o.status() == Status::unscheduled) {
        visit(o.node().get());
        roots.push_back(o.node());
      }
    }
    size_t n_nodes = 0;
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      ++n_nodes;
      const Stream& s = n->primitive->stream();
      for (auto& in : n->inputs) {
        if (in.status() != Status::unscheduled) continue;
        Node* p = in.node().get();
        visit(p);
        p->pending_consumers++;
        if (p->primitive->stream() != s) p->needs_fence = true;
      }
    }
    // 2. Reverse topological order from the outputs (a node is placed once
    // all its consumers are), then flipped.
    std::vector<std::shared_ptr<Node>> tape;
    tape.reserve(n_nodes);
    std::deque<std::shared_ptr<Node>> frontier;
    for (auto& r : roots) {
      if (r->pending_consumers == 0) {
        r->pending_consumers = -1;  // queued
        frontier.push_back(r);
      }
    }
    while (!frontier.empty()) {
      std::shared_ptr<Node> n;
      if (frontier.size() > kMaxTapeWidth) {
        n = std::move(frontier.back());
        frontier.pop_back();
      } else {
        n = std::move(frontier.front());
        frontier.pop_front();
      }
      for (auto& in : n->inputs) {
        if (in.status() != Status::unscheduled) continue;
        auto& p = in.node();
        if (--p->pending_consumers == 0) frontier.push_back(p);
      }
      tape.push_back(std::move(n));
    }
    std::reverse(tape.begin(), tape.end());
    return tape;
  }

  void encode(Node& n) {
    Primitive& prim = *n.primitive;
    const Stream& s = prim.stream();
    StreamSync& ss = sync_for(s);
    std::vector<array> outs = outputs_of(n);
    bool on_gpu = s.device == Device::Type::gpu;

    for (auto& in : n.inputs) {
      if (crosses_device(in, on_gpu)) {
        in = cross(in, s, on_gpu);
      } else {
        wait_for_input(in, s);
      }
    }

    auto& enc = cpu::get_command_encoder(s);
    try {
      if (on_gpu) {
        prim.eval_gpu(n.inputs, outs);
      } else {
        prim.eval_cpu(n.inputs, outs);
      }
    } catch (...) {
      on_gpu ? gpu::discard(s) : enc.discard();
      throw;
    }
    if (on_gpu) {
      gpu::commit(s, n.inputs, outs);
    } else {
      enc.commit(n.inputs, outs);
    }

    uint64_t position = on_gpu ? gpu::position(s) : scheduler::enqueued(s);
    for (auto& o : outs) {
      o.set_producer(id_, s.index, position);
      o.set_event(ss.event);
      o.set_status(Status::evaluated);
    }
    if (n.needs_fence) fence_for(ss).update();
    outs[0].detach();
    throttle();
  }

  // Whether `in` lives on the other device than the consumer runs on.
  static bool crosses_device(const array& in, bool consumer_on_gpu) {
    auto d = in.data_shared_ptr();
    return d && allocator::is_device(d->buffer) != consumer_on_gpu;
  }

  // A view of `in` on the consumer's device, ordered after its producer.
  array cross(const array& in, const Stream& s, bool to_gpu) {
    std::optional<Stream> producer;
    if (in.eval_id() == id_) {
      producer = sync_at(in.producer_stream()).stream;
    } else if (in.status() == Status::evaluated && in.event()) {
      const Event& e = *in.event();
      if (!e.is_signaled()) {
        producer = e.stream();
      } else if (auto err = e.error_for(in.position_on_stream())) {
        std::rethrow_exception(err);
      }
    }
    return to_gpu ? gpu::to_device(in, producer, s) : gpu::to_host(in, producer, s);
  }

  std::vector<array> outputs_of(Node& n) {
    // The single output of a node on the tape is alive: the node was reached
    // through it.
    if (n.outputs.size() == 1) {
      return {array_from(n.outputs[0].lock())};
    }
    // Multi-output: any live output lists them all, recreating dropped ones.
    for (auto& w : n.outputs) {
      if (auto d = w.lock()) return array_from(d).outputs();
    }
    throw std::logic_error("[eval] a node on the tape has no live output");
  }

  static array array_from(std::shared_ptr<ArrayDesc> d) { return array::from_desc(std::move(d)); }

  void wait_for_input(const array& in, const Stream& s) {
    if (in.eval_id() == id_) {
      // Produced in this eval: a fence orders it if another stream made it.
      if (in.producer_stream() != s.index) {
        StreamSync& producer = sync_at(in.producer_stream());
        Fence& f = fence_for(producer);
        auto key = std::make_pair(s.index, producer.stream.index);
        auto it = fence_waits_.find(key);
        if (it == fence_waits_.end() || it->second != f.count()) {
          f.wait(s);
          fence_waits_[key] = f.count();
        }
      }
      return;
    }
    if (in.status() == Status::evaluated && in.event()) {
      const Event& e = *in.event();
      if (!e.is_signaled()) {
        e.wait(s, in.position_on_stream());
      } else if (auto err = e.error_for(in.position_on_stream())) {
        std::rethrow_exception(err);
      }
    }
  }

  StreamSync& sync_for(const Stream& s) {
    for (auto& ss : streams_) {
      if (ss.stream == s) return ss;
    }
    streams_.push_back(StreamSync{s, Event(s), std::nullopt, {}});
    gpu_used_ |= s.device == Device::Type::gpu;
    bool known = false;
    for (auto& t : touched_streams) known |= (t == s);
    if (!known) touched_streams.push_back(s);
    return streams_.back();
  }

  // The state of a stream that already encoded work in this eval.
  StreamSync& sync_at(int stream_index) {
    for (auto& ss : streams_) {
      if (ss.stream.index == stream_index) return ss;
    }
    throw std::logic_error("[eval] no work was encoded on the producer stream");
  }

  Fence& fence_for(StreamSync& ss) {
    if (!ss.fence) ss.fence.emplace(ss.stream);
    return *ss.fence;
  }

  // Keeps encoding from running far ahead of compute: at most a fixed number
  // of tasks, and of bytes their outputs hold, may be outstanding; over the
  // memory limit, compute catches up (and frees) before more is encoded.
  // Waiting cannot help once nothing is outstanding.
  void throttle() {
    int cap = scheduler::max_outstanding();
    if (scheduler::outstanding() > cap) scheduler::wait_outstanding_at_most(cap * 3 / 4);
    auto& alloc = allocator::host();
    while ((scheduler::inflight_bytes() > scheduler::max_inflight_bytes() ||
            alloc.active_memory() > alloc.memory_limit()) &&
           scheduler::outstanding() > 0) {
      scheduler::wait_for_a_completion();
    }
    if (gpu_used_) {
      // As on the CPU: buffers kept for GPU work in flight are capped too.
      auto& dev = gpu::device_allocator();
      while ((gpu::inflight_bytes() > scheduler::max_inflight_bytes() ||
              dev.active_memory() > dev.memory_limit()) &&
             gpu::wait_for_memory()) {
      }
    }
  }

  uint64_t id_;
  bool gpu_used_ = false;
  std::deque<StreamSync> streams_;  // deque: references stay valid
  std::map<std::pair<int, int>, uint32_t> fence_waits_;
};

std::vector<Event> encode(const std::vector<array>& outputs) {
  std::lock_guard lk(encode_mutex);
  Evaluation ev(++eval_counter);
  try {
    ev.run(outputs);
  } catch (...) {
    auto err = std::current_exception();
    for (auto& e : ev.finish()) e.wait_quiet();
    std::rethrow_exception(err);
  }
  return ev.finish();
}

}  // namespace

void eval(std::vector<array> outputs) {
  // Any failure inside this eval fails it; then every output is waited for
  // on its own (outputs of earlier evals included).
  std::exception_ptr first;
  for (auto& e : encode(outputs)) {
    try {
      e.wait();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
  for (auto& o : outputs) o.wait();
}

void async_eval(std::vector<array> outputs) { encode(outputs); }

allocator::Allocator& memory_allocator(Device d) {
  return d.type == Device::Type::gpu && gpu::is_available() ? gpu::device_allocator()
                                                             : allocator::host();
}

array host_readable(array a) {
  a.eval();
  auto d = a.data_shared_ptr();
  if (d && allocator::is_device(d->buffer)) return gpu::host_copy(a);
  return a;
}

void synchronize(Stream s) {
  Event e(s);
  e.signal(/*report_unreported=*/true);
  e.wait();
}

void synchronize() {
  std::vector<Stream> streams;
  {
    std::lock_guard lk(encode_mutex);
    streams = touched_streams;
  }
  std::exception_ptr first;
  for (auto& s : streams) {
    try {
      synchronize(s);
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace fastsync
