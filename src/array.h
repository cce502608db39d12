// The array handle: a shared descriptor holding shape, strides, dtype, the
// data buffer and, until it is evaluated, the graph node that produces it.
//
// Handles are cheap to copy (one shared_ptr). Shape, strides and dtype never
// change after construction of an unevaluated array; the data fields are
// written once by the eval driver (under its encoding lock) before the status
// is published with release order, so readers that see `evaluated` also see
// the data.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "allocator.h"
#include "dtype.h"
#include "event.h"
#include "stream.h"

namespace fastsync {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;  // in elements

class Primitive;
class array;
namespace scheduler {
struct TaskError;
}

// One graph node: a primitive applied to inputs, producing one or more
// outputs. Outputs are held weakly (they hold the node), so sibling outputs
// never form reference cycles. The scratch fields belong to the eval driver
// and are only touched under its lock.
struct Node {
  std::shared_ptr<Primitive> primitive;
  std::vector<array> inputs;
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  std::vector<std::weak_ptr<struct ArrayDesc>> outputs;

  uint64_t visit_mark = 0;
  int pending_consumers = 0;
  bool needs_fence = false;

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Releases the inputs without recursion: a dropped chain of a million
  // unevaluated ops would otherwise unwind a million nested destructors.
  ~Node();
};

// Owns one allocator buffer; frees it when the last view or task drops it.
struct Data {
  allocator::Buffer buffer;
  explicit Data(allocator::Buffer b) : buffer(b) {}
  ~Data() { allocator::free(buffer); }
  Data(const Data&) = delete;
  Data& operator=(const Data&) = delete;

  // Owners of this buffer that are work queued on a stream and not yet done:
  // tasks of a CPU stream not yet run (scheduler::KeepList), retention
  // batches of a GPU stream the GPU is not yet past (cuda::CommandEncoder).
  // An op encoded later on that same stream runs after them, so it may still
  // take the buffer for its output in place (a KV cache written while the
  // previous step's reads of it are queued). queue() runs on the encoding
  // thread, unqueue() on workers or reclaiming threads, each before the
  // owner it counts is released: a racing reader may see one owner too
  // many, never one too few. queue() says whether the buffer had no queued
  // owner before.
  bool queue(int stream);
  void unqueue();
  // The queued owners when all are on `stream`; -1 when some are elsewhere.
  int64_t queued_on(int stream) const;
  struct Owners {
    long all;        // owners of `self` in all
    int64_t queued;  // of them, queued on `stream` (queued_on; -1 when stream < 0)
  };
  // Read in the order queue() needs: all owners first, then (after an
  // acquire fence, pairing with the release of an owner, which follows its
  // unqueue) the queue, so a racing release can make the buffer look held,
  // never free.
  static Owners owners(const std::shared_ptr<Data>& self, int stream);

  // The error that spoiled this buffer's contents: a CPU task that was to
  // write it failed, or was skipped because what it reads was spoiled; or a
  // GPU op that wrote it failed or read a spoiled buffer. Set once, by the
  // worker running that CPU task, or by the thread settling the GPU mark
  // after it (backend/cuda/flow.h); read by later tasks and by host reads
  // only after they waited for it (a fence, an event; a GPU mark settles
  // first), so the flag's release/acquire pair is all the ordering the
  // error needs. Lets one
  // failure spoil exactly the arrays computed from it, not every array
  // queued after it on the stream.
  void spoil(const std::shared_ptr<scheduler::TaskError>& e);
  // The spoiling error, or null.
  std::shared_ptr<scheduler::TaskError> spoiled() const;

 private:
  std::atomic<bool> spoiled_{false};
  std::shared_ptr<scheduler::TaskError> error_;
  // Count in the low 32 bits; stream index + 1 above, kMixed for several.
  std::atomic<uint64_t> queued_{0};
};

struct Flags {
  bool contiguous = true;  // dense in memory, in some axis order
  bool row_contiguous = true;
  bool col_contiguous = true;
};

enum class Status : uint8_t {
  unscheduled,  // has a node, nothing encoded
  evaluated,    // encoded; compute may still be in flight (see event)
  available,    // compute known to be complete
};

struct ArrayDesc {
  Shape shape;
  Strides strides;
  Dtype dtype;
  int64_t size = 1;
  std::shared_ptr<Data> data;
  void* data_ptr = nullptr;
  int64_t data_size = 0;  // elements spanned in the buffer from data_ptr
  Flags flags;
  std::atomic<Status> status{Status::unscheduled};
  std::shared_ptr<Node> node;
  int position = 0;
  std::optional<Event> event;
  // Which eval last produced this array, and on which stream: lets the
  // driver see cross-stream inputs after their producer was detached.
  uint64_t eval_id = 0;
  int producer_stream = -1;
  // Tasks enqueued on the producer stream once this array was encoded: an
  // error at or before this position spoiled it.
  uint64_t position_on_stream = 0;
  // The same values in another device's memory, made the first time an op
  // there read this (evaluated) array: a backend's cache, so a constant
  // crosses once. `crossed_ready`: the backend's record of when the copy is
  // complete (a reader on another of its streams waits for it). Encoding
  // thread only, under the driver's lock.
  std::shared_ptr<struct ArrayDesc> crossed_copy;
  std::shared_ptr<void> crossed_ready;

  ArrayDesc(Shape s, Dtype d);
};

class array {
  friend struct Node;  // ~Node takes its inputs' graphs apart iteratively

