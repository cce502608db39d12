// GPU eval of Scan (cumsum, cumprod, cummax, cummin).
//
// Contract: same results as src/backend/cpu/scan.cpp: inclusive or exclusive,
// forward or reversed along one axis; sum/prod write sum_type (bool and
// integers widen to int64/uint64), max/min keep the dtype; half floats
// accumulate in float; NaN propagates through max/min from where it
// appears; an exclusive scan starts at the identity (0, 1, -inf/lowest,
// inf/max). The identities, combine step and accumulator type are the
// CPU's own (backend/common/reducer.h). Float sums are combined in a tree
// inside each tile, so they may round differently from the CPU's running
// sum, but deterministically.
//
// Layout. "Lines" are the 1-D scans, one per position off the axis; a line
// is found with an Indexer over the other dims, and walked with the axis'
// stride in the input and the output (row-contiguous, maybe the donated
// input). Three kernels:
//   seq:   one thread per line, a plain running value. For short lines
//          (staged through shared memory when they are packed rows), and
//          for many lines off a non-last axis (adjacent threads then read
//          adjacent elements);
//   tiled: a warp or the block per line, tiles staged through shared
//          memory so global accesses stay coalesced, a tree scan per tile
//          and a carry between tiles. For lines along the last axis;
//   long lines with too few of them to fill the GPU split into chunks: the
//          chunk totals are reduced, scanned, and fed back as carries.
// Few long lines along a non-last axis are transposed (copied with the
// axis last), scanned as rows, and copied back.
#include <algorithm>
#include <stdexcept>
#include <type_traits>

#include "backend/common/axes.h"
#include "backend/common/reducer.h"
#include "backend/cuda/copy.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/reduce.h"

