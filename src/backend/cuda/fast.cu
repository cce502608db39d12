// GPU kernels for the fused primitives of primitives/fast.h.
//
// Contract: as backend/cpu/fast.cpp: float dtypes only (the ops layer casts),
// statistics and angles in float (double for float64), one rounding to the
// output dtype; strided operands are made contiguous first, and a donatable
// contiguous x becomes the output.
//
// Norms: a group of lanes per row (a warp for rows up to 1024 elements, else
// a block of 256), looping over the row: one pass for the mean (LayerNorm),
// one for the mean square of the deviations, one to write; the later passes
// mostly hit L1/L2. RoPE: a thread per rotated pair or copied feature.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "backend/cuda/copy.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/fast.h"

namespace fastsync {

namespace {

template <typename T>
using compute_of = decltype(cuda::widen(T{}));

// Sum over a group of G lanes (G = 32, or the whole block); every lane of
// the group gets it. G > 32: every thread of the block calls it.
template <int G, typename C>
__device__ inline C group_sum(C v, C* smem) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  if constexpr (G <= 32) {
    return v;
  } else {
    __syncthreads();  // smem may still be read from the previous call
    if (threadIdx.x % 32 == 0) smem[threadIdx.x / 32] = v;
    __syncthreads();
    C t = 0;
    for (int i = 0; i < G / 32; ++i) t += smem[i];
    return t;
  }
}

template <typename T, int G, int B>
__global__ void __launch_bounds__(B) norm_rows(const T* x, const T* w, const T* b, T* y,
                                               int64_t rows, int64_t n, float eps, bool centered) {
  using C = compute_of<T>;
  __shared__ C smem[32];
  constexpr int per_block = B / G;
  const int sub = threadIdx.x / G, lane = threadIdx.x % G;
  for (int64_t r0 = static_cast<int64_t>(blockIdx.x) * per_block; r0 < rows;
       r0 += static_cast<int64_t>(gridDim.x) * per_block) {
    const int64_t row = r0 + sub;
    const bool live = row < rows;
    const T* xr = x + (live ? row : 0) * n;
    C mean = 0;
    if (centered) {
      C s = 0;
      if (live)
        for (int64_t i = lane; i < n; i += G) s += static_cast<C>(cuda::widen(xr[i]));
      mean = group_sum<G>(s, smem) / C(n);
    }
    C q = 0;
    if (live) {
      for (int64_t i = lane; i < n; i += G) {
        C d = static_cast<C>(cuda::widen(xr[i])) - mean;
        q += d * d;
      }
    }
    const C inv = C(1) / sqrt(group_sum<G>(q, smem) / C(n) + C(eps));
    if (!live) continue;
    T* yr = y + row * n;
    for (int64_t i = lane; i < n; i += G) {
      C v = (static_cast<C>(cuda::widen(xr[i])) - mean) * inv;
      if (w) v *= static_cast<C>(cuda::widen(w[i]));
      if (b) v += static_cast<C>(cuda::widen(b[i]));
      yr[i] = cuda::narrow<T>(v);
    }
  }
}

// norm_rows for rows of 16-byte vectors (n a multiple of V = 16 / sizeof(T),
// 16-byte aligned) of up to G * V * K elements: each lane loads its K
// vectors once and keeps them in registers for every pass, so a row is read
// from memory once, in 16-byte accesses. A decoding step's single row of
// 2048 took 5 us the scalar way, mostly the latency of three passes.
template <typename T, int G, int B, int K>
__global__ void __launch_bounds__(B)
    norm_rows_vec(const T* x, const T* w, const T* b, T* y, int64_t rows, int64_t n, float eps,
                  bool centered) {
  using C = compute_of<T>;
  constexpr int V = 16 / sizeof(T);
  __shared__ C smem[32];
  constexpr int per_block = B / G;
  const int sub = threadIdx.x / G, lane = threadIdx.x % G;
  const int64_t nv = n / V;
  for (int64_t r0 = static_cast<int64_t>(blockIdx.x) * per_block; r0 < rows;
       r0 += static_cast<int64_t>(gridDim.x) * per_block) {
    const int64_t row = r0 + sub;
    const bool live = row < rows;
    const uint4* xr = reinterpret_cast<const uint4*>(x + (live ? row : 0) * n);
    C e[K][V];
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int64_t i = lane + int64_t(k) * G;
      uint4 u = make_uint4(0, 0, 0, 0);
      if (live && i < nv) u = xr[i];
      const T* t = reinterpret_cast<const T*>(&u);
#pragma unroll
      for (int j = 0; j < V; ++j) e[k][j] = static_cast<C>(cuda::widen(t[j]));
    }
    C mean = 0;
    if (centered) {
      C s = 0;
#pragma unroll
      for (int k = 0; k < K; ++k)
#pragma unroll
        for (int j = 0; j < V; ++j) s += e[k][j];
      mean = group_sum<G>(s, smem) / C(n);
    }
    C q = 0;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      if (lane + int64_t(k) * G >= nv) continue;  // padding, not a zero of the row
#pragma unroll
      for (int j = 0; j < V; ++j) q += (e[k][j] - mean) * (e[k][j] - mean);
    }
    const C inv = C(1) / sqrt(group_sum<G>(q, smem) / C(n) + C(eps));
    if (!live) continue;
    uint4* yr = reinterpret_cast<uint4*>(y + row * n);
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int64_t i = lane + int64_t(k) * G;
      if (i >= nv) continue;
      uint4 wu{}, bu{}, out;
      if (w) wu = reinterpret_cast<const uint4*>(w)[i];
      if (b) bu = reinterpret_cast<const uint4*>(b)[i];
      const T* wt = reinterpret_cast<const T*>(&wu);
      const T* bt = reinterpret_cast<const T*>(&bu);
      T* o = reinterpret_cast<T*>(&out);
#pragma unroll
      for (int j = 0; j < V; ++j) {
        C v = (e[k][j] - mean) * inv;
        if (w) v *= static_cast<C>(cuda::widen(wt[j]));
        if (b) v += static_cast<C>(cuda::widen(bt[j]));
        o[j] = cuda::narrow<T>(v);
      }
      yr[i] = out;
    }
  }
}

