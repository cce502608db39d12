// GPU eval of Reduce and ArgReduce.
//
// Contract: same results as src/backend/cpu/reduce.cpp and the CPU ArgReduce
// (src/backend/cpu/scan.cpp): the CPU's accumulator types and operators, one
// definition for both in backend/common/reducer.h (half floats sum in float,
// small ints in the int32/uint32 or 64-bit output, bool max/min as or/and), NaN
// propagating through max/min, argmax/argmin giving the first index of the
// extreme or of the first NaN, as uint32. An empty reduction writes the
// identity. Float sums may round differently from the CPU (another order of
// additions) but are deterministic: no atomics, fixed split points.
//
// Layout. The input's dims split into kept (those of the output) and
// reduced ones; each group is merged where its strides allow. Two kernels
// cover the layouts:
//   row: the innermost reduced dim has unit stride: a group of threads (a
//        sub-warp, a warp or the block) reduces the elements of one output,
//        with 16-byte vector loads when the reduced block is one run;
//   col: the innermost kept dim has unit stride: threads of a warp take
//        adjacent outputs (16 bytes of columns each when aligned) and walk
//        the reduction together (coalesced), the block splitting the
//        reduction over its rows.
// Inputs that fit neither (transposed views, broadcasts) are made
// contiguous first. When there are too few outputs to fill the GPU, the
// reduction is split over blocks that write accumulator partials, and a
// second row pass over the (outputs, splits) partials finishes it.
#include <cuda/std/limits>
#include <stdexcept>
#include <type_traits>

#include "backend/common/axes.h"
#include "backend/common/reducer.h"
#include "backend/common/strided.h"
#include "backend/cuda/copy.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/reduce.h"

namespace fastsync {

namespace {

using cuda::Indexer;
using cuda::TypeTag;

constexpr int kRowBlock = 256;
constexpr int kColBlock = 256;

// ---------------------------------------------------------------------------
// Reduction policies: the accumulator, how an element enters it, how two
// accumulators combine and how the result is stored. The kernels below are
// written against this interface so Reduce and ArgReduce share them.
// Reduce's accumulator type (reduce_acc_t) and operator (Reducer) are the
// CPU's: backend/common/reducer.h.

template <ReduceOp op, typename InT, typename OutT>
struct ReducePolicy {
  using In = InT;
  using Out = OutT;
  using Acc = reduce_acc_t<Out>;
  using R = Reducer<op, Acc>;
  __device__ static Acc init() { return R::init(); }
  __device__ static Acc make(In v, int64_t) { return static_cast<Acc>(cuda::widen(v)); }
  __device__ static Acc combine(Acc a, Acc b) { return R::apply(a, b); }
  __device__ static Out finalize(Acc a) { return cuda::narrow<Out>(a); }
};

// The second pass over partials: the same reduction with the accumulator as
// its input (shared by every input type with that accumulator).
template <ReduceOp op, typename Out>
using ReduceFinish = ReducePolicy<op, reduce_acc_t<Out>, Out>;

template <typename C>
struct ArgPair {
  C v;
  uint32_t i;
};

// NaN wins (the lower index among NaNs), then the extreme, then the lower
// index: the order-independent form of the CPU's first-wins scan.
template <bool is_max, typename C>
__device__ inline ArgPair<C> arg_combine(ArgPair<C> a, ArgPair<C> b) {
  bool an = a.v != a.v, bn = b.v != b.v;
  if (an || bn) {
    if (an && bn) return a.i <= b.i ? a : b;
    return an ? a : b;
  }
  if (is_max ? b.v > a.v : b.v < a.v) return b;
  if (a.v == b.v && b.i < a.i) return b;
  return a;
}

template <bool is_max, typename T>
struct ArgPolicy {
  using In = T;
  using C = decltype(cuda::widen(T{}));
  using Acc = ArgPair<C>;
  using Out = uint32_t;
  // Loses to every element (ties go to the lower index), so never survives
  // a non-empty reduction.
  __device__ static Acc init() {
    using L = ::cuda::std::numeric_limits<C>;
    C v;
    if constexpr (std::is_floating_point_v<C>)
      v = is_max ? -L::infinity() : L::infinity();
    else
      v = is_max ? L::lowest() : L::max();
    return {v, 0xffffffffu};
  }
  __device__ static Acc make(In v, int64_t j) {
    return {static_cast<C>(cuda::widen(v)), static_cast<uint32_t>(j)};
  }
  __device__ static Acc combine(Acc a, Acc b) { return arg_combine<is_max>(a, b); }
  __device__ static Out finalize(Acc a) { return a.i; }
};

template <bool is_max, typename C>
struct ArgFinish {
  using In = ArgPair<C>;
  using Acc = ArgPair<C>;
  using Out = uint32_t;
  __device__ static Acc init() { return ArgPolicy<is_max, C>::init(); }
  __device__ static Acc make(In v, int64_t) { return v; }
  __device__ static Acc combine(Acc a, Acc b) { return arg_combine<is_max>(a, b); }
  __device__ static Out finalize(Acc a) { return a.i; }
};

// ---------------------------------------------------------------------------
// Group reductions.

template <typename T>
__device__ inline T shfl_xor(T v, int mask) {
  return static_cast<T>(__shfl_xor_sync(0xffffffffu, v, mask));
}
__device__ inline complex64_t shfl_xor(complex64_t v, int mask) {
  return {shfl_xor(v.re, mask), shfl_xor(v.im, mask)};
}
template <typename C>
__device__ inline ArgPair<C> shfl_xor(ArgPair<C> v, int mask) {
  return {shfl_xor(v.v, mask), shfl_xor(v.i, mask)};
}

// Combines over aligned groups of `group` lanes (a power of two up to 32);
// every lane of the warp must call it. All lanes of a group get the result.
template <class P>
__device__ inline typename P::Acc group_reduce(typename P::Acc v, int group) {
  for (int o = group / 2; o > 0; o /= 2) v = P::combine(v, shfl_xor(v, o));
  return v;
}

// Whole-block reduction (blockDim.x a multiple of 32); the result is valid in
// thread 0. `smem` holds 32 accumulators.
template <class P>
__device__ inline typename P::Acc block_reduce(typename P::Acc v, typename P::Acc* smem) {
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  v = group_reduce<P>(v, 32);
  __syncthreads();  // smem may still be read from the previous call
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / 32) ? smem[lane] : P::init();
    v = group_reduce<P>(v, 32);
  }
  return v;
}