namespace fastsync {

namespace {

using cuda::Indexer;
using cuda::TypeTag;

constexpr int kBlock = 256;
constexpr int kItems = 8;                      // elements per thread per tile
constexpr int kTile = kBlock * kItems;         // elements staged per block
constexpr int kTileSmem = kTile + kTile / 32;  // with one pad slot per 32

// Shared-memory slot of tile element i: a pad every 32 slots keeps a
// thread's kItems consecutive elements off each other's banks.
__device__ inline int pad(int i) { return i + (i >> 5); }

template <typename T>
__device__ inline T shfl_up(T v, int d) {
  return static_cast<T>(__shfl_up_sync(0xffffffffu, v, d));
}
template <typename T>
__device__ inline T shfl_idx(T v, int lane) {
  return static_cast<T>(__shfl_sync(0xffffffffu, v, lane));
}
template <typename T>
__device__ inline T shfl_xor(T v, int mask) {
  return static_cast<T>(__shfl_xor_sync(0xffffffffu, v, mask));
}
// complex64: one shuffle per part.
__device__ inline complex64_t shfl_up(complex64_t v, int d) {
  return {shfl_up(v.re, d), shfl_up(v.im, d)};
}
__device__ inline complex64_t shfl_idx(complex64_t v, int lane) {
  return {shfl_idx(v.re, lane), shfl_idx(v.im, lane)};
}
__device__ inline complex64_t shfl_xor(complex64_t v, int mask) {
  return {shfl_xor(v.re, mask), shfl_xor(v.im, mask)};
}

struct ScanGeom {
  int64_t lines;
  int64_t n;
  int64_t si, so;  // axis strides of the input and the output
  bool reverse, inclusive;
  int group;       // tiled: 32 (a warp per line) or the block
  int64_t chunks;  // tiled: blocks per line (block groups only)
  int64_t chunk;   // logical elements per chunk, a multiple of kTile
  Indexer<2> ix;   // line -> (input offset, output offset)
};

__device__ inline void line_offsets(const ScanGeom& g, int64_t line, int64_t& xi, int64_t& yo) {
  int64_t off[2];
  g.ix.offsets(line, off);
  xi = off[0];
  yo = off[1];
}

// ---------------------------------------------------------------------------
// seq: one thread per line.

template <ReduceOp op, typename In, typename Out>
__global__ void __launch_bounds__(kBlock) seq_scan(const In* x, Out* y, ScanGeom g) {
  using A = reduce_acc_t<Out>;
  using R = Reducer<op, A>;
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t line = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; line < g.lines;
       line += step) {
    int64_t xo, yo;
    line_offsets(g, line, xo, yo);
    const In* xp = x + xo;
    Out* yp = y + yo;
    A acc = R::init();
    int64_t i = g.reverse ? g.n - 1 : 0, d = g.reverse ? -1 : 1;
#pragma unroll 4
    for (int64_t k = 0; k < g.n; ++k, i += d) {
      A v = static_cast<A>(cuda::widen(xp[i * g.si]));
      if (g.inclusive) {
        acc = R::apply(acc, v);
        yp[i * g.so] = cuda::narrow<Out>(acc);
      } else {
        yp[i * g.so] = cuda::narrow<Out>(acc);
        acc = R::apply(acc, v);
      }
    }
  }
}

// Short contiguous rows (n <= kStagedMax, rows back to back in the input and
// the output): seq, with the block's rows staged through shared memory so
// global loads and stores are coalesced.
constexpr int kStagedMax = 16;

template <ReduceOp op, typename In, typename Out>
__global__ void __launch_bounds__(kBlock) staged_scan(const In* x, Out* y, ScanGeom g) {
  using A = reduce_acc_t<Out>;
  using R = Reducer<op, A>;
  constexpr int kSlots = kBlock * kStagedMax;
  __shared__ A tile[kSlots + kSlots / 32];
  int n = static_cast<int>(g.n);
  for (int64_t l0 = static_cast<int64_t>(blockIdx.x) * kBlock; l0 < g.lines;
       l0 += static_cast<int64_t>(gridDim.x) * kBlock) {
    int count = g.lines - l0 < kBlock ? static_cast<int>(g.lines - l0) : kBlock;
    const In* xp = x + l0 * n;
    Out* yp = y + l0 * n;
    for (int i = threadIdx.x; i < count * n; i += kBlock) {
      tile[pad(i)] = static_cast<A>(cuda::widen(xp[i]));
    }
    __syncthreads();
    if (static_cast<int>(threadIdx.x) < count) {
      A acc = R::init();
      int b = threadIdx.x * n;
      for (int k = 0; k < n; ++k) {
        int i = b + (g.reverse ? n - 1 - k : k);
        A v = tile[pad(i)];
        if (g.inclusive) {
          acc = R::apply(acc, v);
          tile[pad(i)] = acc;
        } else {
          tile[pad(i)] = acc;
          acc = R::apply(acc, v);
        }
      }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < count * n; i += kBlock) yp[i] = cuda::narrow<Out>(tile[pad(i)]);
    __syncthreads();  // the next rows overwrite `tile`
  }
}

// ---------------------------------------------------------------------------
// tiled: a warp or the block per line (or per chunk of one).

// Exclusive scan of one value per thread over the group; `total` gets the
// group's combination. Block groups use `warp_tot` (32 slots) and must be
// called by the whole block.
template <ReduceOp op, typename A>
__device__ inline A group_exclusive_scan(A v, int group, A* warp_tot, A& total) {
  using R = Reducer<op, A>;
  int wl = threadIdx.x % 32;
  A inc = v;
#pragma unroll
  for (int d = 1; d < 32; d *= 2) {
    A t = shfl_up(inc, d);
    if (wl >= d) inc = R::apply(t, inc);
  }
  A ex = shfl_up(inc, 1);
  if (wl == 0) ex = R::init();
  if (group <= 32) {
    total = shfl_idx(inc, 31);
    return ex;
  }
  int w = threadIdx.x / 32, nw = blockDim.x / 32;
  if (wl == 31) warp_tot[w] = inc;
  __syncthreads();
  if (w == 0) {
    A t = wl < nw ? warp_tot[wl] : R::init();
#pragma unroll
    for (int d = 1; d < 32; d *= 2) {
      A u = shfl_up(t, d);
      if (wl >= d) t = R::apply(u, t);
    }
    if (wl < nw) warp_tot[wl] = t;
  }
  __syncthreads();
  total = warp_tot[nw - 1];
  if (w > 0) ex = R::apply(warp_tot[w - 1], ex);
  return ex;
}

// Scans logical elements [k0, k1) of a line, starting from `carry`.
// `tile` holds group * kItems (padded) elements; the caller's group runs it
// together.
template <ReduceOp op, typename In, typename Out>
__device__ inline void scan_range(const In* xp, Out* yp, int64_t k0, int64_t k1,
                                  reduce_acc_t<Out> carry, int lane, int group,
                                  reduce_acc_t<Out>* tile, reduce_acc_t<Out>* warp_tot,
                                  const ScanGeom& g) {
  using A = reduce_acc_t<Out>;
  using R = Reducer<op, A>;
  auto sync = [group] {
    if (group > 32)
      __syncthreads();
    else
      __syncwarp();
  };
  int64_t span = static_cast<int64_t>(group) * kItems;
  for (int64_t t0 = k0; t0 < k1; t0 += span) {
    // Striped loads (coalesced), staged in shared memory.
#pragma unroll
    for (int q = 0; q < kItems; ++q) {
      int idx = q * group + lane;
      int64_t k = t0 + idx;
      A v = R::init();
      if (k < k1) {
        int64_t i = g.reverse ? g.n - 1 - k : k;
        v = static_cast<A>(cuda::widen(xp[i * g.si]));
      }
      tile[pad(idx)] = v;
    }
    sync();
    // Each thread scans its kItems consecutive elements.
    A v[kItems];
    A tot = R::init();
#pragma unroll
    for (int q = 0; q < kItems; ++q) {
      v[q] = tile[pad(lane * kItems + q)];
      tot = R::apply(tot, v[q]);
    }
    A total;
    A run = R::apply(carry, group_exclusive_scan<op>(tot, group, warp_tot, total));
#pragma unroll
    for (int q = 0; q < kItems; ++q) {
      if (g.inclusive) {
        run = R::apply(run, v[q]);
        tile[pad(lane * kItems + q)] = run;
      } else {
        tile[pad(lane * kItems + q)] = run;
        run = R::apply(run, v[q]);
      }
    }
    sync();
#pragma unroll
    for (int q = 0; q < kItems; ++q) {
      int idx = q * group + lane;
      int64_t k = t0 + idx;
      if (k < k1) {
        int64_t i = g.reverse ? g.n - 1 - k : k;
        yp[i * g.so] = cuda::narrow<Out>(tile[pad(idx)]);
      }
    }
    carry = R::apply(carry, total);
    sync();  // the next tile overwrites `tile`
  }
}

// With `carry_in`, chunk c of line l starts from carry_in[l * chunks + c].
template <ReduceOp op, typename In, typename Out>
__global__ void __launch_bounds__(kBlock)
    tiled_scan(const In* x, Out* y, const reduce_acc_t<Out>* carry_in, ScanGeom g) {
  using A = reduce_acc_t<Out>;
  using R = Reducer<op, A>;
  __shared__ A tile[kTileSmem];
  __shared__ A warp_tot[32];
  if (g.group > 32) {
    int64_t items = g.lines * g.chunks;
    for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
      int64_t line = item / g.chunks, c = item - line * g.chunks;
      int64_t xo, yo;
      line_offsets(g, line, xo, yo);
      int64_t k0 = c * g.chunk, k1 = k0 + g.chunk < g.n ? k0 + g.chunk : g.n;
      A carry = carry_in ? carry_in[item] : R::init();
      scan_range<op, In, Out>(x + xo, y + yo, k0, k1, carry, threadIdx.x, blockDim.x, tile,
                              warp_tot, g);
    }
    return;
  }
  int w = threadIdx.x / 32, nw = blockDim.x / 32;
  A* wtile = tile + w * (kTileSmem / (kBlock / 32));
  for (int64_t line = static_cast<int64_t>(blockIdx.x) * nw + w; line < g.lines;
       line += static_cast<int64_t>(gridDim.x) * nw) {
    int64_t xo, yo;
    line_offsets(g, line, xo, yo);
    scan_range<op, In, Out>(x + xo, y + yo, 0, g.n, R::init(), threadIdx.x % 32, 32, wtile, nullptr,
                            g);
  }
}

