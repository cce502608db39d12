// Flash attention on CUDA: FlashAttention and FlashAttentionGrad
// (primitives/fast.h), on tensor cores.
//
// Contract: eval_gpu runs on the encoding thread; the ops layer builds these
// nodes only for float16/bfloat16 q, k, v of one head dimension D (64 or
// 128), without mask arrays or sinks. Operands whose rows are not dense and
// 16-byte aligned are copied first. Scores, probabilities and their
// gradients exist only in registers, a tile at a time; memory holds the
// operands, the outputs and two floats per query row: the forward's
// log-sum-exp (base 2, of the scaled scores) and the backward's
// rowsum(dO * O).
//
// Shape of the work: a block of 4 warps, each owning 16 rows of a 64-row
// tile (query rows in the forward and dq kernels, key rows in the dk/dv
// kernel), multiplying with mma.sync m16n8k16 (float32 accumulation). The
// other operand of each product is a 64-row tile in shared memory, padded
// by 8 elements a row so that the fragment loads hit distinct banks; it is
// read with ldmatrix, two n-tiles per instruction (transposing for the
// tiles that hold the product's rows). Tiles that every row of the block
// sees whole skip the causal and length masks. Where two tiles fit the
// 48 KB of static shared memory (D = 64), the loops fetch the next tile
// with cp.async while they multiply the current one. A
// product's float32 accumulator becomes the next product's operand in
// registers (the m16n8k16 accumulator of two adjacent n-tiles has the
// layout of one 16x16 operand). The backward runs two passes, as in
// FlashAttention-2 without atomics: dq by query tile, dk and dv by key tile
// (summing the query heads that share the key head), each recomputing the
// probabilities from the log-sum-exp.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "backend/cuda/copy.h"
#include "backend/cuda/kernel_utils.cuh"
#include "primitives/fast.h"

