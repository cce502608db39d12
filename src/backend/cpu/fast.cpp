// CPU kernels for the fused primitives of primitives/fast.h. Encoding thread
// plans (contiguous operands, output buffer); the worker runs one pass over
// rows, split across the kernel thread pool. Statistics in float (double for
// float64), one rounding to the output dtype.
#include "primitives/fast.h"

#include <cmath>
#include <optional>
#include <vector>

#include "backend/cpu/copy.h"
#include "backend/cpu/parallel.h"
#include "backend/cpu/utils.h"

namespace fastsync {

namespace {

// `a` itself when row-contiguous, else a contiguous copy the task makes first,
// held in `staged` (and by the encoder, as a temporary). No handle on `a` is
// taken, so `a` can still be donated to the output; the op declares its
// inputs after choosing the output's buffer.
const array& contiguous_input(cpu::CommandEncoder& enc, const array& a,
                              std::optional<array>& staged) {
  if (a.flags().row_contiguous) return a;
  enc.set_input_array(a);
  array c(a.shape(), a.dtype(), nullptr, {});
  c.detach();
  cpu::alloc(c);
  enc.dispatch([in = a.unsafe_weak_copy(), out = c.unsafe_weak_copy()]() mutable {
    cpu::copy_kernel(in, out);
  });
  enc.add_temporary(c);
  staged = std::move(c);
  return *staged;
}

void declare_inputs(cpu::CommandEncoder& enc, const std::vector<array>& inputs) {
  for (const array& in : inputs) enc.set_input_array(in);
}

// Sum of f(x[i]) with 8 independent partials, so the loop vectorizes.
template <typename C, typename T, typename F>
C row_sum(const T* x, int64_t n, F f) {
  constexpr int L = 8;
  C part[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    for (int l = 0; l < L; ++l) part[l] += f(C(x[i + l]));
  }
  C s = 0;
  for (; i < n; ++i) s += f(C(x[i]));
  for (int l = 0; l < L; ++l) s += part[l];
  return s;
}

void for_rows(int64_t rows, int64_t n, const std::function<void(int64_t)>& row) {
  int64_t grain = std::max<int64_t>(1, cpu::kParallelGrain / std::max<int64_t>(n, 1));
  cpu::parallel_for(rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) row(r);
  });
}

template <typename T>
void rms_rows(const T* x, const T* w, T* y, int64_t rows, int64_t n, float eps) {
  using C = compute_t<T>;
  for_rows(rows, n, [&](int64_t r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    C ss = row_sum<C>(xr, n, [](C v) { return v * v; });
    C inv = C(1) / std::sqrt(ss / C(n) + C(eps));
    if (w) {
      for (int64_t i = 0; i < n; ++i) yr[i] = T(C(xr[i]) * inv * C(w[i]));
    } else {
      for (int64_t i = 0; i < n; ++i) yr[i] = T(C(xr[i]) * inv);
    }
  });
}

// RMSNorm's gradients: per row, dx = inv * (g - x * inv * mean(g * x * inv))
// with g = c * w; inv is kept per row for dw = sum over rows of c * x * inv,
// which column blocks accumulate row by row (rows stay contiguous reads).
template <typename T>
void rms_grad(const T* x, const T* w, const T* c, T* dx, T* dw, int64_t rows, int64_t n,
              float eps) {
  using C = compute_t<T>;
  std::vector<C> inv(rows);
  for_rows(rows, n, [&](int64_t r) {
    const T* xr = x + r * n;
    const T* cr = c + r * n;
    T* dr = dx + r * n;
    C i = C(1) / std::sqrt(row_sum<C>(xr, n, [](C v) { return v * v; }) / C(n) + C(eps));
    C gx = 0;
    for (int64_t j = 0; j < n; ++j) gx += C(cr[j]) * (w ? C(w[j]) : C(1)) * C(xr[j]);
    C proj = gx * i / C(n);
    for (int64_t j = 0; j < n; ++j) {
      C g = C(cr[j]) * (w ? C(w[j]) : C(1));
      dr[j] = T(i * (g - C(xr[j]) * i * proj));
    }
    inv[r] = i;
  });
  if (!dw) return;
  int64_t grain = std::max<int64_t>(8, cpu::kParallelGrain / std::max<int64_t>(rows, 1));
  cpu::parallel_for(n, grain, [&](int64_t b, int64_t e) {
    std::vector<C> acc(e - b, C(0));
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = x + r * n;
      const T* cr = c + r * n;
      for (int64_t j = b; j < e; ++j) acc[j - b] += C(cr[j]) * C(xr[j]) * inv[r];
    }
    for (int64_t j = b; j < e; ++j) dw[j] = T(acc[j - b]);
  });
}

