// GPU eval of Softmax over the last axis.
//
// Contract: as src/backend/cpu/softmax.cpp: float dtypes only (the ops layer casts);
// computed in float (double for float64), the output in the input dtype;
// m = the row max (NaN if the row has one; a +-inf max becomes 0), then
// y = exp(x - m) * (1 / sum(exp(x - m))). So a NaN row is all NaN, and rows
// whose max is infinite get the CPU's NaN/0 pattern. Accurate expf/exp
// (there is no fast or precise flag on the primitive). A strided input is
// made contiguous first; a donatable contiguous input becomes the output.
//
// Kernels, by row length n:
//   n <= 16384: the row is read once into registers (E values per thread)
//              by a group of lanes (a sub-warp or warp for n <= 1024, else a
//              block of 256, or of 1024 past 8192); max and sum are group
//              reductions over registers;
//   longer:    a block per row: one pass for an online (max, sum) pair, one
//              pass to write (the second read mostly hits L2).
#include <algorithm>
#include <cuda/std/limits>
#include <stdexcept>
#include <type_traits>

#include "backend/cuda/copy.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/reduce.h"

namespace fastsync {

namespace {

constexpr int kBlock = 256;
constexpr int kMaxRegs = 32;  // values per thread in the register kernel

template <typename T>
using compute_of = decltype(cuda::widen(T{}));

template <typename C>
__device__ inline C exp_of(C v) {
  if constexpr (std::is_same_v<C, float>)
    return expf(v);
  else
    return exp(v);
}

template <typename C>
__device__ inline C max_nan(C a, C b) {
  return (b > a || b != b) ? b : a;
}

template <typename C>
__device__ inline C inf_of() {
  return ::cuda::std::numeric_limits<C>::infinity();
}

// The CPU's shift: the max, except that an infinite max shifts by 0.
template <typename C>
__device__ inline C shift_of(C m) {
  return (m == inf_of<C>() || m == -inf_of<C>()) ? C(0) : m;
}

// Combines over aligned groups of `group` lanes, or over the block when
// group > 32 (then every thread of the block calls it; `smem` holds 32
// values). Every lane gets the result.
template <typename C, typename F>
__device__ inline C group_allreduce(C v, int group, C* smem, F f) {
  int width = group < 32 ? group : 32;
  for (int o = width / 2; o > 0; o /= 2) v = f(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (group <= 32) return v;
  int w = threadIdx.x / 32, nw = blockDim.x / 32;
  __syncthreads();  // smem may still be read from the previous call
  if (threadIdx.x % 32 == 0) smem[w] = v;
  __syncthreads();
  // The same order in every thread, so all get the same bits.
  v = smem[0];
  for (int i = 1; i < nw; ++i) v = f(v, smem[i]);
  return v;
}

template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

// Rows of n <= group * E elements, held in registers. `vec`: rows are whole
// 16-byte vectors (n % V == 0, E % V == 0), loaded as such.
template <typename T, int E, int B>
__global__ void __launch_bounds__(B)
    softmax_regs(const T* x, T* y, int64_t rows, int n, int group, bool vec) {
  using C = compute_of<T>;
  constexpr int V = 16 / sizeof(T);
  __shared__ C smem[32];
  int per_block = group > 32 ? 1 : blockDim.x / group;
  int sub = group > 32 ? 0 : threadIdx.x / group;
  int lane = group > 32 ? threadIdx.x : threadIdx.x % group;
  auto vmax = [](C a, C b) { return max_nan(a, b); };
  auto vsum = [](C a, C b) { return a + b; };
  // The loop bound is uniform over the block: every lane reaches the
  // shuffles and barriers.
  for (int64_t r0 = static_cast<int64_t>(blockIdx.x) * per_block; r0 < rows;
       r0 += static_cast<int64_t>(gridDim.x) * per_block) {
    int64_t row = r0 + sub;
    bool live = row < rows;
    const T* xr = x + (live ? row : 0) * n;
    T* yr = y + (live ? row : 0) * n;
    C v[E];
    C m = -inf_of<C>();
    if constexpr (E >= V) {
      if (vec) {
#pragma unroll
        for (int q = 0; q < E / V; ++q) {
          int i = (q * group + lane) * V;
          if (live && i < n) {
            auto r = *reinterpret_cast<const Vec<T, V>*>(xr + i);
#pragma unroll
            for (int k = 0; k < V; ++k) v[q * V + k] = static_cast<C>(cuda::widen(r.v[k]));
          } else {
#pragma unroll
            for (int k = 0; k < V; ++k) v[q * V + k] = -inf_of<C>();
          }
        }
      }
    }
    if (E < V || !vec) {
#pragma unroll
      for (int q = 0; q < E; ++q) {
        int i = q * group + lane;
        v[q] = live && i < n ? static_cast<C>(cuda::widen(xr[i])) : -inf_of<C>();
      }
    }
#pragma unroll
    for (int q = 0; q < E; ++q) m = max_nan(m, v[q]);
    m = shift_of(group_allreduce(m, group, smem, vmax));
    // Padding is -inf: exp(-inf - m) adds 0 unless m is NaN, when the row
    // is NaN anyway.
    C s = 0;
#pragma unroll
    for (int q = 0; q < E; ++q) {
      v[q] = exp_of(v[q] - m);
      s += v[q];
    }
    C inv = C(1) / group_allreduce(s, group, smem, vsum);
    if (!live) continue;
    if constexpr (E >= V) {
      if (vec) {
#pragma unroll
        for (int q = 0; q < E / V; ++q) {
          int i = (q * group + lane) * V;
          if (i < n) {
            Vec<T, V> r;
#pragma unroll
            for (int k = 0; k < V; ++k) r.v[k] = cuda::narrow<T>(v[q * V + k] * inv);
            *reinterpret_cast<Vec<T, V>*>(yr + i) = r;
          }
        }
        continue;
      }
    }
#pragma unroll
    for (int q = 0; q < E; ++q) {
      int i = q * group + lane;
      if (i < n) yr[i] = cuda::narrow<T>(v[q] * inv);
    }
  }
}

// (max, sum of exp(x - max)) of a set of elements. Where the max is
// infinite the sum is fixed up at the end, so the updates only need to
// avoid inf - inf.
template <typename C>
struct MaxSum {
  C m, s;
};

template <typename C>
__device__ inline C rescale(C from, C to) {
  return from == to ? C(1) : exp_of(from - to);
}

template <typename C>
__device__ inline MaxSum<C> online_add(MaxSum<C> a, C x) {
  if (x > a.m) {
    a.s = a.s * rescale(a.m, x) + C(1);
    a.m = x;
  } else if (x != x) {
    a.m = x;
  } else {
    a.s += rescale(x, a.m);
  }
  return a;
}

template <typename C>
__device__ inline MaxSum<C> online_combine(MaxSum<C> a, MaxSum<C> b) {
  C m = max_nan(a.m, b.m);
  return {m, a.s * rescale(a.m, m) + b.s * rescale(b.m, m)};
}

// A block of B threads per row, any n.
template <typename T, int B>
__global__ void __launch_bounds__(B)
    softmax_online(const T* x, T* y, int64_t rows, int64_t n, bool vec) {
  using C = compute_of<T>;
  constexpr int V = 16 / sizeof(T);
  __shared__ C sm[32], ss[32];
  int w = threadIdx.x / 32, nw = blockDim.x / 32;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * n;
    T* yr = y + row * n;
    MaxSum<C> a{-inf_of<C>(), C(0)};
    if (vec) {
      const auto* xv = reinterpret_cast<const Vec<T, V>*>(xr);
      for (int64_t i = threadIdx.x; i < n / V; i += blockDim.x) {
        auto r = xv[i];
#pragma unroll
        for (int k = 0; k < V; ++k) a = online_add(a, static_cast<C>(cuda::widen(r.v[k])));
      }
    } else {
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        a = online_add(a, static_cast<C>(cuda::widen(xr[i])));
      }
    }
    for (int o = 16; o > 0; o /= 2) {
      MaxSum<C> b{__shfl_xor_sync(0xffffffffu, a.m, o), __shfl_xor_sync(0xffffffffu, a.s, o)};
      a = online_combine(a, b);
    }
    __syncthreads();  // sm/ss may still be read for the previous row
    if (threadIdx.x % 32 == 0) {
      sm[w] = a.m;
      ss[w] = a.s;
    }
    __syncthreads();
    a = {sm[0], ss[0]};
    for (int i = 1; i < nw; ++i) a = online_combine(a, MaxSum<C>{sm[i], ss[i]});
    // The CPU sums exp(x - shift): inf when the max is +inf, 0 when -inf.
    C m = shift_of(a.m);
    C s = a.m == inf_of<C>() ? inf_of<C>() : a.m == -inf_of<C>() ? C(0) : a.s;
    C inv = C(1) / s;
    if (vec) {
      const auto* xv = reinterpret_cast<const Vec<T, V>*>(xr);
      auto* yv = reinterpret_cast<Vec<T, V>*>(yr);
      for (int64_t i = threadIdx.x; i < n / V; i += blockDim.x) {
        auto r = xv[i];
#pragma unroll
        for (int k = 0; k < V; ++k) {
          r.v[k] = cuda::narrow<T>(exp_of(static_cast<C>(cuda::widen(r.v[k])) - m) * inv);
        }
        yv[i] = r;
      }
    } else {
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        yr[i] = cuda::narrow<T>(exp_of(static_cast<C>(cuda::widen(xr[i])) - m) * inv);
      }
    }
  }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int next_pow2(int64_t v) {
  int p = 1;
  while (p < v && p < (1 << 30)) p *= 2;
  return p;
}

template <typename T>
void launch_softmax(cuda::CommandEncoder& enc, const T* x, T* y, int64_t rows, int64_t n) {
  constexpr int V = 16 / sizeof(T);
  // Row starts stay 16-byte aligned when n is a multiple of V (buffers are).
  bool aligned = n % V == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
                 reinterpret_cast<uintptr_t>(y) % 16 == 0;
  // Up to 16384 elements: 1024 threads of 16 registers each (32 would not
  // fit the register file at that block size). 16 is a multiple of V.
  constexpr int kBigBlock = 1024, kBigRegs = 16;
  if (n > kBlock * kMaxRegs && n <= kBigBlock * kBigRegs) {
    unsigned blocks = cuda::grid_for(rows, 1);
    softmax_regs<T, kBigRegs, kBigBlock><<<blocks, kBigBlock, 0, enc.cuda_stream()>>>(
        x, y, rows, static_cast<int>(n), kBigBlock, aligned);
    cuda::check_launch("[softmax] register kernel");
    return;
  }
  if (n > kBlock * kMaxRegs) {
    unsigned blocks = cuda::grid_for(rows, 1);
    // Few long rows: bigger blocks keep more of each SM busy.
    if (rows < 2 * cuda::multiprocessor_count()) {
      softmax_online<T, 1024><<<blocks, 1024, 0, enc.cuda_stream()>>>(x, y, rows, n, aligned);
    } else {
      softmax_online<T, kBlock><<<blocks, kBlock, 0, enc.cuda_stream()>>>(x, y, rows, n, aligned);
    }
    cuda::check_launch("[softmax] online kernel");
    return;
  }
  int e, group;
  if (n <= 32 * kMaxRegs) {
    e = std::min(kMaxRegs, next_pow2(ceil_div(n, 32)));
    group = std::min(32, next_pow2(ceil_div(n, e)));
  } else {
    e = std::min(kMaxRegs, next_pow2(ceil_div(n, kBlock)));
    group = kBlock;
  }
  bool vec = aligned && e % V == 0;
  int per_block = group > 32 ? 1 : kBlock / group;
  unsigned blocks = cuda::grid_for(ceil_div(rows, per_block), 1);
  int ni = static_cast<int>(n);
  auto go = [&](auto kernel) {
    kernel<<<blocks, kBlock, 0, enc.cuda_stream()>>>(x, y, rows, ni, group, vec);
    cuda::check_launch("[softmax] register kernel");
  };
  switch (e) {
    case 1: go(softmax_regs<T, 1, kBlock>); break;
    case 2: go(softmax_regs<T, 2, kBlock>); break;
    case 4: go(softmax_regs<T, 4, kBlock>); break;
    case 8: go(softmax_regs<T, 8, kBlock>); break;
    case 16: go(softmax_regs<T, 16, kBlock>); break;
    default: go(softmax_regs<T, 32, kBlock>); break;
  }
}

}  // namespace

void Softmax::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  const array& in = inputs[0];
  array& out = outputs[0];
  // Donation before anything holds another reference to `in` (a handle, or
  // the input's declaration).
  bool in_place = in.flags().row_contiguous;
  if (in_place) cuda::donate_or_alloc(in, out);
  array src = cuda::contiguous_gpu(enc, in);
  if (!in_place) cuda::alloc(out);
  enc.set_input_array(in);
  enc.set_output_array(out);
  if (in.size() == 0) return;
  int64_t n = in.ndim() ? in.shape().back() : 1;
  int64_t rows = in.size() / n;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    launch_softmax<T>(enc, static_cast<const T*>(src.raw_ptr()), static_cast<T*>(out.raw_ptr()),
                      rows, n);
  };
  switch (in.dtype().val) {
    case Dtype::Val::float16: run(__half{}); break;
    case Dtype::Val::bfloat16: run(__nv_bfloat16{}); break;
    case Dtype::Val::float32: run(float{}); break;
    case Dtype::Val::float64: run(double{}); break;
    default: throw std::logic_error("[softmax] the ops layer sends floats only");
  }
}

}  // namespace fastsync
