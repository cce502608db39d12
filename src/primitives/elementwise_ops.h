// The elementwise op enums (UnaryOp, BinaryOp) and their X-macro lists,
// apart from the primitives that carry them: the scalar functors
// (backend/common/elementwise.h) need only these, and so does the CUDA
// backend's run-time compiled code (backend/cuda/jit.h), which cannot
// include the runtime's headers. Includes nothing.
#pragma once

namespace fastsync {

// (op, Name) for every unary op; keeps the enum, names and kernel tables in
// step.
#define FASTSYNC_UNARY_OPS(X)      \
  X(negative, Negative)            \
  X(abs, Abs)                      \
  X(sign, Sign)                    \
  X(exp, Exp)                      \
  X(expm1, Expm1)                  \
  X(log, Log)                      \
  X(log1p, Log1p)                  \
  X(log2, Log2)                    \
  X(sqrt, Sqrt)                    \
  X(rsqrt, Rsqrt)                  \
  X(square, Square)                \
  X(sin, Sin)                      \
  X(cos, Cos)                      \
  X(tanh, Tanh)                    \
  X(sigmoid, Sigmoid)              \
  X(silu, Silu)                    \
  X(erf, Erf)                      \
  X(erfinv, ErfInv)                \
  X(tan, Tan)                      \
  X(arcsin, ArcSin)                \
  X(arccos, ArcCos)                \
  X(arctan, ArcTan)                \
  X(sinh, Sinh)                    \
  X(cosh, Cosh)                    \
  X(arcsinh, ArcSinh)              \
  X(arccosh, ArcCosh)              \
  X(arctanh, ArcTanh)              \
  X(log10, Log10)                  \
  X(floor, Floor)                  \
  X(ceil, Ceil)                    \
  X(round, Round)                  \
  X(logical_not, LogicalNot)       \
  X(bitwise_invert, BitwiseInvert) \
  X(real, Real)                    \
  X(imag, Imag)                    \
  X(conj, Conjugate)

enum class UnaryOp {
#define FASTSYNC_ENUM(op, Name) op,
  FASTSYNC_UNARY_OPS(FASTSYNC_ENUM)
#undef FASTSYNC_ENUM
};

// (op, Name) for every binary op; comparisons are listed apart because they
// output bool.
#define FASTSYNC_BINARY_ARITH_OPS(X) \
  X(add, Add)                        \
  X(subtract, Subtract)              \
  X(multiply, Multiply)              \
  X(divide, Divide)                  \
  X(floor_divide, FloorDivide)       \
  X(remainder, Remainder)            \
  X(power, Power)                    \
  X(maximum, Maximum)                \
  X(minimum, Minimum)                \
  X(arctan2, ArcTan2)                \
  X(logical_and, LogicalAnd)         \
  X(logical_or, LogicalOr)           \
  X(bitwise_and, BitwiseAnd)         \
  X(bitwise_or, BitwiseOr)           \
  X(bitwise_xor, BitwiseXor)         \
  X(left_shift, LeftShift)           \
  X(right_shift, RightShift)
#define FASTSYNC_BINARY_COMPARE_OPS(X) \
  X(equal, Equal)                      \
  X(not_equal, NotEqual)               \
  X(less, Less)                        \
  X(less_equal, LessEqual)             \
  X(greater, Greater)                  \
  X(greater_equal, GreaterEqual)
#define FASTSYNC_BINARY_OPS(X) FASTSYNC_BINARY_ARITH_OPS(X) FASTSYNC_BINARY_COMPARE_OPS(X)

enum class BinaryOp {
#define FASTSYNC_ENUM(op, Name) op,
  FASTSYNC_BINARY_OPS(FASTSYNC_ENUM)
#undef FASTSYNC_ENUM
};

constexpr bool is_comparison(BinaryOp op) {
  switch (op) {
#define FASTSYNC_CMP(op, Name) case BinaryOp::op:
    FASTSYNC_BINARY_COMPARE_OPS(FASTSYNC_CMP)
#undef FASTSYNC_CMP
    return true;
    default: return false;
  }
}

}  // namespace fastsync
