// The CUDA backend (backend/backend.h): device memory, one CommandEncoder
// per GPU stream, crossings to and from the host, and the throttle on bytes
// kept for GPU work in flight.
#include "backend/backend.h"

#include <cuda_runtime.h>

#include "backend/cuda/allocators.h"
#include "backend/cuda/crossing.h"
#include "backend/cuda/cudnn_graph.h"
#include "backend/cuda/encoder.h"
#include "backend/cuda/fused_source.h"
#include "backend/cuda/gemm.h"
#include "backend/cuda/graph.h"
#include "backend/cuda/inflight.h"
#include "backend/cuda/runtime.h"
#include "scheduler.h"

namespace fastsync {

namespace {

// Memory pressure: releases what the GPU is done with; if nothing was,
// waits for some stream's oldest retained batch. False if nothing is
// pending anywhere.
bool wait_for_memory() {
  auto encoders = cuda::all_encoders();
  for (auto* e : encoders) e->reclaim();
  for (auto* e : encoders) {
    if (e->release_oldest()) return true;
  }
  return false;
}

class CudaBackend : public Backend {
 public:
  bool is_available() const override { return cuda::device_count() > 0; }
  int device_count() const override { return cuda::device_count(); }
  DeviceInfo device_info(int index) const override {
    cudaDeviceProp p{};
    cuda::check(cudaGetDeviceProperties(&p, index), "cudaGetDeviceProperties");
    return {{"device_name", std::string(p.name)},
            {"architecture", "sm_" + std::to_string(p.major) + std::to_string(p.minor)},
            {"memory_size", static_cast<int64_t>(p.totalGlobalMem)},
            {"multiprocessor_count", static_cast<int64_t>(p.multiProcessorCount)},
            {"fused_kernels", cuda::fused_kernels_description()}};
  }
  bool is_host() const override { return false; }
  allocator::Allocator& allocator() override { return cuda::device_allocator(); }
  bool reads(const allocator::Buffer& b) const override { return allocator::is_device(b); }

  std::unique_ptr<StreamEncoder> make_encoder(Stream s) override {
    return std::make_unique<cuda::CommandEncoder>(s);
  }

  array cross(const array& in, const std::optional<Stream>& producer,
              const Stream& consumer) override {
    return consumer.device.type == Device::Type::gpu ? cuda::to_device(in, producer, consumer)
                                                     : cuda::to_host(in, producer, consumer);
  }
  array host_copy(const array& in) override { return cuda::host_copy(in); }

  // As on the CPU: buffers kept for GPU work in flight are capped, and the
  // device memory limit is honoured while waiting can free something.
  void throttle() override {
    auto& dev = cuda::device_allocator();
    const int64_t t0 = timeline::on() ? timeline::now() : 0;
    bool stalled = false;
    while (cuda::inflight::over_cap() || dev.active_memory() > dev.memory_limit()) {
      // The GPU work waited for may wait on CPU tasks (a crossing): those
      // pushed quietly by this eval must run while this thread waits.
      if (!stalled) scheduler::wake_quiet_so_far();
      if (!wait_for_memory()) break;
      stalled = true;
    }
    if (t0 && stalled) {
      timeline::span({timeline::current_track(), "throttle", timeline::intern("throttle (gpu)"), t0,
                      timeline::now()},
                     {{"device_bytes", static_cast<int64_t>(dev.active_memory())}});
    }
  }

  std::vector<std::pair<std::string, int64_t>> counters() const override {
    const auto dnn = cuda::cudnn::graph_counts();
    const auto gemms = cuda::gemm_counts();
    return {
        {"graph_launches", static_cast<int64_t>(cuda::GraphCapture::launches())},
        {"graph_instantiations", static_cast<int64_t>(cuda::GraphCapture::instantiations())},
        {"graph_ops", static_cast<int64_t>(cuda::GraphCapture::ops())},
        {"inflight_scans", static_cast<int64_t>(cuda::inflight::scans())},
        {"reused_buffers", static_cast<int64_t>(cuda::CommandEncoder::reused_buffers())},
        {"cudnn_plans", dnn.plans},
        {"cudnn_graph_runs", dnn.graph_runs},
        {"cudnn_legacy_runs", dnn.legacy_runs},
        {"gemm_lt_runs", static_cast<int64_t>(gemms.lt_runs)},
        {"gemm_lt_plans", static_cast<int64_t>(gemms.lt_plans)},
        {"gemm_ex_runs", static_cast<int64_t>(gemms.gemmex_runs)},
        {"call_graph_replays", static_cast<int64_t>(cuda::CallGraphs::replays())},
        {"call_graph_instantiations", static_cast<int64_t>(cuda::CallGraphs::instantiations())},
        {"call_graph_runs", static_cast<int64_t>(cuda::CallGraphs::runs())}};
  }

  void synchronize() override {
    for (auto* e : cuda::all_encoders()) {
      cuda::check(cudaStreamSynchronize(e->raw_stream()), "cudaStreamSynchronize");
      e->reclaim();
    }
  }
};

}  // namespace

Backend& gpu_backend() {
  // Never destroyed: GPU work may release buffers during static teardown.
  static auto* b = new CudaBackend();
  return *b;
}

}  // namespace fastsync