// The combination of each chunk, in logical order: totals[l * chunks + c].
template <ReduceOp op, typename In, typename Out>
__global__ void __launch_bounds__(kBlock)
    chunk_totals(const In* x, reduce_acc_t<Out>* totals, ScanGeom g) {
  using A = reduce_acc_t<Out>;
  using R = Reducer<op, A>;
  __shared__ A warp_part[32];
  int64_t items = g.lines * g.chunks;
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    int64_t line = item / g.chunks, c = item - line * g.chunks;
    int64_t xo, yo;
    line_offsets(g, line, xo, yo);
    int64_t k0 = c * g.chunk, k1 = k0 + g.chunk < g.n ? k0 + g.chunk : g.n;
    A acc = R::init();
#pragma unroll 4
    for (int64_t k = k0 + threadIdx.x; k < k1; k += blockDim.x) {
      int64_t i = g.reverse ? g.n - 1 - k : k;
      acc = R::apply(acc, static_cast<A>(cuda::widen(x[xo + i * g.si])));
    }
#pragma unroll
    for (int o = 16; o > 0; o /= 2) acc = R::apply(acc, shfl_xor(acc, o));
    int w = threadIdx.x / 32, wl = threadIdx.x % 32, nw = blockDim.x / 32;
    __syncthreads();  // warp_part may still be read from the previous item
    if (wl == 0) warp_part[w] = acc;
    __syncthreads();
    if (w == 0) {
      acc = wl < nw ? warp_part[wl] : R::init();
#pragma unroll
      for (int o = 16; o > 0; o /= 2) acc = R::apply(acc, shfl_xor(acc, o));
      if (wl == 0) totals[item] = acc;
    }
  }
}

