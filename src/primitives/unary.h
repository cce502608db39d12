// Elementwise primitives of one input. The ops layer converts the input to
// the dtype the op computes in; the output has that dtype, except abs, real
// and imag of complex64, which output float32.
#pragma once

#include "primitive.h"

namespace fastsync {

// (op, Name) for every unary op; keeps the enum, names and kernel tables in
// step.
#define FASTSYNC_UNARY_OPS(X)    \
  X(negative, Negative)          \
  X(abs, Abs)                    \
  X(sign, Sign)                  \
  X(exp, Exp)                    \
  X(expm1, Expm1)                \
  X(log, Log)                    \
  X(log1p, Log1p)                \
  X(log2, Log2)                  \
  X(sqrt, Sqrt)                  \
  X(rsqrt, Rsqrt)                \
  X(square, Square)              \
  X(sin, Sin)                    \
  X(cos, Cos)                    \
  X(tanh, Tanh)                  \
  X(sigmoid, Sigmoid)            \
  X(erf, Erf)                    \
  X(erfinv, ErfInv)              \
  X(tan, Tan)                    \
  X(arcsin, ArcSin)              \
  X(arccos, ArcCos)              \
  X(arctan, ArcTan)              \
  X(sinh, Sinh)                  \
  X(cosh, Cosh)                  \
  X(arcsinh, ArcSinh)            \
  X(arccosh, ArcCosh)            \
  X(arctanh, ArcTanh)            \
  X(log10, Log10)                \
  X(floor, Floor)                \
  X(ceil, Ceil)                  \
  X(round, Round)                \
  X(logical_not, LogicalNot)     \
  X(bitwise_invert, BitwiseInvert) \
  X(real, Real)                  \
  X(imag, Imag)                  \
  X(conj, Conjugate)

enum class UnaryOp {
#define FASTSYNC_ENUM(op, Name) op,
  FASTSYNC_UNARY_OPS(FASTSYNC_ENUM)
#undef FASTSYNC_ENUM
};

class Unary : public Primitive {
 public:
  Unary(Stream s, UnaryOp op) : Primitive(s), op_(op) {}
  const char* name() const override;
  FASTSYNC_VMAP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP
  UnaryOp op() const { return op_; }

 private:
  UnaryOp op_;
};

}  // namespace fastsync
