// The seam between the eval driver and the backends.
//
// The driver (transforms.cpp) sees a backend through three interfaces and
// nothing else:
//   - Backend: one per device type (cpu_backend(), gpu_backend()). Makes a
//     stream's encoder, owns the memory its kernels read, moves data across
//     devices, and throttles encoding when its work in flight grows.
//   - StreamEncoder: one per stream, made when the stream is created and
//     kept in the stream registry (stream.h). Encodes an op, a wait on a
//     mark, a mark, and keeps buffers alive until the work encoded so far is
//     done.
//   - Mark: a point in one stream's work. Events (across evals) and fences
//     (across streams inside one eval) are handles over marks.
//
// Threads. Encoding methods run on the encoding thread, under the driver's
// lock. Mark's methods are safe from any thread, including a CPU stream's
// worker inside a task (a CPU stream waiting on a mark of another stream).
//
// A build without a GPU backend links backend/no_gpu, whose Backend reports
// itself unavailable; no GPU stream can be made then, so nothing else of it
// is reached.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "allocator.h"
#include "device.h"
#include "scheduler.h"
#include "stream.h"
#include "timeline.h"

namespace fastsync {

class array;
class Primitive;
struct Data;

// A point in one stream's work: reached once everything encoded on that
// stream before it is done. Made by the stream's encoder, placed once
// (waiters wait until it is placed, then until it is reached). Carries the
// first error of the work before it.
class Mark {
 public:
  virtual ~Mark() = default;
  // Any thread: placed, and the work before it done.
  virtual bool reached() const = 0;
  // Any thread: blocks until reached (spins, then sleeps). From a thread
  // that is not a stream worker, it may run the stream's queued work itself.
  virtual void wait() const = 0;
  // Once reached: the error of the work before the mark, or null.
  virtual scheduler::ErrorRef error() const = 0;
  // Once reached: the error that spoiled an array produced at `position`
  // on the mark's stream into `data` (null for an empty array), or null.
  // By default, any error at or before that position: a backend that
  // tracks errors per buffer answers exactly.
  virtual scheduler::ErrorRef error_for(uint64_t position, const Data* data) const {
    (void)data;
    auto e = error();
    return e && position >= e->position ? e : nullptr;
  }
  // Names the mark in a timeline trace: its signal and every wait on it
  // carry this id (timeline.h). Taken only while a trace records (a fence
  // per op of a chain hopping between streams should not bump a shared
  // counter); a mark made before the trace began draws no arrow.
  const uint64_t trace_id = timeline::on() ? timeline::new_signal_id() : 0;
};
using MarkRef = std::shared_ptr<Mark>;

// What a mark is placed for, which decides which errors it carries.
enum class MarkKind {
  // A fence: another stream of the same eval waits on it. Carries the
  // stream's error without clearing it (the stream's event reports it).
  fence,
  // An eval's event: carries the stream's error and clears it, so the next
  // eval on the stream starts clean.
  event,
  // synchronize(): an event that also reports the stream's latest error
  // nobody has seen.
  sync,
};

// What the eval driver knows of the ops ahead of one it encodes on a stream.
// `ops`: this op and those encoded right after it on the same stream with
// nothing another stream or the host waits on between them. `small_ops`: of
// those, how many in a row from this one write at most kSmallOpBytes each
// (0 when this op writes more). On a GPU an op that small takes the device
// less time than the host takes to launch it (an elementwise op over 4 MiB
// runs ~4 us on an H200, a launch costs ~4 us), so batching the launches of
// such a run pays; a larger op keeps the device busy while the host goes on.
struct RunHint {
  static constexpr size_t kSmallOpBytes = size_t(4) << 20;
  size_t ops = 0;
  size_t small_ops = 0;
};

class StreamEncoder {
 public:
  explicit StreamEncoder(Stream s) : stream_(s) {}
  virtual ~StreamEncoder() = default;
  StreamEncoder(const StreamEncoder&) = delete;
  StreamEncoder& operator=(const StreamEncoder&) = delete;

  const Stream& stream() const { return stream_; }

  // Encodes one op: the primitive's eval for this backend, which allocates
  // (or donates) `outputs` and encodes its compute, then the retention of
  // every buffer the compute reads until it is done, except a buffer
  // donated to an output. If the primitive throws, what it declared is
  // dropped and the exception propagates.
  void encode(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
    try {
      eval(p, inputs, outputs);
    } catch (...) {
      discard(inputs);
      throw;
    }
    commit(inputs, outputs);
  }
  // Ops encoded on this stream so far: the position of the latest one.
  virtual uint64_t position() const = 0;