template <typename T>
void layer_rows(const T* x, const T* w, const T* b, T* y, int64_t rows, int64_t n, float eps) {
  using C = compute_t<T>;
  for_rows(rows, n, [&](int64_t r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    C mean = row_sum<C>(xr, n, [](C v) { return v; }) / C(n);
    C var = row_sum<C>(xr, n, [mean](C v) { return (v - mean) * (v - mean); }) / C(n);
    C inv = C(1) / std::sqrt(var + C(eps));
    for (int64_t i = 0; i < n; ++i) {
      C v = (C(xr[i]) - mean) * inv;
      if (w) v *= C(w[i]);
      if (b) v += C(b[i]);
      yr[i] = T(v);
    }
  });
}

template <typename F>
void dispatch_float(Dtype dt, const char* op, F&& f) {
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<compute_t<T>>) {
      f(tag);
    } else {
      throw std::logic_error(std::string("[") + op + "] the ops layer sends floats only");
    }
  });
}

}  // namespace

void RMSNorm::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cpu::encoder_for(*this);
  std::optional<array> xs, ws;
  const array& x = contiguous_input(enc, inputs[0], xs);
  const void* w = has_w_ ? contiguous_input(enc, inputs[1], ws).raw_ptr() : nullptr;
  array& out = outputs[0];
  cpu::donate_or_alloc(x, out);
  declare_inputs(enc, inputs);
  enc.set_output_array(out);
  int64_t n = x.shape().back();
  int64_t rows = n ? x.size() / n : 0;
  enc.dispatch([x = x.raw_ptr(), w, y = out.raw_ptr(), dt = x.dtype(), rows, n, eps = eps_] {
    dispatch_float(dt, "rms_norm", [&](auto tag) {
      using T = decltype(tag);
      rms_rows(static_cast<const T*>(x), static_cast<const T*>(w), static_cast<T*>(y), rows, n,
               eps);
    });
  });
}

void RMSNormGrad::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cpu::encoder_for(*this);
  std::optional<array> xs, ws, cs;
  const array& x = contiguous_input(enc, inputs[0], xs);
  const void* w = has_w_ ? contiguous_input(enc, inputs[1], ws).raw_ptr() : nullptr;
  const array& c = contiguous_input(enc, inputs.back(), cs);
  declare_inputs(enc, inputs);
  for (array& o : outputs) {
    cpu::alloc(o);
    enc.set_output_array(o);
  }
  int64_t n = x.shape().back();
  int64_t rows = n ? x.size() / n : 0;
  void* dw = with_dw_ ? outputs[1].raw_ptr() : nullptr;
  enc.dispatch([x = x.raw_ptr(), w, c = c.raw_ptr(), dx = outputs[0].raw_ptr(), dw, dt = x.dtype(),
                rows, n, eps = eps_] {
    dispatch_float(dt, "rms_norm", [&](auto tag) {
      using T = decltype(tag);
      rms_grad<T>(static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(c),
                  static_cast<T*>(dx), static_cast<T*>(dw), rows, n, eps);
    });
  });
}

void LayerNorm::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cpu::encoder_for(*this);
  std::optional<array> xs, ws, bs;
  const array& x = contiguous_input(enc, inputs[0], xs);
  size_t next = 1;
  const void* w = has_w_ ? contiguous_input(enc, inputs[next++], ws).raw_ptr() : nullptr;
  const void* b = has_b_ ? contiguous_input(enc, inputs[next++], bs).raw_ptr() : nullptr;
  array& out = outputs[0];
  cpu::donate_or_alloc(x, out);
  declare_inputs(enc, inputs);
  enc.set_output_array(out);
  int64_t n = x.shape().back();
  int64_t rows = n ? x.size() / n : 0;
  enc.dispatch([x = x.raw_ptr(), w, b, y = out.raw_ptr(), dt = x.dtype(), rows, n, eps = eps_] {
    dispatch_float(dt, "layer_norm", [&](auto tag) {
      using T = decltype(tag);
      layer_rows(static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(b),
                 static_cast<T*>(y), rows, n, eps);
    });
  });
}

