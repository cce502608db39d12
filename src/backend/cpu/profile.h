// Per-primitive CPU time, for finding where a model's step goes on the CPU
// (the counterpart of backend/cuda/profile.h).
//
// Off unless FASTSYNC_CPU_PROFILE=1 or enable(true); FASTSYNC_CPU_PROFILE=2
// keys each primitive by its first output's shape and dtype as well. When on, the command
// encoder times each op's eval_cpu on the encoding thread and wraps the
// compute it dispatches so that the stream's worker times it (kernels that
// split across the kernel pool count their wall time on the worker).
// record() from any thread; report() and enable() from any thread (a mutex
// guards the totals).
#pragma once

#include <map>
#include <string>

namespace fastsync::cpu::profile {

struct Totals {
  int count = 0;
  double run_ms = 0;   // the dispatched compute, on the stream's worker
  double host_ms = 0;  // eval_cpu on the encoding thread
};

bool enabled();
bool detailed();
void enable(bool on);
void record_run(const char* name, double ms);
void record_encode(const char* name, double ms);
// Totals per primitive since the last report; clears them.
std::map<std::string, Totals> report();

}  // namespace fastsync::cpu::profile