namespace fastsync {

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kTile = 16 * kWarps;  // rows of every tile
constexpr float kLog2e = 1.4426950408889634f;

// Element strides of an operand's batch, head and row axes (its features
// are dense), and its base; 16-bit elements as raw bits, whatever the type.
struct Operand {
  const uint16_t* p;
  int64_t b, h, l;
  __device__ const uint16_t* rows(int bi, int hi) const { return p + bi * b + hi * h; }
};

// An output the same way: (B, H, L, D) with dense rows, laid out as the
// operand it derives from (alloc_like), so that (B, L, H, D) layouts stay so.
struct Result {
  uint16_t* p;
  int64_t b, h, l;
  __device__ uint16_t* rows(int bi, int hi) const { return p + bi * b + hi * h; }
};

struct Shapes {
  int hq, hk, lq, lk;
  float scale;       // of the scores
  float scale_log2;  // the same times log2(e): probabilities are exp2 of it
  bool causal;       // query i sees keys up to i + lk - lq
};

__device__ inline bool visible(const Shapes& a, int query, int key) {
  return key < a.lk && (!a.causal || key <= query + a.lk - a.lq);
}

// One past the last key a tile of queries starting at q0 sees.
__device__ inline int keys_end(const Shapes& a, int q0) {
  if (!a.causal) return a.lk;
  int last = min(q0 + kTile, a.lq) - 1 + a.lk - a.lq;
  return max(0, min(a.lk, last + 1));
}

template <typename T>
struct Mma;

template <>
struct Mma<__half> {
  static __device__ inline void run(float* c, const uint32_t* a, const uint32_t* b) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
  static __device__ inline uint32_t pack(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
};

template <>
struct Mma<__nv_bfloat16> {
  static __device__ inline void run(float* c, const uint32_t* a, const uint32_t* b) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
  static __device__ inline uint32_t pack(float lo, float hi) {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
};

// Asynchronous copies (cp.async, 16 bytes; a copy of 0 bytes zero-fills)
// let a block fetch its next tile while it multiplies the current one.
__device__ inline void copy_async16(void* dst, const void* src, bool valid) {
  uint32_t d = static_cast<uint32_t>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ inline void commit_copies() { asm volatile("cp.async.commit_group;\n" ::); }
// Waits until at most N of this thread's committed groups are in flight.
template <int N>
__device__ inline void wait_copies() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Tiles a loop keeps in flight: two (fetch the next while computing on
// this one) where they fit the 48 KB of static shared memory.
template <int D>
constexpr int kStages = D <= 64 ? 2 : 1;

// A shared-memory tile of kTile rows of D elements, rows padded.
template <int D>
struct Tile {
  static constexpr int kLd = D + 8;
  alignas(16) uint16_t e[kTile * kLd];

  // Rows r0.. of `src` (row stride `ld`); rows at or past `n` are zeros.
  __device__ void load(const uint16_t* src, int64_t ld, int r0, int n) {
    constexpr int kChunks = D / 8;
    for (int c = threadIdx.x; c < kTile * kChunks; c += kThreads) {
      int r = c / kChunks, col = (c % kChunks) * 8;
      uint4 v = make_uint4(0, 0, 0, 0);
      if (r0 + r < n) v = *reinterpret_cast<const uint4*>(src + (r0 + r) * ld + col);
      *reinterpret_cast<uint4*>(e + r * kLd + col) = v;
    }
  }
  // load(), as asynchronous copies; the caller commits and waits.
  __device__ void load_async(const uint16_t* src, int64_t ld, int r0, int n) {
    constexpr int kChunks = D / 8;
    for (int c = threadIdx.x; c < kTile * kChunks; c += kThreads) {
      int r = c / kChunks, col = (c % kChunks) * 8;
      bool in = r0 + r < n;
      copy_async16(e + r * kLd + col, in ? src + (r0 + r) * ld + col : src, in);
    }
  }
  __device__ uint32_t word(int r, int c) const {
    return *reinterpret_cast<const uint32_t*>(e + r * kLd + c);
  }
  // The first operand (16 x 16, row-major) at rows r0.., columns c0...
  __device__ void a(uint32_t* f, int r0, int c0) const {
    const int g = threadIdx.x % 32 / 4, t = threadIdx.x % 4 * 2;
    f[0] = word(r0 + g, c0 + t);
    f[1] = word(r0 + g + 8, c0 + t);
    f[2] = word(r0 + g, c0 + t + 8);
    f[3] = word(r0 + g + 8, c0 + t + 8);
  }
  // ldmatrix reads four 8 x 8 matrices in one instruction: lane l names
  // row l % 8 of matrix l / 8, and matrix i lands in f[i]. Rows are 16-byte
  // aligned and 144 (or 272) bytes apart, so each phase hits 32 banks.
  __device__ static void ldmatrix_x4(uint32_t* f, const uint16_t* row) {
    uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(row));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(f[0]), "=r"(f[1]), "=r"(f[2]), "=r"(f[3])
                 : "r"(addr));
  }
  __device__ static void ldmatrix_x4_trans(uint32_t* f, const uint16_t* row) {
    uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(row));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(f[0]), "=r"(f[1]), "=r"(f[2]), "=r"(f[3])
                 : "r"(addr));
  }
  // Two second operands (16 x 8 each) B[k][n] = tile[n0 + n][k0 + k], for
  // n-tiles n0 (f[0..1]) and n0 + 8 (f[2..3]): the tile holds B's columns
  // as rows (keys for q k^T).
  __device__ void b2(uint32_t* f, int n0, int k0) const {
    const int lane = threadIdx.x % 32, mat = lane / 8;
    ldmatrix_x4(f, e + (n0 + lane % 8 + mat / 2 * 8) * kLd + k0 + mat % 2 * 8);
  }
  // Two second operands B[k][n] = tile[k0 + k][n0 + n], for n-tiles n0
  // (f[0..1]) and n0 + 8 (f[2..3]): the tile holds B's rows (values for
  // p v); the transposing load puts a column's two consecutive rows in one
  // register.
  __device__ void b_rows2(uint32_t* f, int k0, int n0) const {
    const int lane = threadIdx.x % 32, mat = lane / 8;
    ldmatrix_x4_trans(f, e + (k0 + lane % 8 + mat % 2 * 8) * kLd + n0 + mat / 2 * 8);
  }
};

// The first operand over keys kc*16.. from an accumulator of 16 rows by
// 8-column n-tiles (two adjacent n-tiles make one 16 x 16 operand).
template <typename T>
__device__ inline void as_operand(uint32_t* f, const float (*acc)[4], int kc) {
  f[0] = Mma<T>::pack(acc[2 * kc][0], acc[2 * kc][1]);
  f[1] = Mma<T>::pack(acc[2 * kc][2], acc[2 * kc][3]);
  f[2] = Mma<T>::pack(acc[2 * kc + 1][0], acc[2 * kc + 1][1]);
  f[3] = Mma<T>::pack(acc[2 * kc + 1][2], acc[2 * kc + 1][3]);
}

__device__ inline float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}

