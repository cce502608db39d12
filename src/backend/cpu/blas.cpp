// Choosing the BLAS (blas.h): the linked OpenBLAS, or MKL loaded at run time.
#include "backend/cpu/blas.h"

#include <cblas.h>
#include <pthread.h>

#include <cstdlib>
#include <stdexcept>
#include <string_view>
#include <variant>
#include <vector>

#include "dynlib.h"

namespace fastsync::cpu::blas {

namespace {

Library openblas() {
  Library l;
  l.sgemm = [](int o, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
               const float* b, int ldb, float beta, float* c, int ldc) {
    scipy_cblas_sgemm(CBLAS_ORDER(o), CBLAS_TRANSPOSE(ta), CBLAS_TRANSPOSE(tb), m, n, k, alpha, a,
                      lda, b, ldb, beta, c, ldc);
  };
  l.dgemm = [](int o, int ta, int tb, int m, int n, int k, double alpha, const double* a, int lda,
               const double* b, int ldb, double beta, double* c, int ldc) {
    scipy_cblas_dgemm(CBLAS_ORDER(o), CBLAS_TRANSPOSE(ta), CBLAS_TRANSPOSE(tb), m, n, k, alpha, a,
                      lda, b, ldb, beta, c, ldc);
  };
  l.cgemm = [](int o, int ta, int tb, int m, int n, int k, const void* alpha, const void* a,
               int lda, const void* b, int ldb, const void* beta, void* c, int ldc) {
    scipy_cblas_cgemm(CBLAS_ORDER(o), CBLAS_TRANSPOSE(ta), CBLAS_TRANSPOSE(tb), m, n, k, alpha, a,
                      lda, b, ldb, beta, c, ldc);
  };
  const char* config = scipy_openblas_get_config();
  l.name = std::string(config ? config : "OpenBLAS") + " (scipy-openblas32)";
  return l;
}

// MKL's single dynamic library; it loads its computational and threading
// libraries itself, from its own directory.
constexpr const char* kMklSonames[] = {"libmkl_rt.so.3", "libmkl_rt.so.2"};
constexpr int kInterfaceLP64 = 0;  // MKL_INTERFACE_LP64: 32-bit integers, as above

struct MklApi {
  Sgemm* sgemm = nullptr;
  Dgemm* dgemm = nullptr;
  Cgemm* cgemm = nullptr;
  int (*set_interface_layer)(int) = nullptr;
  void (*get_version_string)(char*, int) = nullptr;
  int (*get_max_threads)() = nullptr;
  int (*set_threads_local)(int) = nullptr;
};

// MKL, or the reason it cannot be used.
std::variant<Library, std::string> mkl() {
  MklApi api;
  std::string why;
  auto lib = dynlib::load(
      mkl_candidates(),
      [&](dynlib::Symbols& sym) {
        sym.bind(api.sgemm, "cblas_sgemm");
        sym.bind(api.dgemm, "cblas_dgemm");
        sym.bind(api.cgemm, "cblas_cgemm");
        sym.bind(api.set_interface_layer, "MKL_Set_Interface_Layer");
        sym.bind(api.get_version_string, "MKL_Get_Version_String");
        sym.bind(api.get_max_threads, "MKL_Get_Max_Threads");
        sym.bind(api.set_threads_local, "MKL_Set_Num_Threads_Local");
      },
      {"Intel MKL (libmkl_rt.so.3 or .2)", "fastsync needs MKL's single dynamic library",
       "Install it with `pip install mkl` (or `pip install fastsync[mkl]`), or set "
       "FASTSYNC_MKL_PATH to the directory that holds libmkl_rt.so.3; set FASTSYNC_BLAS=openblas "
       "to use OpenBLAS."},
      &why);
  if (!lib) return why;
  // Returns the layer in force: a process that already chose ILP64 keeps it.
  if (api.set_interface_layer(kInterfaceLP64) != kInterfaceLP64) {
    return "MKL (" + lib->path +
           ") is already set to 64-bit integers (ILP64) in this process; fastsync calls it with "
           "32-bit integers. Set FASTSYNC_BLAS=openblas.";
  }
  // Starts MKL's OpenMP runtime now rather than in the first product: it
  // registers its fork handler as it starts, and the pool lock's must come
  // after it (keep_fork_handler_first).
  api.get_max_threads();
  Library l{api.sgemm, api.dgemm, api.cgemm, {}, api.set_threads_local};
  char version[256] = {};
  api.get_version_string(version, sizeof(version) - 1);
  std::string_view v(version);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\0')) v.remove_suffix(1);
  l.name = std::string(v) + " (" + lib->path + ")";
  return l;
}

std::variant<Library, std::string> choose() {
  const char* env = std::getenv("FASTSYNC_BLAS");
  std::string want = env && *env ? env : "auto";
  if (want == "openblas") return openblas();
  if (want != "auto" && want != "mkl") {
    return "FASTSYNC_BLAS=" + want + " is not a BLAS fastsync knows: use auto, openblas or mkl";
  }
  auto m = mkl();
  if (std::holds_alternative<Library>(m) || want == "mkl") return m;
  return openblas();
}

}  // namespace

std::vector<dynlib::Candidate> mkl_candidates() {
  std::vector<dynlib::Candidate> c;
  for (const char* so : kMklSonames) c.push_back({.path = so, .already_loaded = true});
  for (const auto& entry : dynlib::path_entries("FASTSYNC_MKL_PATH")) {
    if (!entry.is_dir) {
      c.push_back({entry.path});
      continue;
    }
    for (const char* so : kMklSonames) {
      std::string file = entry.file(so);
      if (dynlib::is_file(file)) c.push_back({file});
    }
  }
  for (const char* so : kMklSonames) c.push_back({so});
  return c;
}

const Library& library() {
  static const std::variant<Library, std::string> chosen = choose();
  if (const auto* why = std::get_if<std::string>(&chosen)) {
    throw std::runtime_error("[matmul] cannot use the BLAS that FASTSYNC_BLAS asks for: " + *why);
  }
  return std::get<Library>(chosen);
}

namespace {

std::mutex& the_pool_mutex() {
  static std::mutex m;
  return m;
}

// How many times this thread's fork handlers took the pool lock: the handler
// is registered more than once (keep_fork_handler_first), and only its first
// run before a fork locks, its last run after unlocks. The child is a copy of
// the forking thread, so it sees the same count.
thread_local int fork_depth = 0;
void fork_prepare() {
  if (fork_depth++ == 0) the_pool_mutex().lock();
}
void fork_done() {
  if (--fork_depth == 0) the_pool_mutex().unlock();
}

}  // namespace

// fork() while a stream worker is inside a threaded BLAS call hangs in the
// library's own fork handler: OpenBLAS's stops the threads the call is
// waiting for; MKL's OpenMP runtime takes the lock its parallel regions start
// and end under. Handlers run last-registered first before a fork, so the
// pool lock's handler is registered again after each such runtime starts
// (OpenBLAS's when it loads, MKL's when library() or the FFT starts it): it
// then waits for the call in flight to end and keeps the next from starting
// until the fork is done.
void keep_fork_handler_first() { pthread_atfork(fork_prepare, fork_done, fork_done); }

std::mutex& pool_mutex() {
  static const bool across_fork = [] {
    try {
      library();
    } catch (const std::exception&) {
      // No BLAS to call: no call to wait for; the caller reports why.
    }
    keep_fork_handler_first();
    return true;
  }();
  (void)across_fork;
  return the_pool_mutex();
}

}  // namespace fastsync::cpu::blas
