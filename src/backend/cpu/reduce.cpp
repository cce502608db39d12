// CPU kernels for Reduce. The input is read in its own strides; three
// layouts get dedicated loops: everything reduced, a trailing contiguous
// block reduced (row reduce), and a leading block reduced (column reduce:
// short rows by blocks of rows, long ones by ranges of columns).
#include "primitives/reduce.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <stdexcept>

#include "backend/common/axes.h"
#include "backend/common/reducer.h"
#include "backend/common/strided.h"
#include "backend/cpu/copy.h"
#include "backend/cpu/parallel.h"
#include "backend/cpu/reducer.h"
#include "backend/cpu/utils.h"

namespace fastsync {

namespace {

// Reduces n contiguous values with 32 independent partial results, enough to
// cover the latency of the vector adds (the compiler keeps them in vector registers).
template <ReduceOp op, typename In, typename A>
A reduce_contiguous(const In* x, int64_t n) {
  using R = Reducer<op, A>;
  constexpr int L = 32;
  A part[L];
  for (int l = 0; l < L; ++l) part[l] = R::init();
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    for (int l = 0; l < L; ++l) part[l] = R::apply(part[l], A(compute_t<In>(x[i + l])));
  }
  A acc = R::init();
  for (; i < n; ++i) acc = R::apply(acc, A(compute_t<In>(x[i])));
  for (int l = 0; l < L; ++l) acc = R::apply(acc, part[l]);
  return acc;
}

template <ReduceOp op, typename In, typename Out>
void reduce_kernel(const array& in, array& out, const std::vector<int>& axes) {
  using A = reduce_acc_t<Out>;
  using R = Reducer<op, A>;
  const In* src = in.data<In>();
  Out* dst = out.data<Out>();
  int nd = in.ndim();
  int64_t reduce_size = 1;
  for (int a : axes) reduce_size *= in.shape()[a];
  int64_t n_out = out.size();
  if (n_out == 0) return;
  if (reduce_size == 0) {
    for (int64_t i = 0; i < n_out; ++i) dst[i] = Out(R::init());
    return;
  }
  bool trailing = true, leading = true;
  for (size_t k = 0; k < axes.size(); ++k) {
    trailing &= axes[k] == nd - static_cast<int>(axes.size()) + static_cast<int>(k);
    leading &= axes[k] == static_cast<int>(k);
  }
  if (in.flags().row_contiguous && trailing) {
    if (n_out == 1) {
      // One long reduction: per-chunk partial results, combined in order.
      int64_t chunks = cpu::n_chunks(reduce_size, cpu::kParallelGrain);
      int64_t chunk = (reduce_size + chunks - 1) / chunks;
      std::vector<A> part(chunks, R::init());
      cpu::parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
        for (int64_t c = cb; c < ce; ++c) {
          int64_t b = c * chunk, e = std::min(reduce_size, b + chunk);
          part[c] = reduce_contiguous<op, In, A>(src + b, e - b);
        }
      });
      A acc = R::init();
      for (auto v : part) acc = R::apply(acc, v);
      dst[0] = Out(acc);
      return;
    }
    int64_t grain = std::max<int64_t>(1, cpu::kParallelGrain / reduce_size);
    cpu::parallel_for(n_out, grain, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        dst[o] = Out(reduce_contiguous<op, In, A>(src + o * reduce_size, reduce_size));
      }
    });
    return;
  }
  if (in.flags().row_contiguous && leading && n_out * int64_t(sizeof(A)) <= (int64_t(64) << 10) &&
      cpu::n_chunks(reduce_size, std::max<int64_t>(1, cpu::kParallelGrain / n_out)) > 1) {
    // Column reduce of short rows: threads take disjoint blocks of rows, each
    // streaming whole rows into its own accumulator row (kept in L1/L2),
    // and the partial rows are combined in block order. A reader of whole
    // rows keeps the hardware prefetchers on one sequential stream; split by
    // columns, each thread read a short run from every row.
    int64_t chunks = cpu::n_chunks(reduce_size, std::max<int64_t>(1, cpu::kParallelGrain / n_out));
    int64_t per = (reduce_size + chunks - 1) / chunks;
    // Not std::vector: A may be bool.
    std::unique_ptr<A[]> part(new A[chunks * n_out]);
    std::fill(part.get(), part.get() + chunks * n_out, R::init());
    cpu::parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; ++c) {
        A* acc = part.get() + c * n_out;
        for (int64_t r = c * per, end = std::min(reduce_size, r + per); r < end; ++r) {
          const In* row = src + r * n_out;
          for (int64_t o = 0; o < n_out; ++o) acc[o] = R::apply(acc[o], A(compute_t<In>(row[o])));
        }
      }
    });
    for (int64_t o = 0; o < n_out; ++o) {
      A acc = part[o];
      for (int64_t c = 1; c < chunks; ++c) acc = R::apply(acc, part[c * n_out + o]);
      dst[o] = Out(acc);
    }
    return;
  }
  if (in.flags().row_contiguous && leading) {
    // Column reduce: threads take disjoint column ranges, rows stream by.
    int64_t grain = std::max<int64_t>(64, cpu::kParallelGrain / reduce_size);
    cpu::parallel_for(n_out, grain, [&](int64_t b, int64_t e) {
      std::vector<A> acc(e - b, R::init());
      for (int64_t r = 0; r < reduce_size; ++r) {
        const In* row = src + r * n_out;
        for (int64_t o = b; o < e; ++o) acc[o - b] = R::apply(acc[o - b], A(compute_t<In>(row[o])));
      }
      for (int64_t o = b; o < e; ++o) dst[o] = Out(acc[o - b]);
    });
    return;
  }
  // General: walk the kept axes for each output element, and the reduced
  // axes inside it.
  auto [kept_shape, red_shape, kept_strides, red_strides] = split_reduced(in, axes);
  Strides out_strides = row_major_strides(kept_shape);
  for_each_strided<2>(
      kept_shape, {&kept_strides, &out_strides}, [&](auto offs, int64_t n, auto st) {
        for (int64_t i = 0; i < n; ++i) {
          const In* base = src + offs[0] + i * st[0];
          A acc = R::init();
          for_each_strided<1>(red_shape, {&red_strides}, [&](auto roffs, int64_t rn, auto rst) {
            const In* p = base + roffs[0];
            for (int64_t j = 0; j < rn; ++j) {
              acc = R::apply(acc, A(compute_t<In>(p[j * rst[0]])));
            }
          });
          dst[offs[1] + i * st[1]] = Out(acc);
        }
      });
}

