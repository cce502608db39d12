// The GPU backend of a build without one (CMake links this file instead of
// backend/cuda): no GPU exists, so no GPU stream can be made and only
// is_available is ever asked.
#include <stdexcept>

#include "array.h"
#include "backend/backend.h"
#include "primitives/conv.h"

namespace fastsync {

namespace {

[[noreturn]] void unreachable() {
  throw std::logic_error("[gpu] this build of fastsync has no GPU backend");
}

class NoGpuBackend : public Backend {
 public:
  bool is_available() const override { return false; }
  int device_count() const override { return 0; }
  DeviceInfo device_info(int) const override { unreachable(); }
  bool is_host() const override { return false; }
  allocator::Allocator& allocator() override { unreachable(); }
  bool reads(const allocator::Buffer&) const override { return false; }
  std::unique_ptr<StreamEncoder> make_encoder(Stream) override { unreachable(); }
  array cross(const array&, const std::optional<Stream>&, const Stream&) override { unreachable(); }
  array host_copy(const array&) override { unreachable(); }
  void throttle() override {}
  void synchronize() override {}
};

}  // namespace

bool gpu_dnn_convolution(const ConvGeometry&, Dtype) { return false; }

Backend& gpu_backend() {
  static NoGpuBackend b;
  return b;
}

}  // namespace fastsync
