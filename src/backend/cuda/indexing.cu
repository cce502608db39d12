// GPU eval of the indexing primitives: Gather (take, take_along_axis),
// Scatter (set, add) and SliceUpdate, with the CPU's semantics
// (src/backend/cpu/indexing.cpp).
//
// Contract:
//  - Indices are int64 device arrays (the ops layer converts), possibly
//    strided views; negative ones count from the end of the axis.
//  - An index outside [-n, n) is never dereferenced: the kernel records
//    kErrorIndex (a = the index, b = n) in the stream's error record, and the
//    op's builder turns it into the CPU's std::out_of_range text, raised at
//    the next wait. Gather writes zeros where an index was bad; the output
//    is spoiled by the error anyway. With several bad indices the one
//    reported is whichever a thread recorded first, not necessarily the
//    first in order as on the CPU.
//  - Scatter set: with repeated indices the last update wins, as on the CPU
//    (deterministic: a first kernel elects, per target row, the largest j
//    that writes it, and only that j's row is stored).
//  - Scatter add: repeated indices accumulate with atomics. Integers and
//    bool (logical or) give exactly the CPU's result; floating dtypes sum in
//    an unspecified order, so with repeats the last bits may differ from the
//    CPU's sequential sum (and between runs). float16/bfloat16 add in their
//    own precision per update, as the CPU's T(float(a) + float(b)) does.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "backend/common/elementwise.h"
#include "backend/common/gather.h"
#include "backend/cuda/copy.h"
#include "backend/cuda/kernel_utils.cuh"
#include "backend/cuda/signal.h"
#include "primitives/indexing.h"