__device__ inline int64_t offset_of(const Indexer<1>& ix, int64_t i) {
  int64_t off[1];
  ix.offsets(i, off);
  return off[0];
}

// Vector width for 16-byte loads of a stored type (1 for accumulator
// structs, which the second pass reads, and for complex64, whose elements
// are only 4-byte aligned in a view bit-cast from float32).
template <typename T>
constexpr int vec_width() {
  if constexpr (std::is_arithmetic_v<T> || cuda::is_half_v<T>) {
    return 16 / sizeof(T);
  } else {
    return 1;
  }
}

template <typename T, int V>
struct alignas(16) Vec {
  T v[V];
};

// ---------------------------------------------------------------------------
// Row kernel.

// Each output reduces `segs` runs of `n` elements at `stride`; output o's
// first run starts at kept(o), run s at seg(s) past it.
struct RowGeom {
  int64_t rows;
  int64_t n;
  int64_t stride;
  int64_t segs;
  int64_t m;       // segs * n
  int group;       // threads per output: a power of two up to 32, or the block
  int64_t splits;  // blocks per output (block groups only)
  int64_t chunk;   // elements of the m per split
  Indexer<1> kept;
  Indexer<1> seg;
};

// Thread `lane` of `group`'s share of the contiguous elements [j0, j1) at
// `p`: a scalar head up to a 16-byte boundary, vector body, scalar tail.
template <class P, int V>
__device__ inline typename P::Acc row_accumulate_vec(const typename P::In* p, int64_t j0,
                                                     int64_t j1, int lane, int group) {
  using In = typename P::In;
  typename P::Acc acc = P::init();
  auto addr = reinterpret_cast<uintptr_t>(p + j0);
  int64_t head = static_cast<int64_t>((16 - addr % 16) % 16 / sizeof(In));
  if (head > j1 - j0) head = j1 - j0;
  for (int64_t t = lane; t < head; t += group) acc = P::combine(acc, P::make(p[j0 + t], j0 + t));
  int64_t a = j0 + head;
  int64_t nv = (j1 - a) / V;
  const auto* vp = reinterpret_cast<const Vec<In, V>*>(p + a);
  int64_t i = lane;
  // Four loads in flight per thread before any of them is consumed.
  for (; i + 3 * group < nv; i += 4 * group) {
    Vec<In, V> r[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) r[u] = vp[i + u * group];
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      int64_t j = a + (i + u * group) * V;
#pragma unroll
      for (int q = 0; q < V; ++q) acc = P::combine(acc, P::make(r[u].v[q], j + q));
    }
  }
  for (; i < nv; i += group) {
    Vec<In, V> r = vp[i];
    int64_t j = a + i * V;
#pragma unroll
    for (int q = 0; q < V; ++q) acc = P::combine(acc, P::make(r.v[q], j + q));
  }
  for (int64_t j = a + nv * V + lane; j < j1; j += group) acc = P::combine(acc, P::make(p[j], j));
  return acc;
}

