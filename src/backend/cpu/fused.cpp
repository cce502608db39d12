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
void run_fused(const FusedProgram& p, const std::vector<Input>& ins, const std::vector<T*>& outs,
               int64_t n) {
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
  const std::vector<int> results = p.output_slots();
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
      // Every input of the block is in its slots by now: an output may
      // overwrite an input's buffer.
      for (size_t o = 0; o < outs.size(); ++o) {
        T* out = outs[o];
        const C* r = slots[results[o]];
        for (int i = 0; i < m; ++i) out[start + i] = T(r[i]);
      }
    }
  });
}

}  // namespace

void Fused::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cpu::encoder_for(*this);
  const Shape& shape = outputs[0].shape();
  const Dtype dtype = outputs[0].dtype();
  std::vector<Input> ins;
  // Inputs read in place are declared once the outputs' buffers are chosen:
  // a declaration (or a copy of the array) is a second owner, ruling
  // donation out. Each output may take a different dense input's buffer.
  std::vector<const array*> donors;
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
    if (*read == FusedRead::dense && donors.size() < outputs.size() &&
        in.is_donatable(cpu::encoding_stream()) && in.dtype() == dtype) {
      donors.push_back(&in);
    }
    ins.push_back({in.raw_ptr(), *read, in.size()});
  }
  std::vector<void*> outs;
  for (size_t o = 0; o < outputs.size(); ++o) {
    if (o < donors.size()) {
      cpu::donate_or_alloc(*donors[o], outputs[o]);
    } else {
      cpu::alloc(outputs[o]);
    }
    outs.push_back(outputs[o].raw_ptr());
  }
  for (const array& in : inputs) enc.set_input_array(in);  // twice for staged ones: harmless
  for (array& out : outputs) enc.set_output_array(out);
  enc.dispatch([p = program_, ins = std::move(ins), outs = std::move(outs), dt = dtype,
                n = outputs[0].size()] {
    dispatch_dtype(dt, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_floating_point_v<compute_t<T>>) {
        std::vector<T*> typed;
        for (void* o : outs) typed.push_back(static_cast<T*>(o));
        run_fused(p, ins, typed, n);
      } else {
        throw std::logic_error("[compile] fused chains are floating point only");
      }
    });
  });
}

}  // namespace fastsync
