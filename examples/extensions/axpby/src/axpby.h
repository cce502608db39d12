// axpby(x, y, alpha, beta) = alpha * x + beta * y as one fastsync primitive,
// built outside fastsync against its extension API (docs/extensions.md).
//
// The three layers fastsync keeps apart: the op (axpby) checks arguments and
// builds the graph node; the primitive (Axpby) knows its derivatives and its
// batching rule and encodes its compute on each backend; the kernels
// (axpby.cpp's CPU loop, axpby_cuda.cu's CUDA kernel) compute.
#pragma once

#include <fastsync/ops/ops.h>
#include <fastsync/primitive.h>

namespace axpby_ext {

// alpha * x + beta * y, broadcast, in x and y's promoted floating dtype
// (integers and bools compute in float32).
fastsync::array axpby(const fastsync::array& x, const fastsync::array& y, double alpha, double beta,
                      fastsync::StreamOrDevice s = {});

class Axpby : public fastsync::Primitive {
 public:
  Axpby(fastsync::Stream s, double alpha, double beta)
      : fastsync::Primitive(s), alpha_(alpha), beta_(beta) {}

  const char* name() const override { return "Axpby"; }

  // Encoding thread: allocates the output and hands the loop to the stream's
  // worker through the CPU command encoder.
  void eval_cpu(const std::vector<fastsync::array>& inputs,
                std::vector<fastsync::array>& outputs) override;
#ifdef AXPBY_GPU
  // Encoding thread: allocates the output and launches the kernel on the
  // stream's CUDA stream.
  void eval_gpu(const std::vector<fastsync::array>& inputs,
                std::vector<fastsync::array>& outputs) override;
#endif

  std::vector<fastsync::array> vjp(const std::vector<fastsync::array>& primals,
                                   const std::vector<fastsync::array>& cotangents,
                                   const std::vector<int>& argnums,
                                   const std::vector<fastsync::array>& outputs) override;
  std::vector<fastsync::array> jvp(const std::vector<fastsync::array>& primals,
                                   const std::vector<fastsync::array>& tangents,
                                   const std::vector<int>& argnums,
                                   const std::vector<fastsync::array>& outputs) override;
  std::pair<std::vector<fastsync::array>, std::vector<int>> vmap(
      const std::vector<fastsync::array>& inputs, const std::vector<int>& axes,
      const std::vector<fastsync::array>& outputs,
      const std::shared_ptr<fastsync::Primitive>& self) override;

  double alpha() const { return alpha_; }
  double beta() const { return beta_; }

 private:
  double alpha_;
  double beta_;
};

// The CUDA kernels take at most this many axes (the op checks it).
inline constexpr int kMaxGpuDims = 8;

}  // namespace axpby_ext
