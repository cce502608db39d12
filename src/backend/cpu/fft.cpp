// CPU kernel of the FFT primitive: Intel MKL's DFTI, from the same libmkl_rt
// the BLAS can use (blas.h: the mkl wheel, FASTSYNC_MKL_PATH, or the loader
// path), loaded at the first CPU transform. Without MKL the transform raises
// NotImplementedError at eval, naming what to install.
//
// eval_cpu (encoding thread) allocates the contiguous output (and a
// contiguous working copy where the input is a view or would be
// overwritten) and dispatches one task. The task transforms one axis at a
// time, in place on the contiguous buffer (the first axis of a contiguous
// complex input read out of place): a committed DFTI descriptor per axis
// layout, kept across calls, does all the 1-D transforms of that axis at
// once (a batch of `inner` strided transforms, repeated over the `outer`
// blocks), so no data is transposed.
// A real transform does its real axis (the last listed) first going
// forward and last going backward. The scale is applied by DFTI, once.
// The backward real axis runs in double precision: MKL's single-precision
// complex-to-real transform is off by up to 0.4 % of the output's scale on
// AVX-512 cores for lengths with a large prime factor (2 x 7882: 2e-3 on
// values of 0.5, the double one 2e-8; the AVX2 code path is fine), while
// its other single-precision transforms stay within 2e-7.
//
// Threads: DFTI is thread safe across descriptors; its own threads run
// under the BLAS pool lock (blas.h), as LAPACK's, so streams take turns.
#include "primitives/fft.h"

#include <algorithm>
#include <complex>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>

#include "backend/cpu/blas.h"
#include "backend/cpu/copy.h"
#include "backend/cpu/utils.h"
#include "errors.h"