// ---------------------------------------------------------------------------
// Host side.

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int target_blocks() { return cuda::multiprocessor_count() * 4; }

// Lines of `n` elements along the last axis: a warp each when short, else
// the block, split into chunks when too few lines fill the GPU.
template <ReduceOp op, typename In, typename Out>
void launch_tiled(cuda::CommandEncoder& enc, const In* x, Out* y, ScanGeom g) {
  using A = reduce_acc_t<Out>;
  g.chunks = 1;
  g.chunk = g.n;
  if (g.n <= 2048) {
    g.group = 32;
    unsigned blocks = cuda::grid_for(ceil_div(g.lines, kBlock / 32), 1);
    tiled_scan<op, In, Out><<<blocks, kBlock, 0, enc.cuda_stream()>>>(x, y, nullptr, g);
    cuda::check_launch("[scan] tiled kernel");
    return;
  }
  g.group = kBlock;
  if (g.lines < target_blocks() && g.n >= 8 * kTile) {
    int64_t chunks = std::min(ceil_div(target_blocks(), g.lines), g.n / (4 * kTile));
    if (chunks > 1) {
      g.chunk = ceil_div(ceil_div(g.n, chunks), kTile) * kTile;
      g.chunks = ceil_div(g.n, g.chunk);
    }
  }
  if (g.chunks == 1) {
    unsigned blocks = cuda::grid_for(g.lines, 1);
    tiled_scan<op, In, Out><<<blocks, kBlock, 0, enc.cuda_stream()>>>(x, y, nullptr, g);
    cuda::check_launch("[scan] tiled kernel");
    return;
  }
  int64_t items = g.lines * g.chunks;
  array carries = array::from_desc(
      std::make_shared<ArrayDesc>(Shape{items * static_cast<int64_t>(sizeof(A))}, uint8));
  cuda::alloc(carries);
  enc.add_temporary(carries);
  A* c = static_cast<A*>(carries.raw_ptr());
  unsigned blocks = cuda::grid_for(items, 1);
  chunk_totals<op, In, Out><<<blocks, kBlock, 0, enc.cuda_stream()>>>(x, c, g);
  cuda::check_launch("[scan] chunk totals");

  // Carries: the exclusive scan of each line's chunk totals, in place (a
  // tile is read before it is written).
  ScanGeom t{};
  t.lines = g.lines;
  t.n = g.chunks;
  t.si = t.so = 1;
  t.reverse = false;
  t.inclusive = false;
  t.group = 32;
  t.chunks = 1;
  t.chunk = g.chunks;
  t.ix.ndim = 1;
  t.ix.shape[0] = g.lines;
  t.ix.strides[0][0] = t.ix.strides[1][0] = g.chunks;
  unsigned tblocks = cuda::grid_for(ceil_div(t.lines, kBlock / 32), 1);
  tiled_scan<op, A, A><<<tblocks, kBlock, 0, enc.cuda_stream()>>>(c, c, nullptr, t);
  cuda::check_launch("[scan] chunk carries");

  tiled_scan<op, In, Out><<<blocks, kBlock, 0, enc.cuda_stream()>>>(x, y, c, g);
  cuda::check_launch("[scan] tiled kernel (chunks)");
}

template <ReduceOp op, typename In, typename Out>
void launch_seq(cuda::CommandEncoder& enc, const In* x, Out* y, const ScanGeom& g) {
  bool packed =
      g.si == 1 && g.so == 1 && g.n <= kStagedMax &&
      (g.lines == 1 || (g.ix.ndim == 1 && g.ix.strides[0][0] == g.n && g.ix.strides[1][0] == g.n));
  if (packed) {
    staged_scan<op, In, Out><<<cuda::grid_for(g.lines), kBlock, 0, enc.cuda_stream()>>>(x, y, g);
    cuda::check_launch("[scan] staged kernel");
    return;
  }
  seq_scan<op, In, Out><<<cuda::grid_for(g.lines), kBlock, 0, enc.cuda_stream()>>>(x, y, g);
  cuda::check_launch("[scan] sequential kernel");
}

// The lines of `in` along `axis` into `out` (same shape, any strides).
ScanGeom make_geom(const array& in, const array& out, int axis, bool reverse, bool inclusive) {
  auto sp = split_axis(in, out.strides(), axis);
  ScanGeom g{};
  g.n = sp.n;
  g.lines = in.size() / g.n;
  g.si = sp.in_stride;
  g.so = sp.out_stride;
  g.reverse = reverse;
  g.inclusive = inclusive;
  g.ix = cuda::make_indexer<2>(sp.outer_shape, {&sp.in_outer, &sp.out_outer}, "scan");
  return g;
}