__device__ inline float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// Writes a warp's 16 x D accumulator times `mul[r]` (r: the thread's first
// or second row) as rows row0.. of a (rows, D) output with rows `ld` apart;
// rows at or past n are skipped.
template <typename T, int D>
__device__ inline void store_rows(uint16_t* out, int64_t ld, const float (*acc)[4], int row0, int n,
                                  const float* mul) {
  const int g = threadIdx.x % 32 / 4, t = threadIdx.x % 4 * 2;
  for (int r = 0; r < 2; ++r) {
    int row = row0 + g + 8 * r;
    if (row >= n) continue;
    uint16_t* o = out + int64_t(row) * ld + t;
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      *reinterpret_cast<uint32_t*>(o + j * 8) =
          Mma<T>::pack(acc[j][2 * r] * mul[r], acc[j][2 * r + 1] * mul[r]);
    }
  }
}

// The forward: a block per (query tile, head, batch entry); longest causal
// tiles first.
template <typename T, int D>
__global__ void __launch_bounds__(kThreads)
    flash_forward(Operand q, Operand k, Operand v, Result out, float* lse, Shapes a) {
  constexpr int S = kStages<D>;
  __shared__ Tile<D> ks[S], vs[S];
  const int warp = threadIdx.x / 32, g = threadIdx.x % 32 / 4, t = threadIdx.x % 4 * 2;
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kTile, h = blockIdx.y, bi = blockIdx.z;
  const int hk = h / (a.hq / a.hk);
  const int rows[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};

  uint32_t qa[D / 16][4];  // this warp's queries, staged through ks[0]
  ks[0].load(q.rows(bi, h), q.l, q0, a.lq);
  __syncthreads();
#pragma unroll
  for (int kc = 0; kc < D / 16; ++kc) ks[0].a(qa[kc], warp * 16, kc * 16);
  __syncthreads();

  float acc[D / 8][4] = {};
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  const int end = keys_end(a, q0);
  auto fetch = [&](int k0, int buf) {
    ks[buf].load_async(k.rows(bi, hk), k.l, k0, a.lk);
    vs[buf].load_async(v.rows(bi, hk), v.l, k0, a.lk);
    commit_copies();
  };
  if (end > 0) fetch(0, 0);
  for (int k0 = 0, it = 0; k0 < end; k0 += kTile, ++it) {
    const int cur = it % S;
    if constexpr (S == 2) {
      if (k0 + kTile < end) {
        fetch(k0 + kTile, cur ^ 1);  // its buffer was read by the last tile
        wait_copies<1>();
      } else {
        wait_copies<0>();
      }
    } else {
      wait_copies<0>();
    }
    __syncthreads();
    float s[kTile / 8][4] = {};
#pragma unroll
    for (int j = 0; j < kTile / 8; j += 2) {
#pragma unroll
      for (int kc = 0; kc < D / 16; ++kc) {
        uint32_t b[4];
        ks[cur].b2(b, j * 8, kc * 16);
        Mma<T>::run(s[j], qa[kc], b);
        Mma<T>::run(s[j + 1], qa[kc], b + 2);
      }
    }
    // A tile every row of this block sees whole needs no mask.
    const bool whole = k0 + kTile <= a.lk && (!a.causal || k0 + kTile - 1 <= q0 + a.lk - a.lq);
    float mx[2] = {m[0], m[1]};
#pragma unroll
    for (int j = 0; j < kTile / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        int r = e / 2, key = k0 + j * 8 + t + e % 2;
        s[j][e] = whole || visible(a, rows[r], key) ? s[j][e] * a.scale_log2 : -INFINITY;
        mx[r] = fmaxf(mx[r], s[j][e]);
      }
    }
    float base[2], alpha[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mx[r] = quad_max(mx[r]);
      base[r] = mx[r] == -INFINITY ? 0.f : mx[r];  // a row with no key yet
      alpha[r] = exp2f(m[r] - base[r]);
      m[r] = mx[r];
      l[r] *= alpha[r];
    }
#pragma unroll
    for (int j = 0; j < kTile / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[j][e] = exp2f(s[j][e] - base[e / 2]);
        l[e / 2] += s[j][e];
      }
    }
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[j][e] *= alpha[e / 2];
    }
