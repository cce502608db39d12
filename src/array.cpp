#include "array.h"

#include <cstring>
#include <mutex>
#include <stdexcept>

#include "autodiff.h"
#include "lifecycle.h"
#include "pool.h"
#include "primitive.h"
#include "transforms.h"

namespace fastsync {

int64_t shape_size(const Shape& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string r = "(";
  for (size_t k = 0; k < s.size(); ++k) r += (k ? ", " : "") + std::to_string(s[k]);
  return r + (s.size() == 1 ? ",)" : ")");
}

namespace {
// In place: an array's strides vector already has its rank, so making it
// row-major again (an output given its buffer) allocates nothing.
void fill_row_major(Strides& s, const Shape& shape) {
  s.resize(shape.size());
  int64_t acc = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= shape[i];
  }
}
}  // namespace

Strides row_major_strides(const Shape& shape) {
  Strides s;
  fill_row_major(s, shape);
  return s;
}

Flags compute_flags(const Shape& shape, const Strides& strides, int64_t data_size) {
  Flags f;
  int64_t size = shape_size(shape);
  int64_t expect = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    if (shape[i] == 1) continue;
    if (strides[i] != expect) f.row_contiguous = false;
    expect *= shape[i];
  }
  expect = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (strides[i] != expect) f.col_contiguous = false;
    expect *= shape[i];
  }
  f.contiguous = f.row_contiguous || f.col_contiguous || (data_size == size && [&] {
                   // Dense in some permuted order: every stride positive and
                   // the span equals the size.
                   for (size_t i = 0; i < shape.size(); ++i) {
                     if (shape[i] > 1 && strides[i] <= 0) return false;
                   }
                   return true;
                 }());
  if (size == 0) f.row_contiguous = f.col_contiguous = f.contiguous = true;
  return f;
}

ArrayDesc::ArrayDesc(Shape s, Dtype d)
    : shape(std::move(s)), strides(row_major_strides(shape)), dtype(d), size(shape_size(shape)) {
  int64_t n = 1;
  bool overflow = false, empty = false;
  for (auto dim : shape) {
    if (dim < 0) throw std::invalid_argument("[array] negative dimension in shape");
    empty |= dim == 0;
    overflow |= __builtin_mul_overflow(n, dim, &n);
  }
  // A count (or byte size) that wraps would allocate a wrapped size and let
  // kernels write past it. (A zero dimension makes any shape empty.)
  int64_t bytes = 0;
  if (!empty && (overflow || __builtin_mul_overflow(n, int64_t(d.size()), &bytes))) {
    throw std::overflow_error("[array] the shape " + shape_str(shape) + " of " + d.name() +
                              " holds more bytes than fit in 64 bits");
  }
}

array::array(const void* src, Shape shape, Dtype dtype)
    : array(src, std::move(shape), dtype, allocator::host()) {}

array::array(const void* src, Shape shape, Dtype dtype, allocator::Allocator& memory)
    : desc_(make_pooled<ArrayDesc>(std::move(shape), dtype)) {
  init_from_host(src, memory);
}

void array::init_from_host(const void* src, allocator::Allocator& memory) {
  set_data(memory.malloc(nbytes()));
  if (nbytes() > 0) std::memcpy(desc_->data_ptr, src, nbytes());
  desc_->status.store(Status::available, std::memory_order_release);
}

Node::~Node() {
  // Inputs this node holds the last reference to are unlinked from their
  // own nodes (when nothing else holds those either) before they die, so
  // each destructor below sees a node with no inputs left. Whoever holds
  // the only reference is the only one who can copy it: the checks cannot
  // race with another thread.
  std::vector<array> pending = std::move(inputs);
  while (!pending.empty()) {
    array a = std::move(pending.back());
    pending.pop_back();
    auto& d = a.desc_;
    if (d && d.use_count() == 1 && d->node && d->node.use_count() == 1) {
      auto& in = d->node->inputs;
      for (auto& x : in) pending.push_back(std::move(x));
      in.clear();
    }
  }
}

array::array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive,
             std::vector<array> inputs)
    : desc_(make_pooled<ArrayDesc>(std::move(shape), dtype)) {
  if (primitive && view_now(*primitive, inputs, *this)) return;
  auto n = make_pooled<Node>();
  n->primitive = std::move(primitive);
  n->inputs = std::move(inputs);
  n->outputs = {desc_};  // shapes/dtypes are only kept for multi-output nodes
  desc_->node = std::move(n);
}

