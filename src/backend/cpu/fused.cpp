// CPU kernel for Fused (primitives/fused.h): the program runs over blocks of
// kBlock elements, each op a vectorizable loop over the block, slots on the
// worker's stack (32 slots x 256 floats = 32 KiB, L1-resident). Blocks are
// split across the kernel thread pool. Inputs that are neither dense, a
// repeating trailing block, nor a scalar are first copied dense by the task.
#include "primitives/fused.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "backend/common/elementwise.h"
#include "backend/cpu/copy.h"
#include "backend/cpu/fast_math.h"
#include "backend/cpu/parallel.h"
#include "backend/cpu/utils.h"

namespace fastsync {

namespace {

constexpr int kBlock = 256;

template <typename C>
using UnaryLoop = void (*)(const C*, C*, int);
template <typename C>
using BinaryLoop = void (*)(const C*, const C*, C*, int);

template <typename C, UnaryOp op>
void unary_loop(const C* x, C* y, int n) {
  if constexpr (elementwise::unary_supports<op, C>() &&
                std::is_same_v<elementwise::unary_result_t<op, C>, C>) {
    cpu::UnaryFn<op> f;  // fast_math.h: the unary kernel's functions
    for (int i = 0; i < n; ++i) y[i] = f(x[i]);
  } else {
    throw std::logic_error("[compile] a fused unary op does not compute in this dtype");
  }
}

template <typename C, BinaryOp op>
void binary_loop(const C* a, const C* b, C* y, int n) {
  if constexpr (elementwise::binary_supports<op, C>() &&
                std::is_same_v<elementwise::binary_result_t<op, C>, C>) {
    elementwise::BinaryFn<op> f;
    for (int i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  } else {
    throw std::logic_error("[compile] a fused binary op does not compute in this dtype");
  }
}

template <typename C>
UnaryLoop<C> unary_table(int op) {
  switch (static_cast<UnaryOp>(op)) {
#define FASTSYNC_CASE(o, Name) \
  case UnaryOp::o: return unary_loop<C, UnaryOp::o>;
    FASTSYNC_UNARY_OPS(FASTSYNC_CASE)
#undef FASTSYNC_CASE
  }
  throw std::logic_error("[compile] unknown unary op");
}

template <typename C>
BinaryLoop<C> binary_table(int op) {
  switch (static_cast<BinaryOp>(op)) {
#define FASTSYNC_CASE(o, Name) \
  case BinaryOp::o: return binary_loop<C, BinaryOp::o>;
    FASTSYNC_BINARY_OPS(FASTSYNC_CASE)
#undef FASTSYNC_CASE
  }
  throw std::logic_error("[compile] unknown binary op");
}

struct Input {
  const void* ptr;
  FusedRead read;
  int64_t size;
};

template <typename T>
void run_fused(const FusedProgram& p, const std::vector<Input>& ins, T* out, int64_t n) {
  using C = compute_t<T>;
  struct Step {
    UnaryLoop<C> u;
    BinaryLoop<C> b;
    int a, bb, dst;
  };
  std::vector<Step> steps;
  for (size_t j = 0; j < p.ops.size(); ++j) {
    const FusedOp& o = p.ops[j];
    int dst = p.n_inputs + static_cast<int>(j);
    steps.push_back({o.unary ? unary_table<C>(o.op) : nullptr,
                     o.unary ? nullptr : binary_table<C>(o.op), o.a, o.b, dst});
  }
  const int result = p.n_inputs + static_cast<int>(p.ops.size()) - 1;
  int64_t blocks = (n + kBlock - 1) / kBlock;
  int64_t grain = std::max<int64_t>(1, cpu::kParallelGrain / (kBlock * 4));
  cpu::parallel_for(blocks, grain, [&](int64_t b0, int64_t b1) {
    alignas(64) C slots[FusedProgram::kMaxSlots][kBlock];
    for (int k = 0; k < p.n_inputs; ++k) {
      if (ins[k].read == FusedRead::scalar) {
        std::fill_n(slots[k], kBlock, C(static_cast<const T*>(ins[k].ptr)[0]));
      }
    }
    for (int64_t blk = b0; blk < b1; ++blk) {
      int64_t start = blk * kBlock;
      int m = static_cast<int>(std::min<int64_t>(kBlock, n - start));
      for (int k = 0; k < p.n_inputs; ++k) {
        const T* src = static_cast<const T*>(ins[k].ptr);
        if (ins[k].read == FusedRead::dense) {
          for (int i = 0; i < m; ++i) slots[k][i] = C(src[start + i]);
        } else if (ins[k].read == FusedRead::cyclic) {
          int64_t size = ins[k].size, at = start % size;
          for (int i = 0; i < m; ++i) {
            slots[k][i] = C(src[at]);
            if (++at == size) at = 0;
          }
        }
      }
      for (const Step& s : steps) {
        if (s.u)
          s.u(slots[s.a], slots[s.dst], m);
        else
          s.b(slots[s.a], slots[s.bb], slots[s.dst], m);
      }
      for (int i = 0; i < m; ++i) out[start + i] = T(slots[result][i]);
    }
  });
}

}  // namespace

void Fused::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cpu::encoder_for(*this);
  array& out = outputs[0];
  const Shape& shape = out.shape();
  std::vector<Input> ins;
  // Inputs read in place are declared once the output's buffer is chosen: a
  // declaration (or a copy of the array) is a second owner, ruling donation
  // out.
  const array* donor = nullptr;
  for (const array& in : inputs) {
    auto read = fused_read(in, shape);
    if (!read) {
      enc.set_input_array(in);
      // Broadcast in a way the block loop cannot follow: a dense copy first.
      array dense(shape, in.dtype(), nullptr, {});
      dense.detach();
      cpu::alloc(dense);
      enc.dispatch([src = cpu::broadcast_view(in, shape).unsafe_weak_copy(),
                    dst = dense.unsafe_weak_copy()]() mutable { cpu::copy_kernel(src, dst); });
      enc.add_temporary(dense);
      ins.push_back({dense.raw_ptr(), FusedRead::dense, dense.size()});
      continue;
    }
    if (*read == FusedRead::dense && !donor && in.is_donatable(cpu::encoding_stream()) &&
        in.dtype() == out.dtype()) {
      donor = &in;
    }
    ins.push_back({in.raw_ptr(), *read, in.size()});
  }
  // Writing over a dense input is safe: each block reads before it writes.
  if (donor) {
    cpu::donate_or_alloc(*donor, out);
  } else {
    cpu::alloc(out);
  }
  for (const array& in : inputs) enc.set_input_array(in);  // twice for staged ones: harmless
  enc.set_output_array(out);
  enc.dispatch(
      [p = program_, ins = std::move(ins), y = out.raw_ptr(), dt = out.dtype(), n = out.size()] {
        dispatch_dtype(dt, [&](auto tag) {
          using T = decltype(tag);
          if constexpr (std::is_floating_point_v<compute_t<T>>) {
            run_fused(p, ins, static_cast<T*>(y), n);
          } else {
            throw std::logic_error("[compile] fused chains are floating point only");
          }
        });
      });
}

}  // namespace fastsync