#pragma unroll
    for (int kc = 0; kc < kTile / 16; ++kc) {
      uint32_t p[4];
      as_operand<T>(p, s, kc);
#pragma unroll
      for (int j = 0; j < D / 8; j += 2) {
        uint32_t b[4];
        vs[cur].b_rows2(b, kc * 16, j * 8);
        Mma<T>::run(acc[j], p, b);
        Mma<T>::run(acc[j + 1], p, b + 2);
      }
    }
    __syncthreads();  // this tile is read: its buffer may be refilled
    if (S == 1 && k0 + kTile < end) fetch(k0 + kTile, 0);
  }
  float inv[2];
  for (int r = 0; r < 2; ++r) {
    l[r] = quad_sum(l[r]);
    inv[r] = 1.f / l[r];  // a row that saw no key: 0 * inf, NaN as the composed form
  }
  const int64_t head = int64_t(bi) * a.hq + h;
  store_rows<T, D>(out.rows(bi, h), out.l, acc, q0 + warp * 16, a.lq, inv);
  if (t == 0) {
    for (int r = 0; r < 2; ++r) {
      if (rows[r] < a.lq) lse[head * a.lq + rows[r]] = m[r] + log2f(l[r]);
    }
  }
}

// rowsum(dO * O) per query row, in float32: a warp per row.
template <typename T, int D>
__global__ void flash_row_dot(Operand dout, Operand out, float* delta, int64_t rows, int hq,
                              int lq) {
  int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const int i = row % lq, h = row / lq % hq, bi = row / lq / hq;
  const T* d = reinterpret_cast<const T*>(dout.rows(bi, h) + i * dout.l);
  const T* o = reinterpret_cast<const T*>(out.rows(bi, h) + i * out.l);
  float s = 0.f;
  for (int c = lane; c < D; c += 32) s += float(d[c]) * float(o[c]);
  for (int off = 16; off > 0; off /= 2) s += __shfl_xor_sync(0xffffffffu, s, off);
  if (lane == 0) delta[row] = s;
}