// Thread `lane` of `group`'s share of elements [j0, j1) of the output at
// `base`.
template <class P>
__device__ inline typename P::Acc row_accumulate(const typename P::In* x, int64_t base, int64_t j0,
                                                 int64_t j1, int lane, int group,
                                                 const RowGeom& g) {
  constexpr int V = vec_width<typename P::In>();
  if constexpr (V > 1) {
    if (g.segs == 1 && g.stride == 1) {
      return row_accumulate_vec<P, V>(x + base, j0, j1, lane, group);
    }
  }
  typename P::Acc acc = P::init();
  if (g.segs == 1) {
    for (int64_t j = j0 + lane; j < j1; j += group) {
      acc = P::combine(acc, P::make(x[base + j * g.stride], j));
    }
    return acc;
  }
  for (int64_t j = j0 + lane; j < j1; j += group) {
    int64_t s = j / g.n, k = j - s * g.n;
    acc = P::combine(acc, P::make(x[base + offset_of(g.seg, s) + k * g.stride], j));
  }
  return acc;
}

// With `partial`, block groups write their split's accumulator at
// partial[row * splits + split] instead of the output.
template <class P>
__global__ void __launch_bounds__(kRowBlock)
    row_reduce(const typename P::In* x, typename P::Out* out, typename P::Acc* partial, RowGeom g) {
  using Acc = typename P::Acc;
  __shared__ Acc smem[32];
  if (g.group > 32) {
    int64_t items = g.rows * g.splits;
    for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
      int64_t row = item / g.splits, sp = item - row * g.splits;
      int64_t j0 = sp * g.chunk, j1 = j0 + g.chunk < g.m ? j0 + g.chunk : g.m;
      Acc acc = row_accumulate<P>(x, offset_of(g.kept, row), j0, j1, threadIdx.x, blockDim.x, g);
      acc = block_reduce<P>(acc, smem);
      if (threadIdx.x == 0) {
        if (partial)
          partial[item] = acc;
        else
          out[row] = P::finalize(acc);
      }
    }
    return;
  }
  int per_block = blockDim.x / g.group;
  int sub = threadIdx.x / g.group, lane = threadIdx.x % g.group;
  // The loop bound is the same for the whole block so every lane reaches
  // the shuffles.
  for (int64_t r0 = static_cast<int64_t>(blockIdx.x) * per_block; r0 < g.rows;
       r0 += static_cast<int64_t>(gridDim.x) * per_block) {
    int64_t row = r0 + sub;
    Acc acc = P::init();
    if (row < g.rows) acc = row_accumulate<P>(x, offset_of(g.kept, row), 0, g.m, lane, g.group, g);
    acc = group_reduce<P>(acc, g.group);
    if (row < g.rows && lane == 0) out[row] = P::finalize(acc);
  }
}

// ---------------------------------------------------------------------------
// Column kernel.