std::vector<array> array::make_arrays(std::vector<Shape> shapes, std::vector<Dtype> dtypes,
                                      std::shared_ptr<Primitive> primitive,
                                      std::vector<array> inputs) {
  auto n = make_pooled<Node>();
  n->primitive = std::move(primitive);
  n->inputs = std::move(inputs);
  std::vector<array> outs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    auto d = make_pooled<ArrayDesc>(shapes[i], dtypes[i]);
    d->node = n;
    d->position = static_cast<int>(i);
    n->outputs.push_back(d);
    outs.push_back(array(std::move(d)));
  }
  n->shapes = std::move(shapes);
  n->dtypes = std::move(dtypes);
  return outs;
}

int64_t array::shape(int dim) const {
  int nd = ndim();
  if (dim < -nd || dim >= nd) throw std::out_of_range("[array.shape] axis out of range");
  return desc_->shape[dim < 0 ? dim + nd : dim];
}

const std::vector<array>& array::inputs() const {
  static const std::vector<array> none;
  return desc_->node ? desc_->node->inputs : none;
}

std::vector<array> array::outputs() const {
  const auto& n = desc_->node;
  if (!n || n->outputs.size() == 1) return {*this};
  std::vector<array> outs;
  outs.reserve(n->outputs.size());
  for (size_t i = 0; i < n->outputs.size(); ++i) {
    if (auto d = n->outputs[i].lock()) {
      outs.push_back(array(std::move(d)));
    } else {
      // A dropped sibling, recreated: linked to the node like the others, so
      // that a graph built on it (a vjp reading it) reaches the node.
      auto fresh = make_pooled<ArrayDesc>(n->shapes[i], n->dtypes[i]);
      fresh->position = static_cast<int>(i);
      fresh->node = n;
      n->outputs[i] = fresh;
      outs.push_back(array(std::move(fresh)));
    }
  }
  return outs;
}

void array::become_output_of(const std::shared_ptr<Node>& n) {
  if (n->shapes.empty()) {  // one output so far: its shape and dtype were not kept
    for (const auto& w : n->outputs) {
      auto d = w.lock();
      if (!d) throw std::logic_error("[array] a node's only output is gone");
      n->shapes.push_back(d->shape);
      n->dtypes.push_back(d->dtype);
    }
  }
  desc_->position = static_cast<int>(n->outputs.size());
  n->outputs.push_back(desc_);
  n->shapes.push_back(desc_->shape);
  n->dtypes.push_back(desc_->dtype);
  desc_->node = n;  // the old node goes when its last output leaves it
}

void array::detach() {
  if (auto n = std::move(desc_->node)) {
    for (auto& w : n->outputs) {
      if (auto d = w.lock()) d->node.reset();
    }
    n->inputs.clear();
  }
}

namespace {
// `d` becomes a dense row-major array over `data` from `ptr`.
void own_row_major(ArrayDesc& d, std::shared_ptr<Data> data, void* ptr) {
  d.data = std::move(data);
  d.data_ptr = ptr;
  d.data_size = d.size;
  fill_row_major(d.strides, d.shape);
  d.flags = Flags{};
}
}  // namespace

void array::set_data(allocator::Buffer buf) {
  own_row_major(*desc_, make_pooled<Data>(buf), buf.ptr);
}

void array::copy_shared_buffer(const array& other, Strides strides, Flags flags, int64_t data_size,
                               int64_t offset) {
  desc_->data = other.desc_->data;
  desc_->data_ptr = static_cast<char*>(other.desc_->data_ptr) + offset * itemsize();
  desc_->strides = std::move(strides);
  desc_->flags = flags;
  desc_->data_size = data_size;
}

void array::adopt_buffer(const array& in) {
  own_row_major(*desc_, in.desc_->data, in.desc_->data_ptr);
}

void array::copy_shared_buffer(const array& other) {
  copy_shared_buffer(other, other.strides(), other.flags(), other.data_size());
}

bool array::is_donatable(int stream) const {
  // A traced graph keeps its intermediates for the backward pass.
  if (autodiff::is_tracing()) return false;
  if (desc_.use_count() != 1 || !desc_->data) return false;
  // A worker finishing a task that kept the buffer unqueues it, then lets
  // go of it: read across or between those two steps, the counts show one
  // owner too many. Then look again, a few times (the worker is a few
  // instructions from letting go); any other disagreement is a real owner.
  for (int tries = 0; tries < 8; ++tries) {
    auto [owners, queued] = Data::owners(desc_->data, stream);
    if (owners == 1) return true;
    if (queued < 0) return false;
    if (queued > 0 && owners == 1 + queued) return true;
    if (owners != 2 + queued) return false;
  }
  return false;
}

