// CPU kernels of the fused convolution primitives (Convolution and its two
// gradients, primitives/conv.h).
//
// float32 convolutions go to oneDNN where it is installed and takes the
// geometry (onednn.h): its direct kernels need no patch matrix at all.
// Everything else (float64, no oneDNN, FASTSYNC_ONEDNN=0, a flipped kernel,
// input dilation, cropping) runs here on the BLAS, fused: as Im2Col and one
// product, a 3x3 convolution would materialize patches nine times the size
// of its input (231 MB for a 32x56x56x64 batch) and stream them through
// memory twice, and its input gradient would write a patch gradient as
// large and gather it back. Instead the task walks the batch in chunks
// whose patches fit in the cache (chunk_bytes): gather one chunk on the
// kernel pool, multiply it with the BLAS and its own threads (under the
// BLAS pool lock, blas.h), move on to the next. The weight gradient adds the
// chunks' products in chunk order, so no result depends on a thread count.
// A pointwise geometry (1x1 kernel, stride 1, no padding) skips the gather.
//
// eval_cpu (encoding thread) allocates the output and the chunk buffer (a
// temporary the encoder retains), and stages operands that are not
// row-contiguous (a broadcast cotangent, a transposed view) into
// row-contiguous temporaries that the task fills first; our own kernels
// read the image x in place with any strides.
#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "backend/cpu/blas.h"
#include "backend/cpu/copy.h"
#include "backend/cpu/onednn.h"
#include "backend/cpu/parallel.h"
#include "backend/cpu/patches.h"
#include "backend/cpu/utils.h"
#include "primitives/conv.h"

namespace fastsync {

namespace {

// Patch bytes per chunk: 4 MB on two cores (L2-sized pieces, each product
// still worth its threads); with more cores, 8 MB per core, so every BLAS
// thread gets a worthwhile share of each product and the pool and BLAS
// threads hand over rarely (2 MB per core ran the 3x3 ResNet step of a
// 16-core host 1.3x slower than one unchunked product).
int64_t chunk_bytes() {
  static const int64_t threads = cpu::kernel_threads();
  static const int64_t bytes = (threads > 2 ? 8 * threads : 4) << 20;
  return bytes;
}

void blas_gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b,
               int ldb, float beta, float* c, int ldc) {
  cpu::blas::library().sgemm(cpu::blas::RowMajor, ta ? cpu::blas::Transpose : cpu::blas::NoTrans,
                             tb ? cpu::blas::Transpose : cpu::blas::NoTrans, m, n, k, 1.0f, a, lda,
                             b, ldb, beta, c, ldc);
}

void blas_gemm(bool ta, bool tb, int m, int n, int k, const double* a, int lda, const double* b,
               int ldb, double beta, double* c, int ldc) {
  cpu::blas::library().dgemm(cpu::blas::RowMajor, ta ? cpu::blas::Transpose : cpu::blas::NoTrans,
                             tb ? cpu::blas::Transpose : cpu::blas::NoTrans, m, n, k, 1.0, a, lda,
                             b, ldb, beta, c, ldc);
}

// c (m x n, row stride ldc) = op(a) @ op(b), plus c itself when
// `accumulate`. Every size here fits BLAS's 32-bit integers: the ops layer
// builds these primitives only then (fused_convolution), and chunks bound
// the rest.
template <typename T>
void product(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
             int64_t ldb, bool accumulate, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    }
    return;
  }
  std::lock_guard lock(cpu::blas::pool_mutex());
  blas_gemm(ta, tb, int(m), int(n), int(k), a, int(std::max<int64_t>(lda, 1)), b,
            int(std::max<int64_t>(ldb, 1)), accumulate ? T(1) : T(0), c, int(ldc));
}

// What every task needs: the geometry's sizes.
struct Sizes {
  int64_t images = 0, rows = 0;  // rows: images x output positions
  int64_t c_in = 0, c_out = 0;   // channels
  int64_t cg = 0, og = 0;        // per group
  int64_t depth = 0, width = 0;  // patch entries per group, per row (G x depth)
  bool pointwise = false;

  Sizes(const ConvGeometry& g, int64_t n, int64_t cin, int64_t cout)
      : images(n),
        rows(n * g.out_size()),
        c_in(cin),
        c_out(cout),
        cg(cin / g.groups),
        og(cout / g.groups),
        depth(g.kernel_size() * cg),
        width(g.groups * depth),
        pointwise(g.pointwise()) {}

  // Patch rows per chunk, at least one.
  int64_t chunk_rows(size_t item) const {
    return std::max<int64_t>(1, chunk_bytes() / std::max<int64_t>(1, width * int64_t(item)));
  }
  // Whole images per chunk (the input gradient gathers image by image).
  int64_t chunk_images(const ConvGeometry& g, size_t item) const {
    return std::max<int64_t>(1, chunk_rows(item) / std::max<int64_t>(1, g.out_size()));
  }
};