// Outputs are (outer, K) with the K inner ones adjacent in the input (unit
// stride); each reduces `segs` runs of `n` elements at `stride`.
struct ColGeom {
  int64_t outer;
  int64_t K;
  int64_t tiles_k;  // ceil(K / (cx * VC))
  int64_t n;
  int64_t stride;
  int64_t segs;
  int64_t m;
  int cx;  // column groups per block, a power of two up to 32; blockDim.x / cx rows
  int64_t splits;
  int64_t chunk;
  Indexer<1> kept;  // outer index -> offset
  Indexer<1> seg;
};

// Each thread takes VC adjacent columns with one vector load per row (the
// host checks alignment); a warp covers up to 32 * VC columns of a row.
// With `partial`, writes accumulators at partial[output * splits + split]
// (the layout the row kernel's second pass reads).
template <class P, int VC>
__global__ void __launch_bounds__(kColBlock)
    col_reduce(const typename P::In* x, typename P::Out* out, typename P::Acc* partial, ColGeom g) {
  using In = typename P::In;
  using Acc = typename P::Acc;
  using V = Vec<In, VC>;
  __shared__ Acc smem[VC][kColBlock];
  int cy = blockDim.x / g.cx;
  int tx = threadIdx.x % g.cx, ty = threadIdx.x / g.cx;
  int64_t items = g.outer * g.tiles_k * g.splits;
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    int64_t sp = item % g.splits, t = item / g.splits;
    int64_t ob = t / g.tiles_k, k = ((t - ob * g.tiles_k) * g.cx + tx) * VC;
    int64_t j0 = sp * g.chunk, j1 = j0 + g.chunk < g.m ? j0 + g.chunk : g.m;
    Acc acc[VC];
#pragma unroll
    for (int c = 0; c < VC; ++c) acc[c] = P::init();
    if (k < g.K) {
      const In* p = x + offset_of(g.kept, ob) + k;
      auto add = [&](int64_t off, int64_t j) {
        if constexpr (VC == 1) {
          acc[0] = P::combine(acc[0], P::make(p[off], j));
        } else {
          V r = *reinterpret_cast<const V*>(p + off);
#pragma unroll
          for (int c = 0; c < VC; ++c) acc[c] = P::combine(acc[c], P::make(r.v[c], j));
        }
      };
      if (g.segs == 1) {
#pragma unroll 4
        for (int64_t j = j0 + ty; j < j1; j += cy) add(j * g.stride, j);
      } else {
        for (int64_t j = j0 + ty; j < j1; j += cy) {
          int64_t s = j / g.n, r = j - s * g.n;
          add(offset_of(g.seg, s) + r * g.stride, j);
        }
      }
    }
#pragma unroll
    for (int c = 0; c < VC; ++c) smem[c][threadIdx.x] = acc[c];
    __syncthreads();
    for (int s = cy / 2; s > 0; s /= 2) {
      if (ty < s) {
#pragma unroll
        for (int c = 0; c < VC; ++c) {
          smem[c][threadIdx.x] = P::combine(smem[c][threadIdx.x], smem[c][threadIdx.x + s * g.cx]);
        }
      }
      __syncthreads();
    }
    if (ty == 0 && k < g.K) {
#pragma unroll
      for (int c = 0; c < VC; ++c) {
        int64_t o = ob * g.K + k + c;
        if (partial)
          partial[o * g.splits + sp] = smem[c][tx];
        else
          out[o] = P::finalize(smem[c][tx]);
      }
    }
    __syncthreads();  // smem is rewritten by the next item
  }
}

// ---------------------------------------------------------------------------
// Host side.

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int next_pow2(int64_t v) {
  int p = 1;
  while (p < v && p < (1 << 30)) p *= 2;
  return p;
}

// An Indexer over plan dims [b, e) (none: every index maps to 0).
Indexer<1> indexer_of(const StridedPlan<1>& plan, int b, int e, const char* op) {
  if (e - b > cuda::kMaxDims) {
    throw not_implemented(std::string("[") + op + "] GPU kernels take at most " +
                          std::to_string(cuda::kMaxDims) + " non-contiguous dimensions");
  }
  Indexer<1> ix{};
  ix.ndim = e - b;
  for (int d = b; d < e; ++d) {
    ix.shape[d - b] = plan.shape[d];
    ix.strides[0][d - b] = plan.strides[0][d];
  }
  return ix;
}

