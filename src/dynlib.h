// Loading a shared library at run time: the dlopen search that cuBLAS
// (backend/cuda/cublas.cpp), NCCL (distributed/nccl/nccl.cpp) and MPI
// (distributed/mpi/mpi.cpp) share. Each caller keeps only its candidate list,
// its symbol table and its install hint.
//
// load() tries the candidates in order and stops at the first that opens and
// has every symbol the caller's resolve callback requires. When none does,
// the failure message lists every candidate tried, each with dlerror's
// reason (or the symbol it lacks), then the caller's hint:
//   cannot load NCCL (libnccl.so.2). Tried:
//     libnccl.so.2: cannot open shared object file: No such file or directory
//     /opt/nccl/lib/libnccl.so.2: loaded, but it has no symbol ncclSend (fastsync needs ...)
//   Install it with ...
// A library that opened but lacked a symbol is left loaded: unloading a
// library that may have run constructors is riskier than the mapping it
// keeps. A loaded library is never closed.
//
// Threads: any. Nothing here keeps state; each caller serializes its own
// load (under its mutex) and keeps what it resolved for the life of the
// process. dlerror is per thread, so concurrent loads do not mix reasons.
#pragma once

#include <dlfcn.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fastsync::dynlib {

// One way to find the library.
struct Candidate {
  // A file path, or a soname for the loader's own search (LD_LIBRARY_PATH,
  // ld.so.cache, ...).
  std::string path;
  // Libraries opened first, with RTLD_NOW | RTLD_GLOBAL, so that `path`
  // finds them (libcublas looks for its libcublasLt through the loader path
  // only). A preload that fails rules the candidate out, and is listed.
  std::vector<std::string> preload = {};
  // Only a copy already in the process (RTLD_NOLOAD): two copies of some
  // libraries in one process would not share state. Not listed in the
  // failure message when absent: nothing was really tried.
  bool already_loaded = false;
  // dlopen's flags (RTLD_NOLOAD is added for already_loaded).
  int flags = RTLD_NOW | RTLD_LOCAL;
};

// Symbol lookup in one opened library, for the caller's resolve callback.
class Symbols {
 public:
  explicit Symbols(void* handle) : handle_(handle) {}

  // The address of `name`, or null when the library has none; a required
  // symbol missing rules the candidate out (the first is named).
  void* find(const char* name, bool required = true);
  // Sets the function pointer `fn` to symbol `name` (null when absent).
  template <typename F>
  void bind(F*& fn, const char* name, bool required = true) {
    fn = reinterpret_cast<F*>(find(name, required));
  }
  // The first required symbol not found, or "".
  const std::string& missing() const { return missing_; }

 private:
  void* handle_;
  std::string missing_;
};

// The library load() settled on.
struct Library {
  void* handle = nullptr;  // from dlopen; never closed
  std::string path;        // the candidate's path (a soname or a file)
};

// How a failure reads. The message is
//   "cannot load " + name + ". Tried:" + <one line per candidate> + "\n" + hint
// with "(nothing found)" as the only line when no candidate was tried.
struct Describe {
  std::string name;   // "NCCL (libnccl.so.2)"
  std::string needs;  // "fastsync needs NCCL 2.7 or newer": why a library lacking a symbol won't do
  std::string hint;   // "Install it with ..."
};

// Tries `candidates` in order. For each library opened, calls `resolve`
// with a Symbols over it (the caller stores the addresses it wants, calling
// it again for the next candidate overwrites them); the first with no
// required symbol missing is returned. Otherwise returns nullopt with the
// failure message in *why. Never throws (but what `resolve` throws).
std::optional<Library> load(const std::vector<Candidate>& candidates,
                            const std::function<void(Symbols&)>& resolve, const Describe& describe,
                            std::string* why);

// One entry of a PATH-like list: a directory, or (anything else) a file.
struct PathEntry {
  std::string path;
  bool is_dir = false;

  // `name` inside the directory, or the file itself.
  std::string file(const std::string& name) const { return is_dir ? path + "/" + name : path; }
};

// The non-empty entries of the ':'-separated list in environment variable
// `var`, in order; none when it is unset or empty.
std::vector<PathEntry> path_entries(const char* var);

bool is_dir(const std::string& path);
// Exists and is not a directory.
bool is_file(const std::string& path);

}  // namespace fastsync::dynlib
