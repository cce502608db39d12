// The CUDA command encoder: one per GPU stream, owning that stream's
// cudaStream_t (the StreamEncoder of the CUDA backend, backend/backend.h).
//
// Used on the encoding thread (under the eval driver's lock), except
// reclaim() and wait_for(), which any thread may call. A primitive's
// eval_gpu allocates its outputs (alloc / donate_or_alloc below) and launches
// its kernels on stream() right away: nothing is deferred to another thread.
// The driver then commits the op: its input buffers (minus donated ones)
// and temporaries join the stream's current retention batch.
//
// The timeline. Each GPU stream has a 64-bit word in pinned host memory and
// a counter of values handed out. place_point() encodes a write of the next
// value after all earlier work and seals the retention batch under that
// value; once the CPU sees the word reach it, the batch's buffers are
// released (reclaim). Points are placed by marks (events, fences,
// crossings) and every kOpsPerPoint ops or kBytesPerPoint retained bytes
// (of buffers the program was not found holding: inflight.h),
// so a long graph in one eval frees memory as the GPU goes.
//
// Replays. Outside a captured run, a call whose bytes recur is replayed as
// a graph (replay(), call_graphs.h); the replays of a run's ops wait,
// pending, and launch as one graph at the run's last op, or earlier when
// anything asks for the stream (cuda_stream()): all enqueueing goes through
// it, so the stream's order is the order the ops were encoded in.
//
// Graphs. Before an op the driver says how long the run of ops it is part
// of is, and how many of them are small (hint_run); a long run of small ops
// is captured into a CUDA graph, and launched as one when a large op comes
// or something must see its work: a mark the host waits on, a wait on
// a stream outside the capture, a host wait, a copy from pageable memory,
// a collective (end_graph; graph.h).
//
// A capture spans the GPU streams of its device that join it. A fence
// placed while capturing is recorded inside the capture; a stream of the
// same device that waits on it joins the capture (CUDA's fork of a
// capture into another stream), so a chain hopping between two streams
// is one graph, not a launch, a record and a wait per op. The stream that
// began it (the origin) launches the graph: every joined stream's work is
// joined back into the origin first, the launch waits for what each joined
// stream had queued before it joined, and each joined stream's later work
// waits for the graph. Fences recorded inside it are recorded again after
// the launch, so a waiter outside the capture finds a real event. Ending
// the capture from any of its streams ends it for all (end_graph).
//
// Stream-ordered reuse. Every buffer a retention batch holds is queued on
// this stream (Data::queue) until the batch is released. A buffer that only
// those entries hold (no array owns it any more; kernels queued here may
// still read it) can hold the output of a later op on this stream: the
// stream runs that op's kernels after the reads, as PyTorch's caching
// allocator reuses a block freed on the same stream. The device allocator
// asks the encoder encoding an op on the calling thread (take_reusable)
// before its cache, and an input held only by such entries can be donated
// to its op's output. Without this, a training step's activations, freed by
// the host as soon as their last reader is encoded, would stay unusable
// until the GPU caught up: memory grows with how far the host runs ahead,
// and the in-flight cap (inflight.h) makes the host wait on the GPU op by
// op. Buffers read by another stream or by the host are queued elsewhere
// too (or owned by an array) and are never taken.
//
// Errors. Kernels that can fail (bad indices, planted failures, timed-out
// waits) write an ErrorRecord of their own in device memory (one slot per
// error_record call). A point placed after such an op copies the slots used
// since the last point to pinned memory and clears them, and leaves a probe:
// a function the host runs once the point is reached, which turns each
// written slot into the error of its op. From the first op that can fail
// on, the stream logs what each op of the eval reads and writes (flow.h),
// so an error spoils exactly the arrays computed from the failed op, here
// or on the streams that read them; other arrays of the eval stay good.
// Spoiled data that travels in from other streams is reported by probes
// too.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "array.h"
#include "backend/backend.h"
#include "backend/cuda/call_graphs.h"
#include "backend/cuda/graph.h"
#include "backend/cuda/probes.h"
#include "backend/cuda/signal.h"
#include "primitive.h"
#include "scheduler.h"

namespace fastsync {
class Flow;  // backend/common/flow.h
}  // namespace fastsync

