// Loading cuBLAS at run time, and the per-stream cuBLAS handles (cublas.h).
//
// The library is loaded once and never unloaded: handles and their
// workspaces live until the process exits, since destroying them during
// static teardown would race the CUDA driver's own shutdown. A failed load
// is not remembered, so the next product tries again.
#include "cuda/cublas.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "cuda/allocators.h"
#include "cuda/encoder.h"
#include "cuda/runtime.h"

namespace fastsync::cuda::cublas {

namespace {

// Newest first: a process that already holds cuBLAS 13 must not get a
// second cuBLAS beside it.
constexpr const char* kVersions[] = {"13", "12"};
constexpr const char* kToolkitDir = "/usr/local/cuda/lib64";

std::mutex load_mutex;
Api* loaded = nullptr;  // never freed: handles outlive every static

std::string dlerror_text() {
  const char* e = dlerror();
  return e ? e : "unknown error";
}

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

// Resolves every symbol; returns the first required one missing, or "".
std::string resolve(Api& a) {
  std::string missing;
  auto sym = [&](const char* name, bool required) -> void* {
    void* p = dlsym(a.lib, name);
    if (!p && required && missing.empty()) missing = name;
    return p;
  };
#define FASTSYNC_CUBLAS_FN(field, name, required) \
  a.field = reinterpret_cast<decltype(a.field)>(sym(name, required))
  FASTSYNC_CUBLAS_FN(Create, "cublasCreate_v2", true);
  FASTSYNC_CUBLAS_FN(Destroy, "cublasDestroy_v2", true);
  FASTSYNC_CUBLAS_FN(SetStream, "cublasSetStream_v2", true);
  FASTSYNC_CUBLAS_FN(SetWorkspace, "cublasSetWorkspace_v2", true);
  FASTSYNC_CUBLAS_FN(SetMathMode, "cublasSetMathMode", true);
  FASTSYNC_CUBLAS_FN(GemmEx, "cublasGemmEx", true);
  FASTSYNC_CUBLAS_FN(GemmStridedBatchedEx, "cublasGemmStridedBatchedEx", true);
  FASTSYNC_CUBLAS_FN(GetStatusString, "cublasGetStatusString", false);
  FASTSYNC_CUBLAS_FN(GetStatusName, "cublasGetStatusName", false);
#undef FASTSYNC_CUBLAS_FN
  return missing;
}

// One way to find the library: a name for dlopen, and the libcublasLt that
// must be loaded first when `lib` is a path (libcublas finds its own
// libcublasLt through the loader path only, which a wheel's directory is
// not on).
struct Candidate {
  std::string lib;
  std::string lt;  // empty: none to preload
  bool already_loaded = false;
};

// The candidates of one FASTSYNC_CUBLAS_PATH entry: a directory holding the
// libraries, or libcublas itself.
void add_path(std::vector<Candidate>& out, const std::string& entry) {
  if (is_dir(entry)) {
    for (const char* v : kVersions) {
      std::string lib = entry + "/libcublas.so." + v;
      if (is_file(lib)) out.push_back({lib, entry + "/libcublasLt.so." + v});
    }
    return;
  }
  // A file: its libcublasLt has the same version suffix, in the same place.
  std::string lt;
  size_t slash = entry.rfind('/');
  std::string dir = slash == std::string::npos ? "." : entry.substr(0, slash);
  std::string base = slash == std::string::npos ? entry : entry.substr(slash + 1);
  const std::string prefix = "libcublas.so";
  if (base.rfind(prefix, 0) == 0) lt = dir + "/libcublasLt.so" + base.substr(prefix.size());
  out.push_back({entry, is_file(lt) ? lt : ""});
}

std::vector<Candidate> candidates() {
  std::vector<Candidate> c;
  for (const char* v : kVersions) c.push_back({std::string("libcublas.so.") + v, "", true});
  for (const char* v : kVersions) c.push_back({std::string("libcublas.so.") + v, ""});
  if (const char* env = std::getenv("FASTSYNC_CUBLAS_PATH"); env && *env) {
    std::string s = env;
    for (size_t start = 0; start <= s.size();) {
      size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) add_path(c, s.substr(start, end - start));
      start = end + 1;
    }
  }
  if (is_dir(kToolkitDir)) add_path(c, kToolkitDir);
  return c;
}

// Loads cuBLAS or explains, in `why`, everything that was tried.
Api* load(std::string* why) {
  std::string tried;
  for (const auto& cand : candidates()) {
    dlerror();
    void* h = nullptr;
    if (cand.already_loaded) {
      h = dlopen(cand.lib.c_str(), RTLD_NOW | RTLD_NOLOAD);
      if (!h) continue;  // not in the process: not worth listing
    } else {
      if (!cand.lt.empty() && !dlopen(cand.lt.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
        tried += "\n  " + cand.lt + ": " + dlerror_text();
        continue;
      }
      h = dlopen(cand.lib.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) {
        std::string e = dlerror_text();  // usually names the library already
        tried += "\n  " + (e.rfind(cand.lib, 0) == 0 ? e : cand.lib + ": " + e);
        continue;
      }
    }
    auto a = std::make_unique<Api>();
    a->lib = h;
    a->path = cand.lib;
    if (auto missing = resolve(*a); !missing.empty()) {
      // Left loaded: unloading a library that may have run constructors is
      // riskier than the mapping it keeps.
      tried += "\n  " + cand.lib + ": loaded, but it has no symbol " + missing +
               " (fastsync needs cuBLAS 12 or 13)";
      continue;
    }
    return a.release();
  }
  *why = "cannot load cuBLAS (libcublas.so.13 or libcublas.so.12), which the GPU backend "
         "uses for matrix products. Tried:" +
         (tried.empty() ? std::string("\n  (nothing found)") : tried) +
         "\nInstall it with `pip install nvidia-cublas` (then import fastsync again, or call "
         "fastsync._cuda_libs.preload()), or set FASTSYNC_CUBLAS_PATH to the directory that "
         "holds libcublas.so.13 and libcublasLt.so.13.";
  return nullptr;
}

const char* status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "an unknown cuBLAS status";
}

// The workspace size the cuBLAS documentation recommends: 32 MiB on Hopper
// and later, 4 MiB before. Smaller rules out some kernels.
size_t workspace_bytes() {
  int major = 0;
  cuda::check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0),
              "cudaDeviceGetAttribute");
  return size_t(major >= 9 ? 32 : 4) << 20;
}