// A device scratch buffer the current op keeps until the GPU is past it.
array device_temp(cuda::CommandEncoder& enc, int64_t nbytes) {
  array t = array::from_desc(std::make_shared<ArrayDesc>(Shape{nbytes}, uint8));
  cuda::alloc(t);
  enc.add_temporary(t);
  return t;
}

int target_blocks() { return cuda::multiprocessor_count() * 4; }

// The input split into the output's dims and the reduced ones, each merged.
struct Layout {
  StridedPlan<1> kept, red;
  int64_t n_out, m;
};

Layout make_layout(const array& in, const std::vector<int>& axes) {
  auto sp = split_reduced(in, axes);
  Layout l{make_plan<1>(sp.kept_shape, {&sp.kept_strides}),
           make_plan<1>(sp.red_shape, {&sp.red_strides}), 0, 0};
  l.n_out = l.kept.size;
  l.m = l.red.size;
  return l;
}

enum class Kernel { row, col, none };

Kernel pick_kernel(const Layout& l) {
  int rd = l.red.shape.size(), kd = l.kept.shape.size();
  if (l.m <= 1 || l.red.strides[0][rd - 1] == 1) return Kernel::row;
  if (l.kept.strides[0][kd - 1] == 1 && l.kept.shape[kd - 1] > 1) return Kernel::col;
  return Kernel::none;
}

// Threads per output for the row kernel, and whether to split outputs over
// blocks.
template <class P>
void row_config(RowGeom& g, bool allow_split) {
  int sms = cuda::multiprocessor_count();
  g.splits = 1;
  g.chunk = g.m;
  if (g.m >= 2048 || (g.m >= 256 && g.rows < sms * 2)) {
    g.group = kRowBlock;
    if (allow_split && g.rows < target_blocks() && g.m >= 8192) {
      int64_t want = ceil_div(target_blocks(), g.rows);
      int64_t most = g.m / 4096;
      int64_t splits = std::max<int64_t>(1, std::min(want, most));
      // Multiples of 16 elements keep every split's start 16-byte aligned
      // relative to the row's.
      g.chunk = ceil_div(ceil_div(g.m, splits), 16) * 16;
      g.splits = ceil_div(g.m, g.chunk);
    }
  } else {
    // About two 16-byte vectors per lane.
    constexpr int V = vec_width<typename P::In>();
    g.group = std::min(32, next_pow2(ceil_div(std::max<int64_t>(g.m, 1), 2 * V)));
  }
}

template <class P, class Finish>
void launch_row(cuda::CommandEncoder& enc, const typename P::In* x, typename P::Out* out,
                RowGeom g) {
  using Acc = typename P::Acc;
  row_config<P>(g, true);
  if (g.splits == 1) {
    int per_block = g.group > 32 ? 1 : kRowBlock / g.group;
    unsigned blocks = cuda::grid_for(ceil_div(g.rows, per_block), 1);
    cuda::launch(enc, row_reduce<P>, blocks, kRowBlock, 0, "[reduce] row kernel", x, out, nullptr,
                 g);
    return;
  }
  array part = device_temp(enc, g.rows * g.splits * static_cast<int64_t>(sizeof(Acc)));
  Acc* pp = static_cast<Acc*>(part.raw_ptr());
  unsigned blocks = cuda::grid_for(g.rows * g.splits, 1);
  cuda::launch(enc, row_reduce<P>, blocks, kRowBlock, 0, "[reduce] row kernel (split)", x, nullptr,
               pp, g);

  RowGeom f{};
  f.rows = g.rows;
  f.n = g.splits;
  f.stride = 1;
  f.segs = 1;
  f.m = g.splits;
  f.kept.ndim = 1;
  f.kept.shape[0] = g.rows;
  f.kept.strides[0][0] = g.splits;
  row_config<Finish>(f, false);
  int per_block = f.group > 32 ? 1 : kRowBlock / f.group;
  blocks = cuda::grid_for(ceil_div(f.rows, per_block), 1);
  cuda::launch(enc, row_reduce<Finish>, blocks, kRowBlock, 0, "[reduce] row kernel (finish)", pp,
               out, nullptr, f);
}