// A copy the task makes before computing: a weight or output gradient
// staged row-major.
struct Stage {
  array from, to;  // weak copies: the encoder retains both
};

class Encoding {
 public:
  Encoding(const Primitive& p, const std::vector<array>& inputs, array& out)
      : enc_(cpu::encoder_for(p)) {
    cpu::alloc(out);
    for (const auto& in : inputs) enc_.set_input_array(in);
    enc_.set_output_array(out);
  }

  // `a` itself when row-contiguous, otherwise a temporary the task fills.
  array row_major(const array& a) {
    if (a.flags().row_contiguous) return a.unsafe_weak_copy();
    array t(a.shape(), a.dtype(), nullptr, {});
    cpu::alloc(t);
    enc_.add_temporary(t);
    stages.push_back({a.unsafe_weak_copy(), t.unsafe_weak_copy()});
    return t.unsafe_weak_copy();
  }

  // A scratch buffer of `elements` that lives until the task is done.
  array scratch(int64_t elements, Dtype dtype) {
    array t(Shape{std::max<int64_t>(elements, 1)}, dtype, nullptr, {});
    cpu::alloc(t);
    enc_.add_temporary(t);
    return t.unsafe_weak_copy();
  }

  template <typename F>
  void dispatch(F&& f) {
    enc_.dispatch([stages = std::move(stages), f = std::forward<F>(f)]() mutable {
      for (auto& s : stages) cpu::copy_kernel(s.from, s.to);
      f();
    });
  }

  std::vector<Stage> stages;

 private:
  cpu::CommandEncoder& enc_;
};

template <typename F>
void dispatch_float(Dtype d, F&& f) {
  if (d == float32) {
    f(float{});
  } else if (d == float64) {
    f(double{});
  } else {
    throw std::logic_error("[conv] the fused CPU convolution takes float32 and float64 only");
  }
}

// Whether the patches must be gathered: a pointwise geometry over a
// row-contiguous image reads the image itself.
bool gathers(const Sizes& s, const array& x) { return !(s.pointwise && x.flags().row_contiguous); }

// Patch rows [r0, r0 + r) as a (r, width) row-major matrix: gathered into
// buf, or the image's own rows.
template <typename T>
const T* chunk_patches(const ConvGeometry& g, const Sizes& s, const array& x, int64_t r0, int64_t r,
                       T* buf) {
  if (!gathers(s, x)) return x.data<T>() + r0 * s.c_in;
  cpu::im2col(g, x.dtype(), x.raw_ptr(), x.strides(), s.cg, r0, r, buf);
  return buf;
}

// y (rows, O) = patches (rows, G, depth) . w (O, depth) per group.
template <typename T>
void forward(const ConvGeometry& g, const Sizes& s, const array& x, const T* w, T* buf, T* y) {
  const int64_t step = s.chunk_rows(sizeof(T));
  for (int64_t r0 = 0; r0 < s.rows; r0 += step) {
    const int64_t r = std::min(step, s.rows - r0);
    const T* p = chunk_patches(g, s, x, r0, r, buf);
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      product<T>(false, true, r, s.og, s.depth, p + grp * s.depth, s.width,
                 w + grp * s.og * s.depth, s.depth, false, y + r0 * s.c_out + grp * s.og, s.c_out);
    }
  }
}

// dw (O, depth) per group = sum over chunks of dy_chunk^T . patches_chunk.
template <typename T>
void weight_grad(const ConvGeometry& g, const Sizes& s, const array& x, const T* dy, T* buf,
                 T* dw) {
  const int64_t step = s.chunk_rows(sizeof(T));
  if (s.rows == 0) {
    std::fill(dw, dw + s.c_out * s.depth, T(0));
    return;
  }
  for (int64_t r0 = 0; r0 < s.rows; r0 += step) {
    const int64_t r = std::min(step, s.rows - r0);
    const T* p = chunk_patches(g, s, x, r0, r, buf);
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      product<T>(true, false, s.og, s.depth, r, dy + r0 * s.c_out + grp * s.og, s.c_out,
                 p + grp * s.depth, s.width, r0 > 0, dw + grp * s.og * s.depth, s.depth);
    }
  }
}

// dx = col2im(dy . w) per group, whole images at a time.
template <typename T>
void input_grad(const ConvGeometry& g, const Sizes& s, const T* w, const T* dy, T* buf, T* dx) {
  const int64_t positions = g.out_size(), pixels = g.in_size();
  if (s.pointwise) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      product<T>(false, false, s.rows, s.cg, s.og, dy + grp * s.og, s.c_out,
                 w + grp * s.og * s.depth, s.depth, false, dx + grp * s.cg, s.c_in);
    }
    return;
  }
  // The chunk's patches (n, *out, G, *kernel, cg), row-major.
  const Strides ps = row_major_strides(patches_shape(g, 1, s.c_in));
  const int64_t step = s.chunk_images(g, sizeof(T));
  for (int64_t n0 = 0; n0 < s.images; n0 += step) {
    const int64_t n = std::min(step, s.images - n0);
    const int64_t r0 = n0 * positions;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      product<T>(false, false, n * positions, s.depth, s.og, dy + r0 * s.c_out + grp * s.og,
                 s.c_out, w + grp * s.og * s.depth, s.depth, false, buf + grp * s.depth, s.width);
    }
    cpu::col2im(g, type_to_dtype<T>::value, buf, ps, s.cg, n, dx + n0 * pixels * s.c_in);
  }
}

