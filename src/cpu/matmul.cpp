// CPU kernels for Matmul and AddMM: OpenBLAS sgemm/dgemm from PyPI's
// scipy-openblas32 (32-bit integers, every symbol prefixed `scipy_`).
//
// eval_cpu (encoding thread) looks at each operand's strides once: a matrix
// slice that is row- or column-contiguous goes to BLAS as it is, through the
// transpose flag and leading dimension; anything else (other strides,
// float16/bfloat16, leading dimensions past 32 bits) is first copied into a
// contiguous temporary in the compute dtype (float32 for the half types)
// by the task itself, before the gemm calls. Batch axes of b that are all
// broadcast fold a's batch into one tall gemm when a's rows are evenly
// spaced, which is the common `x @ W` case. The task captures pointers and
// plans only; temporaries are retained by the encoder.
//
// Threads: OpenBLAS runs one process-wide thread pool, shared by every
// stream (and separate from NumPy's, which is another library). A gemm is
// called on the stream's worker thread, which takes part in it as thread 0.
// Products below OpenBLAS's threading threshold (m*n*k <= 4 * 65536 by
// default) run on the calling worker alone, so streams compute those
// concurrently. Larger ones use the pool, and we serialize them with one
// process-wide lock: OpenBLAS means to serialize threaded level-3 calls
// itself, but releases before the fix for OpenMathLib/OpenBLAS#5836 keep one
// lock per transpose variant, so an NN and a TN product from two streams
// could share the pool's buffers and corrupt each other. Two streams with
// large products therefore take turns, each with all the pool's threads,
// instead of oversubscribing the cores. The pool size is OpenBLAS's:
// OPENBLAS_NUM_THREADS (read when the library loads) or
// scipy_openblas_set_num_threads() at run time; idle pool threads spin for
// a while before sleeping (OPENBLAS_THREAD_TIMEOUT), which takes cycles
// from other streams' workers.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <mutex>
#include <optional>

#include "cpu/strided.h"
#include "cpu/utils.h"
#include "primitives/linalg.h"

namespace fastsync {

namespace {

// A copy into a contiguous buffer with a dtype conversion, run by the task.
struct Stage {
  const void* src;
  void* dst;
  Dtype from;
  Dtype to;
  cpu::StridedPlan<2> plan;
};

template <typename In, typename Out>
void stage_typed(const Stage& s) {
  const In* src = static_cast<const In*>(s.src);
  Out* dst = static_cast<Out*>(s.dst);
  cpu::for_each_strided(s.plan, [&](auto offs, int64_t n, auto st) {
    const In* x = src + offs[0];
    Out* y = dst + offs[1];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) y[i] = Out(compute_t<In>(x[i]));
    } else {
      for (int64_t i = 0; i < n; ++i) y[i * st[1]] = Out(compute_t<In>(x[i * st[0]]));
    }
  });
}

template <typename T>
constexpr bool is_float_v = std::is_floating_point_v<T> || std::is_same_v<T, float16_t> ||
                            std::is_same_v<T, bfloat16_t>;

void run_stage(const Stage& s) {
  dispatch_dtype(s.from, [&](auto in) {
    dispatch_dtype(s.to, [&](auto out) {
      using In = decltype(in);
      using Out = decltype(out);
      if constexpr (is_float_v<In> && is_float_v<Out>) stage_typed<In, Out>(s);
    });
  });
}

// Everything one product needs on the worker.
struct GemmTask {
  Dtype dtype = float32;  // float32 or float64: what BLAS computes in
  int M = 0, N = 0, K = 0;
  const void* a = nullptr;
  const void* b = nullptr;
  void* c = nullptr;  // M x N row-major per batch element, batch after batch
  int lda = 1, ldb = 1;
  bool trans_a = false, trans_b = false;
  bool c_prefilled = false;  // c holds the addend; otherwise it is overwritten
  double alpha = 1.0, beta = 0.0;
  int64_t c_size = 0;  // elements of c over all batches
  // Batch axes with a's and b's element strides; c is visited in order.
  cpu::StridedPlan<2> batch;
  std::vector<Stage> before, after;
};

void gemm(const GemmTask& t, const float* a, const float* b, float* c) {
  scipy_cblas_sgemm(CblasRowMajor, t.trans_a ? CblasTrans : CblasNoTrans,
                    t.trans_b ? CblasTrans : CblasNoTrans, t.M, t.N, t.K, float(t.alpha), a,
                    t.lda, b, t.ldb, t.c_prefilled ? float(t.beta) : 0.0f, c, t.N);
}

void gemm(const GemmTask& t, const double* a, const double* b, double* c) {
  scipy_cblas_dgemm(CblasRowMajor, t.trans_a ? CblasTrans : CblasNoTrans,
                    t.trans_b ? CblasTrans : CblasNoTrans, t.M, t.N, t.K, t.alpha, a, t.lda, b,
                    t.ldb, t.c_prefilled ? t.beta : 0.0, c, t.N);
}

