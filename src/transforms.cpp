// The eval driver. It reaches backends only through the per-stream encoder
// and the Backend interface (backend/backend.h): no device branches here.
// Called from any thread (the Python bindings release the
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
//      for inputs still in flight from earlier evals (events), crossings for
//      inputs in another device's memory, the op itself (the stream's
//      encoder runs eval_cpu or eval_gpu and retains what the compute
//      reads), fence update, detach, throttle. A view of an array this
//      eval made skips all of it: the driver makes it, and it takes its
//      input's producer stream and position (so synchronize(s) of the
//      view's own stream does not cover it; waiting on the array does);
//   4. retain the outputs and signal one event per stream touched; eval waits
//      on those events, async_eval returns.
// If encoding throws, the events are still signalled after the work already
// encoded, that work is waited for, and the error is rethrown: nothing is
// left half-evaluated and no waiter hangs.
#include "transforms.h"

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <typeinfo>
#include <unordered_set>

#include "autodiff.h"
#include "backend/backend.h"
#include "fence.h"
#include "lifecycle.h"
#include "primitive.h"
#include "primitives/shape.h"
#include "replay.h"
#include "scheduler.h"

namespace fastsync {

namespace {

// Guards everything below and all Node scratch fields.
std::mutex encode_mutex;
uint64_t eval_counter = 0;

// Past this many nodes in the frontier the tape goes depth-first.
constexpr size_t kMaxTapeWidth = 16;

// Whether `p` may give a view of its input: a view primitive, or a reshape
// (when the layout lets it: share_view says). Asked of every node an eval
// encodes: typeid is one comparison where a failing dynamic_cast walks the
// class hierarchy.
bool view_like(const Primitive& p) { return p.is_view() || typeid(p) == typeid(Reshape); }

// Makes `out` the view `p` (view_like) computes of `inputs[0]`, sharing its
// buffer and taking its producer, position, event and `status` (read by the
// caller before the other fields: the acquire that publishes them). False
// if the reshape needs a copy.
bool share_view(Primitive& p, const std::vector<array>& inputs, array& out, Status status) {
  const array& in = inputs[0];
  if (p.is_view()) {
    std::vector<array> outs{out};
    p.eval_cpu(inputs, outs);  // ViewPrimitive: make_view only
  } else if (!reshape_view(in, out)) {
    return false;  // the layout needs a copy
  }
  if (in.event()) out.set_event(*in.event());
  out.set_producer(in.eval_id(), in.producer_stream(), in.position_on_stream());
  out.set_status(status);
  return true;
}

// Per-eval, per-stream synchronization state.
struct StreamSync {
  explicit StreamSync(const Stream& s)
      : stream(s), encoder(&fastsync::encoder(s)), event(s), fence(s) {}
  Stream stream;
  StreamEncoder* encoder;
  Event event;
  Fence fence;
};

class Evaluation {
 public:
  explicit Evaluation(uint64_t id) : id_(id) {}

  void run(const std::vector<array>& outputs) {
    auto tape = build_tape(outputs);
    auto runs = run_lengths(tape);
    for (size_t i = 0; i < tape.size(); ++i) {
      encode(*tape[i], runs[i]);
      tape[i].reset();  // drop the inputs as soon as they are encoded
    }
    // The outputs live until their stream's event, whatever the user drops.
    for (auto& o : outputs) {
      if (o.eval_id() == id_) sync_at(o.producer_stream()).encoder->retain(o.data_shared_ptr());
    }
  }