// RMSNorm's gradients, a group of G lanes per row as norm_rows: one pass for
// sum(x^2) and sum(g * x), one writing dx = inv * (g - x * inv * proj); each
// row's inv is kept for dw.
template <typename T, int G, int B>
__global__ void __launch_bounds__(B)
    rms_grad_rows(const T* x, const T* w, const T* c, T* dx, compute_of<T>* inv_out, int64_t rows,
                  int64_t n, float eps) {
  using C = compute_of<T>;
  __shared__ C smem[32];
  constexpr int per_block = B / G;
  const int sub = threadIdx.x / G, lane = threadIdx.x % G;
  auto wt = [&](int64_t i) { return w ? static_cast<C>(cuda::widen(w[i])) : C(1); };
  for (int64_t r0 = static_cast<int64_t>(blockIdx.x) * per_block; r0 < rows;
       r0 += static_cast<int64_t>(gridDim.x) * per_block) {
    const int64_t row = r0 + sub;
    const bool live = row < rows;
    const T* xr = x + (live ? row : 0) * n;
    const T* cr = c + (live ? row : 0) * n;
    C ss = 0, gx = 0;
    if (live) {
      for (int64_t i = lane; i < n; i += G) {
        C v = static_cast<C>(cuda::widen(xr[i]));
        ss += v * v;
        gx += static_cast<C>(cuda::widen(cr[i])) * wt(i) * v;
      }
    }
    const C inv = C(1) / sqrt(group_sum<G>(ss, smem) / C(n) + C(eps));
    const C proj = group_sum<G>(gx, smem) * inv / C(n);
    if (!live) continue;
    if (lane == 0) inv_out[row] = inv;
    T* dr = dx + row * n;
    for (int64_t i = lane; i < n; i += G) {
      C g = static_cast<C>(cuda::widen(cr[i])) * wt(i);
      dr[i] = cuda::narrow<T>(inv * (g - static_cast<C>(cuda::widen(xr[i])) * inv * proj));
    }
  }
}

// dw's partial sums: a block of 32 columns by 8 row lanes over one split of
// the rows; partial[split][col].
template <typename T>
__global__ void rms_grad_columns(const T* x, const T* c, const compute_of<T>* inv,
                                 compute_of<T>* partial, int64_t rows, int64_t n,
                                 int64_t rows_per_split) {
  using C = compute_of<T>;
  __shared__ C sm[8][33];
  const int64_t col = blockIdx.x * int64_t(32) + threadIdx.x;
  const int64_t r0 = blockIdx.y * rows_per_split;
  const int64_t r1 = min(rows, r0 + rows_per_split);
  C acc = 0;
  if (col < n) {
    for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) {
      acc += static_cast<C>(cuda::widen(c[r * n + col])) *
             static_cast<C>(cuda::widen(x[r * n + col])) * inv[r];
    }
  }
  sm[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && col < n) {
    for (int k = 1; k < 8; ++k) acc += sm[k][threadIdx.x];
    partial[blockIdx.y * n + col] = acc;
  }
}

template <typename T>
__global__ void rms_grad_finish(const compute_of<T>* partial, T* dw, int64_t n, int splits) {
  for (int64_t col = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; col < n;
       col += int64_t(gridDim.x) * blockDim.x) {
    compute_of<T> s = 0;
    for (int k = 0; k < splits; ++k) s += partial[k * n + col];
    dw[col] = cuda::narrow<T>(s);
  }
}

template <typename T>
void launch_norm(cuda::CommandEncoder& enc, const T* x, const T* w, const T* b, T* y, int64_t rows,
                 int64_t n, float eps, bool centered) {
  constexpr int B = 256, K = 4, V = 16 / sizeof(T);
  if (n % V == 0 && n <= B * V * K && cuda::aligned16({x, y, w, b})) {
    if (n <= 32 * V * K) {
      unsigned blocks = cuda::grid_for((rows + B / 32 - 1) / (B / 32), 1);
      norm_rows_vec<T, 32, B, K>
          <<<blocks, B, 0, enc.cuda_stream()>>>(x, w, b, y, rows, n, eps, centered);
    } else {
      unsigned blocks = cuda::grid_for(rows, 1);
      norm_rows_vec<T, B, B, K>
          <<<blocks, B, 0, enc.cuda_stream()>>>(x, w, b, y, rows, n, eps, centered);
    }
  } else if (n <= 1024) {
    unsigned blocks = cuda::grid_for((rows + B / 32 - 1) / (B / 32), 1);
    norm_rows<T, 32, B><<<blocks, B, 0, enc.cuda_stream()>>>(x, w, b, y, rows, n, eps, centered);
  } else {
    unsigned blocks = cuda::grid_for(rows, 1);
    norm_rows<T, B, B><<<blocks, B, 0, enc.cuda_stream()>>>(x, w, b, y, rows, n, eps, centered);
  }
  cuda::check_launch(centered ? "[layer_norm] kernel" : "[rms_norm] kernel");
}

template <typename F>
void dispatch_float(Dtype dt, const char* op, F&& f) {
  switch (dt.val) {
    case Dtype::Val::float16: f(__half{}); break;
    case Dtype::Val::bfloat16: f(__nv_bfloat16{}); break;
    case Dtype::Val::float32: f(float{}); break;
    case Dtype::Val::float64: f(double{}); break;
    default: throw std::logic_error(std::string("[") + op + "] the ops layer sends floats only");
  }
}

// x made contiguous, the output given x's buffer when it may be donated.
// Donation comes first: a declaration, or any other handle on `in`, is a
// reference that rules it out.
array prepare(cuda::CommandEncoder& enc, const array& in, array& out) {
  if (in.flags().row_contiguous) {
    cuda::donate_or_alloc(in, out);
    enc.set_input_array(in);
    enc.set_output_array(out);
    return in;
  }
  array src = cuda::contiguous_gpu(enc, in);
  cuda::alloc(out);
  enc.set_input_array(in);
  enc.set_output_array(out);
  return src;
}