// At or below this m*n*k OpenBLAS computes on the calling thread (its
// SMP_THRESHOLD_MIN; the default threshold is 4x this, so we lock early).
constexpr double kSingleThreadedWork = 65536;

std::mutex& pool_mutex() {
  static std::mutex m;
  return m;
}

template <typename T>
void run_typed(const GemmTask& t) {
  T* c = static_cast<T*>(t.c);
  if (t.K == 0) {
    // An empty sum: BLAS would only scale c, and wants lda >= 1 for it.
    T beta = t.c_prefilled ? T(t.beta) : T(0);
    for (int64_t i = 0; i < t.c_size; ++i) c[i] = beta == T(0) ? T(0) : beta * c[i];
    return;
  }
  const T* a = static_cast<const T*>(t.a);
  const T* b = static_cast<const T*>(t.b);
  int64_t step = int64_t(t.M) * t.N;
  T* cb = c;
  std::unique_lock<std::mutex> pool;
  if (double(t.M) * t.N * t.K > kSingleThreadedWork) pool = std::unique_lock(pool_mutex());
  cpu::for_each_strided(t.batch, [&](auto offs, int64_t n, auto st) {
    for (int64_t i = 0; i < n; ++i, cb += step) {
      gemm(t, a + offs[0] + i * st[0], b + offs[1] + i * st[1], cb);
    }
  });
}

void run_gemm(const GemmTask& t) {
  for (const auto& s : t.before) run_stage(s);
  if (t.dtype == float64) run_typed<double>(t);
  else run_typed<float>(t);
  for (const auto& s : t.after) run_stage(s);
}

// Handing a product to the worker allocates nothing unless it stages.
static_assert(sizeof(GemmTask) <= scheduler::TaskFn::kInline);

// How BLAS can read a rows x cols matrix with element strides (rs, cs)
// in row-major order: as stored (ld = row stride) or as the transpose of a
// row-major matrix (ld = column stride). Strides of unit axes are free.
struct Layout {
  bool trans;
  int64_t ld;
};
std::optional<Layout> blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if (cols == 1 || cs == 1) {
    int64_t ld = rows == 1 ? std::max<int64_t>(cols, 1) : rs;
    if (ld >= std::max<int64_t>(cols, 1) && ld <= INT_MAX) return Layout{false, ld};
  }
  if (rows == 1 || rs == 1) {
    int64_t ld = cols == 1 ? std::max<int64_t>(rows, 1) : cs;
    if (ld >= std::max<int64_t>(rows, 1) && ld <= INT_MAX) return Layout{true, ld};
  }
  return std::nullopt;
}

// One operand of the product, as the gemm calls will read it.
struct Operand {
  const void* ptr;
  Layout layout;
  Strides batch_strides;  // over the product's batch axes; 0 where broadcast
};

class Encoding {
 public:
  explicit Encoding(const Primitive& p) : enc_(cpu::encoder_for(p)) {}

  cpu::CommandEncoder& encoder() { return enc_; }

  // A row-major buffer of `shape` that lives until the task is done.
  array temporary(Shape shape, Dtype dtype) {
    array t(std::move(shape), dtype, nullptr, {});
    cpu::alloc(t);
    enc_.add_temporary(t);
    return t;
  }

  std::vector<Stage> before, after;

 private:
  cpu::CommandEncoder& enc_;
};

// `x` as the a (row_vector) or b operand of a product with `nbatch` batch
// axes and inner dimension k, staged into a contiguous `compute` copy when
// BLAS cannot read it as it is.
Operand prepare(Encoding& e, const array& x, bool is_a, int64_t k, size_t nbatch,
                Dtype compute) {
  auto describe = [&](const Shape& shape, const Strides& strides, Operand& op) {
    int nd = static_cast<int>(shape.size());
    int64_t rows, cols, rs, cs;
    if (nd == 1) {
      // A 1-D a is one row, a 1-D b one column.
      rows = is_a ? 1 : k;
      cols = is_a ? k : 1;
      rs = is_a ? 0 : strides[0];
      cs = is_a ? strides[0] : 0;
    } else {
      rows = shape[nd - 2];
      cols = shape[nd - 1];
      rs = strides[nd - 2];
      cs = strides[nd - 1];
    }
    op.batch_strides.assign(nbatch, 0);
    int xb = std::max(nd - 2, 0);
    for (int i = 0; i < xb; ++i) {
      if (shape[i] != 1) op.batch_strides[nbatch - xb + i] = strides[i];
    }
    return blas_layout(rows, cols, rs, cs);
  };
  Operand op;
  auto layout = describe(x.shape(), x.strides(), op);
  if (layout && x.dtype() == compute) {
    op.ptr = x.raw_ptr();
    op.layout = *layout;
    return op;
  }
  // Broadcast batch axes stay size 1 in the copy: it holds x's distinct
  // matrices only.
  Shape shape = x.shape();
  for (int i = 0; i + 2 < x.ndim(); ++i) {
    if (x.strides()[i] == 0) shape[i] = 1;
  }
  array t = e.temporary(shape, compute);
  e.before.push_back({x.raw_ptr(), t.raw_ptr(), x.dtype(), compute,
                      cpu::make_plan<2>(shape, {&x.strides(), &t.strides()})});
  op.ptr = t.raw_ptr();
  op.layout = *describe(shape, t.strides(), op);
  return op;
}

