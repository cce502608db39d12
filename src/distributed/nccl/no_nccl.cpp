// The NCCL backend of a build without the CUDA backend: no process can join
// an NCCL group. probe() says why, so init(backend="any") picks MPI and
// init(backend="nccl") explains; create() is never reached through init, and
// raises if it is. CMake links this file instead of nccl.cpp when there is
// no CUDA backend, as it links backend/no_gpu for the GPU backend.
#include <stdexcept>

#include "distributed/nccl/nccl.h"

namespace fastsync::distributed::nccl {

Probe probe() {
  Probe p;
  p.status = Readiness::no_cuda_backend;
  p.why = "NCCL needs a build with the CUDA backend; this build of fastsync has none";
  return p;
}

std::shared_ptr<Comm> create(std::shared_ptr<Comm>) {
  throw std::runtime_error(
      "[distributed.init] NCCL needs a build with the CUDA backend; this build of fastsync "
      "has none (use backend='mpi')");
}

void finalize(bool) {}

}  // namespace fastsync::distributed::nccl