template <ReduceOp op, typename In, typename Out>
void run_scan(cuda::CommandEncoder& enc, const array& in, array& out, int axis, bool reverse,
              bool inclusive) {
  int64_t n = in.shape()[axis];
  int64_t lines = in.size() / n;
  // Elements after the axis: 1 when it is the last (non-unit) dim.
  int64_t inner = 1;
  for (int d = axis + 1; d < in.ndim(); ++d) inner *= in.shape()[d];
  // Off the last axis, enough lines (or short ones) keep the seq kernel's
  // adjacent threads on adjacent elements busy.
  if (inner == 1 || lines >= 32768 || n < 512) {
    cuda::donate_or_alloc(in, out);  // before the declaration's reference
    enc.set_input_array(in);
    enc.set_output_array(out);
    ScanGeom g = make_geom(in, out, axis, reverse, inclusive);
    const In* x = static_cast<const In*>(in.raw_ptr());
    Out* y = static_cast<Out*>(out.raw_ptr());
    if (inner == 1 && n > kStagedMax)
      launch_tiled<op, In, Out>(enc, x, y, g);
    else
      launch_seq<op, In, Out>(enc, x, y, g);
    return;
  }
  // Few long lines off the last axis: scan them as rows of a transposed
  // copy, then copy back.
  cuda::alloc(out);
  enc.set_input_array(in);
  enc.set_output_array(out);
  Shape ps;
  Strides pst;
  std::vector<int> perm;
  for (int d = 0; d < in.ndim(); ++d) {
    if (d != axis) perm.push_back(d);
  }
  perm.push_back(axis);
  for (int d : perm) {
    ps.push_back(in.shape()[d]);
    pst.push_back(in.strides()[d]);
  }
  array rows_in = cuda::contiguous_gpu(enc, in.unsafe_weak_copy(ps, pst));
  array rows_out = array::from_desc(std::make_shared<ArrayDesc>(ps, out.dtype()));
  cuda::alloc(rows_out);
  enc.add_temporary(rows_out);
  ScanGeom g = make_geom(rows_in, rows_out, in.ndim() - 1, reverse, inclusive);
  launch_tiled<op, In, Out>(enc, static_cast<const In*>(rows_in.raw_ptr()),
                            static_cast<Out*>(rows_out.raw_ptr()), g);
  // rows_out seen in the output's dim order.
  Strides back(in.ndim());
  for (int p = 0; p < in.ndim(); ++p) back[perm[p]] = rows_out.strides()[p];
  cuda::copy_gpu(enc, rows_out.unsafe_weak_copy(out.shape(), back), out);
}

template <ReduceOp op>
void dispatch_scan(cuda::CommandEncoder& enc, const array& in, array& out, int axis, bool reverse,
                   bool inclusive, const char* name) {
  cuda::dispatch_type(in.dtype(), [&](auto in_tag) {
    using In = typename decltype(in_tag)::type;
    using Out = reduce_out_t<op, In>;
    if (out.dtype() != cuda::dtype_of<Out>()) {
      throw std::logic_error(std::string("[") + name + "] unexpected dtype pair " +
                             in.dtype().name() + " -> " + out.dtype().name());
    }
    if constexpr (!reduce_supports<op, reduce_acc_t<Out>>()) {
      throw std::logic_error(std::string("[") + name + "] dtype not supported by this scan");
    } else {
      run_scan<op, In, Out>(enc, in, out, axis, reverse, inclusive);
    }
  });
}

}  // namespace

void Scan::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  const array& in = inputs[0];
  array& out = outputs[0];
  if (in.size() == 0) {
    cuda::alloc(out);
    enc.set_input_array(in);
    enc.set_output_array(out);
    return;
  }
  const char* nm = name();
  switch (op_) {
    case ReduceOp::sum:
      dispatch_scan<ReduceOp::sum>(enc, in, out, axis_, reverse_, inclusive_, nm);
      break;
    case ReduceOp::prod:
      dispatch_scan<ReduceOp::prod>(enc, in, out, axis_, reverse_, inclusive_, nm);
      break;
    case ReduceOp::max:
      dispatch_scan<ReduceOp::max>(enc, in, out, axis_, reverse_, inclusive_, nm);
      break;
    case ReduceOp::min:
      dispatch_scan<ReduceOp::min>(enc, in, out, axis_, reverse_, inclusive_, nm);
      break;
  }
}

}  // namespace fastsync