namespace {

struct RopePlan {
  int64_t rows, length, width, per_offset;  // rows of `width`; `length` positions
  int dims;
  bool traditional;
  float scale;
  int n_offsets;
  // A strided x with dense rows (q or k viewed as (B, H, L, D) out of a
  // projection) is read in place: its leading axes' sizes and strides.
  // Empty: x's rows are contiguous, row r at r * width.
  std::vector<int64_t> lead_shape, lead_strides;

  int64_t row_offset(int64_t r) const {
    if (lead_shape.empty()) return r * width;
    int64_t off = 0;
    for (size_t d = lead_shape.size(); d-- > 0;) {
      off += (r % lead_shape[d]) * lead_strides[d];
      r /= lead_shape[d];
    }
    return off;
  }
};

// With one offset for every row, rows at the same position (every head and
// batch entry) share their angles: a (position, frequency) table of cosines
// and sines is computed first when rows repeat positions, the same values
// the per-row loop computes, with a fraction of the trigonometry.
template <typename T>
void rope_rows(const RopePlan& p, const T* x, T* y, const int32_t* offsets,
               const std::vector<float>& inv_freq) {
  using C = compute_t<T>;
  int half = p.dims / 2;
  auto angle_of = [&](int64_t r, int i) {
    int64_t entry = p.n_offsets == 1 ? 0 : r / p.per_offset;
    C pos = C(offsets[entry]) + C(r % p.length);
    return pos * C(p.scale) * C(inv_freq[i]);
  };
  std::vector<C> table;  // (length, half) pairs of cos, sin
  if (p.n_offsets == 1 && p.rows >= 2 * p.length) {
    table.resize(size_t(p.length) * half * 2);
    for_rows(p.length, half, [&](int64_t l) {
      for (int i = 0; i < half; ++i) {
        C angle = angle_of(l, i);
        table[(l * half + i) * 2] = std::cos(angle);
        table[(l * half + i) * 2 + 1] = std::sin(angle);
      }
    });
  }
  for_rows(p.rows, p.width, [&](int64_t r) {
    const T* xr = x + p.row_offset(r);
    T* yr = y + r * p.width;
    const C* cs = table.empty() ? nullptr : table.data() + (r % p.length) * half * 2;
    for (int i = 0; i < half; ++i) {
      C c, s;
      if (cs) {
        c = cs[2 * i];
        s = cs[2 * i + 1];
      } else {
        C angle = angle_of(r, i);
        c = std::cos(angle);
        s = std::sin(angle);
      }
      int64_t i0 = p.traditional ? 2 * i : i;
      int64_t i1 = p.traditional ? 2 * i + 1 : i + half;
      C a = C(xr[i0]), b = C(xr[i1]);
      yr[i0] = T(a * c - b * s);
      yr[i1] = T(a * s + b * c);
    }
    if (yr != xr) {
      for (int64_t i = p.dims; i < p.width; ++i) yr[i] = xr[i];
    }
  });
}

}  // namespace