std::mutex handles_mutex;
// By CUDA stream: encoders, and so their streams, live as long as the
// process. Never destroyed (see the top of the file).
auto* handles = new std::unordered_map<cudaStream_t, cublasHandle_t>();

}  // namespace

const Api& api(const char* op) {
  std::lock_guard lk(load_mutex);
  if (!loaded) {
    std::string why;
    loaded = load(&why);
    if (!loaded) throw std::runtime_error(std::string("[") + op + "] " + why);
  }
  return *loaded;
}

void check(cublasStatus_t s, const char* op, const char* fn) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  // No lock: a status comes from a call made after api() returned on this
  // thread, and `loaded` never changes once set.
  const Api* a = loaded;
  std::string name = a && a->GetStatusName ? a->GetStatusName(s) : status_name(s);
  std::string msg = std::string("[") + op + "] " + fn + " failed: " + name;
  if (a && a->GetStatusString) msg += std::string(" (") + a->GetStatusString(s) + ")";
  throw std::runtime_error(msg);
}

cublasHandle_t handle(CommandEncoder& enc, const char* op) {
  const Api& a = api(op);
  cudaStream_t stream = enc.stream();
  std::lock_guard lk(handles_mutex);
  if (auto it = handles->find(stream); it != handles->end()) return it->second;
  bind_device();
  // Ours rather than cuBLAS's own cudaMalloc: it counts against the memory
  // limit, and a handle per stream means no two streams share it. Freed
  // only if the handle cannot be set up; otherwise it lives as the handle.
  size_t bytes = workspace_bytes();
  allocator::Buffer ws = device_allocator().malloc(bytes);
  cublasHandle_t h = nullptr;
  try {
    check(a.Create(&h), op, "cublasCreate_v2");
    check(a.SetStream(h, stream), op, "cublasSetStream_v2");
    check(a.SetWorkspace(h, ws.ptr, bytes), op, "cublasSetWorkspace_v2");
    check(a.SetMathMode(h, cublasMath_t(CUBLAS_DEFAULT_MATH |
                                        CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)),
          op, "cublasSetMathMode");
  } catch (...) {
    if (h) a.Destroy(h);
    allocator::free(ws);
    throw;
  }
  handles->emplace(stream, h);
  return h;
}

}  // namespace fastsync::cuda::cublas
