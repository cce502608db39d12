// The NCCL backend as group.cpp sees it: whether this process can join an
// NCCL group, making the world communicator, and the exit hook.
//
// Contract. Everything here runs on a user thread (group.cpp calls it under
// its mutex, NcclComm::split without it). CUDA builds implement it in
// src/distributed/nccl/nccl.cpp, next to NcclComm (comm.h), whose collectives are enqueued on GPU
// streams by the primitives' eval_gpu (src/backend/cuda/distributed.cpp); builds
// without the CUDA backend link the stub in distributed/nccl/no_nccl.cpp, where
// probe() says why not and create() raises. Nothing in this header needs
// CUDA or NCCL headers.
//
// NCCL is bootstrapped through MPI: rank 0 of an MPI communicator makes the
// ncclUniqueId and every rank gets it by an all_gather over that
// communicator, so launching is the MPI launcher's job (one process per GPU).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "distributed/group.h"

namespace fastsync::distributed::nccl {

// Why a process can or cannot join an NCCL group. Exchanged between ranks
// as an int32, so every rank reaches the same verdict.
enum class Readiness : int32_t {
  ready = 0,
  no_cuda_backend = 1,  // fastsync was built without the CUDA backend
  no_gpu = 2,           // no CUDA device is visible to the process
  no_library = 3,       // libnccl.so.2 cannot be loaded
};

struct Probe {
  Readiness status = Readiness::no_cuda_backend;
  // The UUID of the GPU this process would use (device 0): ranks sharing
  // one GPU cannot form an NCCL communicator, and would fail in NCCL's init.
  std::array<uint8_t, 16> gpu{};
  std::string why;  // empty when ready
};

// Checks this process: CUDA backend, a device, libnccl (loaded once here; a
// failed load is tried again on the next call). Never throws.
Probe probe();

// Makes an NCCL communicator over the processes of `bootstrap` (an MPI
// communicator), with the same ranks. Collective over `bootstrap`: every
// member calls it. Throws std::runtime_error naming the NCCL call that
// failed; then every rank fails the same way when the failure is rank 0's
// ncclGetUniqueId (broadcast with the id), and as NCCL decides otherwise.
std::shared_ptr<Comm> create(std::shared_ptr<Comm> bootstrap);

// See distributed::finalize: waits for the GPU and destroys every NCCL
// communicator made here (in creation order, the same on every rank), or
// aborts them. Does nothing when none was made.
void finalize(bool abort);

}  // namespace fastsync::distributed::nccl