const void* param(cuda::CommandEncoder& enc, const array& p) {
  enc.set_input_array(p);
  return cuda::contiguous_gpu(enc, p).raw_ptr();
}

void eval_norm(const Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outputs,
               bool has_w, bool has_b, float eps, bool centered, const char* op) {
  auto& enc = cuda::encoder_for(prim);
  array x = prepare(enc, inputs[0], outputs[0]);
  size_t next = 1;
  const void* w = has_w ? param(enc, inputs[next++]) : nullptr;
  const void* b = has_b ? param(enc, inputs[next++]) : nullptr;
  if (x.size() == 0) return;
  int64_t n = x.shape().back();
  int64_t rows = x.size() / n;
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    launch_norm<T>(enc, static_cast<const T*>(x.raw_ptr()), static_cast<const T*>(w),
                   static_cast<const T*>(b), static_cast<T*>(outputs[0].raw_ptr()), rows, n, eps,
                   centered);
  });
}

struct RopeArgs {
  int64_t rows, length, width, per_offset;
  int dims, n_offsets;
  bool traditional;
  float scale, base;
  // x and y as (B, H, L, width) through their strides for the three
  // leading axes (B and H may be 1). A view with dense rows (q and k as
  // (B, H, L, D) views of a projection) is read in place and y keeps its
  // axis order; a row-contiguous x is (1, rows / L, L).
  int64_t lead_shape[3] = {1, 1, 1}, x_strides[3] = {0, 0, 0}, y_strides[3] = {0, 0, 0};
};

// A warp's lanes walk a row's rotated pairs (then its copied features); the
// y threads of a block take rows. The inverse frequencies are a table in
// shared memory when it fits, computed once per block: in double, as the
// CPU does, a pow per element made the kernel compute-bound.
template <typename T, bool kTable>
__global__ void rope_kernel(const T* x, T* y, const int32_t* offsets, const float* freqs,
                            RopeArgs a) {
  using C = compute_of<T>;
  extern __shared__ float inv_table[];
  const int half = a.dims / 2;
  auto inv_of = [&](int i) {
    return freqs ? 1.0f / freqs[i] : static_cast<float>(pow(double(a.base), -2.0 * i / a.dims));
  };
  if constexpr (kTable) {
    for (int i = threadIdx.y * blockDim.x + threadIdx.x; i < half; i += blockDim.x * blockDim.y) {
      inv_table[i] = inv_of(i);
    }
    __syncthreads();
  }
  const int64_t per_row = half + (a.width - a.dims);
  const int64_t nb = a.lead_shape[0], nh = a.lead_shape[1], nl = a.lead_shape[2];
  // The grid walks (B, H, L) directly: no division per row, which cost more
  // than the row's rotation.
  for (int64_t b = blockIdx.z; b < nb; b += gridDim.z) {
    for (int64_t h = blockIdx.y; h < nh; h += gridDim.y) {
      for (int64_t l = blockIdx.x * int64_t(blockDim.y) + threadIdx.y; l < nl;
           l += int64_t(gridDim.x) * blockDim.y) {
        const T* xr = x + b * a.x_strides[0] + h * a.x_strides[1] + l * a.x_strides[2];
        T* yr = y + b * a.y_strides[0] + h * a.y_strides[1] + l * a.y_strides[2];
        const int64_t entry = a.n_offsets == 1 ? 0 : ((b * nh + h) * nl + l) / a.per_offset;
        const C pos = C(offsets[entry]) + C(l);
        for (int64_t j = threadIdx.x; j < per_row; j += blockDim.x) {
          if (j >= half) {
            const int64_t k = a.dims + (j - half);
            yr[k] = xr[k];
            continue;
          }
          const int i = static_cast<int>(j);
          const float inv = kTable ? inv_table[i] : inv_of(i);
          const C angle = pos * C(a.scale) * C(inv);
          C s, c;
          if constexpr (std::is_same_v<C, float>) {
            sincosf(angle, &s, &c);
          } else {
            sincos(angle, &s, &c);
          }
          const int64_t i0 = a.traditional ? 2 * i : i;
          const int64_t i1 = a.traditional ? 2 * i + 1 : i + half;
          const C u = static_cast<C>(cuda::widen(xr[i0])), v = static_cast<C>(cuda::widen(xr[i1]));
          yr[i0] = cuda::narrow<T>(u * c - v * s);
          yr[i1] = cuda::narrow<T>(u * s + v * c);
        }
      }
    }
  }
}

// The rotation of the attention layers' q and k (non-traditional, every
// feature rotated, 2-byte values, rows on 16-byte boundaries): a thread
// rotates 8 pairs with two 16-byte loads and two stores. rope_kernel moves
// 2 bytes per access and ran a (8, 16, 1024, 64) bfloat16 rotation at about
// 1 TB/s on an H100. Same arithmetic as rope_kernel, so the same values.
template <typename T, typename I>
__global__ void rope_pairs8_kernel(const T* x, T* y, const int32_t* offsets, const float* freqs,
                                   RopeArgs a, I units) {
  extern __shared__ float inv_table[];
  const int half = a.dims / 2;
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    inv_table[i] =
        freqs ? 1.0f / freqs[i] : static_cast<float>(pow(double(a.base), -2.0 * i / a.dims));
  }
  __syncthreads();
  const I chunks = static_cast<I>(half / 8);
  const I nh = static_cast<I>(a.lead_shape[1]), nl = static_cast<I>(a.lead_shape[2]);
  for (I t = blockIdx.x * I(blockDim.x) + threadIdx.x; t < units; t += I(gridDim.x) * blockDim.x) {
    const I row = t / chunks, c = t - row * chunks;
    const I bh = row / nl, l = row - bh * nl;
    const I b = bh / nh, h = bh - b * nh;
    const int64_t xo = b * a.x_strides[0] + h * a.x_strides[1] + l * a.x_strides[2];
    const int64_t yo = b * a.y_strides[0] + h * a.y_strides[1] + l * a.y_strides[2];
    const int64_t entry = a.n_offsets == 1 ? 0 : static_cast<int64_t>(row) / a.per_offset;
    const float pos = float(offsets[entry]) + float(l);
    uint4 lo = *reinterpret_cast<const uint4*>(x + xo + c * 8);
    uint4 hi = *reinterpret_cast<const uint4*>(x + xo + half + c * 8);
    T* u8 = reinterpret_cast<T*>(&lo);
    T* v8 = reinterpret_cast<T*>(&hi);
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      const float angle = pos * a.scale * inv_table[c * 8 + k];
      float sn, cs;
      sincosf(angle, &sn, &cs);
      const float u = cuda::widen(u8[k]), v = cuda::widen(v8[k]);
      u8[k] = cuda::narrow<T>(u * cs - v * sn);
      v8[k] = cuda::narrow<T>(u * sn + v * cs);
    }
    *reinterpret_cast<uint4*>(y + yo + c * 8) = lo;
    *reinterpret_cast<uint4*>(y + yo + half + c * 8) = hi;
  }
}