namespace fastsync::cuda {

using ErrorBuilder = std::function<std::exception_ptr(const ErrorRecord&)>;

class CommandEncoder : public StreamEncoder {
 public:
  explicit CommandEncoder(Stream s);

  // The stream, for enqueueing on it now: replays still pending from
  // earlier (call_graphs.h) are launched first, and the op being encoded
  // launches its later replays at once, so whatever it enqueues on the
  // stream it holds (a library handle bound to it included) stays in
  // order. Encoding thread.
  cudaStream_t cuda_stream() {
    if (calls_->pending()) flush_calls();
    direct_in_op_ = true;
    return stream_;
  }
  // The stream, for what enqueues nothing (a lookup by stream, a host
  // synchronize once no eval encodes). Any thread.
  cudaStream_t raw_stream() const { return stream_; }

  // Buffers the current op's kernels read (kept alive until the GPU is
  // past the op) and write (so a donated input is not kept).
  void set_input_array(const array& a) { keep(a.data_shared_ptr()); }
  void set_output_array(const array& a);
  void add_temporary(const array& a) { keep(a.data_shared_ptr()); }
  void keep(std::shared_ptr<Data> d);
  // The record the current op's kernels write on failure with `code`, and how
  // to turn it into an exception. One op may hold several (a wait for another
  // stream's data and its own kernel's check): the code picks the builder.
  ErrorRecord* error_record(long long code, ErrorBuilder build);
  // The stream position of the op being encoded (that of its outputs).
  uint64_t op_position() const { return committed_ + 1; }
  uint64_t committed() const { return committed_; }

  void commit(const std::vector<array>& inputs, const std::vector<array>& outputs) override;
  void discard(const std::vector<array>& inputs) override;
  void hint_run(RunHint run) override { run_hint_ = run; }
  // Launches the run being captured, if any (the capture this stream
  // joined included). Encoding thread. A run CUDA refuses to launch spoils
  // the arrays of its ops (and later ones), on each of its streams.
  void end_graph();
  // Whether this stream's work goes into a capture now (its own, or one it
  // joined).
  bool capturing() const { return host_ != nullptr || graph_->capturing(); }
  // Enqueues `call`'s work, replayed as a graph when `key` recurs
  // (call_graphs.h); `call` enqueues on cuda_stream() only, and throws
  // with nothing enqueued on failure. A replay of an op is deferred to run
  // with the next replays of the same run of ops, as one graph. Not while
  // capturing (the call joins the capture).
  template <class F>
  void replay(std::string_view key, F&& call) {
    auto [found, e] = calls_->find(key);
    switch (found) {
      case CallGraphs::Found::graph:
        if (may_defer()) return defer(*e);
        flush_calls();
        return calls_->launch(*e);
      case CallGraphs::Found::first: return call();
      case CallGraphs::Found::again: flush_calls(); return calls_->capture(*e, call);
    }
  }

  // StreamEncoder (marks in mark.cpp).
  void eval(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) override;
  uint64_t position() const override { return committed_; }
  MarkRef make_mark() override;
  void place(const MarkRef& m, MarkKind kind) override;
  void wait(const MarkRef& m, uint64_t position) override;
  // Keeps `d` alive until the GPU is past the work encoded so far.
  void retain(std::shared_ptr<Data> d) override;
  // A mark placed now that only host threads (CPU streams) wait on
  // (crossings to the host): a timeline point without a CUDA event, which
  // a GPU stream cannot wait on. The error segment stays open.
  MarkRef mark_for_host();

  // Encodes the next timeline value after all earlier work; returns it.
  uint64_t place_point();
  bool reached(uint64_t v) const { return *timeline_ >= v; }
  // Any thread: blocks until the GPU reached `v`, then reclaims.
  void wait_for(uint64_t v);
  // Any thread: releases the retention batches the GPU is past.
  void reclaim();
  // Memory pressure: waits for the oldest unreleased batch. False if none.
  bool release_oldest();
  // Bytes retained by sealed batches the host has not seen completed.
  size_t pending_bytes() const { return pending_bytes_.load(std::memory_order_relaxed); }
  // The same over every GPU stream (the driver checks it after every op).
  static size_t total_pending_bytes() { return total_pending_.load(std::memory_order_relaxed); }
  // Per buffer of this stream's batches (sealed and open): the batch
  // entries that hold it (added to what `held` has), its owners in all, its
  // bytes and a weak reference to it. Encoding thread.
  struct Held {
    long entries = 0, owners = 0;
    size_t bytes = 0;
    std::weak_ptr<Data> pin;
  };
  void count_retained(std::unordered_map<const Data*, Held>& held);