// dq = dS k * scale, dS = P * (dO v^T - delta): a block per (query tile,
// head, batch entry).
template <typename T, int D>
__global__ void __launch_bounds__(kThreads)
    flash_dq(Operand q, Operand k, Operand v, Operand dout, const float* lse, const float* delta,
             Result dq, Shapes a) {
  constexpr int S = kStages<D>;
  __shared__ Tile<D> ks[S], vs[S];
  const int warp = threadIdx.x / 32, g = threadIdx.x % 32 / 4, t = threadIdx.x % 4 * 2;
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kTile, h = blockIdx.y, bi = blockIdx.z;
  const int hk = h / (a.hq / a.hk);
  const int64_t head = int64_t(bi) * a.hq + h;
  const int rows[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
  float ls[2], dl[2];
  for (int r = 0; r < 2; ++r) {
    bool in = rows[r] < a.lq;
    ls[r] = in ? lse[head * a.lq + rows[r]] : 0.f;
    dl[r] = in ? delta[head * a.lq + rows[r]] : 0.f;
  }

  uint32_t qa[D / 16][4], da[D / 16][4];
  ks[0].load(q.rows(bi, h), q.l, q0, a.lq);
  vs[0].load(dout.rows(bi, h), dout.l, q0, a.lq);
  __syncthreads();
#pragma unroll
  for (int kc = 0; kc < D / 16; ++kc) {
    ks[0].a(qa[kc], warp * 16, kc * 16);
    vs[0].a(da[kc], warp * 16, kc * 16);
  }
  __syncthreads();

  float acc[D / 8][4] = {};
  const int end = keys_end(a, q0);
  auto fetch = [&](int k0, int buf) {
    ks[buf].load_async(k.rows(bi, hk), k.l, k0, a.lk);
    vs[buf].load_async(v.rows(bi, hk), v.l, k0, a.lk);
    commit_copies();
  };
  if (end > 0) fetch(0, 0);
  for (int k0 = 0, it = 0; k0 < end; k0 += kTile, ++it) {
    const int cur = it % S;
    if constexpr (S == 2) {
      if (k0 + kTile < end) {
        fetch(k0 + kTile, cur ^ 1);  // its buffer was read by the last tile
        wait_copies<1>();
      } else {
        wait_copies<0>();
      }
    } else {
      wait_copies<0>();
    }
    __syncthreads();
    float s[kTile / 8][4] = {}, dp[kTile / 8][4] = {};
#pragma unroll
    for (int j = 0; j < kTile / 8; j += 2) {
#pragma unroll
      for (int kc = 0; kc < D / 16; ++kc) {
        uint32_t b[4];
        ks[cur].b2(b, j * 8, kc * 16);
        Mma<T>::run(s[j], qa[kc], b);
        Mma<T>::run(s[j + 1], qa[kc], b + 2);
        vs[cur].b2(b, j * 8, kc * 16);
        Mma<T>::run(dp[j], da[kc], b);
        Mma<T>::run(dp[j + 1], da[kc], b + 2);
      }
    }
    const bool whole = k0 + kTile <= a.lk && (!a.causal || k0 + kTile - 1 <= q0 + a.lk - a.lq);
#pragma unroll
    for (int j = 0; j < kTile / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        int r = e / 2, key = k0 + j * 8 + t + e % 2;
        float p = whole || visible(a, rows[r], key) ? exp2f(s[j][e] * a.scale_log2 - ls[r]) : 0.f;
        s[j][e] = p * (dp[j][e] - dl[r]);
      }
    }
#pragma unroll
    for (int kc = 0; kc < kTile / 16; ++kc) {
      uint32_t f[4];
      as_operand<T>(f, s, kc);
#pragma unroll
      for (int j = 0; j < D / 8; j += 2) {
        uint32_t b[4];
        ks[cur].b_rows2(b, kc * 16, j * 8);
        Mma<T>::run(acc[j], f, b);
        Mma<T>::run(acc[j + 1], f, b + 2);
      }
    }
    __syncthreads();  // this tile is read: its buffer may be refilled
    if (S == 1 && k0 + kTile < end) fetch(k0 + kTile, 0);
  }
  const float mul[2] = {a.scale, a.scale};
  store_rows<T, D>(dq.rows(bi, h), dq.l, acc, q0 + warp * 16, a.lq, mul);
}