Data::Owners Data::owners(const std::shared_ptr<Data>& self, int stream) {
  long all = self.use_count();
  std::atomic_thread_fence(std::memory_order_acquire);
  return {all, stream < 0 ? -1 : self->queued_on(stream)};
}

namespace {
constexpr uint64_t kCountMask = 0xffffffffu;
constexpr uint64_t kMixed = 0xffffffffu;  // owners queued on several streams
}  // namespace

bool Data::queue(int stream) {
  uint64_t tag = uint64_t(stream) + 1;
  uint64_t old = queued_.load(std::memory_order_relaxed);
  for (;;) {
    uint64_t count = old & kCountMask, have = old >> 32;
    uint64_t next_tag = count == 0 ? tag : (have == tag ? tag : kMixed);
    if (queued_.compare_exchange_weak(old, (next_tag << 32) | (count + 1),
                                      std::memory_order_acq_rel)) {
      return count == 0;
    }
  }
}

void Data::unqueue() {
  uint64_t old = queued_.load(std::memory_order_relaxed);
  for (;;) {
    uint64_t count = (old & kCountMask) - 1;
    uint64_t next = count == 0 ? 0 : ((old >> 32) << 32) | count;
    if (queued_.compare_exchange_weak(old, next, std::memory_order_acq_rel)) return;
  }
}

int64_t Data::queued_on(int stream) const {
  uint64_t v = queued_.load(std::memory_order_acquire);
  uint64_t count = v & kCountMask, tag = v >> 32;
  if (count == 0) return 0;
  return tag == uint64_t(stream) + 1 ? int64_t(count) : -1;
}

void Data::spoil(const std::shared_ptr<scheduler::TaskError>& e) {
  // The first error stays. Tasks writing one buffer usually run in order,
  // but two failing sends of one array on two streams both "write" it: the
  // write is serialized (failures only, so one process-wide mutex will do).
  static std::mutex spoil_mutex;
  std::lock_guard lk(spoil_mutex);
  if (spoiled_.load(std::memory_order_relaxed)) return;
  error_ = e;
  spoiled_.store(true, std::memory_order_release);
}

std::shared_ptr<scheduler::TaskError> Data::spoiled() const {
  if (!spoiled_.load(std::memory_order_acquire)) return nullptr;
  return error_;
}

array array::with_buffer(std::shared_ptr<Data> data, void* ptr, int64_t data_size) const {
  auto d = make_pooled<ArrayDesc>(desc_->shape, desc_->dtype);
  d->strides = desc_->strides;
  d->data = std::move(data);
  d->data_ptr = ptr;
  d->data_size = data_size;
  d->flags = desc_->flags;
  d->status.store(Status::available, std::memory_order_relaxed);
  return array(std::move(d));
}

array array::unsafe_weak_copy() const {
  auto d = make_pooled<ArrayDesc>(desc_->shape, desc_->dtype);
  d->strides = desc_->strides;
  d->data_ptr = desc_->data_ptr;
  d->data_size = desc_->data_size;
  d->flags = desc_->flags;
  d->status.store(Status::available, std::memory_order_relaxed);
  return array(std::move(d));
}

array array::unsafe_weak_copy(Shape shape, Strides strides, int64_t offset) const {
  auto d = make_pooled<ArrayDesc>(std::move(shape), desc_->dtype);
  d->flags = compute_flags(d->shape, strides, desc_->data_size - offset);
  d->strides = std::move(strides);
  d->data_ptr = static_cast<char*>(desc_->data_ptr) + offset * itemsize();
  d->data_size = desc_->data_size - offset;
  d->status.store(Status::available, std::memory_order_relaxed);
  return array(std::move(d));
}

void array::eval() {
  if (status() == Status::unscheduled) {
    fastsync::eval({*this});
  } else {
    wait();
  }
}

void array::wait() {
  if (status() != Status::evaluated) return;
  lifecycle::check_usable("wait");  // in flight in the parent: no worker here finishes it
  if (auto& e = desc_->event) {
    e->wait_quiet();
    if (auto err = e->error_for(desc_->position_on_stream, desc_->data.get())) {
      std::rethrow_exception(err);
    }
  }
  set_status(Status::available);
}

}  // namespace fastsync