// Whether rope_pairs8_kernel takes this rotation (its frequency table must
// fit in shared memory too: the caller checks).
bool rope_pairs8_fits(const RopeArgs& a, const array& x, const array& y) {
  if (a.traditional || a.dims != a.width || (a.dims / 2) % 8 != 0 || x.itemsize() != 2 ||
      !cuda::aligned16({x.raw_ptr(), y.raw_ptr()})) {
    return false;
  }
  for (int d = 0; d < 3; ++d) {
    if (a.x_strides[d] % 8 != 0 || a.y_strides[d] % 8 != 0) return false;
  }
  return true;
}

template <typename T>
void launch_rope_pairs8(cuda::CommandEncoder& enc, const T* x, T* y, const int32_t* offsets,
                        const float* freqs, const RopeArgs& a) {
  const int64_t units = a.rows * (a.dims / 16);
  constexpr int kThreads = 256;
  const unsigned blocks = cuda::grid_for(units, kThreads);
  const size_t table = size_t(a.dims / 2) * sizeof(float);
  if (units < INT32_MAX) {
    rope_pairs8_kernel<T, uint32_t><<<blocks, kThreads, table, enc.cuda_stream()>>>(
        x, y, offsets, freqs, a, static_cast<uint32_t>(units));
  } else {
    rope_pairs8_kernel<T, int64_t>
        <<<blocks, kThreads, table, enc.cuda_stream()>>>(x, y, offsets, freqs, a, units);
  }
}

}  // namespace

void RMSNorm::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  eval_norm(*this, inputs, outputs, has_w_, false, eps_, false, "rms_norm");
}

void RMSNormGrad::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  enc.set_input_array(inputs[0]);
  enc.set_input_array(inputs.back());
  array x = cuda::contiguous_gpu(enc, inputs[0]);
  array c = cuda::contiguous_gpu(enc, inputs.back());
  const void* w = has_w_ ? param(enc, inputs[1]) : nullptr;
  for (array& o : outputs) {
    cuda::alloc(o);
    enc.set_output_array(o);
  }
  const int64_t n = x.shape().back();
  const int64_t rows = n ? x.size() / n : 0;
  if (with_dw_ && rows == 0 && n > 0) {
    cuda::check(cudaMemsetAsync(outputs[1].raw_ptr(), 0, outputs[1].nbytes(), enc.cuda_stream()),
                "[rms_norm] gradient");
  }
  if (rows == 0) return;
  dispatch_float(x.dtype(), "rms_norm", [&](auto tag) {
    using T = decltype(tag);
    using C = compute_of<T>;
    const Dtype cd = sizeof(C) == 8 ? float64 : float32;
    auto* inv = static_cast<C*>(cuda::temporary(enc, {rows}, cd).raw_ptr());
    auto xp = static_cast<const T*>(x.raw_ptr());
    auto cp = static_cast<const T*>(c.raw_ptr());
    auto dx = static_cast<T*>(outputs[0].raw_ptr());
    constexpr int B = 256;
    cudaStream_t st = enc.cuda_stream();
    if (n <= 1024) {
      unsigned blocks = cuda::grid_for((rows + B / 32 - 1) / (B / 32), 1);
      rms_grad_rows<T, 32, B>
          <<<blocks, B, 0, st>>>(xp, static_cast<const T*>(w), cp, dx, inv, rows, n, eps_);
    } else {
      rms_grad_rows<T, B, B><<<cuda::grid_for(rows, 1), B, 0, st>>>(xp, static_cast<const T*>(w),
                                                                    cp, dx, inv, rows, n, eps_);
    }
    cuda::check_launch("[rms_norm] gradient kernel");
    if (!with_dw_) return;
    // Enough splits of the rows for a few blocks per multiprocessor.
    const int64_t col_blocks = (n + 31) / 32;
    const int64_t want = 4 * int64_t(cuda::multiprocessor_count());
    const int64_t splits =
        std::clamp<int64_t>((want + col_blocks - 1) / col_blocks, 1, (rows + 7) / 8);
    const int64_t per_split = (rows + splits - 1) / splits;
    auto* partial = static_cast<C*>(cuda::temporary(enc, {splits * n}, cd).raw_ptr());
    rms_grad_columns<T><<<dim3(unsigned(col_blocks), unsigned(splits)), dim3(32, 8), 0, st>>>(
        xp, cp, inv, partial, rows, n, per_split);
    cuda::check_launch("[rms_norm] gradient kernel");
    rms_grad_finish<T><<<cuda::grid_for(n), cuda::kBlock, 0, st>>>(
        partial, static_cast<T*>(outputs[1].raw_ptr()), n, static_cast<int>(splits));
    cuda::check_launch("[rms_norm] gradient kernel");
  });
}

