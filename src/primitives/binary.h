// Elementwise primitives of two inputs, broadcasting. Inputs share a dtype
// (the ops layer promotes); comparisons output bool, the rest that dtype.
#pragma once

#include "primitive.h"

namespace fastsync {

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

class Binary : public Primitive {
 public:
  Binary(Stream s, BinaryOp op) : Primitive(s), op_(op) {}
  const char* name() const override;
  FASTSYNC_VMAP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP
  BinaryOp op() const { return op_; }

 private:
  BinaryOp op_;
};

// Python's divmod: floor quotient and remainder (sign of the divisor), as
// two outputs of one primitive.
class DivMod : public Primitive {
 public:
  explicit DivMod(Stream s) : Primitive(s) {}
  const char* name() const override { return "DivMod"; }
  FASTSYNC_VMAP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP
};

// where(condition, x, y): condition is bool, x and y share a dtype.
class Select : public Primitive {
 public:
  explicit Select(Stream s) : Primitive(s) {}
  const char* name() const override { return "Select"; }
  FASTSYNC_VMAP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU
  FASTSYNC_VJP
};

Shape broadcast_shapes(const Shape& a, const Shape& b);

}  // namespace fastsync