  // Signals every stream's event after its work; returns them.
  std::vector<Event> finish() {
    std::vector<Event> events;
    for (auto& ss : streams_) {
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

  // Per tape entry: how many ops its stream encodes from it on before
  // something another stream or device waits on (a fence after a node) or
  // before a node that waits on another stream's work of this eval, and how
  // many of those in a row are small (RunHint). The encoder may batch such a
  // run (a GPU stream captures it into a graph). The GPU streams of one
  // device also count as one: a captured run spans them (a fence between
  // two of them is a dependency inside the graph: cuda/encoder.h), so a
  // chain hopping between them is a run; each op gets the longer count.
  static std::vector<RunHint> run_lengths(const std::vector<std::shared_ptr<Node>>& tape) {
    std::vector<RunHint> runs(tape.size());
    bool gpu = false;
    for (auto& n : tape) gpu = gpu || n->primitive->stream().device.type != Device::Type::cpu;
    count_runs(tape, runs, [](const Stream& s) { return s.index; });
    if (gpu) {
      count_runs(tape, runs, [](const Stream& s) {
        return s.device.type == Device::Type::cpu ? s.index : -1 - s.device.index;
      });
    }
    return runs;
  }

  // One count of run_lengths, over the groups of streams `group` names
  // (the stream's index, or a negative key shared by several); keeps the
  // longer of this count and what `runs` holds.
  template <typename Group>
  static void count_runs(const std::vector<std::shared_ptr<Node>>& tape, std::vector<RunHint>& runs,
                         Group group) {
    std::vector<std::pair<int, RunHint>> next;  // group -> run after
    auto next_of = [&](int g) -> RunHint& {
      for (auto& [k, v] : next) {
        if (k == g) return v;
      }
      return next.emplace_back(g, RunHint{}).second;
    };
    // Producers of a shared group that a consumer of another group reads
    // (found before them: the walk goes from the tape's end). A group of
    // one stream is left by any fence.
    std::unordered_set<const Node*> leaving;
    for (size_t i = tape.size(); i-- > 0;) {
      const Node& n = *tape[i];
      const int g = group(n.primitive->stream());
      RunHint& after = next_of(g);
      RunHint run;
      const bool cut = n.needs_fence && (g >= 0 || leaving.count(&n) > 0);
      run.ops = cut ? 1 : after.ops + 1;
      if (output_bytes(n) <= RunHint::kSmallOpBytes) {
        run.small_ops = cut ? 1 : after.small_ops + 1;
      }
      bool waits = false;
      for (auto& in : n.inputs) {
        if (in.status() != Status::unscheduled) continue;
        const Node* p = in.node().get();
        const int pg = group(p->primitive->stream());
        if (pg == g) continue;
        waits = true;
        if (pg < 0) leaving.insert(p);
      }
      after = waits ? RunHint{} : run;
      runs[i].ops = std::max(runs[i].ops, run.ops);
      runs[i].small_ops = std::max(runs[i].small_ops, run.small_ops);
    }
  }

  // What an op writes, by its outputs' sizes (a view writes nothing).
  static size_t output_bytes(const Node& n) {
    if (n.primitive->is_view()) return 0;
    auto bytes = [](const Shape& s, Dtype t) {
      return static_cast<size_t>(shape_size(s)) * t.size();
    };
    if (n.shapes.empty()) {
      // One output: the node keeps no shape; its output, on the tape, is alive.
      auto d = n.outputs.empty() ? nullptr : n.outputs[0].lock();
      return d ? bytes(d->shape, d->dtype) : 0;
    }
    size_t total = 0;
    for (size_t i = 0; i < n.shapes.size(); ++i) total += bytes(n.shapes[i], n.dtypes[i]);
    return total;
  }

  void encode(Node& n, RunHint run) {
    Primitive& prim = *n.primitive;
    const Stream& s = prim.stream();
    if (view_in_place(n)) return;
    StreamSync& ss = sync_for(s);
    // The vector of the previous op, emptied: no allocation per op.
    std::vector<array> outs = std::move(spare_outs_);
    outputs_of(n, outs);

    // While a transform traces, the node must keep its real inputs (the
    // backward walk matches them by identity), so crossings go to a copy.
    const bool tracing = autodiff::is_tracing();
    std::vector<array> crossed;
    if (tracing) crossed = n.inputs;
    std::vector<array>& inputs = tracing ? crossed : n.inputs;
    for (auto& in : inputs) {
      if (in_foreign_memory(in, s)) {
        in = cross(in, s);
      } else {
        wait_for_input(in, s);
      }
    }
    ss.encoder->hint_run(run);
    ss.encoder->encode(prim, inputs, outs);

    uint64_t position = ss.encoder->position();
    for (auto& o : outs) {
      o.set_producer(id_, s.index, position);
      o.set_event(ss.event);
      o.set_status(Status::evaluated);
    }
    if (n.needs_fence) ss.fence.update();
    if (!tracing) outs[0].detach();
    outs.clear();
    spare_outs_ = std::move(outs);
    for (Backend* b : backends_) b->throttle();
  }

  // A view (or a reshape that needs no copy) of an array this eval made, in
  // memory its stream reads, computes nothing and orders nothing: it is made
  // here, without its encoder, and takes its input's producer, position
  // and event, so what reads it waits for the work that wrote the data. A
  // third of a decoding step's nodes are such views.
  bool view_in_place(Node& n) {
    Primitive& p = *n.primitive;
    if (n.inputs.size() != 1 || n.outputs.size() != 1 || !view_like(p)) return false;
    const array& in = n.inputs[0];
    if (in.eval_id() != id_ || in_foreign_memory(in, p.stream())) return false;
    array out = array_from(n.outputs[0].lock());
    if (!share_view(p, n.inputs, out, Status::evaluated)) return false;
    // Another stream reads the view: the producer's fence covers the data.
    if (n.needs_fence) sync_at(in.producer_stream()).fence.update();
    if (!autodiff::is_tracing()) out.detach();
    return true;
  }

  // Whether `in` lives in memory the consumer's backend cannot read.
  static bool in_foreign_memory(const array& in, const Stream& s) {
    const auto& d = in.data_shared_ptr();
    return d && !backend(s.device.type).reads(d->buffer);
  }

  // A view of `in` that `s` can read, ordered after its producer. The
  // backend that is not the host moves the data, in either direction.
  array cross(const array& in, const Stream& s) {
    std::optional<Stream> producer;
    if (in.eval_id() == id_) {
      producer = sync_at(in.producer_stream()).stream;
    } else if (in.status() == Status::evaluated && in.event()) {
      const Event& e = *in.event();
      if (!e.is_signaled()) {
        producer = e.stream();
        // A GPU producer's copy to the host is spoiled if `in` is, which the
        // copy's mark knows only if the earlier eval's event is among its
        // probes: order the copy after that event on the producer stream.
        if (!backend(producer->device.type).is_host()) e.wait(*producer, in.position_on_stream());
      } else if (auto err = e.error_for(in.position_on_stream(), in.data_shared_ptr().get())) {
        std::rethrow_exception(err);
      }
    }
    Backend& consumer = backend(s.device.type);
    Backend& mover = consumer.is_host() ? home_backend(in.data_shared_ptr()->buffer) : consumer;
    return mover.cross(in, producer, s);
  }

  // Fills `outs` (empty) with the node's outputs.
  static void outputs_of(Node& n, std::vector<array>& outs) {
    // The single output of a node on the tape is alive: the node was reached
    // through it.
    if (n.outputs.size() == 1) {
      outs.push_back(array_from(n.outputs[0].lock()));
      return;
    }
    // Multi-output: any live output lists them all, recreating dropped ones.
    for (auto& w : n.outputs) {
      if (auto d = w.lock()) {
        outs = array_from(d).outputs();
        return;
      }
    }
    throw std::logic_error("[eval] a node on the tape has no live output");
  }

  static array array_from(std::shared_ptr<ArrayDesc> d) { return array::from_desc(std::move(d)); }

  void wait_for_input(const array& in, const Stream& s) {
    if (in.eval_id() == id_) {
      // Produced in this eval: a fence orders it if another stream made it,
      // once per fence update and consumer.
      if (in.producer_stream() != s.index) {
        Fence& f = sync_at(in.producer_stream()).fence;
        uint32_t& seen = fence_waited(s.index, in.producer_stream());
        if (seen != f.count()) {
          f.wait(s);
          seen = f.count();
        }
      }
      return;
    }
    if (in.status() == Status::evaluated && in.event()) {
      const Event& e = *in.event();
      if (!e.is_signaled()) {
        e.wait(s, in.position_on_stream());
      } else if (backend(s.device.type).is_host()) {
        // A CPU task sees a spoiled input itself and spoils what it writes
        // (scheduler.h); a collective still runs, so every rank enters it.
      } else if (auto err = e.error_for(in.position_on_stream(), in.data_shared_ptr().get())) {
        std::rethrow_exception(err);
      }
    }
  }

  StreamSync& sync_for(const Stream& s) {
    for (auto& ss : streams_) {
      if (ss.stream == s) return ss;
    }
    streams_.emplace_back(s);
    stream_state(s).used.store(true, std::memory_order_relaxed);
    Backend* b = &backend(s.device.type);
    if (std::find(backends_.begin(), backends_.end(), b) == backends_.end()) {
      backends_.push_back(b);
    }
    return streams_.back();
  }

  // The state of a stream that already encoded work in this eval.
  StreamSync& sync_at(int stream_index) {
    for (auto& ss : streams_) {
      if (ss.stream.index == stream_index) return ss;
    }
    throw std::logic_error("[eval] no work was encoded on the producer stream");
  }

  uint64_t id_;
  std::vector<array> spare_outs_;
  std::deque<StreamSync> streams_;  // deque: references stay valid
  // The backends this eval encoded work on: each throttles after every op.
  std::vector<Backend*> backends_;
  // Per (consumer, producer) stream pair: the producer's fence update the
  // consumer last waited on. A handful of pairs at most: a flat list.
  struct FenceWait {
    int consumer, producer;
    uint32_t count;
  };
  std::vector<FenceWait> fence_waits_;
  uint32_t& fence_waited(int consumer, int producer) {
    for (auto& w : fence_waits_) {
      if (w.consumer == consumer && w.producer == producer) return w.count;
    }
    fence_waits_.push_back({consumer, producer, 0});
    return fence_waits_.back().count;
  }
};

std::vector<Event> encode(const std::vector<array>& outputs) {
  compile_trace::check_eval(outputs);
  lifecycle::check_usable("eval");  // before the lock: a fork may have left it held
  lifecycle::runtime_started();
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
  // The first stream's work is run by this thread as it waits (help):
  // encoding wakes no worker for it (scheduler::QuietPushes).
  scheduler::QuietPushes quiet;
  auto events = encode(outputs);
  quiet.release(events.empty() ? nullptr : &events.front().stream());
  for (auto& e : events) {
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

bool view_now(Primitive& p, const std::vector<array>& inputs, array& out) {
  if (inputs.size() != 1) return false;
  const array& in = inputs[0];
  // Pending inputs first: the common case of a graph being built, and the
  // cheapest check.
  const Status status = in.status();  // acquire: the fields below were set before it
  if (status == Status::unscheduled || !view_like(p)) return false;
  // A traced graph must keep every node (the backward walk and a compile's
  // replay find their inputs through them).
  if (autodiff::is_tracing() || compile_trace::active()) return false;
  const auto& d = in.data_shared_ptr();
  // Memory another device reads would be moved by an eval (a crossing).
  if (!d || !backend(p.stream().device.type).reads(d->buffer)) return false;
  return share_view(p, inputs, out, status);
}

allocator::Allocator& memory_allocator(Device d) {
  Backend& b = backend(d.type);
  return b.is_available() ? b.allocator() : cpu_backend().allocator();
}

array host_readable(array a) {
  compile_trace::check_read(a);
  a.eval();
  auto d = a.data_shared_ptr();
  if (d && !cpu_backend().reads(d->buffer)) return home_backend(d->buffer).host_copy(a);
  return a;
}

void synchronize(Stream s) {
  lifecycle::check_usable("synchronize");
  // The mark is placed under the encoding lock (an eval on another thread
  // may be encoding on `s`) and waited for outside it.
  std::optional<Event> e;
  {
    std::lock_guard lk(encode_mutex);
    e.emplace(s);
    e->signal(MarkKind::sync);
  }
  e->wait();
}

namespace {
// Every used stream `pick` accepts, in order; the first error is rethrown
// once all were waited for.
template <typename Pick>
void synchronize_streams(Pick pick) {
  std::exception_ptr first;
  for (int i = 0, n = num_streams(); i < n; ++i) {
    auto& st = stream_state(i);
    if (!st.used.load(std::memory_order_relaxed) || !pick(st.stream)) continue;
    try {
      synchronize(st.stream);
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}
}  // namespace

void synchronize() {
  synchronize_streams([](const Stream&) { return true; });
}

void synchronize(Device d) {
  synchronize_streams([d](const Stream& s) { return s.device == d; });
}

void with_encode_lock(const std::function<void()>& f) {
  std::lock_guard lk(encode_mutex);
  f();
}

std::vector<array> node_outputs(const Node& n) {
  for (auto& w : n.outputs) {
    if (auto d = w.lock()) {
      std::lock_guard lk(encode_mutex);
      return array::from_desc(std::move(d)).outputs();
    }
  }
  return {};
}

}  // namespace fastsync