// Columns are read VC at a time when every column group starts 16-byte
// aligned: the base pointer, the kept and reduced strides and K all allow it.
template <int VC>
bool col_vectorizable(const void* x, const ColGeom& g) {
  if (VC == 1) return true;
  bool ok = reinterpret_cast<uintptr_t>(x) % 16 == 0 && g.K % VC == 0 && g.stride % VC == 0;
  for (int d = 0; d < g.kept.ndim; ++d) ok &= g.kept.strides[0][d] % VC == 0;
  for (int d = 0; d < g.seg.ndim; ++d) ok &= g.seg.strides[0][d] % VC == 0;
  return ok;
}

template <class P, int VC>
void launch_col_with(cuda::CommandEncoder& enc, const typename P::In* x, typename P::Out* out,
                     typename P::Acc* partial, ColGeom& g, bool plan_only) {
  g.cx = std::min<int64_t>(32, next_pow2(ceil_div(g.K, VC)));
  g.tiles_k = ceil_div(g.K, static_cast<int64_t>(g.cx) * VC);
  if (plan_only) return;
  unsigned blocks = cuda::grid_for(g.outer * g.tiles_k * g.splits, 1);
  cuda::launch(enc, col_reduce<P, VC>, blocks, kColBlock, 0, "[reduce] column kernel", x, out,
               partial, g);
}

template <class P, class Finish>
void launch_col(cuda::CommandEncoder& enc, const typename P::In* x, typename P::Out* out,
                ColGeom g) {
  using Acc = typename P::Acc;
  constexpr int VC = vec_width<typename P::In>();
  bool vec = col_vectorizable<VC>(x, g);
  auto launch = [&](Acc* partial, bool plan_only) {
    if (vec)
      launch_col_with<P, VC>(enc, x, out, partial, g, plan_only);
    else
      launch_col_with<P, 1>(enc, x, out, partial, g, plan_only);
  };
  g.splits = 1;
  g.chunk = g.m;
  launch(nullptr, true);
  int cy = kColBlock / g.cx;
  int64_t tiles = g.outer * g.tiles_k;
  if (tiles < target_blocks() && g.m >= cy * 32) {
    // At least 16 elements per thread per split.
    int64_t splits = std::min(ceil_div(target_blocks(), tiles), g.m / (cy * 16));
    if (splits > 1) {
      g.chunk = ceil_div(g.m, splits);
      g.splits = ceil_div(g.m, g.chunk);
    }
  }
  if (g.splits == 1) {
    launch(nullptr, false);
    return;
  }
  int64_t n_out = g.outer * g.K;
  array part = device_temp(enc, n_out * g.splits * static_cast<int64_t>(sizeof(Acc)));
  Acc* pp = static_cast<Acc*>(part.raw_ptr());
  launch(pp, false);

  RowGeom f{};
  f.rows = n_out;
  f.n = g.splits;
  f.stride = 1;
  f.segs = 1;
  f.m = g.splits;
  f.kept.ndim = 1;
  f.kept.shape[0] = n_out;
  f.kept.strides[0][0] = g.splits;
  row_config<Finish>(f, false);
  int per_block = f.group > 32 ? 1 : kRowBlock / f.group;
  unsigned blocks = cuda::grid_for(ceil_div(f.rows, per_block), 1);
  cuda::launch(enc, row_reduce<Finish>, blocks, kRowBlock, 0, "[reduce] column kernel (finish)", pp,
               out, nullptr, f);
}

