// Loading cuBLAS at run time, and the per-stream cuBLAS handles (cublas.h).
//
// The library is loaded once and never unloaded: handles and their
// workspaces live until the process exits, since destroying them during
// static teardown would race the CUDA driver's own shutdown. A failed load
// is not remembered, so the next product tries again.
#include "backend/cuda/cublas.h"

#include <memory>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "backend/cuda/allocators.h"
#include "backend/cuda/encoder.h"
#include "backend/cuda/runtime.h"
#include "dynlib.h"

namespace fastsync::cuda::cublas {

namespace {

// Newest first: a process that already holds cuBLAS 13 must not get a
// second cuBLAS beside it.
constexpr const char* kVersions[] = {"13", "12"};
constexpr const char* kToolkitDir = "/usr/local/cuda/lib64";

std::mutex load_mutex;
Api* loaded = nullptr;  // never freed: handles outlive every static

void resolve(Api& a, dynlib::Symbols& sym) {
  sym.bind(a.Create, "cublasCreate_v2");
  sym.bind(a.Destroy, "cublasDestroy_v2");
  sym.bind(a.SetStream, "cublasSetStream_v2");
  sym.bind(a.SetWorkspace, "cublasSetWorkspace_v2");
  sym.bind(a.SetMathMode, "cublasSetMathMode");
  sym.bind(a.GemmEx, "cublasGemmEx");
  sym.bind(a.GemmStridedBatchedEx, "cublasGemmStridedBatchedEx");
  sym.bind(a.GetStatusString, "cublasGetStatusString", /*required=*/false);
  sym.bind(a.GetStatusName, "cublasGetStatusName", /*required=*/false);
  // In libcublasLt, a dependency of libcublas: found through its handle.
  sym.bind(a.LtCreate, "cublasLtCreate", false);
  sym.bind(a.LtMatmulDescCreate, "cublasLtMatmulDescCreate", false);
  sym.bind(a.LtMatmulDescDestroy, "cublasLtMatmulDescDestroy", false);
  sym.bind(a.LtMatmulDescSetAttribute, "cublasLtMatmulDescSetAttribute", false);
  sym.bind(a.LtMatrixLayoutCreate, "cublasLtMatrixLayoutCreate", false);
  sym.bind(a.LtMatrixLayoutDestroy, "cublasLtMatrixLayoutDestroy", false);
  sym.bind(a.LtMatrixLayoutSetAttribute, "cublasLtMatrixLayoutSetAttribute", false);
  sym.bind(a.LtMatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate", false);
  sym.bind(a.LtMatmulPreferenceDestroy, "cublasLtMatmulPreferenceDestroy", false);
  sym.bind(a.LtMatmulPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute", false);
  sym.bind(a.LtMatmulAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic", false);
  sym.bind(a.LtMatmul, "cublasLtMatmul", false);
  if (!(a.LtMatmulDescCreate && a.LtMatmulDescDestroy && a.LtMatmulDescSetAttribute &&
        a.LtMatrixLayoutCreate && a.LtMatrixLayoutDestroy && a.LtMatrixLayoutSetAttribute &&
        a.LtMatmulPreferenceCreate && a.LtMatmulPreferenceDestroy &&
        a.LtMatmulPreferenceSetAttribute)) {
    a.LtCreate = nullptr;  // all of it or none
  }
}

// The candidates of one FASTSYNC_CUBLAS_PATH entry: a directory holding the
// libraries, or libcublas itself. A path is loaded after its libcublasLt:
// libcublas finds its own libcublasLt through the loader path only, which a
// wheel's directory is not on.
void add_path(std::vector<dynlib::Candidate>& out, const dynlib::PathEntry& entry) {
  if (entry.is_dir) {
    for (const char* v : kVersions) {
      std::string lib = entry.path + "/libcublas.so." + v;
      if (dynlib::is_file(lib)) out.push_back({lib, {entry.path + "/libcublasLt.so." + v}});
    }
    return;
  }
  // A file: its libcublasLt has the same version suffix, in the same place.
  const std::string& file = entry.path;
  std::string lt;
  size_t slash = file.rfind('/');
  std::string dir = slash == std::string::npos ? "." : file.substr(0, slash);
  std::string base = slash == std::string::npos ? file : file.substr(slash + 1);
  const std::string prefix = "libcublas.so";
  if (base.rfind(prefix, 0) == 0) lt = dir + "/libcublasLt.so" + base.substr(prefix.size());
  dynlib::Candidate c{file};
  if (dynlib::is_file(lt)) c.preload.push_back(lt);
  out.push_back(std::move(c));
}

std::vector<dynlib::Candidate> candidates() {
  std::vector<dynlib::Candidate> c;
  for (const char* v : kVersions) {
    c.push_back({.path = std::string("libcublas.so.") + v, .already_loaded = true});
  }
  for (const char* v : kVersions) c.push_back({std::string("libcublas.so.") + v});
  for (const auto& entry : dynlib::path_entries("FASTSYNC_CUBLAS_PATH")) add_path(c, entry);
  if (dynlib::is_dir(kToolkitDir)) add_path(c, {kToolkitDir, true});
  return c;
}

// Loads cuBLAS or explains, in `why`, everything that was tried.
Api* load(std::string* why) {
  auto a = std::make_unique<Api>();
  auto lib = dynlib::load(
      candidates(), [&](dynlib::Symbols& sym) { resolve(*a, sym); },
      {"cuBLAS (libcublas.so.13 or libcublas.so.12), which the GPU backend uses for matrix "
       "products",
       "fastsync needs cuBLAS 12 or 13",
       "Install it with `pip install nvidia-cublas` (then import fastsync again, or call "
       "fastsync._cuda_libs.preload()), or set FASTSYNC_CUBLAS_PATH to the directory that "
       "holds libcublas.so.13 and libcublasLt.so.13."},
      why);
  if (!lib) return nullptr;
  a->lib = lib->handle;
  a->path = lib->path;
  return a.release();
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
auto* handles = new std::unordered_map<cudaStream_t, StreamContext>();

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

const StreamContext& context(CommandEncoder& enc, const char* op) {
  const Api& a = api(op);
  // A lookup: the caller asks for the stream (cuda_stream) before it
  // enqueues through the handle.
  cudaStream_t stream = enc.raw_stream();
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
  return handles->emplace(stream, StreamContext{h, {ws.ptr, bytes}}).first->second;
}

cublasHandle_t handle(CommandEncoder& enc, const char* op) { return context(enc, op).handle; }

}  // namespace fastsync::cuda::cublas