void RoPE::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cpu::encoder_for(*this);
  std::optional<array> xs, os, fs;
  const array& x0 = inputs[0];
  // Dense rows are read where they are; anything else is copied first.
  const bool rows_dense = x0.ndim() >= 2 && x0.strides().back() == 1;
  const array& x = rows_dense ? x0 : contiguous_input(enc, x0, xs);
  const array& offsets = contiguous_input(enc, inputs[1], os);
  const array* freqs = has_freqs_ ? &contiguous_input(enc, inputs[2], fs) : nullptr;
  array& out = outputs[0];
  cpu::donate_or_alloc(x, out);
  declare_inputs(enc, inputs);
  enc.set_output_array(out);
  RopePlan p;
  p.width = x.shape().back();
  p.length = x.shape()[x.ndim() - 2];
  p.rows = p.width && p.length ? x.size() / p.width : 0;
  p.n_offsets = static_cast<int>(offsets.size());
  p.per_offset = p.n_offsets > 1 ? p.rows / p.n_offsets : p.rows;
  p.dims = dims_;
  p.traditional = traditional_;
  p.scale = scale_;
  if (!x.flags().row_contiguous) {
    p.lead_shape.assign(x.shape().begin(), x.shape().end() - 1);
    p.lead_strides.assign(x.strides().begin(), x.strides().end() - 1);
  }
  enc.dispatch([p, x = x.raw_ptr(), y = out.raw_ptr(), dt = x.dtype(), off = offsets.raw_ptr(),
                f = freqs ? freqs->raw_ptr() : nullptr, base = base_] {
    int half = p.dims / 2;
    std::vector<float> inv(half);
    for (int i = 0; i < half; ++i) {
      inv[i] = f ? 1.0f / static_cast<const float*>(f)[i]
                 : static_cast<float>(std::pow(double(base), -2.0 * i / p.dims));
    }
    dispatch_float(dt, "rope", [&](auto tag) {
      using T = decltype(tag);
      rope_rows(p, static_cast<const T*>(x), static_cast<T*>(y), static_cast<const int32_t*>(off),
                inv);
    });
  });
}

}  // namespace fastsync

// --- attention ------------------------------------------------------------

namespace fastsync {

namespace {

struct AttnPlan {
  int64_t hq, hk, lq, lk, d, dv;
  int64_t qs[3], ks[3], vs[3], ms[4];  // element strides: batch, head, row (, key)
  bool causal, bool_mask;
  float scale;
};

// `a` when its last axis is dense, else a row-contiguous copy.
array last_dense(cpu::CommandEncoder& enc, const array& a) {
  enc.set_input_array(a);
  if (a.shape().back() <= 1 || a.strides().back() == 1) return a;
  std::optional<array> staged;
  return contiguous_input(enc, a, staged);
}

// dot(a, b) over n with 16 independent partials, so the loop vectorizes.
template <typename C, typename T>
inline C dot(const C* a, const T* b, int64_t n) {
  constexpr int L = 16;
  C part[L] = {};
  int64_t e = 0;
  for (; e + L <= n; e += L) {
    for (int l = 0; l < L; ++l) part[l] += a[e + l] * C(b[e + l]);
  }
  C s = 0;
  for (; e < n; ++e) s += a[e] * C(b[e]);
  for (int l = 0; l < L; ++l) s += part[l];
  return s;
}

// Per query row: every score into a row buffer (vectorized dots), then the
// row's max and exponentials, then the weighted sum of value rows (a
// vectorized axpy each). Keys are visited in blocks so one block's rows stay
// in cache across the two passes.
template <typename T>
void attention_rows(const AttnPlan& p, int64_t rows, const T* q, const T* k, const T* v,
                    const void* mask, const float* sinks, T* out) {
  using C = compute_t<T>;
  int64_t grain = std::max<int64_t>(1, cpu::kParallelGrain / std::max<int64_t>(p.lk * p.d, 1));
  cpu::parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    std::vector<C> qv(p.d), acc(p.dv), score(p.lk);
    for (int64_t r = r0; r < r1; ++r) {
      int64_t b = r / (p.hq * p.lq), h = (r / p.lq) % p.hq, i = r % p.lq;
      int64_t kh = h / (p.hq / p.hk);
      const T* qr = q + b * p.qs[0] + h * p.qs[1] + i * p.qs[2];
      for (int64_t e = 0; e < p.d; ++e) qv[e] = C(qr[e]) * C(p.scale);
      int64_t end = p.causal ? std::min(p.lk, i + p.lk - p.lq + 1) : p.lk;
      const T* kb = k + b * p.ks[0] + kh * p.ks[1];
      const T* vb = v + b * p.vs[0] + kh * p.vs[1];
      int64_t mrow = b * p.ms[0] + h * p.ms[1] + i * p.ms[2];
      C m = sinks ? C(sinks[h]) : C(-INFINITY);
      for (int64_t j = 0; j < end; ++j) {
        C s = dot(qv.data(), kb + j * p.ks[2], p.d);
        if (mask) {
          int64_t at = mrow + j * p.ms[3];
          if (p.bool_mask) {
            if (!static_cast<const bool*>(mask)[at]) s = -INFINITY;
          } else {
            s += C(static_cast<const float*>(mask)[at]);
          }
        }
        score[j] = s;
        m = s > m ? s : m;
      }
      std::fill(acc.begin(), acc.end(), C(0));
      // A row that sees nothing (all -inf, no sink) is 0/0, as softmax gives.
      C shift = m == C(-INFINITY) ? C(0) : m;
      C l = sinks ? std::exp(C(sinks[h]) - shift) : C(0);
      for (int64_t j = 0; j < end; ++j) {
        if (score[j] == C(-INFINITY)) continue;
        C w = std::exp(score[j] - shift);
        l += w;
        const T* vr = vb + j * p.vs[2];
        for (int64_t e = 0; e < p.dv; ++e) acc[e] += w * C(vr[e]);
      }
      T* o = out + r * p.dv;
      for (int64_t e = 0; e < p.dv; ++e) o[e] = T(acc[e] / l);
    }
  });
}

}  // namespace