 public:
  // An evaluated array holding a copy of contiguous host data (in `memory`:
  // host memory by default).
  array(const void* src, Shape shape, Dtype dtype);
  array(const void* src, Shape shape, Dtype dtype, allocator::Allocator& memory);
  // An unevaluated array produced by `primitive` from `inputs`.
  array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive, std::vector<array> inputs);
  // Several outputs of one primitive.
  static std::vector<array> make_arrays(std::vector<Shape> shapes, std::vector<Dtype> dtypes,
                                        std::shared_ptr<Primitive> primitive,
                                        std::vector<array> inputs);

  const Shape& shape() const { return desc_->shape; }
  int64_t shape(int dim) const;
  const Strides& strides() const { return desc_->strides; }
  int ndim() const { return static_cast<int>(desc_->shape.size()); }
  int64_t size() const { return desc_->size; }
  Dtype dtype() const { return desc_->dtype; }
  int64_t itemsize() const { return dtype().size(); }
  int64_t nbytes() const { return size() * itemsize(); }
  const Flags& flags() const { return desc_->flags; }
  int64_t data_size() const { return desc_->data_size; }

  template <typename T>
  T* data() {
    return static_cast<T*>(desc_->data_ptr);
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(desc_->data_ptr);
  }
  void* raw_ptr() const { return desc_->data_ptr; }

  Status status() const { return desc_->status.load(std::memory_order_acquire); }
  void set_status(Status s) { desc_->status.store(s, std::memory_order_release); }
  bool has_node() const { return desc_->node != nullptr; }
  const std::shared_ptr<Node>& node() const { return desc_->node; }
  Primitive& primitive() const { return *desc_->node->primitive; }
  const std::vector<array>& inputs() const;
  int position() const { return desc_->position; }
  // All outputs of this array's node, in order (this one included). Outputs
  // the user dropped are recreated so the primitive can still write them.
  std::vector<array> outputs() const;
  void detach();

  const std::optional<Event>& event() const { return desc_->event; }
  void set_event(Event e) { desc_->event = std::move(e); }
  // Blocks until the array is computed; rethrows a task's error. Evaluates
  // it first if needed.
  void eval();
  void wait();

  // Allocates a row-contiguous buffer for this output.
  void set_data(allocator::Buffer buf);
  // Makes this array a view of `other`'s buffer.
  void copy_shared_buffer(const array& other, Strides strides, Flags flags, int64_t data_size,
                          int64_t offset = 0);
  void copy_shared_buffer(const array& other);
  // Takes `in`'s buffer as this output's, keeping this array's own
  // row-major layout (an output donated a row-contiguous input of its
  // size): no new strides to build per op.
  void adopt_buffer(const array& in);
  // Whether an op may take this array's buffer for its output: no other
  // handle on the array, and no other owner of the buffer except work
  // queued earlier on `stream` (a CPU or GPU stream's index; -1 allows
  // none).
  bool is_donatable(int stream = -1) const;
  const std::shared_ptr<Data>& data_shared_ptr() const { return desc_->data; }
  // A non-owning alias for kernels: same shape, strides and pointer, holds
  // no reference to the buffer (retention tasks keep the buffer alive).
  array unsafe_weak_copy() const;
  // The same, viewed with another shape and strides, `offset` elements in.
  array unsafe_weak_copy(Shape shape, Strides strides, int64_t offset = 0) const;

  // An evaluated array with this one's shape, strides and dtype over
  // `data`, whose element (0, ..., 0) is at `ptr` (a copy of this array's
  // buffer on another device, say), spanning `data_size` elements.
  array with_buffer(std::shared_ptr<Data> data, void* ptr, int64_t data_size) const;
  // The cached copy in another device's memory, and the backend's record
  // of its completion (encoding thread only).
  std::optional<array> crossed_copy() const {
    if (!desc_->crossed_copy) return std::nullopt;
    return array(desc_->crossed_copy);
  }
  const std::shared_ptr<void>& crossed_ready() const { return desc_->crossed_ready; }
  void set_crossed_copy(const array& a, std::shared_ptr<void> ready) const {
    desc_->crossed_copy = a.desc_;
    desc_->crossed_ready = std::move(ready);
  }

  uint64_t eval_id() const { return desc_->eval_id; }
  int producer_stream() const { return desc_->producer_stream; }
  uint64_t position_on_stream() const { return desc_->position_on_stream; }
  void set_producer(uint64_t eval_id, int stream, uint64_t position) {
    desc_->eval_id = eval_id;
    desc_->producer_stream = stream;
    desc_->position_on_stream = position;
  }

  // Makes this unevaluated array the next output of `n` (same shape and
  // dtype as recorded), dropping the node it had: a graph rewrite (fuse.cpp)
  // that computes it inside another node. Under the driver's lock.
  void become_output_of(const std::shared_ptr<Node>& n);

  // Wraps an existing descriptor (the eval driver recovers outputs from
  // their node this way).
  static array from_desc(std::shared_ptr<ArrayDesc> d) { return array(std::move(d)); }

  const void* id() const { return desc_.get(); }
  long use_count() const { return desc_.use_count(); }

 private:
  explicit array(std::shared_ptr<ArrayDesc> d) : desc_(std::move(d)) {}
  void init_from_host(const void* src, allocator::Allocator& memory);
  std::shared_ptr<ArrayDesc> desc_;
};

// A 0-d evaluated array holding `v`.
template <typename T>
array scalar_array(T v) {
  return array(&v, {}, type_to_dtype<T>::value);
}

Strides row_major_strides(const Shape& shape);
Flags compute_flags(const Shape& shape, const Strides& strides, int64_t data_size);
int64_t shape_size(const Shape& shape);
// "(2, 3)" / "(4,)": shapes in error messages, as NumPy prints them.
std::string shape_str(const Shape& shape);

}  // namespace fastsync