// dk = dS^T q * scale and dv = P^T dO, summed over the query heads that
// share the key head: a block per (key tile, key head, batch entry), each
// warp owning 16 keys and computing the transposed tiles (keys by queries).
template <typename T, int D>
__global__ void __launch_bounds__(kThreads)
    flash_dkdv(Operand q, Operand k, Operand v, Operand dout, const float* lse, const float* delta,
               Result dk, Result dv, Shapes a) {
  constexpr int S = kStages<D>;
  __shared__ Tile<D> qs[S], ds[S];
  __shared__ float ls[S][kTile], dl[S][kTile];
  const int warp = threadIdx.x / 32, g = threadIdx.x % 32 / 4, t = threadIdx.x % 4 * 2;
  const int k0 = blockIdx.x * kTile, hk = blockIdx.y, bi = blockIdx.z;
  const int rep = a.hq / a.hk;
  const int keys[2] = {k0 + warp * 16 + g, k0 + warp * 16 + g + 8};

  uint32_t ka[D / 16][4], va[D / 16][4];  // this warp's keys and values
  qs[0].load(k.rows(bi, hk), k.l, k0, a.lk);
  ds[0].load(v.rows(bi, hk), v.l, k0, a.lk);
  __syncthreads();
#pragma unroll
  for (int kc = 0; kc < D / 16; ++kc) {
    qs[0].a(ka[kc], warp * 16, kc * 16);
    ds[0].a(va[kc], warp * 16, kc * 16);
  }
  __syncthreads();

  float dka[D / 8][4] = {}, dva[D / 8][4] = {};
  // Queries before the first that sees this tile's first key are skipped.
  // One step per (query head sharing this key head, query tile).
  const int first = a.causal ? max(0, k0 - (a.lk - a.lq)) / kTile * kTile : 0;
  const int per_head = first < a.lq ? (a.lq - first + kTile - 1) / kTile : 0;
  const int steps = rep * per_head;
  auto fetch = [&](int step, int buf) {
    const int h = hk * rep + step / per_head, q0 = first + step % per_head * kTile;
    const int64_t head = int64_t(bi) * a.hq + h;
    qs[buf].load_async(q.rows(bi, h), q.l, q0, a.lq);
    ds[buf].load_async(dout.rows(bi, h), dout.l, q0, a.lq);
    commit_copies();
    for (int i = threadIdx.x; i < kTile; i += kThreads) {
      bool in = q0 + i < a.lq;
      ls[buf][i] = in ? lse[head * a.lq + q0 + i] : 0.f;
      dl[buf][i] = in ? delta[head * a.lq + q0 + i] : 0.f;
    }
  };
  if (steps > 0) fetch(0, 0);
  for (int step = 0; step < steps; ++step) {
    const int q0 = first + step % per_head * kTile, cur = step % S;
    if constexpr (S == 2) {
      if (step + 1 < steps) {
        fetch(step + 1, cur ^ 1);  // its buffers were read by the last step
        wait_copies<1>();
      } else {
        wait_copies<0>();
      }
    } else {
      wait_copies<0>();
    }
    __syncthreads();
    float s[kTile / 8][4] = {}, dp[kTile / 8][4] = {};
#pragma unroll
    for (int j = 0; j < kTile / 8; j += 2) {
#pragma unroll
      for (int kc = 0; kc < D / 16; ++kc) {
        uint32_t b[4];
        qs[cur].b2(b, j * 8, kc * 16);
        Mma<T>::run(s[j], ka[kc], b);
        Mma<T>::run(s[j + 1], ka[kc], b + 2);
        ds[cur].b2(b, j * 8, kc * 16);
        Mma<T>::run(dp[j], va[kc], b);
        Mma<T>::run(dp[j + 1], va[kc], b + 2);
      }
    }
    // Every query of the tile sees every key of this block: no mask.
    const bool whole = q0 + kTile <= a.lq && k0 + kTile <= a.lk &&
                       (!a.causal || k0 + kTile - 1 <= q0 + a.lk - a.lq);
#pragma unroll
    for (int j = 0; j < kTile / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        int c = j * 8 + t + e % 2, query = q0 + c;
        bool ok = whole || (query < a.lq && visible(a, query, keys[e / 2]));
        float p = ok ? exp2f(s[j][e] * a.scale_log2 - ls[cur][c]) : 0.f;
        s[j][e] = p;
        dp[j][e] = p * (dp[j][e] - dl[cur][c]);
      }
    }
#pragma unroll
    for (int kc = 0; kc < kTile / 16; ++kc) {
      uint32_t pf[4], sf[4];
      as_operand<T>(pf, s, kc);
      as_operand<T>(sf, dp, kc);
#pragma unroll
      for (int j = 0; j < D / 8; j += 2) {
        uint32_t b[4];
        ds[cur].b_rows2(b, kc * 16, j * 8);
        Mma<T>::run(dva[j], pf, b);
        Mma<T>::run(dva[j + 1], pf, b + 2);
        qs[cur].b_rows2(b, kc * 16, j * 8);
        Mma<T>::run(dka[j], sf, b);
        Mma<T>::run(dka[j + 1], sf, b + 2);
      }
    }
    __syncthreads();  // this step's tiles are read: their buffers may be refilled
    if (S == 1 && step + 1 < steps) fetch(step + 1, 0);
  }
  const float one[2] = {1.f, 1.f}, scale[2] = {a.scale, a.scale};
  store_rows<T, D>(dk.rows(bi, hk), dk.l, dka, k0 + warp * 16, a.lk, scale);
  store_rows<T, D>(dv.rows(bi, hk), dv.l, dva, k0 + warp * 16, a.lk, one);
}