  // A device buffer of between `size` and size + size / 8 bytes that only
  // this stream's retention batches hold, taken from its Data (whose
  // entries then free nothing); {} if none. Encoding thread, during an op.
  allocator::Buffer take_reusable(size_t size);
  // The encoder whose op the calling thread is encoding, or null.
  static CommandEncoder* encoding();
  // Buffers taken so far, over every stream (a counter of the backend).
  static uint64_t reused_buffers() { return reused_.load(std::memory_order_relaxed); }

  // Error probes of the work since the last end of an eval.
  const ProbeList& probes() const { return probes_; }
  // Adds a probe; from here on the eval's ops are logged (flow.h).
  void add_probe(Probe p);
  // The log of this eval's ops on this stream, started now if not yet.
  const std::shared_ptr<Flow>& flow();
  // The log, or null if nothing in this eval can fail so far.
  const std::shared_ptr<Flow>& flow_if_any() const { return flow_; }

 private:
  // `gpu_waiters`: record the CUDA event other GPU streams wait on.
  void place_mark(const MarkRef& m, bool host_visible, bool end_of_eval, bool gpu_waiters = true);
  // Replays are deferred inside an op that has not asked for the stream,
  // outside captures, while they keep to one run of ops: one that more ops
  // follow, or that has replays pending already. An eval of one op (a round
  // trip) launches at once, without the log a deferral starts.
  bool may_defer() const {
    return in_op_ && !direct_in_op_ && !capturing() && CallGraphs::runs_enabled() &&
           (run_hint_.ops > 1 || calls_->pending());
  }
  void defer(CallGraphs::Entry& e);
  // Launches the pending replays; a launch CUDA refuses spoils their ops.
  void flush_calls();
  // The encoder that began the capture this stream's work goes into (this
  // one, or the one it joined).
  CommandEncoder& origin() { return host_ ? *host_ : *this; }
  // Makes this stream (not capturing: its own run ended) join the capture
  // of `o`, waiting on `event`, recorded in it.
  void join(CommandEncoder& o, cudaEvent_t event);
  // The origin's end of a capture: launches it, orders the joined streams
  // after it, re-records the fences placed in it. A failure spoils the
  // run's ops on every stream of it.
  void end_joint_graph();
  // Records, after the launch, the live fences placed inside the capture;
  // `error` (a failed run's) joins their probes. The first failure of CUDA.
  cudaError_t record_captured_marks(const scheduler::ErrorRef& error);
  // Spoils the ops of the run this stream captured or joined; returns the
  // error they carry.
  scheduler::ErrorRef spoil_run(const std::exception_ptr& error) {
    return spoil_from(run_first_, error);
  }
  // Spoils the ops from position `first` to the one being encoded.
  scheduler::ErrorRef spoil_from(uint64_t first, const std::exception_ptr& error);
  // Ends the eval's error segment: the next eval starts with no probes and
  // no log.
  void end_segment();
  // Settles the eval marks (with probes) the GPU is past; then keeps
  // `placed`, if any, for a later call.
  void settle_reached(const MarkRef& placed);
  void eval_profiled(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs);
  // Adds `d` to the open retention batch, queued on this stream (its bytes
  // counted toward points and the in-flight cap unless told not to).
  void hold(std::shared_ptr<Data> d, bool count_bytes = true);
  struct Reusable {
    const Data* key;  // in registered_ until the entry goes
    std::weak_ptr<Data> pin;
  };
  using ReusableMap = std::multimap<size_t, Reusable>;
  ReusableMap::iterator forget(ReusableMap::iterator it);
  void sweep_reusable();

  static constexpr int kOpsPerPoint = 64;
  static constexpr size_t kBytesPerPoint = size_t(64) << 20;

