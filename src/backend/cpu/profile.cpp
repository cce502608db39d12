#include "backend/cpu/profile.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

namespace fastsync::cpu::profile {

namespace {

std::atomic<bool> on{[] {
  const char* e = std::getenv("FASTSYNC_CPU_PROFILE");
  return e && *e && *e != '0';
}()};
const bool detail = [] {
  const char* e = std::getenv("FASTSYNC_CPU_PROFILE");
  return e && std::string(e) == "2";
}();
std::mutex mutex;  // guards totals
std::map<std::string, Totals> totals;

}  // namespace

bool enabled() { return on.load(std::memory_order_relaxed); }
bool detailed() { return detail; }
void enable(bool v) { on.store(v, std::memory_order_relaxed); }

void record_run(const char* name, double ms) {
  std::lock_guard lk(mutex);
  Totals& t = totals[name];
  ++t.count;
  t.run_ms += ms;
}

void record_encode(const char* name, double ms) {
  std::lock_guard lk(mutex);
  totals[name].host_ms += ms;
}

std::map<std::string, Totals> report() {
  std::lock_guard lk(mutex);
  std::map<std::string, Totals> out;
  out.swap(totals);
  return out;
}

}  // namespace fastsync::cpu::profile