// `x` as the kernels read it: dense features, rows on 16-byte boundaries
// (a contiguous copy otherwise).
Operand operand(cuda::CommandEncoder& enc, const array& x) {
  enc.set_input_array(x);
  bool ok = x.strides()[3] == 1 && reinterpret_cast<uintptr_t>(x.raw_ptr()) % 16 == 0;
  for (int i = 0; i < 3; ++i) ok = ok && x.strides()[i] % 8 == 0;
  array y = ok ? x : cuda::contiguous_gpu(enc, x);
  return {static_cast<const uint16_t*>(y.raw_ptr()), y.strides()[0], y.strides()[1],
          y.strides()[2]};
}

// An output allocated in `like`'s axis order, as the kernels write it.
Result result_like(cuda::CommandEncoder& enc, const array& like, array& out) {
  cuda::alloc_like(like, out);
  enc.set_output_array(out);
  return {static_cast<uint16_t*>(out.raw_ptr()), out.strides()[0], out.strides()[1],
          out.strides()[2]};
}

Shapes shapes_of(const array& q, const array& k, float scale, bool causal) {
  if (q.shape()[2] > INT_MAX / 2 || k.shape()[2] > INT_MAX / 2) {
    throw not_implemented("[scaled_dot_product_attention] flash attention takes up to 2^30 rows");
  }
  Shapes a{};
  a.hq = static_cast<int>(q.shape()[1]);
  a.hk = static_cast<int>(k.shape()[1]);
  a.lq = static_cast<int>(q.shape()[2]);
  a.lk = static_cast<int>(k.shape()[2]);
  a.scale = scale;
  a.scale_log2 = scale * kLog2e;
  a.causal = causal;
  return a;
}

unsigned tiles(int n) { return static_cast<unsigned>((n + kTile - 1) / kTile); }

