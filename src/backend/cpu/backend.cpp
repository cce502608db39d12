// The CPU backend (backend/backend.h): host memory, one worker thread per
// stream (scheduler.h), and the throttle on CPU work in flight.
#include "backend/backend.h"

#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <string>

#include "array.h"
#include "backend/cpu/blas.h"
#include "backend/cpu/encoder.h"
#include "backend/cpu/onednn.h"
#include "timeline.h"

namespace fastsync {

namespace {

#if defined(__x86_64__)
#define FASTSYNC_CPU_ARCH "x86_64"
#elif defined(__aarch64__)
#define FASTSYNC_CPU_ARCH "arm64"
#else
#define FASTSYNC_CPU_ARCH "unknown"
#endif

// The processor's model name from /proc/cpuinfo (Linux), else the
// architecture.
std::string cpu_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  }
  return FASTSYNC_CPU_ARCH;
}

// The BLAS the products call; one that FASTSYNC_BLAS asks for and cannot be
// loaded is reported as such (the products themselves raise).
std::string blas_name() {
  try {
    return cpu::blas::library().name;
  } catch (const std::exception& e) {
    return std::string("unavailable: ") + e.what();
  }
}

class CpuBackend : public Backend {
 public:
  bool is_available() const override { return true; }
  int device_count() const override { return 1; }
  DeviceInfo device_info(int) const override {
    return {{"device_name", cpu_name()},
            {"architecture", std::string(FASTSYNC_CPU_ARCH)},
            {"memory_size", static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE)},
            {"blas", blas_name()},
            {"convolution", cpu::onednn::describe()}};
  }
  bool is_host() const override { return true; }
  allocator::Allocator& allocator() override { return allocator::host(); }
  bool reads(const allocator::Buffer& b) const override { return !allocator::is_device(b); }

  std::unique_ptr<StreamEncoder> make_encoder(Stream s) override {
    return std::make_unique<cpu::CommandEncoder>(s);
  }

  array cross(const array&, const std::optional<Stream>&, const Stream&) override {
    throw std::logic_error("[eval] the host backend moves no data across devices");
  }
  array host_copy(const array&) override {
    throw std::logic_error("[eval] host arrays need no host copy");
  }

  // At most a fixed number of tasks, and of bytes their outputs hold, may be
  // outstanding; over the memory limit, compute catches up (and frees)
  // before more is encoded. Waiting cannot help once nothing is outstanding.
  // Past the bytes cap one task may still be outstanding, so that a worker
  // always finds the next op queued even when every output is over the cap
  // (a training step's activations), while two large outputs are never
  // allocated ahead of the compute that frees what they replace (a KV
  // cache's keys and values growing in one step).
  void throttle() override {
    const int64_t t0 = timeline::on() ? timeline::now() : 0;
    const int64_t tasks = t0 ? scheduler::outstanding() : 0;
    const auto bytes = t0 ? static_cast<int64_t>(scheduler::inflight_bytes()) : 0;
    bool stalled = false;
    int cap = scheduler::max_outstanding();
    if (scheduler::outstanding() > cap) {
      stalled = true;
      scheduler::wait_outstanding_at_most(cap * 3 / 4);
    }
    auto& alloc = allocator::host();
    while (scheduler::inflight_bytes() > scheduler::max_inflight_bytes() &&
           scheduler::outstanding() > 1) {
      stalled = true;
      scheduler::wait_for_a_completion();
    }
    while (alloc.active_memory() > alloc.memory_limit() && scheduler::outstanding() > 0) {
      stalled = true;
      scheduler::wait_for_a_completion();
    }
    if (t0 && stalled) {
      timeline::span({timeline::current_track(), "throttle", timeline::intern("throttle (cpu)"), t0,
                      timeline::now()},
                     {{"outstanding_tasks", tasks}, {"inflight_bytes", bytes}});
    }
  }

  void synchronize() override { scheduler::wait_outstanding_at_most(0); }
};

}  // namespace

Backend& cpu_backend() {
  // Never destroyed: workers may reach it during static teardown.
  static auto* b = new CpuBackend();
  return *b;
}

}  // namespace fastsync
