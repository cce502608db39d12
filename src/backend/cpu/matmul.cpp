// CPU kernels for Matmul and AddMM: sgemm/dgemm/cgemm from the BLAS that
// blas.h chooses (OpenBLAS from PyPI's scipy-openblas32, or MKL), with 32-bit
// integers.
//
// eval_cpu (encoding thread) plans the product once from the operands'
// shapes and strides, with the planning the CUDA kernels share
// (backend/common/matmul_plan.h): a matrix slice that is row- or
// column-contiguous goes to BLAS as it is, through the transpose flag and
// leading dimension; anything else (other strides, float16/bfloat16,
// leading dimensions past 32 bits) is first copied into a contiguous
// temporary in the compute dtype (float32 for the half types) by the task
// itself, before the gemm calls. Batch axes of b that are all broadcast fold
// a's batch into one tall gemm when a's rows are evenly spaced, which is the
// common `x @ W` case. The task captures pointers and plans only;
// temporaries are retained by the encoder.
//
// Threads: the BLAS runs one process-wide thread pool, shared by every
// stream (and separate from NumPy's, which is another library). A gemm is
// called by the thread that runs the stream's tasks (its worker, or a host
// thread waiting on the stream), which takes part in it as thread 0.
// What follows is said of OpenBLAS; MKL gets the same lock, which keeps two
// streams from oversubscribing the cores with two thread teams.
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
#include <mutex>
#include <optional>

#include "backend/common/matmul_plan.h"
#include "backend/common/strided.h"
#include "backend/cpu/blas.h"
#include "backend/cpu/utils.h"
#include "primitives/linalg.h"