// Encodes out = beta * c + alpha * (a @ b) (c may be null: beta is unused).
void encode_product(const Primitive& p, const array* c, const array& a, const array& b,
                    array& out, double alpha, double beta) {
  Dtype dtype = out.dtype();
  Dtype compute = dtype == float64 ? float64 : float32;
  bool prefill = c != nullptr && beta != 0.0;
  if (prefill && compute == dtype) {
    cpu::donate_or_alloc(*c, out);
  } else {
    cpu::alloc(out);
  }
  Encoding e(p);
  auto& enc = e.encoder();
  enc.set_input_array(a);
  enc.set_input_array(b);
  if (c) enc.set_input_array(*c);
  enc.set_output_array(out);
  if (out.size() == 0) return;  // nothing to compute: no task

  int64_t M = a.ndim() >= 2 ? a.shape(-2) : 1;
  int64_t K = a.shape(-1);
  int64_t N = b.ndim() >= 2 ? b.shape(-1) : 1;
  Shape batch(out.shape().begin(),
              out.shape().end() - (a.ndim() >= 2 ? 1 : 0) - (b.ndim() >= 2 ? 1 : 0));

  GemmTask t;
  t.dtype = compute;
  t.M = static_cast<int>(M);
  t.N = static_cast<int>(N);
  t.K = static_cast<int>(K);
  t.alpha = alpha;
  t.beta = beta;
  t.c_size = out.size();
  t.c_prefilled = prefill;

  // Where BLAS writes: the output, or a float32 buffer rounded into it.
  void* target = out.raw_ptr();
  if (compute != dtype) {
    array acc = e.temporary(out.shape(), compute);
    target = acc.raw_ptr();
    e.after.push_back({target, out.raw_ptr(), compute, dtype,
                       cpu::make_plan<2>(out.shape(), {&acc.strides(), &out.strides()})});
  }
  if (prefill && target != c->raw_ptr()) {
    Strides cs = cpu::broadcast_strides(*c, out.shape());
    Strides os = row_major_strides(out.shape());
    e.before.push_back(
        {c->raw_ptr(), target, c->dtype(), compute, cpu::make_plan<2>(out.shape(), {&cs, &os})});
  }
  t.c = target;

  if (K > 0) {
    Operand oa = prepare(e, a, true, K, batch.size(), compute);
    Operand ob = prepare(e, b, false, K, batch.size(), compute);
    t.a = oa.ptr;
    t.b = ob.ptr;
    t.trans_a = oa.layout.trans;
    t.trans_b = ob.layout.trans;
    t.lda = static_cast<int>(oa.layout.ld);
    t.ldb = static_cast<int>(ob.layout.ld);
    bool b_shared = std::all_of(ob.batch_strides.begin(), ob.batch_strides.end(),
                                [](int64_t s) { return s == 0; });
    bool folded = false;
    if (b_shared && !oa.layout.trans && !batch.empty()) {
      // a's batch and row axes as one: a single gemm with M * batch rows.
      Shape rows_shape = batch;
      rows_shape.push_back(M);
      Strides rows_strides = oa.batch_strides;
      rows_strides.push_back(oa.layout.ld);
      auto plan = cpu::make_plan<1>(rows_shape, {&rows_strides});
      int64_t rows = shape_size(rows_shape);
      if (plan.shape.size() == 1 && rows <= INT_MAX) {
        int64_t ld = rows > 1 ? plan.strides[0][0] : std::max<int64_t>(K, 1);
        if (ld >= std::max<int64_t>(K, 1) && ld <= INT_MAX) {
          t.M = static_cast<int>(rows);
          t.lda = static_cast<int>(ld);
          folded = true;
        }
      }
    }
    if (folded) {
      t.batch = cpu::make_plan<2>({}, {&oa.batch_strides, &ob.batch_strides});
    } else {
      t.batch = cpu::make_plan<2>(batch, {&oa.batch_strides, &ob.batch_strides});
    }
  }
  t.before = std::move(e.before);
  t.after = std::move(e.after);
  enc.dispatch([t = std::move(t)] { run_gemm(t); });
}

}  // namespace

void Matmul::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode_product(*this, nullptr, inputs[0], inputs[1], outputs[0], 1.0, 0.0);
}

void AddMM::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode_product(*this, &inputs[0], inputs[1], inputs[2], outputs[0], alpha_, beta_);
}

}  // namespace fastsync
