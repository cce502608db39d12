#include "primitives/reduce.h"

namespace fastsync {

const char* Reduce::name() const {
  switch (op_) {
    case ReduceOp::sum: return "Sum";
    case ReduceOp::prod: return "Prod";
    case ReduceOp::max: return "Max";
    case ReduceOp::min: return "Min";
  }
  return "Reduce";
}

std::vector<Shape> Reduce::output_shapes(const std::vector<array>& inputs) const {
  Shape out;
  const auto& in = inputs[0].shape();
  size_t k = 0;
  for (int d = 0; d < static_cast<int>(in.size()); ++d) {
    if (k < axes_.size() && axes_[k] == d) {
      ++k;
    } else {
      out.push_back(in[d]);
    }
  }
  return {out};
}

}  // namespace fastsync

namespace fastsync {

std::vector<Shape> ArgReduce::output_shapes(const std::vector<array>& inputs) const {
  Shape out = inputs[0].shape();
  out.erase(out.begin() + axis_);
  return {out};
}

const char* Scan::name() const {
  switch (op_) {
    case ReduceOp::sum: return "CumSum";
    case ReduceOp::prod: return "CumProd";
    case ReduceOp::max: return "CumMax";
    case ReduceOp::min: return "CumMin";
  }
  return "Scan";
}

std::vector<Shape> Scan::output_shapes(const std::vector<array>& inputs) const {
  return {inputs[0].shape()};
}

}  // namespace fastsync
