// Bounds how long a host collective may block. A peer rank that exited
// (sys.exit() before a collective, say) or stopped answering would
// otherwise leave this rank inside MPI forever: MPI calls cannot be
// cancelled, so past the limit the watchdog ends the whole job with a
// message naming the op, as an uncaught exception on a rank does.
//
// Who calls: the MPI kernels (mpi.cpp), on stream worker threads, one
// Scope around each blocking call; several threads may be inside at once.
// The watchdog's own thread starts at the first watched call and sleeps
// between checks; it is never joined (process exit needs nothing from it).
#pragma once

#include <cstdint>
#include <functional>

namespace fastsync::distributed {

// FASTSYNC_DISTRIBUTED_TIMEOUT in seconds (default 600); 0 or a negative
// value: no limit.
double collective_timeout_s();

class Watchdog {
 public:
  // `expire(what, seconds)` runs on the watchdog's thread when a call named
  // `what` has been blocked `seconds`; it should end the job.
  explicit Watchdog(std::function<void(const char* what, double seconds)> expire);
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  class Scope {
   public:
    Scope(Watchdog& w, const char* what);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Watchdog& w_;
    uint64_t id_;
  };

 private:
  struct State;
  State* state_;  // shared with the watchdog thread, which outlives no one
};

}  // namespace fastsync::distributed