// Reduces `in` over the reduced dims of `l` (its layout) into the
// row-contiguous `out`.
template <class P, class Finish>
void run_reduce(cuda::CommandEncoder& enc, const array& in, array& out, const Layout& l,
                Kernel kind, const char* op) {
  const auto* x = static_cast<const typename P::In*>(in.raw_ptr());
  auto* y = static_cast<typename P::Out*>(out.raw_ptr());
  int rd = l.red.shape.size(), kd = l.kept.shape.size();
  if (kind == Kernel::row) {
    RowGeom g{};
    g.rows = l.n_out;
    g.n = l.red.shape[rd - 1];
    g.stride = l.red.strides[0][rd - 1];
    g.segs = l.m / std::max<int64_t>(g.n, 1);
    g.m = l.m;
    if (g.m == 0) g.segs = 1;  // identity outputs; nothing is read
    g.kept = indexer_of(l.kept, 0, kd, op);
    g.seg = indexer_of(l.red, 0, rd - 1, op);
    launch_row<P, Finish>(enc, x, y, g);
  } else {
    ColGeom g{};
    g.K = l.kept.shape[kd - 1];
    g.outer = l.n_out / g.K;
    g.n = l.red.shape[rd - 1];
    g.stride = l.red.strides[0][rd - 1];
    g.segs = l.m / g.n;
    g.m = l.m;
    g.kept = indexer_of(l.kept, 0, kd - 1, op);
    g.seg = indexer_of(l.red, 0, rd - 1, op);
    launch_col<P, Finish>(enc, x, y, g);
  }
}

// The input in a layout one of the kernels reads: itself, or a contiguous
// copy when neither the reduced nor the kept dims have a unit stride.
array readable_input(cuda::CommandEncoder& enc, const array& in, const std::vector<int>& axes,
                     Layout& l, Kernel& kind) {
  l = make_layout(in, axes);
  kind = pick_kernel(l);
  if (kind != Kernel::none) return in;
  array c = cuda::contiguous_gpu(enc, in);
  l = make_layout(c, axes);
  kind = pick_kernel(l);
  return c;
}

template <ReduceOp op>
void dispatch_reduce(cuda::CommandEncoder& enc, const array& in, array& out, const Layout& l,
                     Kernel kind, const char* name) {
  cuda::dispatch_type(in.dtype(), [&](auto in_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = reduce_out_t<op, In>;
    if (out.dtype() != cuda::dtype_of<Out>()) {
      throw std::logic_error(std::string("[") + name + "] unexpected dtype pair " +
                             in.dtype().name() + " -> " + out.dtype().name());
    }
    if constexpr (!reduce_supports<op, reduce_acc_t<Out>>()) {
      throw std::logic_error(std::string("[") + name + "] dtype not supported by this reduction");
    } else {
      run_reduce<ReducePolicy<op, In, Out>, ReduceFinish<op, Out>>(enc, in, out, l, kind, name);
    }
  });
}

}  // namespace

void Reduce::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  const array& in = inputs[0];
  array& out = outputs[0];
  cuda::alloc(out);
  enc.set_input_array(in);
  enc.set_output_array(out);
  if (out.size() == 0) return;
  Layout l;
  Kernel kind = Kernel::row;
  array src = in;
  if (in.size() == 0) {
    l = make_layout(in, axes_);  // an empty reduction reads nothing: any layout will do
  } else {
    src = readable_input(enc, in, axes_, l, kind);
  }
  const char* nm = name();
  switch (op_) {
    case ReduceOp::sum: dispatch_reduce<ReduceOp::sum>(enc, src, out, l, kind, nm); break;
    case ReduceOp::prod: dispatch_reduce<ReduceOp::prod>(enc, src, out, l, kind, nm); break;
    case ReduceOp::max: dispatch_reduce<ReduceOp::max>(enc, src, out, l, kind, nm); break;
    case ReduceOp::min: dispatch_reduce<ReduceOp::min>(enc, src, out, l, kind, nm); break;
  }
}

void ArgReduce::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  const array& in = inputs[0];
  array& out = outputs[0];
  cuda::alloc(out);
  enc.set_input_array(in);
  enc.set_output_array(out);
  if (out.size() == 0) return;  // the ops layer rejects an empty axis
  Layout l;
  Kernel kind;
  array src = readable_input(enc, in, {axis_}, l, kind);
  bool is_max = op_ == ArgReduceOp::argmax;
  cuda::dispatch_type(in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = decltype(cuda::widen(T{}));
    if constexpr (is_complex_v<C>) {
      throw std::logic_error("[argreduce] complex values have no order");
    } else if (is_max) {
      run_reduce<ArgPolicy<true, T>, ArgFinish<true, C>>(enc, src, out, l, kind, name());
    } else {
      run_reduce<ArgPolicy<false, T>, ArgFinish<false, C>>(enc, src, out, l, kind, name());
    }
  });
}

}  // namespace fastsync