namespace fastsync {

namespace {

using cuda::Indexer;
using cuda::TypeTag;

std::exception_ptr index_error(const char* op, const cuda::ErrorRecord& r) {
  return std::make_exception_ptr(
      std::out_of_range(std::string("[") + op + "] index " + std::to_string(r.a) +
                        " is out of bounds for axis of size " + std::to_string(r.b)));
}

__device__ inline int64_t thread_index() {
  return blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
}
__device__ inline int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// One merged dimension (the common contiguous case) needs no division.
template <int N>
__device__ inline void offsets_at(const Indexer<N>& ix, int64_t i, int64_t (&off)[N]) {
  if (ix.ndim == 1) {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = i * ix.strides[k][0];
  } else {
    ix.offsets(i, off);
  }
}

// ---------------------------------------------------------------- Gather

// out[i] = x[a_off + index * step], where the indexer gives, for out's
// linear index i, a's offset with the gathered axis zeroed and the index's
// offset.
template <typename U, typename I>
__global__ void gather_kernel(const U* x, const I* idx, U* out, int64_t total, int64_t n,
                              int64_t step, Indexer<2> ix, cuda::ErrorRecord* record,
                              uint64_t position) {
  for (int64_t i = thread_index(); i < total; i += grid_stride()) {
    int64_t off[2];
    offsets_at(ix, i, off);
    int64_t k = static_cast<int64_t>(idx[off[1]]);
    if (k < -n || k >= n) {
      cuda::record_error(record, position, cuda::kErrorIndex, k, n);
      out[i] = U{};
      continue;
    }
    if (k < 0) k += n;
    out[i] = x[off[0] + k * step];
  }
}

// --------------------------------------------------------------- Scatter

// Atomic out += v with the CPU's per-dtype arithmetic.
template <typename T>
__device__ inline void atomic_accumulate(T* p, T v) {
  if constexpr (std::is_same_v<T, bool>) {
    // The CPU's dst || src: only a true update changes anything, and
    // concurrent stores of true agree.
    if (v) *p = true;
  } else if constexpr (is_complex_v<T>) {
    // Each part on its own: the sums are exact per part, as on the CPU
    // (the pair is not updated as one).
    atomicAdd(&p->re, v.re);
    atomicAdd(&p->im, v.im);
  } else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> ||
                       std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16> ||
                       std::is_same_v<T, int32_t> || std::is_same_v<T, uint32_t>) {
    atomicAdd(p, v);
  } else if constexpr (sizeof(T) == 8) {
    // Two's complement: the unsigned sum has the signed sum's bits.
    atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
  } else {
    // 8- and 16-bit integers have no atomic add: CAS the aligned word that
    // holds them. The sum wraps, as the CPU's T(C(a) + C(b)) does.
    static_assert(sizeof(T) == 1 || sizeof(T) == 2);
    auto addr = reinterpret_cast<uintptr_t>(p);
    auto* word = reinterpret_cast<unsigned int*>(addr & ~uintptr_t(3));
    unsigned shift = static_cast<unsigned>(addr & 3) * 8;
    constexpr unsigned kMask = sizeof(T) == 1 ? 0xffu : 0xffffu;
    unsigned old = *word, assumed;
    do {
      assumed = old;
      unsigned cur = (assumed >> shift) & kMask;
      unsigned sum = (cur + static_cast<unsigned>(v)) & kMask;
      old = atomicCAS(word, assumed, (assumed & ~(kMask << shift)) | (sum << shift));
    } while (old != assumed);
  }
}

// Atomic out = fn(out, v) for any combining functor, by compare-and-swap on
// the aligned 32- or 64-bit word that holds *p (8- and 16-bit types share
// their word with neighbours, which the CAS leaves untouched).
template <typename T, typename Fn>
__device__ inline void atomic_combine(T* p, T v, Fn fn) {
  auto apply = [&](T cur) { return cuda::narrow<T>(fn(cuda::widen(cur), cuda::widen(v))); };
  if constexpr (sizeof(T) == 8) {
    auto* word = reinterpret_cast<unsigned long long*>(p);
    unsigned long long old = *word, assumed;
    do {
      assumed = old;
      T cur, next;
      memcpy(&cur, &assumed, 8);
      next = apply(cur);
      unsigned long long bits;
      memcpy(&bits, &next, 8);
      old = atomicCAS(word, assumed, bits);
    } while (old != assumed);
  } else {
    auto addr = reinterpret_cast<uintptr_t>(p);
    auto* word = reinterpret_cast<unsigned int*>(addr & ~uintptr_t(3));
    unsigned shift = static_cast<unsigned>(addr & 3) * 8;
    constexpr unsigned kMask = sizeof(T) == 4 ? 0xffffffffu : (1u << (8 * sizeof(T))) - 1;
    unsigned old = *word, assumed;
    do {
      assumed = old;
      unsigned bits = (assumed >> shift) & kMask;
      T cur, next;
      memcpy(&cur, &bits, sizeof(T));
      next = apply(cur);
      unsigned nb = 0;
      memcpy(&nb, &next, sizeof(T));
      unsigned merged = sizeof(T) == 4 ? nb : (assumed & ~(kMask << shift)) | (nb << shift);
      old = atomicCAS(word, assumed, merged);
    } while (old != assumed);
  }
}

template <ScatterOp op>
struct ScatterCombine {
  template <typename T>
  __device__ void operator()(T* p, T v) const {
    if constexpr (op == ScatterOp::add) {
      atomic_accumulate(p, v);
    } else if constexpr (op == ScatterOp::prod) {
      atomic_combine(p, v, elementwise::BinaryFn<BinaryOp::multiply>{});
    } else if constexpr (op == ScatterOp::max) {
      atomic_combine(p, v, elementwise::BinaryFn<BinaryOp::maximum>{});
    } else {
      atomic_combine(p, v, elementwise::BinaryFn<BinaryOp::minimum>{});
    }
  }
};

// Validates every index and, for set, elects per target row the largest
// update position j aiming at it (winner starts at -1). Runs over the m
// indices, so bad indices are found even when rows are empty.
__global__ void scatter_index_kernel(const int64_t* idx, int64_t is, int64_t m, int64_t n,
                                     long long* winner, cuda::ErrorRecord* record,
                                     uint64_t position) {
  for (int64_t j = thread_index(); j < m; j += grid_stride()) {
    int64_t k = idx[j * is];
    if (k < -n || k >= n) {
      cuda::record_error(record, position, cuda::kErrorIndex, k, n);
      continue;
    }
    if (k < 0) k += n;
    if (winner) atomicMax(winner + k, static_cast<long long>(j));
  }
}

// Element t of the updates ((m,) + row shape, linear) is update row
// j = t / row, column r = t % row, and goes to out[idx[j] * row + r].
// Set (winner given): stored only by the elected j; bad indices were
// recorded by scatter_index_kernel. Add, prod, max, min: combined
// atomically; bad indices recorded here.
template <typename T, ScatterOp kOp>
__global__ void scatter_kernel(const T* upd, const int64_t* idx, int64_t is, T* out, int64_t total,
                               int64_t row, int64_t n, const long long* winner, Indexer<1> ix,
                               cuda::ErrorRecord* record, uint64_t position) {
  for (int64_t t = thread_index(); t < total; t += grid_stride()) {
    int64_t j = t / row, r = t - j * row;
    int64_t k = idx[j * is];
    if (k < -n || k >= n) {
      if constexpr (kOp != ScatterOp::set) {
        cuda::record_error(record, position, cuda::kErrorIndex, k, n);
      }
      continue;
    }
    if (k < 0) k += n;
    int64_t off[1];
    offsets_at(ix, t, off);
    if constexpr (kOp != ScatterOp::set) {
      ScatterCombine<kOp>{}(out + k * row + r, upd[off[0]]);
    } else {
      if (winner[k] == j) out[k * row + r] = upd[off[0]];
    }
  }
}

void require_int64(const char* op, const array& idx) {
  if (idx.dtype() != int64) {
    throw std::invalid_argument(std::string("[") + op + "] GPU kernel expects int64 indices, got " +
                                idx.dtype().name());
  }
}

}  // namespace