// The chunk buffer of the forward pass and the weight gradient.
array gather_buffer(Encoding& e, const Sizes& s, const array& x) {
  const int64_t rows = gathers(s, x) ? std::min(s.rows, s.chunk_rows(x.dtype().size())) : 0;
  return e.scratch(rows * s.width, x.dtype());
}

// Dispatches the pass to oneDNN when it takes it (onednn.h): operands
// staged row-major, the weight's preferred layout in a scratch buffer.
bool try_onednn(Encoding& e, cpu::onednn::Pass pass, const ConvGeometry& g, int64_t n, int64_t c_in,
                int64_t c_out, const array& a, const array& b, array& out) {
  auto plan = cpu::onednn::plan(pass, g, n, c_in, c_out, out.dtype());
  if (!plan) return false;
  array am = e.row_major(a), bm = e.row_major(b);
  array scratch = e.scratch(int64_t(cpu::onednn::scratch_bytes(*plan)), uint8);
  e.dispatch([plan, am, bm, scratch, out = out.unsafe_weak_copy()]() {
    std::lock_guard lock(cpu::blas::pool_mutex());
    cpu::onednn::run(*plan, am.raw_ptr(), bm.raw_ptr(), out.raw_ptr(), scratch.raw_ptr());
  });
  return true;
}

}  // namespace

void Convolution::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &x = inputs[0], &w = inputs[1];
  Encoding e(*this, inputs, outputs[0]);
  if (outputs[0].size() == 0) return;
  Sizes s(geometry_, x.shape(0), x.shape(-1), w.shape(0));
  if (try_onednn(e, cpu::onednn::Pass::forward, geometry_, s.images, s.c_in, s.c_out, x, w,
                 outputs[0])) {
    return;
  }
  array wm = e.row_major(w);
  array buf = gather_buffer(e, s, x);
  e.dispatch([g = geometry_, s, x = x.unsafe_weak_copy(), wm, buf,
              y = outputs[0].unsafe_weak_copy()]() mutable {
    dispatch_float(y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      forward<T>(g, s, x, wm.data<T>(), buf.data<T>(), y.data<T>());
    });
  });
}

void ConvolutionWeightGrad::eval_cpu(const std::vector<array>& inputs,
                                     std::vector<array>& outputs) {
  const array &x = inputs[0], &dy = inputs[1];
  Encoding e(*this, inputs, outputs[0]);
  if (outputs[0].size() == 0) return;
  Sizes s(geometry_, x.shape(0), x.shape(-1), dy.shape(-1));
  if (try_onednn(e, cpu::onednn::Pass::weight_grad, geometry_, s.images, s.c_in, s.c_out, x, dy,
                 outputs[0])) {
    return;
  }
  array dym = e.row_major(dy);
  array buf = gather_buffer(e, s, x);
  e.dispatch([g = geometry_, s, x = x.unsafe_weak_copy(), dym, buf,
              dw = outputs[0].unsafe_weak_copy()]() mutable {
    dispatch_float(dw.dtype(), [&](auto tag) {
      using T = decltype(tag);
      weight_grad<T>(g, s, x, dym.data<T>(), buf.data<T>(), dw.data<T>());
    });
  });
}

void ConvolutionInputGrad::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array &w = inputs[0], &dy = inputs[1];
  Encoding e(*this, inputs, outputs[0]);
  if (outputs[0].size() == 0) return;
  Sizes s(geometry_, dy.shape(0), outputs[0].shape(-1), dy.shape(-1));
  if (try_onednn(e, cpu::onednn::Pass::input_grad, geometry_, s.images, s.c_in, s.c_out, w, dy,
                 outputs[0])) {
    return;
  }
  array wm = e.row_major(w);
  array dym = e.row_major(dy);
  const int64_t chunk = std::min(s.images, s.chunk_images(geometry_, dy.dtype().size()));
  array buf = e.scratch(s.pointwise ? 0 : chunk * geometry_.out_size() * s.width, dy.dtype());
  e.dispatch([g = geometry_, s, wm, dym, buf, dx = outputs[0].unsafe_weak_copy()]() mutable {
    dispatch_float(dx.dtype(), [&](auto tag) {
      using T = decltype(tag);
      input_grad<T>(g, s, wm.data<T>(), dym.data<T>(), buf.data<T>(), dx.data<T>());
    });
  });
}

}  // namespace fastsync
