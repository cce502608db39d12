// Loading cuSOLVER at run time and the per-stream handles (cusolver.h).
#include "backend/cuda/cusolver.h"

#include <memory>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "dynlib.h"

namespace fastsync::cuda::cusolver {

namespace {

// Newest first; each with the sonames of what it links, loaded before it.
struct Version {
  const char* lib;
  std::vector<const char*> deps;
};
const Version kVersions[] = {
    {"libcusolver.so.12",
     {"libnvJitLink.so.13", "libcublasLt.so.13", "libcublas.so.13", "libcusparse.so.12"}},
    {"libcusolver.so.11",
     {"libnvJitLink.so.12", "libcublasLt.so.12", "libcublas.so.12", "libcusparse.so.12"}},
};
constexpr const char* kToolkitDir = "/usr/local/cuda/lib64";

void add_dir(std::vector<dynlib::Candidate>& out, const std::string& dir) {
  for (const Version& v : kVersions) {
    std::string lib = dir + "/" + v.lib;
    if (!dynlib::is_file(lib)) continue;
    dynlib::Candidate c{lib};
    for (const char* dep : v.deps) {
      std::string p = dir + "/" + dep;
      if (dynlib::is_file(p)) c.preload.push_back(p);
    }
    out.push_back(std::move(c));
  }
}

std::vector<dynlib::Candidate> candidates() {
  std::vector<dynlib::Candidate> c;
  for (const Version& v : kVersions) c.push_back({.path = v.lib, .already_loaded = true});
  for (const Version& v : kVersions) c.push_back({v.lib});
  for (const auto& entry : dynlib::path_entries("FASTSYNC_CUSOLVER_PATH")) {
    if (entry.is_dir) {
      add_dir(c, entry.path);
    } else {
      c.push_back({entry.path});
    }
  }
  if (dynlib::is_dir(kToolkitDir)) add_dir(c, kToolkitDir);
  return c;
}

template <typename T, typename R>
void bind_typed(Typed<T, R>& t, dynlib::Symbols& sym, char p, bool complex) {
  auto name = [&](const char* op) { return std::string("cusolverDn") + p + op; };
  sym.bind(t.potrf_size, name("potrf_bufferSize").c_str());
  sym.bind(t.potrf, name("potrf").c_str());
  sym.bind(t.getrf_size, name("getrf_bufferSize").c_str());
  sym.bind(t.getrf, name("getrf").c_str());
  sym.bind(t.getrs, name("getrs").c_str());
  sym.bind(t.geqrf_size, name("geqrf_bufferSize").c_str());
  sym.bind(t.geqrf, name("geqrf").c_str());
  sym.bind(t.orgqr_size, name(complex ? "ungqr_bufferSize" : "orgqr_bufferSize").c_str());
  sym.bind(t.orgqr, name(complex ? "ungqr" : "orgqr").c_str());
  sym.bind(t.syevd_size, name(complex ? "heevd_bufferSize" : "syevd_bufferSize").c_str());
  sym.bind(t.syevd, name(complex ? "heevd" : "syevd").c_str());
  sym.bind(t.gesvd_size, name("gesvd_bufferSize").c_str());
  sym.bind(t.gesvd, name("gesvd").c_str());
}

std::mutex load_mutex;
const Api* loaded = nullptr;  // never freed: handles outlive every static

std::mutex handles_mutex;
auto* handles = new std::unordered_map<cudaStream_t, Handle>();  // never destroyed

}  // namespace

const Api& api(const char* op) {
  std::lock_guard lk(load_mutex);
  if (loaded) return *loaded;
  auto a = std::make_unique<Api>();
  std::string why;
  auto lib = dynlib::load(
      candidates(),
      [&](dynlib::Symbols& sym) {
        sym.bind(a->Create, "cusolverDnCreate");
        sym.bind(a->SetStream, "cusolverDnSetStream");
        bind_typed(a->s, sym, 'S', false);
        bind_typed(a->d, sym, 'D', false);
        bind_typed(a->c, sym, 'C', true);
      },
      {"cuSOLVER (libcusolver.so.12 or .11), which the GPU backend uses for mx.linalg",
       "fastsync needs cuSOLVER's dense API",
       "Install it with `pip install nvidia-cusolver` (then import fastsync again), or set "
       "FASTSYNC_CUSOLVER_PATH to the directory that holds libcusolver.so.12."},
      &why);
  if (!lib) throw std::runtime_error(std::string("[") + op + "] " + why);
  loaded = a.release();
  return *loaded;
}

void check(Status s, const char* op, const char* fn) {
  if (s != 0) {
    throw std::runtime_error(std::string("[") + op + "] " + fn + " failed with status " +
                             std::to_string(s));
  }
}

Handle handle(CommandEncoder& enc, const char* op) {
  const Api& a = api(op);
  std::lock_guard lk(handles_mutex);
  auto it = handles->find(enc.cuda_stream());
  if (it != handles->end()) return it->second;
  Handle h = nullptr;
  check(a.Create(&h), op, "cusolverDnCreate");
  check(a.SetStream(h, enc.cuda_stream()), op, "cusolverDnSetStream");
  handles->emplace(enc.cuda_stream(), h);
  return h;
}

}  // namespace fastsync::cuda::cusolver