namespace fastsync {

namespace {

// A copy into a contiguous buffer with a dtype conversion, run by the task.
struct Stage {
  const void* src;
  void* dst;
  Dtype from;
  Dtype to;
  StridedPlan<2> plan;
};

template <typename In, typename Out>
void stage_typed(const Stage& s) {
  const In* src = static_cast<const In*>(s.src);
  Out* dst = static_cast<Out*>(s.dst);
  for_each_strided(s.plan, [&](auto offs, int64_t n, auto st) {
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
constexpr bool is_float_v =
    std::is_floating_point_v<T> || std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>;

void run_stage(const Stage& s) {
  dispatch_dtype(s.from, [&](auto in) {
    dispatch_dtype(s.to, [&](auto out) {
      using In = decltype(in);
      using Out = decltype(out);
      if constexpr ((is_float_v<In> && is_float_v<Out>) ||
                    (is_complex_v<In> && is_complex_v<Out>)) {
        stage_typed<In, Out>(s);
      }
    });
  });
}

// Everything one product needs on the worker.
struct GemmTask {
  Dtype dtype = float32;  // float32, float64 or complex64: what BLAS computes in
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
  StridedPlan<2> batch;
  std::vector<Stage> before, after;
};

int trans(bool t) { return t ? cpu::blas::Transpose : cpu::blas::NoTrans; }

void gemm(const GemmTask& t, const float* a, const float* b, float* c) {
  cpu::blas::library().sgemm(cpu::blas::RowMajor, trans(t.trans_a), trans(t.trans_b), t.M, t.N, t.K,
                             float(t.alpha), a, t.lda, b, t.ldb,
                             t.c_prefilled ? float(t.beta) : 0.0f, c, t.N);
}

void gemm(const GemmTask& t, const double* a, const double* b, double* c) {
  cpu::blas::library().dgemm(cpu::blas::RowMajor, trans(t.trans_a), trans(t.trans_b), t.M, t.N, t.K,
                             t.alpha, a, t.lda, b, t.ldb, t.c_prefilled ? t.beta : 0.0, c, t.N);
}

void gemm(const GemmTask& t, const complex64_t* a, const complex64_t* b, complex64_t* c) {
  complex64_t alpha(static_cast<float>(t.alpha), 0.0f);
  complex64_t beta(t.c_prefilled ? static_cast<float>(t.beta) : 0.0f, 0.0f);
  cpu::blas::library().cgemm(cpu::blas::RowMajor, trans(t.trans_a), trans(t.trans_b), t.M, t.N, t.K,
                             &alpha, a, t.lda, b, t.ldb, &beta, c, t.N);
}

// At or below this m*n*k OpenBLAS computes on the calling thread (its
// SMP_THRESHOLD_MIN; the default threshold is 4x this, so we lock early).
constexpr double kSingleThreadedWork = 65536;
// At or below this m*n*k MKL computes on the calling thread too (we ask it
// to: it would wake an OpenMP team for any size). On the 2-core VM, a
// dependent loop of 64^3 products with a relu took 13-15 us per step with
// the team and 4.4-6.8 without, 96^3 16-18 against 11 (async_eval each);
// from 128^3 the team pays. No pool lock then: streams compute such
// products side by side, as with OpenBLAS. A batch of them stays on one
// thread too: split across the kernel pool (an attention's per-head
// products), the CPU model rows gained nothing measurable.
constexpr double kMklOnThisThreadWork = 1 << 20;

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
  const auto& lib = cpu::blas::library();
  const double work = double(t.M) * t.N * t.K;
  std::optional<cpu::blas::OnThisThread> alone;
  std::unique_lock<std::mutex> pool;
  if (lib.set_threads_local && work <= kMklOnThisThreadWork) {
    alone.emplace(lib.set_threads_local);
  } else if (work > kSingleThreadedWork) {
    pool = std::unique_lock(cpu::blas::pool_mutex());
  }
  T* cb = c;
  for_each_strided(t.batch, [&](auto offs, int64_t n, auto st) {
    for (int64_t i = 0; i < n; ++i, cb += step) {
      gemm(t, a + offs[0] + i * st[0], b + offs[1] + i * st[1], cb);
    }
  });
}

void run_gemm(const GemmTask& t) {
  for (const auto& s : t.before) run_stage(s);
  if (t.dtype == float64)
    run_typed<double>(t);
  else if (t.dtype == complex64)
    run_typed<complex64_t>(t);
  else
    run_typed<float>(t);
  for (const auto& s : t.after) run_stage(s);
}

// Handing a product to the worker allocates nothing unless it stages.
static_assert(sizeof(GemmTask) <= scheduler::TaskFn::kInline);

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

// The pointer the gemms read operand a (is_a) or b from: x itself when the
// plan can read it and it is in the compute dtype, otherwise a contiguous
// `compute` copy that the task stages (and the plan is told about).
const void* prepare(Encoding& e, MatmulPlan& plan, const char* op, const array& x, bool is_a,
                    Dtype compute) {
  if (plan.operand(is_a).layout && x.dtype() == compute) return x.raw_ptr();
  Shape shape = matmul_staging_shape(x);
  array t = e.temporary(shape, compute);
  e.before.push_back({x.raw_ptr(), t.raw_ptr(), x.dtype(), compute,
                      make_plan<2>(shape, {&x.strides(), &t.strides()})});
  plan.restage(is_a, shape, t.strides(), op);
  return t.raw_ptr();
}

// Encodes out = beta * c + alpha * (a @ b) (c may be null: beta is unused).
void encode_product(const Primitive& p, const char* op, const array* c, const array& a,
                    const array& b, array& out, double alpha, double beta) {
  cpu::blas::library();  // a BLAS that cannot be loaded fails here, on the caller's thread
  Dtype dtype = out.dtype();
  Dtype compute = dtype == float64 || dtype == complex64 ? dtype : float32;
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

  MatmulPlan plan = plan_matmul(a, b, out.shape());
  GemmTask t;
  t.dtype = compute;
  t.M = static_cast<int>(plan.M);
  t.N = static_cast<int>(plan.N);
  t.K = static_cast<int>(plan.K);
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
                       make_plan<2>(out.shape(), {&acc.strides(), &out.strides()})});
  }
  if (prefill && target != c->raw_ptr()) {
    Strides cs = broadcast_strides(*c, out.shape());
    Strides os = row_major_strides(out.shape());
    e.before.push_back(
        {c->raw_ptr(), target, c->dtype(), compute, make_plan<2>(out.shape(), {&cs, &os})});
  }
  t.c = target;

  if (plan.K > 0) {
    t.a = prepare(e, plan, op, a, true, compute);
    t.b = prepare(e, plan, op, b, false, compute);
    plan.fold_batch();
    t.M = static_cast<int>(plan.rows);
    t.lda = static_cast<int>(plan.lda);
    t.ldb = static_cast<int>(plan.b.layout->ld);
    t.trans_a = plan.a.layout->trans;
    t.trans_b = plan.b.layout->trans;
    // c is written batch element after batch element, so the batch must be
    // visited in order. for_each_strided walks a plan whose last two axes
    // each hold a unit stride in square tiles instead (for batch strides,
    // in practice one-element matrices: a batch-transposed (64, 64, 1, 1)
    // operand, say); a trailing axis of size 1 keeps it in order.
    t.batch = make_plan<2>(plan.gemm_batch(), {&plan.a.batch_strides, &plan.b.batch_strides});
    if (wants_tiles(t.batch)) {
      t.batch.shape.push_back(1);
      for (auto& s : t.batch.strides) s.push_back(0);
    }
  }
  t.before = std::move(e.before);
  t.after = std::move(e.after);
  enc.dispatch([t = std::move(t)] { run_gemm(t); });
}

}  // namespace

void Matmul::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode_product(*this, "matmul", nullptr, inputs[0], inputs[1], outputs[0], 1.0, 0.0);
}

void AddMM::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  encode_product(*this, "addmm", &inputs[0], inputs[1], inputs[2], outputs[0], alpha_, beta_);
}

}  // namespace fastsync