  virtual MarkRef make_mark() = 0;
  // Places `m` (made by this encoder) after all work encoded here so far.
  virtual void place(const MarkRef& m, MarkKind kind) = 0;
  // Later work on this stream starts once `m` (of any stream) is reached.
  // If m's error spoiled `position` of m's stream, it poisons this stream.
  // Never blocks the calling thread.
  virtual void wait(const MarkRef& m, uint64_t position) = 0;
  // A fence after the work encoded here so far as a position on this
  // stream, with no mark (a CPU stream's, when nothing needs one: a chain
  // hopping between CPU streams places a fence per op); false: make and
  // place a mark instead.
  virtual bool fence_position(uint64_t& pos) {
    (void)pos;
    return false;
  }
  // Later work on this stream starts once `producer` has reached `pos`
  // (given by its encoder's fence_position), carrying its error as wait()
  // does. Only streams of a backend that gives such positions wait on them.
  virtual void wait_position(const Stream& producer, uint64_t pos) {
    (void)producer;
    (void)pos;
    throw std::logic_error("[eval] this stream cannot wait on another stream's position");
  }
  // Keeps `d` alive until the work encoded here so far is done.
  virtual void retain(std::shared_ptr<Data> d) = 0;
  // Before an op: it and the `run.ops - 1` after it are encoded here back
  // to back, with nothing another stream or the host waits on between them
  // (a GPU encoder launches a long run as one graph).
  virtual void hint_run(RunHint /*run*/) {}

  // The steps of encode(). eval: the primitive's eval for this backend.
  // commit: ends the op, retaining the buffers it declared and `inputs`,
  // except those donated to one of `outputs` (and, for multi-output ops,
  // the outputs themselves). discard: eval threw; drops what it declared
  // but keeps `inputs` alive until the stream is past the work queued so
  // far: a crossing's copy of one is written by queued work (a GPU kernel
  // filling the consumer's copy of a CPU stream's data, a GPU copy into the
  // pinned buffer a CPU consumer reads) even though the op never declared it.
  virtual void eval(Primitive& p, const std::vector<array>& inputs,
                    std::vector<array>& outputs) = 0;
  virtual void commit(const std::vector<array>& inputs, const std::vector<array>& outputs) = 0;
  virtual void discard(const std::vector<array>& inputs) = 0;

 private:
  Stream stream_;
};

// What device_info reports: (key, text or number) pairs, as MLX's dict
// ("device_name", "architecture", "memory_size", ...).
using DeviceInfo = std::vector<std::pair<std::string, std::variant<std::string, int64_t>>>;

class Backend {
 public:
  virtual ~Backend() = default;
  // Any thread.
  virtual bool is_available() const = 0;
  // Devices of this kind (the CPU counts as one); any thread.
  virtual int device_count() const = 0;
  // Any thread; index < device_count().
  virtual DeviceInfo device_info(int index) const = 0;
  // The host backend runs on the CPU and reads host memory; the others
  // move data to and from it (cross).
  virtual bool is_host() const = 0;
  // Memory this backend's kernels read and write.
  virtual allocator::Allocator& allocator() = 0;
  // Whether `b` is memory this backend's kernels can read.
  virtual bool reads(const allocator::Buffer& b) const = 0;

  // Stream creation (any thread, under the stream registry's lock).
  virtual std::unique_ptr<StreamEncoder> make_encoder(Stream s) = 0;

  // A non-host backend only. `in` is read by an op on `consumer` and lives
  // in memory the consumer's backend cannot read: returns a view of the
  // same values that it can read, and encodes the movement ordered after
  // `in`'s producer (`producer`, if it may still be in flight) and before
  // the consumer. Encoding thread.
  virtual array cross(const array& in, const std::optional<Stream>& producer,
                      const Stream& consumer) = 0;
  // A non-host backend only. Any thread: a host copy of an evaluated,
  // computed array in this backend's memory (for reads from Python). Blocks.
  virtual array host_copy(const array& in) = 0;

  // Encoding thread, after each op of an eval that used this backend: waits
  // while this backend's work in flight holds too many tasks or bytes, or
  // its memory is over the limit, and waiting can help.
  virtual void throttle() = 0;
  // Any thread: blocks until all work encoded on this backend is done.
  virtual void synchronize() = 0;
  // Any thread: the backend's event counts since start (name, count), for
  // benchmarks and tests (the CUDA backend's graph launches, say).
  virtual std::vector<std::pair<std::string, int64_t>> counters() const { return {}; }
};

Backend& cpu_backend();
// The CUDA backend, or the no-GPU stub.
Backend& gpu_backend();
inline Backend& backend(Device::Type t) {
  return t == Device::Type::cpu ? cpu_backend() : gpu_backend();
}
// The backend whose memory `b` is.
inline Backend& home_backend(const allocator::Buffer& b) {
  return cpu_backend().reads(b) ? cpu_backend() : gpu_backend();
}

}  // namespace fastsync
