#include "backend/cuda/profile.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "backend/cuda/runtime.h"

namespace fastsync::cuda::profile {

namespace {

struct Record {
  std::string name;
  cudaEvent_t begin, end;
  double host_ms;
};

std::atomic<bool> on{[] {
  const char* e = std::getenv("FASTSYNC_GPU_PROFILE");
  return e && *e && *e != '0';
}()};
const bool detail = [] {
  const char* e = std::getenv("FASTSYNC_GPU_PROFILE");
  return e && std::string(e) == "2";
}();
std::mutex mutex;  // guards records
std::vector<Record> records;

}  // namespace

bool enabled() { return on.load(std::memory_order_relaxed); }
void enable(bool v) { on.store(v, std::memory_order_relaxed); }
bool detailed() { return detail; }

void record(std::string name, cudaEvent_t begin, cudaEvent_t end, double host_ms) {
  std::lock_guard lk(mutex);
  records.push_back({std::move(name), begin, end, host_ms});
}

std::map<std::string, Totals> report() {
  std::vector<Record> taken;
  {
    std::lock_guard lk(mutex);
    taken.swap(records);
  }
  std::map<std::string, Totals> out;
  for (const Record& r : taken) {
    float ms = 0;
    check(cudaEventSynchronize(r.end), "cudaEventSynchronize");
    check(cudaEventElapsedTime(&ms, r.begin, r.end), "cudaEventElapsedTime");
    Totals& t = out[r.name];
    ++t.count;
    t.gpu_ms += ms;
    t.host_ms += r.host_ms;
    cudaEventDestroy(r.begin);
    cudaEventDestroy(r.end);
  }
  return out;
}

}  // namespace fastsync::cuda::profile