void LayerNorm::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  eval_norm(*this, inputs, outputs, has_w_, has_b_, eps_, true, "layer_norm");
}

void RoPE::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  const array& x0 = inputs[0];
  // Dense rows under at most three leading axes are read where they are
  // (a copy first cost as much as the rotation); anything else is copied.
  const bool in_place =
      !x0.flags().row_contiguous && x0.ndim() >= 2 && x0.ndim() <= 4 && x0.strides().back() == 1;
  // No second handle on x0 before prepare chooses: it would rule out
  // donating x0's buffer to the output.
  std::optional<array> copied;
  if (in_place) {
    cuda::alloc_like(x0, outputs[0]);
    enc.set_input_array(x0);
    enc.set_output_array(outputs[0]);
  } else {
    copied = prepare(enc, x0, outputs[0]);
  }
  const array& x = copied ? *copied : x0;
  const void* offsets = param(enc, inputs[1]);
  const void* freqs = has_freqs_ ? param(enc, inputs[2]) : nullptr;
  if (x.size() == 0) return;
  RopeArgs a;
  a.width = x.shape().back();
  a.length = x.shape()[x.ndim() - 2];
  a.rows = x.size() / a.width;
  a.n_offsets = static_cast<int>(inputs[1].size());
  a.per_offset = a.n_offsets > 1 ? a.rows / a.n_offsets : a.rows;
  a.dims = dims_;
  a.traditional = traditional_;
  a.scale = scale_;
  a.base = base_;
  if (in_place) {
    const int lead = x.ndim() - 1;
    for (int d = 0; d < lead; ++d) {
      a.lead_shape[3 - lead + d] = x.shape()[d];
      a.x_strides[3 - lead + d] = x.strides()[d];
      a.y_strides[3 - lead + d] = outputs[0].strides()[d];
    }
  } else {
    a.lead_shape[1] = a.rows / a.length;
    a.lead_shape[2] = a.length;
    a.x_strides[1] = a.y_strides[1] = a.length * a.width;
    a.x_strides[2] = a.y_strides[2] = a.width;
  }
  // 8 rows a pass, 4 passes a block; B and H on the grid's other axes.
  constexpr int kRowsPerBlock = 8, kPasses = 4;
  const dim3 block(32, kRowsPerBlock);
  auto capped = [](int64_t n) { return static_cast<unsigned>(std::clamp<int64_t>(n, 1, 65535)); };
  const dim3 grid(capped((a.length + kRowsPerBlock * kPasses - 1) / (kRowsPerBlock * kPasses)),
                  capped(a.lead_shape[1]), capped(a.lead_shape[0]));
  const size_t table = size_t(dims_ / 2) * sizeof(float);
  const bool pairs8 = table <= 32768 && rope_pairs8_fits(a, x, outputs[0]);
  dispatch_float(x.dtype(), "rope", [&](auto tag) {
    using T = decltype(tag);
    auto xp = static_cast<const T*>(x.raw_ptr());
    auto yp = static_cast<T*>(outputs[0].raw_ptr());
    auto op = static_cast<const int32_t*>(offsets);
    auto fp = static_cast<const float*>(freqs);
    if constexpr (sizeof(T) == 2) {
      if (pairs8) return launch_rope_pairs8<T>(enc, xp, yp, op, fp, a);
    }
    if (table <= 32768) {
      rope_kernel<T, true><<<grid, block, table, enc.cuda_stream()>>>(xp, yp, op, fp, a);
    } else {
      rope_kernel<T, false><<<grid, block, 0, enc.cuda_stream()>>>(xp, yp, op, fp, a);
    }
  });
  cuda::check_launch("[rope] kernel");
}

}  // namespace fastsync

// --- attention ------------------------------------------------------------
// A block of kAttnWarps warps per query row and range of keys. Lanes hold
// strided slices of the scaled query and of the output accumulator (head
// dims up to 32 * kAttnRegs); the warps of a block take turns over its keys,
// the score of a key is a warp sum, and a running (max, sum) rescales each
// warp's accumulator as in the CPU kernel, so scores never reach memory. The
// block then merges its warps. With few rows (a decoding step) a row's keys
// are split across blocks, which write partial (max, sum, accumulator)
// triples that a second kernel merges: otherwise a handful of warps would
// walk a long cache alone.