namespace fastsync {

namespace {

using cfloat = std::complex<float>;
using cdouble = std::complex<double>;
using Handle = void*;
using MklLong = long;  // MKL_LONG on LP64 Linux

// DFTI's configuration names and values (mkl_dfti.h).
enum : int {
  kForwardScale = 4,
  kBackwardScale = 5,
  kNumberOfTransforms = 7,
  kConjugateEvenStorage = 10,
  kPlacement = 11,
  kFwdDistance = 58,
  kBwdDistance = 59,
  kFwdStrides = 60,
  kBwdStrides = 61,
};
enum : int { kComplex = 32, kReal = 33, kComplexComplex = 39, kNotInplace = 44 };

struct Dfti {
  MklLong (*create_1d)(Handle*, int, ...) = nullptr;    // DftiCreateDescriptor_s_1d
  MklLong (*create_1d_d)(Handle*, int, ...) = nullptr;  // DftiCreateDescriptor_d_1d
  MklLong (*set)(Handle, int, ...) = nullptr;
  MklLong (*commit)(Handle) = nullptr;
  MklLong (*forward)(Handle, void*, ...) = nullptr;
  MklLong (*backward)(Handle, void*, ...) = nullptr;
  MklLong (*release)(Handle*) = nullptr;
  char* (*message)(MklLong) = nullptr;
  int (*max_threads)() = nullptr;           // MKL_Get_Max_Threads
  int (*set_threads_local)(int) = nullptr;  // MKL_Set_Num_Threads_Local
};

std::variant<Dfti, std::string> load_dfti() {
  Dfti api;
  std::string why;
  auto lib = dynlib::load(
      cpu::blas::mkl_candidates(),
      [&](dynlib::Symbols& sym) {
        sym.bind(api.create_1d, "DftiCreateDescriptor_s_1d");
        sym.bind(api.create_1d_d, "DftiCreateDescriptor_d_1d");
        sym.bind(api.set, "DftiSetValue");
        sym.bind(api.commit, "DftiCommitDescriptor");
        sym.bind(api.forward, "DftiComputeForward");
        sym.bind(api.backward, "DftiComputeBackward");
        sym.bind(api.release, "DftiFreeDescriptor");
        sym.bind(api.message, "DftiErrorMessage");
        sym.bind(api.max_threads, "MKL_Get_Max_Threads");
        sym.bind(api.set_threads_local, "MKL_Set_Num_Threads_Local");
      },
      {"Intel MKL (libmkl_rt.so.3 or .2)", "fastsync's CPU FFT needs MKL's DFTI",
       "Install it with `pip install mkl` (or `pip install fastsync[mkl]`), or set "
       "FASTSYNC_MKL_PATH to the directory that holds libmkl_rt.so.3."},
      &why);
  if (!lib) return why;
  // MKL's OpenMP runtime registers its fork handler as it starts: start it
  // here, then put the pool lock's handler (held around each transform)
  // before it.
  api.max_threads();
  cpu::blas::keep_fork_handler_first();
  return api;
}

// The loaded DFTI; throws not_implemented (with the loader's reasons) when
// MKL is not there. Loaded once, under the static's guard.
const Dfti& dfti() {
  static const std::variant<Dfti, std::string> loaded = load_dfti();
  if (const auto* why = std::get_if<std::string>(&loaded)) {
    throw not_implemented("[fft] the CPU FFT runs on Intel MKL, which is not available: " + *why);
  }
  return std::get<Dfti>(loaded);
}

void check(MklLong status, const char* what) {
  if (status != 0) {
    throw std::runtime_error(std::string("[fft] MKL DFTI ") + what +
                             " failed: " + dfti().message(status));
  }
}

struct Descriptor {
  Handle h = nullptr;
  Descriptor(int domain, int64_t n, bool dbl) {
    auto create = dbl ? dfti().create_1d_d : dfti().create_1d;
    check(create(&h, domain, static_cast<MklLong>(n)), "create");
  }
  ~Descriptor() {
    if (h) dfti().release(&h);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  template <typename V>
  void set(int param, V value) {
    check(dfti().set(h, param, value), "configure");
  }
};

// A transform of axis `ax`: `outer` blocks of `inner` interleaved 1-D
// transforms of n points (m on the frequency side of a real transform).
struct AxisLayout {
  int64_t n, outer = 1, inner = 1;
  AxisLayout(const Shape& shape, int ax) : n(shape[ax]) {
    for (int d = 0; d < ax; ++d) outer *= shape[d];
    for (int d = ax + 1; d < static_cast<int>(shape.size()); ++d) inner *= shape[d];
  }
  // The descriptor's batch: the whole axis in one call when the transforms
  // are contiguous, else `inner` strided ones per outer block.
  int64_t blocks() const { return inner == 1 ? 1 : outer; }
};

// Everything a committed descriptor depends on.
struct PlanKey {
  int domain;
  int64_t n, outer, inner;
  bool in_place;
  double scale;
  bool inverse;
  bool dbl = false;  // double precision
  auto tie() const { return std::tie(domain, n, outer, inner, in_place, scale, inverse, dbl); }
  bool operator<(const PlanKey& o) const { return tie() < o.tie(); }
};

// Committed descriptors, kept across calls: committing one computes its
// twiddle tables, milliseconds for a transform of 2^20 points. Bounded (the
// whole cache is dropped when full). Guarded by the BLAS pool lock, which
// every FFT task holds while it transforms. A plan of 2^20 points holds
// some 16 MB of tables, hence the small bound.
constexpr size_t kMaxPlans = 16;
auto* plans = new std::map<PlanKey, std::unique_ptr<Descriptor>>();  // never destroyed

Descriptor& plan(const PlanKey& k) {
  auto it = plans->find(k);
  if (it != plans->end()) return *it->second;
  if (plans->size() >= kMaxPlans) plans->clear();
  const bool real = k.domain == kReal;
  const int64_t m = real ? k.n / 2 + 1 : k.n;
  auto d = std::make_unique<Descriptor>(k.domain, k.n, k.dbl);
  if (real) d->set(kConjugateEvenStorage, kComplexComplex);
  if (!k.in_place) d->set(kPlacement, kNotInplace);
  // The batch: the whole axis in one call when the transforms are
  // contiguous, else `inner` strided ones per outer block (blocks()).
  if (k.inner == 1) {
    d->set(kNumberOfTransforms, static_cast<MklLong>(k.outer));
    d->set(kFwdDistance, static_cast<MklLong>(k.n));
    d->set(kBwdDistance, static_cast<MklLong>(m));
  } else {
    MklLong strides[2] = {0, static_cast<MklLong>(k.inner)};
    d->set(kNumberOfTransforms, static_cast<MklLong>(k.inner));
    d->set(kFwdDistance, MklLong{1});
    d->set(kBwdDistance, MklLong{1});
    d->set(kFwdStrides, strides);
    d->set(kBwdStrides, strides);
  }
  if (k.scale != 1.0) d->set(k.inverse ? kBackwardScale : kForwardScale, k.scale);
  check(dfti().commit(d->h), "commit");
  return *plans->emplace(k, std::move(d)).first->second;
}

// The complex transforms along axis `ax` of `src` into `dst` (the same
// buffer, or another of the same contiguous layout).
void c2c_axis(const cfloat* src, cfloat* dst, const Shape& shape, int ax, bool inverse,
              double scale) {
  AxisLayout l(shape, ax);
  Descriptor& d = plan({kComplex, l.n, l.outer, l.inner, src == dst, scale, inverse});
  const int64_t step = l.inner == 1 ? 0 : l.n * l.inner;
  for (int64_t b = 0; b < l.blocks(); ++b) {
    auto* in = const_cast<cfloat*>(src + b * step);  // DFTI takes void*; it only reads
    cfloat* out = dst + b * step;
    MklLong status = in == out
                         ? (inverse ? dfti().backward(d.h, out) : dfti().forward(d.h, out))
                         : (inverse ? dfti().backward(d.h, in, out) : dfti().forward(d.h, in, out));
    check(status, "compute");
  }
}

// Real samples (n along ax) -> their n / 2 + 1 non-negative frequencies.
void real_forward(const float* samples, cfloat* freqs, const Shape& real_shape, int ax,
                  double scale) {
  AxisLayout l(real_shape, ax);
  const int64_t m = l.n / 2 + 1;
  Descriptor& d = plan({kReal, l.n, l.outer, l.inner, false, scale, false});
  for (int64_t b = 0; b < l.blocks(); ++b) {
    auto* r = const_cast<float*>(samples + (l.inner == 1 ? 0 : b * l.n * l.inner));
    cfloat* c = freqs + (l.inner == 1 ? 0 : b * m * l.inner);
    check(dfti().forward(d.h, r, c), "compute");
  }
}

// The frequencies back to real samples, in double precision (see the top of
// the file): `wide_freqs` and `wide_samples` are scratch of the same layouts.
void real_backward(const cfloat* freqs, float* samples, cdouble* wide_freqs, double* wide_samples,
                   const Shape& real_shape, int ax, double scale) {
  AxisLayout l(real_shape, ax);
  const int64_t m = l.n / 2 + 1;
  const int64_t n_freqs = l.outer * m * l.inner, n_samples = l.outer * l.n * l.inner;
  for (int64_t i = 0; i < n_freqs; ++i) wide_freqs[i] = cdouble(freqs[i]);
  PlanKey key{kReal, l.n, l.outer, l.inner, false, scale, true};
  key.dbl = true;
  Descriptor& d = plan(key);
  for (int64_t b = 0; b < l.blocks(); ++b) {
    cdouble* c = wide_freqs + (l.inner == 1 ? 0 : b * m * l.inner);
    double* r = wide_samples + (l.inner == 1 ? 0 : b * l.n * l.inner);
    check(dfti().backward(d.h, c, r), "compute");
  }
  for (int64_t i = 0; i < n_samples; ++i) samples[i] = static_cast<float>(wide_samples[i]);
}

// A task's non-owning handle on an optional scratch array.
std::optional<array> weak(const std::optional<array>& a) {
  return a ? std::optional<array>(a->unsafe_weak_copy()) : std::nullopt;
}

}  // namespace

void FFT::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  dfti();  // no MKL: raise now, at eval, rather than in the task
  const array& in = inputs[0];
  array& out = outputs[0];
  auto& enc = cpu::encoder_for(*this);
  cpu::alloc(out);
  enc.set_input_array(in);
  enc.set_output_array(out);
  if (out.size() == 0) return;
  // The task's working copy of the input: a real forward transform reads
  // its input in place when it is contiguous; an inverse real one
  // transforms a copy (its complex axes go in place first).
  std::optional<array> work, wide_in, wide_out;
  auto scratch = [&](Shape shape, Dtype dtype) {
    array t(std::move(shape), dtype, nullptr, {});
    cpu::alloc(t);
    enc.add_temporary(t);
    return t;
  };
  if (real_ && (inverse_ || !in.flags().row_contiguous)) work = scratch(in.shape(), in.dtype());
  if (real_ && inverse_) {
    // complex128 frequencies as pairs of float64, and float64 samples.
    wide_in = scratch({2 * in.size()}, float64);
    wide_out = scratch({out.size()}, float64);
  }
  enc.dispatch([axes = axes_, inverse = inverse_, real = real_, scale = scale_,
                in = in.unsafe_weak_copy(), out = out.unsafe_weak_copy(), work = weak(work),
                wide_in = weak(wide_in), wide_out = weak(wide_out)]() mutable {
    // The pool lock also guards the plan cache (and a descriptor in use).
    std::lock_guard<std::mutex> lock(cpu::blas::pool_mutex());
    // Small transforms run on this thread alone: waking MKL's team cost
    // more than they do. On the 2-core VM, per 2-D transform, team / alone:
    // 64^2 complex 9.2 / 5.7 us, 256^2 80 / 60, 512^2 433 / 537; real
    // forward 64^2 10.5 / 4.6, 256^2 35 / 32, 512^2 156 / 201; real inverse
    // 64^2 22 / 17, 128^2 104 / 143.
    const int64_t alone_up_to = real && inverse ? 4096 : 65536;
    std::optional<cpu::blas::OnThisThread> alone;
    if (std::max(in.size(), out.size()) <= alone_up_to) alone.emplace(dfti().set_threads_local);
    const int last = axes.back();
    if (!real) {
      // The first axis reads a contiguous complex input out of place.
      const cfloat* src = out.data<cfloat>();
      if (in.dtype() == complex64 && in.flags().row_contiguous) {
        src = in.data<cfloat>();
      } else {
        cpu::copy_kernel(in, out);
      }
      for (size_t i = 0; i < axes.size(); ++i) {
        c2c_axis(src, out.data<cfloat>(), out.shape(), axes[i], inverse,
                 i + 1 == axes.size() ? scale : 1.0);
        src = out.data<cfloat>();
      }
      return;
    }
    if (!inverse) {
      array src = in;
      if (work) {
        cpu::copy_kernel(in, *work);
        src = *work;
      }
      real_forward(src.data<float>(), out.data<cfloat>(), src.shape(), last, scale);
      for (int ax : axes) {
        if (ax != last)
          c2c_axis(out.data<cfloat>(), out.data<cfloat>(), out.shape(), ax, false, 1.0);
      }
      return;
    }
    cpu::copy_kernel(in, *work);
    for (int ax : axes) {
      if (ax != last) {
        c2c_axis(work->data<cfloat>(), work->data<cfloat>(), work->shape(), ax, true, 1.0);
      }
    }
    real_backward(work->data<cfloat>(), out.data<float>(),
                  reinterpret_cast<cdouble*>(wide_in->data<double>()), wide_out->data<double>(),
                  out.shape(), last, scale);
  });
}

}  // namespace fastsync