void Gather::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  const array& idx = inputs[1];
  array& out = outputs[0];
  auto& enc = cuda::encoder_for(*this);
  cuda::alloc(out);
  enc.set_input_array(a);
  enc.set_input_array(idx);
  enc.set_output_array(out);
  int64_t total = out.size();
  if (total == 0) return;

  // Strides over out's shape, shared with the CPU kernel; out itself is
  // row-contiguous, so its offset is the linear index.
  GatherPlan g = plan_gather(a, idx, out.shape(), axis_, along_axis_);
  auto ix = cuda::make_indexer<2>(out.shape(), {&g.a, &g.idx}, "take");
  auto* record = enc.error_record(
      cuda::kErrorIndex, [](const cuda::ErrorRecord& r) { return index_error("take", r); });
  dispatch_gather_index(idx.dtype(), [&](auto itag) {
    using I = decltype(itag);
    cuda::dispatch_bits(a.itemsize(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      gather_kernel<U, I><<<cuda::grid_for(total), cuda::kBlock, 0, enc.cuda_stream()>>>(
          static_cast<const U*>(a.raw_ptr()), static_cast<const I*>(idx.raw_ptr()),
          static_cast<U*>(out.raw_ptr()), total, g.n, g.step, ix, record, enc.op_position());
    });
  });
  cuda::check_launch("[take] kernel");
}