namespace fastsync {

namespace {

constexpr int kAttnRegs = 8;
constexpr int kAttnWarps = 4;
// Splits give each block at least this many keys, and stop once the grid has
// this many blocks.
constexpr int64_t kKeysPerBlock = 64;
constexpr int64_t kAttnBlocks = 1024;

struct AttnArgs {
  int64_t rows, hq, hk, lq, lk, d, dv;
  int64_t qs[3], ks[3], vs[3], ms[4];
  bool causal, has_mask, bool_mask;
  float scale;
  int64_t splits, chunk;  // key ranges per row, keys per range
};

// A softmax state: running max m, sum l of exp(score - m), and the
// accumulator (held by the caller).
template <typename C>
struct Running {
  C m, l;
};

// Merges state `o` (with N accumulators `oacc`) into `r` (accumulators
// `acc`). An empty state (l == 0) changes nothing, so no -inf - -inf is
// formed.
template <int N = kAttnRegs, typename C>
__device__ inline void merge(Running<C>& r, C* acc, Running<C> o, const C* oacc) {
  if (o.l == C(0)) return;
  if (r.l == C(0)) {
    r = o;
#pragma unroll
    for (int t = 0; t < N; ++t) acc[t] = oacc[t];
    return;
  }
  C mx = r.m > o.m ? r.m : o.m;
  C fr = exp(r.m - mx), fo = exp(o.m - mx);
  r.m = mx;
  r.l = r.l * fr + o.l * fo;
#pragma unroll
  for (int t = 0; t < N; ++t) acc[t] = acc[t] * fr + oacc[t] * fo;
}

// Writes acc / l for one row; with sinks, the sink joins the softmax as one
// more logit with no value. A row whose keys are all masked gives 0 / 0, as
// on the CPU.
template <typename T, typename C>
__device__ inline void finish(Running<C> r, C* acc, const float* sinks, int64_t h, T* o, int64_t dv,
                              int lane) {
  if (sinks) {
    C zero[kAttnRegs] = {};
    merge(r, acc, Running<C>{C(sinks[h]), C(1)}, zero);
  }
#pragma unroll
  for (int t = 0; t < kAttnRegs; ++t) {
    int64_t e = lane + 32 * t;
    if (e < dv) o[e] = cuda::narrow<T>(acc[t] / r.l);
  }
}

// grid (rows, splits); block kAttnWarps warps. With one split the block
// writes the row's output; otherwise its partial state goes to pm/pl/pacc at
// [row * splits + split].
template <typename T, typename C>
__global__ void __launch_bounds__(kAttnWarps * 32)
    attention_kernel(const T* q, const T* k, const T* v, const void* mask, const float* sinks,
                     T* out, C* pm, C* pl, C* pacc, AttnArgs a) {
  __shared__ C sm[kAttnWarps][2], sacc[kAttnWarps][32 * kAttnRegs];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t r = blockIdx.x, split = blockIdx.y;
  const int64_t b = r / (a.hq * a.lq), h = (r / a.lq) % a.hq, i = r % a.lq;
  const int64_t kh = h / (a.hq / a.hk);
  const T* qr = q + b * a.qs[0] + h * a.qs[1] + i * a.qs[2];
  C qv[kAttnRegs], acc[kAttnRegs];
#pragma unroll
  for (int t = 0; t < kAttnRegs; ++t) {
    int64_t e = lane + 32 * t;
    qv[t] = e < a.d ? static_cast<C>(cuda::widen(qr[e])) * C(a.scale) : C(0);
    acc[t] = 0;
  }
  Running<C> run{C(-INFINITY), C(0)};
  const int64_t end = a.causal ? min(a.lk, i + a.lk - a.lq + 1) : a.lk;
  const int64_t j0 = split * a.chunk, j1 = min(end, j0 + a.chunk);
  const T* kb = k + b * a.ks[0] + kh * a.ks[1];
  const T* vb = v + b * a.vs[0] + kh * a.vs[1];
  const int64_t mrow = b * a.ms[0] + h * a.ms[1] + i * a.ms[2];
  for (int64_t j = j0 + warp; j < j1; j += kAttnWarps) {
    const T* kr = kb + j * a.ks[2];
    C s = 0;
#pragma unroll
    for (int t = 0; t < kAttnRegs; ++t) {
      int64_t e = lane + 32 * t;
      if (e < a.d) s += qv[t] * static_cast<C>(cuda::widen(kr[e]));
    }
    for (int o = 16; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (a.has_mask) {
      int64_t at = mrow + j * a.ms[3];
      if (a.bool_mask) {
        if (!static_cast<const bool*>(mask)[at]) continue;
      } else {
        s += C(static_cast<const float*>(mask)[at]);
      }
    }
    if (s == -INFINITY) continue;
    if (s > run.m) {
      C corr = exp(run.m - s);
      run.l *= corr;
#pragma unroll
      for (int t = 0; t < kAttnRegs; ++t) acc[t] *= corr;
      run.m = s;
    }
    C w = exp(s - run.m);
    run.l += w;
    const T* vr = vb + j * a.vs[2];
#pragma unroll
    for (int t = 0; t < kAttnRegs; ++t) {
      int64_t e = lane + 32 * t;
      if (e < a.dv) acc[t] += w * static_cast<C>(cuda::widen(vr[e]));
    }
  }
  // Merge the warps into warp 0.
  if (lane == 0) sm[warp][0] = run.m, sm[warp][1] = run.l;
#pragma unroll
  for (int t = 0; t < kAttnRegs; ++t) sacc[warp][lane + 32 * t] = acc[t];
  __syncthreads();
  if (warp != 0) return;
  for (int w = 1; w < kAttnWarps; ++w) {
    C other[kAttnRegs];
#pragma unroll
    for (int t = 0; t < kAttnRegs; ++t) other[t] = sacc[w][lane + 32 * t];
    merge(run, acc, Running<C>{sm[w][0], sm[w][1]}, other);
  }
  if (a.splits == 1) {
    finish(run, acc, sinks, h, out + r * a.dv, a.dv, lane);
    return;
  }
  const int64_t at = r * a.splits + split;
  if (lane == 0) pm[at] = run.m, pl[at] = run.l;
#pragma unroll
  for (int t = 0; t < kAttnRegs; ++t) {
    int64_t e = lane + 32 * t;
    if (e < a.dv) pacc[at * a.dv + e] = acc[t];
  }
}

// A warp per row: merges the row's partial states and writes it. The
// common maximum is found first, so the accumulators' sums over the splits
// are independent loads rather than a chain of merges.
template <typename T, typename C>
__global__ void attention_merge_kernel(const C* pm, const C* pl, const C* pacc, const float* sinks,
                                       T* out, AttnArgs a) {
  const int lane = threadIdx.x % 32;
  const int64_t r = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  if (r >= a.rows) return;
  const C* m = pm + r * a.splits;
  const C* l = pl + r * a.splits;
  C mx = C(-INFINITY);
  for (int64_t s = lane; s < a.splits; s += 32)
    if (l[s] != C(0) && m[s] > mx) mx = m[s];
  for (int o = 16; o > 0; o /= 2) {
    C t = __shfl_xor_sync(0xffffffffu, mx, o);
    mx = t > mx ? t : mx;
  }
  const int64_t h = (r / a.lq) % a.hq;
  if (sinks && C(sinks[h]) > mx) mx = C(sinks[h]);
  auto factor = [&](int64_t s) { return l[s] == C(0) ? C(0) : exp(m[s] - mx); };
  C sum = 0;
  for (int64_t s = lane; s < a.splits; s += 32) sum += l[s] * factor(s);
  for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  if (sinks) sum += exp(C(sinks[h]) - mx);
  T* o = out + r * a.dv;
  for (int64_t e = lane; e < a.dv; e += 32) {
    C acc = 0;
    const C* p = pacc + r * a.splits * a.dv + e;
#pragma unroll 4
    for (int64_t s = 0; s < a.splits; ++s) acc += factor(s) * p[s * a.dv];
    o[e] = cuda::narrow<T>(acc / sum);
  }
}

// Decoding (one query per row, no mask; rows of 16-byte vectors): a group of
// G lanes per key, each lane holding V = 16 / sizeof(T) of its dimensions,
// so a warp scores 32 / G keys at once with 16-byte loads, and the keys of
// one range are spread over all groups of the block rather than walked one
// by one by each warp: attention_kernel's warp-per-key loop spent a decode
// step's ~20 us per layer in the latency of a chain of dependent loads.
constexpr int kDecWarps = 4;
constexpr int64_t kDecBlocks = 512;

template <typename T, typename C, int G>
__global__ void __launch_bounds__(kDecWarps * 32)
    attention_decode_kernel(const T* q, const T* k, const T* v, const float* sinks, T* out, C* pm,
                            C* pl, C* pacc, AttnArgs a) {
  constexpr int V = 16 / sizeof(T), groups = kDecWarps * 32 / G;
  __shared__ C sm[kDecWarps][2], sacc[kDecWarps][G * V];
  const int lane = threadIdx.x % G, group = threadIdx.x / G, warp = threadIdx.x / 32;
  const int64_t r = blockIdx.x, split = blockIdx.y;
  const int64_t b = r / a.hq, h = r % a.hq, kh = h / (a.hq / a.hk);
  C qv[V], acc[V];
  {
    uint4 u = *reinterpret_cast<const uint4*>(q + b * a.qs[0] + h * a.qs[1] + lane * V);
    const T* t = reinterpret_cast<const T*>(&u);
#pragma unroll
    for (int j = 0; j < V; ++j) qv[j] = static_cast<C>(cuda::widen(t[j])) * C(a.scale), acc[j] = 0;
  }
  Running<C> run{C(-INFINITY), C(0)};
  const int64_t j0 = split * a.chunk, j1 = min(a.lk, j0 + a.chunk);
  const T* kb = k + b * a.ks[0] + kh * a.ks[1] + lane * V;
  const T* vb = v + b * a.vs[0] + kh * a.vs[1] + lane * V;
  // Every lane runs every round (the score's shuffles take the whole warp);
  // a group past the range's end scores nothing.
  for (int64_t jb = j0; jb < j1; jb += groups) {
    const int64_t j = jb + group;
    const bool live = j < j1;
    uint4 ku = make_uint4(0, 0, 0, 0), vu = make_uint4(0, 0, 0, 0);
    if (live) {
      ku = *reinterpret_cast<const uint4*>(kb + j * a.ks[2]);
      vu = *reinterpret_cast<const uint4*>(vb + j * a.vs[2]);
    }
    const T* kt = reinterpret_cast<const T*>(&ku);
    const T* vt = reinterpret_cast<const T*>(&vu);
    C s = 0;
#pragma unroll
    for (int t = 0; t < V; ++t) s += qv[t] * static_cast<C>(cuda::widen(kt[t]));
#pragma unroll
    for (int o = G / 2; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (!live || s == -INFINITY) continue;
    if (s > run.m) {
      C corr = exp(run.m - s);
      run.l *= corr;
#pragma unroll
      for (int t = 0; t < V; ++t) acc[t] *= corr;
      run.m = s;
    }
    C w = exp(s - run.m);
    run.l += w;
#pragma unroll
    for (int t = 0; t < V; ++t) acc[t] += w * static_cast<C>(cuda::widen(vt[t]));
  }
  // The groups of a warp into its first, lane by lane.
#pragma unroll
  for (int o = G; o < 32; o *= 2) {
    Running<C> other{__shfl_xor_sync(0xffffffffu, run.m, o),
                     __shfl_xor_sync(0xffffffffu, run.l, o)};
    C oacc[V];
#pragma unroll
    for (int t = 0; t < V; ++t) oacc[t] = __shfl_xor_sync(0xffffffffu, acc[t], o);
    merge<V>(run, acc, other, oacc);
  }
  // Then the warps into the first.
  const int wl = threadIdx.x % 32;
  if (wl < G) {
    if (wl == 0) sm[warp][0] = run.m, sm[warp][1] = run.l;
#pragma unroll
    for (int t = 0; t < V; ++t) sacc[warp][wl * V + t] = acc[t];
  }
  __syncthreads();
  if (threadIdx.x >= G) return;
  for (int w = 1; w < kDecWarps; ++w) {
    C other[V];
#pragma unroll
    for (int t = 0; t < V; ++t) other[t] = sacc[w][lane * V + t];
    merge<V>(run, acc, Running<C>{sm[w][0], sm[w][1]}, other);
  }
  if (a.splits == 1) {
    if (sinks) {
      C zero[V] = {};
      merge<V>(run, acc, Running<C>{C(sinks[h]), C(1)}, zero);
    }
    uint4 res;
    T* o = reinterpret_cast<T*>(&res);
#pragma unroll
    for (int t = 0; t < V; ++t) o[t] = cuda::narrow<T>(acc[t] / run.l);
    *reinterpret_cast<uint4*>(out + r * a.dv + lane * V) = res;  // out: fresh, 16-byte rows
    return;
  }
  const int64_t at = r * a.splits + split;
  if (lane == 0) pm[at] = run.m, pl[at] = run.l;
#pragma unroll
  for (int t = 0; t < V; ++t) pacc[at * a.dv + lane * V + t] = acc[t];
}

// The decoding kernel's lanes per key for head dimension d, or 0 where it
// does not apply.
template <typename T>
int decode_lanes(const AttnArgs& a, const array& q, const array& k, const array& v) {
  if (a.lq != 1 || a.has_mask || a.d != a.dv || (a.d * sizeof(T)) % 16 != 0) return 0;
  const int64_t g = a.d * int64_t(sizeof(T)) / 16;
  if (g != 4 && g != 8 && g != 16 && g != 32) return 0;
  // The leading axes' strides the kernel steps by (one of extent 1 is never
  // stepped; nor is q's length axis, of one query).
  auto ok = [](const array& x, const int64_t* st, int axes) {
    if (!cuda::aligned16({x.raw_ptr()})) return false;
    for (int i = 0; i < axes; ++i)
      if (x.shape()[i] > 1 && (st[i] * int64_t(sizeof(T))) % 16 != 0) return false;
    return true;
  };
  return ok(q, a.qs, 2) && ok(k, a.ks, 3) && ok(v, a.vs, 3) ? static_cast<int>(g) : 0;
}

// `x` with a dense last axis (a copy when it is strided).
array last_dense_gpu(cuda::CommandEncoder& enc, const array& x) {
  enc.set_input_array(x);
  if (x.shape().back() <= 1 || x.strides().back() == 1) return x;
  return cuda::contiguous_gpu(enc, x);
}

}  // namespace

void ScaledDotProductAttention::eval_gpu(const std::vector<array>& inputs,
                                         std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  array q = last_dense_gpu(enc, inputs[0]);
  array k = last_dense_gpu(enc, inputs[1]);
  array v = last_dense_gpu(enc, inputs[2]);
  if (q.shape()[3] > 32 * kAttnRegs || v.shape()[3] > 32 * kAttnRegs) {
    throw not_implemented(
        "[scaled_dot_product_attention] the GPU kernel takes head dimensions "
        "up to " +
        std::to_string(32 * kAttnRegs));
  }
  size_t next = 3;
  std::optional<array> mask;
  if (has_mask_) {
    mask = inputs[next++];
    enc.set_input_array(*mask);
  }
  const float* sinks = has_sinks_ ? static_cast<const float*>(param(enc, inputs[next])) : nullptr;
  array& out = outputs[0];
  cuda::alloc(out);
  enc.set_output_array(out);
  AttnArgs a{};
  a.hq = q.shape()[1];
  a.hk = k.shape()[1];
  a.lq = q.shape()[2];
  a.lk = k.shape()[2];
  a.d = q.shape()[3];
  a.dv = v.shape()[3];
  a.rows = q.shape()[0] * a.hq * a.lq;
  for (int i = 0; i < 3; ++i) {
    a.qs[i] = q.strides()[i];
    a.ks[i] = k.strides()[i];
    a.vs[i] = v.strides()[i];
  }
  if (mask) {
    for (int i = 0; i < 4; ++i) a.ms[i] = mask->strides()[i];
    a.has_mask = true;
    a.bool_mask = mask->dtype() == bool_;
  }
  a.causal = causal_;
  a.scale = scale_;
  if (a.rows == 0 || a.dv == 0) return;
  if (a.rows > INT_MAX) {
    throw not_implemented(
        "[scaled_dot_product_attention] the GPU kernel takes up to 2^31 - 1 "
        "query rows");
  }
  dispatch_float(q.dtype(), "scaled_dot_product_attention", [&](auto tag) {
    using T = decltype(tag);
    using C = compute_of<T>;
    const int lanes = decode_lanes<T>(a, q, k, v);
    // Split a row's keys only while the grid is small.
    const int64_t by_keys = std::max<int64_t>(1, (a.lk + kKeysPerBlock - 1) / kKeysPerBlock);
    const int64_t by_grid = std::max<int64_t>(1, (lanes > 0 ? kDecBlocks : kAttnBlocks) / a.rows);
    a.splits = std::min<int64_t>({by_keys, by_grid, 65535});
    a.chunk = std::max<int64_t>(1, (a.lk + a.splits - 1) / a.splits);
    // The splits' partial states in one temporary: maxima, sums, accumulators.
    C *pm = nullptr, *pl = nullptr, *pacc = nullptr;
    if (a.splits > 1) {
      const int64_t parts = a.rows * a.splits;
      Dtype cd = sizeof(C) == 8 ? float64 : float32;
      pm = static_cast<C*>(cuda::temporary(enc, {parts * (2 + a.dv)}, cd).raw_ptr());
      pl = pm + parts;
      pacc = pl + parts;
    }
    const T* qp = static_cast<const T*>(q.raw_ptr());
    const T* kp = static_cast<const T*>(k.raw_ptr());
    const T* vp = static_cast<const T*>(v.raw_ptr());
    T* op = static_cast<T*>(out.raw_ptr());
    dim3 grid(static_cast<unsigned>(a.rows), static_cast<unsigned>(a.splits));
    auto decode = [&](auto lanes_tag) {
      constexpr int G = decltype(lanes_tag)::value;
      attention_decode_kernel<T, C, G>
          <<<grid, kDecWarps * 32, 0, enc.cuda_stream()>>>(qp, kp, vp, sinks, op, pm, pl, pacc, a);
    };
    switch (lanes) {
      case 4: decode(std::integral_constant<int, 4>{}); break;
      case 8: decode(std::integral_constant<int, 8>{}); break;
      case 16: decode(std::integral_constant<int, 16>{}); break;
      case 32: decode(std::integral_constant<int, 32>{}); break;
      default:
        attention_kernel<T, C><<<grid, kAttnWarps * 32, 0, enc.cuda_stream()>>>(
            qp, kp, vp, mask ? mask->raw_ptr() : nullptr, sinks, op, pm, pl, pacc, a);
    }
    if (a.splits > 1) {
      cuda::check_launch("[scaled_dot_product_attention] kernel");
      attention_merge_kernel<T, C>
          <<<cuda::grid_for(a.rows * 32), cuda::kBlock, 0, enc.cuda_stream()>>>(pm, pl, pacc, sinks,
                                                                                op, a);
    }
  });
  cuda::check_launch("[scaled_dot_product_attention] kernel");
}

}  // namespace fastsync