template <ReduceOp op>
void run_reduce(const array& in, array& out, const std::vector<int>& axes) {
  cpu::dispatch_reduce_types(in.dtype(), out.dtype(), [&](auto in_tag, auto out_tag) {
    using Out = decltype(out_tag);
    if constexpr (reduce_supports<op, reduce_acc_t<Out>>()) {
      reduce_kernel<op, decltype(in_tag), Out>(in, out, axes);
    } else {
      throw std::logic_error("[reduce] dtype not supported by this reduction");
    }
  });
}

}  // namespace

void Reduce::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cpu::begin_op(*this, in, out);
  void (*kernel)(const array&, array&, const std::vector<int>&) = nullptr;
  switch (op_) {
    case ReduceOp::sum: kernel = run_reduce<ReduceOp::sum>; break;
    case ReduceOp::prod: kernel = run_reduce<ReduceOp::prod>; break;
    case ReduceOp::max: kernel = run_reduce<ReduceOp::max>; break;
    case ReduceOp::min: kernel = run_reduce<ReduceOp::min>; break;
  }
  enc.dispatch([kernel, axes = axes_, in = in.unsafe_weak_copy(),
                out = out.unsafe_weak_copy()]() mutable { kernel(in, out, axes); });
}

}  // namespace fastsync