void Scatter::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  const array& idx = inputs[1];  // 1-D
  const array& upd = inputs[2];  // (m,) + a.shape[1:]
  array& out = outputs[0];
  require_int64("scatter", idx);
  auto& enc = cuda::encoder_for(*this);
  int64_t m = idx.size(), n = a.shape()[0];
  int64_t row = shape_size(Shape(a.shape().begin() + 1, a.shape().end()));
  int64_t total = m * row;
  // Before anything is launched: make_indexer may refuse.
  auto ix = cuda::make_indexer<1>(upd.shape(), {&upd.strides()}, "scatter");

  // A donated `a` already holds the starting values. Inputs are declared
  // after: a declaration holds a reference, which would rule donation out.
  cuda::donate_or_alloc(a, out);
  for (auto& in : inputs) enc.set_input_array(in);
  enc.set_output_array(out);
  if (out.raw_ptr() != a.raw_ptr()) cuda::copy_gpu(enc, a, out);
  if (m == 0) return;

  auto* record = enc.error_record(
      cuda::kErrorIndex, [](const cuda::ErrorRecord& r) { return index_error("scatter", r); });
  auto position = enc.op_position();
  const auto* pi = static_cast<const int64_t*>(idx.raw_ptr());
  int64_t is = idx.strides()[0];
  bool add = op_ != ScatterOp::set;  // combining ops: no winner election
  // With no element to visit (empty rows, or an empty axis that every index
  // misses) only the index check runs.
  bool visit = total > 0 && n > 0;

  long long* winner = nullptr;
  if (!add && visit) {
    array w = cuda::temporary(enc, {n}, int64);
    winner = static_cast<long long*>(w.raw_ptr());
    cuda::check(cudaMemsetAsync(winner, 0xff, n * sizeof(long long), enc.cuda_stream()),
                "[scatter] cudaMemsetAsync");
  }
  if (winner || !visit) {
    scatter_index_kernel<<<cuda::grid_for(m), cuda::kBlock, 0, enc.cuda_stream()>>>(
        pi, is, m, n, winner, record, position);
    cuda::check_launch("[scatter] index kernel");
  }
  if (!visit) return;

  if (add) {
    auto launch = [&](auto op_tag) {
      constexpr ScatterOp kOp = decltype(op_tag)::value;
      cuda::dispatch_type(out.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (is_complex_v<T> && (kOp == ScatterOp::max || kOp == ScatterOp::min)) {
          throw std::logic_error("[scatter] complex values have no order");
        } else {
          scatter_kernel<T, kOp><<<cuda::grid_for(total), cuda::kBlock, 0, enc.cuda_stream()>>>(
              static_cast<const T*>(upd.raw_ptr()), pi, is, static_cast<T*>(out.raw_ptr()), total,
              row, n, nullptr, ix, record, position);
        }
      });
    };
    switch (op_) {
      case ScatterOp::prod: launch(std::integral_constant<ScatterOp, ScatterOp::prod>{}); break;
      case ScatterOp::max: launch(std::integral_constant<ScatterOp, ScatterOp::max>{}); break;
      case ScatterOp::min: launch(std::integral_constant<ScatterOp, ScatterOp::min>{}); break;
      default: launch(std::integral_constant<ScatterOp, ScatterOp::add>{}); break;
    }
  } else {
    cuda::dispatch_bits(out.itemsize(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      scatter_kernel<U, ScatterOp::set>
          <<<cuda::grid_for(total), cuda::kBlock, 0, enc.cuda_stream()>>>(
              static_cast<const U*>(upd.raw_ptr()), pi, is, static_cast<U*>(out.raw_ptr()), total,
              row, n, winner, ix, record, position);
    });
  }
  cuda::check_launch("[scatter] kernel");
}

// The region is a strided view of out's row-contiguous buffer: one strided
// copy writes it, after a copy of `a` unless its buffer was donated (a KV
// cache written a row per step is then neither copied nor reallocated).
void SliceUpdate::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& a = inputs[0];
  const array& u = inputs[1];  // the region's shape (the ops layer broadcasts)
  array& out = outputs[0];
  auto& enc = cuda::encoder_for(*this);
  cuda::donate_or_alloc(a, out);  // before the inputs' declarations hold references
  for (auto& in : inputs) enc.set_input_array(in);
  enc.set_output_array(out);
  if (out.raw_ptr() != a.raw_ptr()) cuda::copy_gpu(enc, a, out);
  if (u.size() > 0) cuda::copy_gpu(enc, u, region_of(out, u.shape()));
}

}  // namespace fastsync