// Calls f(TypeTag<T>, D) for the operands' type and head dimension.
template <typename F>
void dispatch_flash(Dtype t, int64_t d, F&& f) {
  auto with_d = [&](auto tag) {
    if (d == 64) return f(tag, std::integral_constant<int, 64>{});
    if (d == 128) return f(tag, std::integral_constant<int, 128>{});
    throw not_implemented(
        "[scaled_dot_product_attention] flash attention takes head dimension "
        "64 or 128, got " +
        std::to_string(d));
  };
  if (t == float16) return with_d(cuda::TypeTag<__half>{});
  if (t == bfloat16) return with_d(cuda::TypeTag<__nv_bfloat16>{});
  throw not_implemented(
      "[scaled_dot_product_attention] flash attention takes float16 or "
      "bfloat16, got " +
      std::string(t.name()));
}

}  // namespace

void FlashAttention::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  const array& q = inputs[0];
  Operand qo = operand(enc, q), ko = operand(enc, inputs[1]), vo = operand(enc, inputs[2]);
  Result o = result_like(enc, q, outputs[0]);
  cuda::alloc(outputs[1]);
  enc.set_output_array(outputs[1]);
  Shapes a = shapes_of(q, inputs[1], scale_, causal_);
  if (q.size() == 0) return;
  dim3 grid(tiles(a.lq), a.hq, static_cast<unsigned>(q.shape()[0]));
  dispatch_flash(q.dtype(), q.shape()[3], [&](auto tag, auto d) {
    using T = typename decltype(tag)::type;
    flash_forward<T, decltype(d)::value><<<grid, kThreads, 0, enc.cuda_stream()>>>(
        qo, ko, vo, o, static_cast<float*>(outputs[1].raw_ptr()), a);
  });
  cuda::check_launch("[scaled_dot_product_attention] flash attention kernel");
}

void FlashAttentionGrad::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  const array &q = inputs[0], &k = inputs[1];
  Operand qo = operand(enc, q), ko = operand(enc, k), vo = operand(enc, inputs[2]);
  Operand dout = operand(enc, inputs[5]);
  Operand fwd = operand(enc, inputs[3]);  // the forward's output: dense rows, its own
  enc.set_input_array(inputs[4]);
  Result dq = result_like(enc, q, outputs[0]), dk = result_like(enc, k, outputs[1]),
         dv = result_like(enc, inputs[2], outputs[2]);
  Shapes a = shapes_of(q, k, scale_, causal_);
  if (q.size() == 0 && k.size() == 0) return;
  const int64_t rows = q.shape()[0] * a.hq * a.lq;
  const unsigned batch = static_cast<unsigned>(q.shape()[0]);
  array delta = cuda::temporary(enc, {std::max<int64_t>(rows, 1)}, float32);
  auto* lse = static_cast<const float*>(inputs[4].raw_ptr());
  auto* dl = static_cast<float*>(delta.raw_ptr());
  dispatch_flash(q.dtype(), q.shape()[3], [&](auto tag, auto d) {
    using T = typename decltype(tag)::type;
    constexpr int D = decltype(d)::value;
    cudaStream_t st = enc.cuda_stream();
    if (rows > 0) {
      flash_row_dot<T, D>
          <<<cuda::grid_for(rows * 32), cuda::kBlock, 0, st>>>(dout, fwd, dl, rows, a.hq, a.lq);
      cuda::check_launch("[scaled_dot_product_attention] flash attention backward");
      flash_dq<T, D>
          <<<dim3(tiles(a.lq), a.hq, batch), kThreads, 0, st>>>(qo, ko, vo, dout, lse, dl, dq, a);
      cuda::check_launch("[scaled_dot_product_attention] flash attention backward");
    }
    if (k.size() > 0) {
      flash_dkdv<T, D><<<dim3(tiles(a.lk), a.hk, batch), kThreads, 0, st>>>(qo, ko, vo, dout, lse,
                                                                            dl, dk, dv, a);
      cuda::check_launch("[scaled_dot_product_attention] flash attention backward");
    }
  });
}

}  // namespace fastsync
