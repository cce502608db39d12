#include "rewrite.h"

#include <cstdlib>
#include <cstring>
#include <typeinfo>

#include "allocator.h"
#include "array.h"
#include "primitives/binary.h"
#include "primitives/linalg.h"

namespace fastsync {

namespace {

// A computed, host-readable scalar of `dtype` holding +0 (all bits zero in
// every floating type; maximum(v, -0) would turn negatives into -0).
bool is_positive_zero(const array& z, Dtype dtype) {
  if (z.status() != Status::available || z.size() != 1 || z.dtype() != dtype) return false;
  const auto& d = z.data_shared_ptr();
  if (!d || allocator::is_device(d->buffer)) return false;
  const auto* bytes = static_cast<const unsigned char*>(z.raw_ptr());
  for (int64_t i = 0; i < dtype.size(); ++i) {
    if (bytes[i] != 0) return false;
  }
  return true;
}

// FASTSYNC_REWRITE=0 turns the rewrites off (to time a graph as built).
// Read once; constant afterwards.
bool enabled() {
  static const bool on = [] {
    const char* e = std::getenv("FASTSYNC_REWRITE");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return on;
}

}  // namespace

bool fold_relu_into_product(Node& n) {
  if (typeid(*n.primitive) != typeid(Binary) || !enabled()) return false;
  const auto& op = static_cast<const Binary&>(*n.primitive);
  const Stream& s = op.stream();
  if (op.op() != BinaryOp::maximum || s.device.type != Device::Type::cpu || n.outputs.size() != 1 ||
      n.inputs.size() != 2) {
    return false;
  }
  // The product comes first: maximum(0, v) turns -0 into +0, which the
  // epilogue does not.
  const array& x = n.inputs[0];
  // float32 and float64 (MatmulRelu's kernel has no half-type epilogue).
  if (x.status() != Status::unscheduled || x.use_count() != 1 ||
      (x.dtype() != float32 && x.dtype() != float64)) {
    return false;
  }
  const Node& p = *x.node();
  if (p.outputs.size() != 1 || p.primitive->stream() != s) return false;
  auto out = n.outputs[0].lock();
  if (!out || out->shape != x.shape() || out->dtype != x.dtype() ||
      !is_positive_zero(n.inputs[1], x.dtype())) {
    return false;
  }
  std::shared_ptr<Primitive> fused;
  const Primitive& prod = *p.primitive;
  if (typeid(prod) == typeid(Matmul)) {
    fused = std::make_shared<MatmulRelu>(s);
  } else if (typeid(prod) == typeid(AddMM)) {
    const auto& mm = static_cast<const AddMM&>(prod);
    fused = std::make_shared<MatmulRelu>(s, mm.alpha(), mm.beta());
  } else {
    return false;
  }
  // Copied before the product's output (and with it its node) goes.
  std::vector<array> inputs = p.inputs;
  n.primitive = std::move(fused);
  n.inputs = std::move(inputs);
  return true;
}

}  // namespace fastsync