  cudaStream_t stream_ = nullptr;
  std::unique_ptr<GraphCapture> graph_;
  std::unique_ptr<CallGraphs> calls_;
  // The capture this stream joined (its origin), or null. Encoding thread.
  CommandEncoder* host_ = nullptr;
  // On an origin: the streams that joined its capture, each with an event
  // recorded on it just before it joined (its earlier work), and the
  // fences placed inside the capture. Encoding thread.
  struct Joined {
    CommandEncoder* encoder;
    cudaEvent_t before;
  };
  std::vector<Joined> joined_;
  std::vector<std::weak_ptr<Mark>> captured_marks_;
  RunHint run_hint_;
  uint64_t run_first_ = 0;        // position of the captured run's first op
  uint64_t* timeline_ = nullptr;  // pinned; written by the GPU
  uint64_t next_value_ = 0;
  uint64_t committed_ = 0;

  // The current op's declarations.
  std::vector<std::shared_ptr<Data>> op_inputs_;
  std::vector<const Data*> op_outputs_;
  bool in_op_ = false;  // inside eval(): a failed graph launch spoils this op too
  // The op being encoded asked for the stream (cuda_stream): no deferral.
  bool direct_in_op_ = false;
  uint64_t pending_first_ = 0;  // position of the first op with a pending replay

  // Retention: the batch being filled, and sealed batches by value.
  std::vector<std::shared_ptr<Data>> batch_;
  size_t batch_bytes_ = 0;
  size_t point_bytes_ = 0;  // of batch_bytes_, those not known held by the program
  int ops_since_point_ = 0;
  std::mutex sealed_mutex_;
  std::deque<std::pair<uint64_t, std::vector<std::shared_ptr<Data>>>> sealed_;
  std::vector<size_t> sealed_bytes_;  // parallel to sealed_ (guarded by sealed_mutex_)
  std::atomic<size_t> pending_bytes_{0};
  static inline std::atomic<size_t> total_pending_{0};

  // Reuse: buffers of at least kMinReuse bytes queued here, by size, one
  // entry per buffer (registered_), added when it became queued; dead,
  // taken and no-longer-queued entries are dropped when met, and by a sweep
  // as the map grows. Encoding thread.
  static constexpr size_t kMinReuse = size_t(64) << 10;
  ReusableMap reusable_;
  std::unordered_set<const Data*> registered_;
  size_t sweep_at_ = 256;
  static inline std::atomic<uint64_t> reused_{0};

  // Errors.
  static constexpr int kSlots = 256;
  ErrorRecord* records_ = nullptr;  // device memory, kSlots
  struct Builder {
    uint64_t position;
    long long code;
    int slot;
    ErrorBuilder build;
  };
  std::vector<Builder> builders_;  // since the last point
  int slots_used_ = 0;             // since the last point
  ProbeList probes_;
  std::shared_ptr<Flow> flow_;
  size_t last_flow_ops_ = 0;                         // ops the previous eval's log held
  std::vector<std::shared_ptr<Data>> flow_outputs_;  // scratch of commit()
  std::deque<std::weak_ptr<Mark>> unsettled_;        // eval marks with probes, oldest first
};

// The encoder of a GPU stream. Encoding thread.
CommandEncoder& get_command_encoder(const Stream& s);
// The encoders of every GPU stream made so far (for memory pressure and
// synchronize). Any thread.
std::vector<CommandEncoder*> all_encoders();
CommandEncoder& encoder_for(const Primitive& p);

// Host waits on pinned words written by the GPU: spin, then yield for a
// few milliseconds, then sleep in growing steps.
void wait_word(const volatile uint64_t* word, uint64_t value);

// Recycled CUDA events without timing (creating one costs microseconds).
// Any thread.
cudaEvent_t take_event();
void give_event(cudaEvent_t e);

// A row-contiguous device buffer for `out`.
// alloc in `like`'s axis order (backend/common/buffers.h).
void alloc_like(const array& like, array& out);
void alloc(array& out);
// `in`'s buffer when `in` is donatable and matches `out`, else a fresh one.
void donate_or_alloc(const array& in, array& out);
// A row-contiguous device buffer that the op being encoded keeps until the
// GPU is past it (scratch space of its kernels).
array temporary(CommandEncoder& enc, Shape shape, Dtype dtype);

}  // namespace fastsync::cuda