void ScaledDotProductAttention::eval_cpu(const std::vector<array>& inputs,
                                         std::vector<array>& outputs) {
  auto& enc = cpu::encoder_for(*this);
  array q = last_dense(enc, inputs[0]);
  array k = last_dense(enc, inputs[1]);
  array v = last_dense(enc, inputs[2]);
  size_t next = 3;
  std::optional<array> mask;
  if (has_mask_) {
    mask = inputs[next++];
    enc.set_input_array(*mask);
  }
  const float* sinks = nullptr;
  std::optional<array> staged_sinks;
  if (has_sinks_) {
    enc.set_input_array(inputs[next]);
    sinks = static_cast<const float*>(contiguous_input(enc, inputs[next], staged_sinks).raw_ptr());
  }
  array& out = outputs[0];
  cpu::alloc(out);
  enc.set_output_array(out);
  AttnPlan p{};
  p.hq = q.shape()[1];
  p.hk = k.shape()[1];
  p.lq = q.shape()[2];
  p.lk = k.shape()[2];
  p.d = q.shape()[3];
  p.dv = v.shape()[3];
  for (int a = 0; a < 3; ++a) {
    p.qs[a] = q.strides()[a];
    p.ks[a] = k.strides()[a];
    p.vs[a] = v.strides()[a];
  }
  if (mask) {
    for (int a = 0; a < 4; ++a) p.ms[a] = mask->strides()[a];
    p.bool_mask = mask->dtype() == bool_;
  }
  p.causal = causal_;
  p.scale = scale_;
  int64_t rows = q.shape()[0] * p.hq * p.lq;
  if (rows == 0 || p.dv == 0) return;
  enc.dispatch([p, rows, q = q.raw_ptr(), k = k.raw_ptr(), v = v.raw_ptr(),
                m = mask ? mask->raw_ptr() : nullptr, sinks, o = out.raw_ptr(), dt = q.dtype()] {
    dispatch_float(dt, "scaled_dot_product_attention", [&](auto tag) {
      using T = decltype(tag);
      attention_rows(p, rows, static_cast<const T*>(q), static_cast<const T*>(k),
                     static_cast<const T*>(v), m, sinks, static_cast<T*>(o));
    });
  });
}

}  // namespace fastsync

namespace fastsync {

// The ops layer builds these on GPU streams only (ops/fast.cpp): a CPU
// stream's attention is the fused kernel above or the composed graph.
void FlashAttention::eval_cpu(const std::vector<array>&, std::vector<array>&) {
  throw std::logic_error("[FlashAttention] runs on GPU streams only");
}

void FlashAttentionGrad::eval_cpu(const std::vector<array>&, std::vector<array>&) {
  throw std::logic_error("[FlashAttentionGrad] runs on GPU streams only");
}

}  // namespace fastsync
