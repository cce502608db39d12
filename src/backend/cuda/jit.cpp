// NVRTC loading and the kernel cache (jit.h).
//
// NVRTC's C API is declared here rather than included: the toolkits and
// wheels that build fastsync do not all ship nvrtc.h, and only the calls
// below are needed. The library is loaded once and never unloaded; so are
// the cudaLibrary handles kernels come from.
#include "backend/cuda/jit.h"

#include <dirent.h>

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "backend/cuda/jit_headers.h"
#include "backend/cuda/runtime.h"
#include "dynlib.h"

namespace fastsync::cuda::jit {

namespace {

using nvrtcResult = int;
struct Program;
using nvrtcProgram = Program*;

struct Api {
  nvrtcResult (*CreateProgram)(nvrtcProgram*, const char*, const char*, int, const char* const*,
                               const char* const*);
  nvrtcResult (*CompileProgram)(nvrtcProgram, int, const char* const*);
  nvrtcResult (*DestroyProgram)(nvrtcProgram*);
  nvrtcResult (*GetProgramLogSize)(nvrtcProgram, size_t*);
  nvrtcResult (*GetProgramLog)(nvrtcProgram, char*);
  nvrtcResult (*GetCUBINSize)(nvrtcProgram, size_t*);
  nvrtcResult (*GetCUBIN)(nvrtcProgram, char*);
  const char* (*GetErrorString)(nvrtcResult);
  nvrtcResult (*Version)(int*, int*);
  std::string path;
};

// Newest first, as for cuBLAS (cublas.cpp).
constexpr const char* kVersions[] = {"13", "12"};

// What the embedded headers include from the C and C++ libraries, which
// NVRTC does not ship: fixed-width integers, and the type traits they use
// (math functions are NVRTC built-ins; math.h adds its macros).
constexpr const char* kCstdint = R"fsjit(#pragma once
typedef signed char int8_t; typedef short int16_t; typedef int int32_t; typedef long long int64_t;
typedef unsigned char uint8_t; typedef unsigned short uint16_t; typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
namespace std {
using ::int8_t; using ::int16_t; using ::int32_t; using ::int64_t;
using ::uint8_t; using ::uint16_t; using ::uint32_t; using ::uint64_t;
}
)fsjit";

constexpr const char* kTypeTraits = R"fsjit(#pragma once
namespace std {
template <class T, T v> struct integral_constant { static constexpr T value = v; };
using true_type = integral_constant<bool, true>;
using false_type = integral_constant<bool, false>;
template <class T, class U> struct is_same : false_type {};
template <class T> struct is_same<T, T> : true_type {};
template <class T, class U> inline constexpr bool is_same_v = is_same<T, U>::value;
template <class T> struct remove_cv { using type = T; };
template <class T> struct remove_cv<const T> { using type = T; };
template <class T> struct remove_cv<volatile T> { using type = T; };
template <class T> struct remove_cv<const volatile T> { using type = T; };
template <class T> using remove_cv_t = typename remove_cv<T>::type;
template <bool B, class T = void> struct enable_if {};
template <class T> struct enable_if<true, T> { using type = T; };
template <bool B, class T = void> using enable_if_t = typename enable_if<B, T>::type;
template <bool B, class T, class F> struct conditional { using type = T; };
template <class T, class F> struct conditional<false, T, F> { using type = F; };
template <bool B, class T, class F> using conditional_t = typename conditional<B, T, F>::type;
template <class T> struct is_integral_ : false_type {};
#define FSJIT_INTEGRAL(T) template <> struct is_integral_<T> : true_type {};
FSJIT_INTEGRAL(bool) FSJIT_INTEGRAL(char) FSJIT_INTEGRAL(signed char)
FSJIT_INTEGRAL(unsigned char) FSJIT_INTEGRAL(short) FSJIT_INTEGRAL(unsigned short)
FSJIT_INTEGRAL(int) FSJIT_INTEGRAL(unsigned int) FSJIT_INTEGRAL(long)
FSJIT_INTEGRAL(unsigned long) FSJIT_INTEGRAL(long long) FSJIT_INTEGRAL(unsigned long long)
#undef FSJIT_INTEGRAL
template <class T> inline constexpr bool is_integral_v = is_integral_<remove_cv_t<T>>::value;
template <class T> struct is_floating_ : false_type {};
template <> struct is_floating_<float> : true_type {};
template <> struct is_floating_<double> : true_type {};
template <> struct is_floating_<long double> : true_type {};
template <class T> inline constexpr bool is_floating_point_v = is_floating_<remove_cv_t<T>>::value;
template <class T> inline constexpr bool is_arithmetic_v = is_integral_v<T> || is_floating_point_v<T>;
template <class T, bool = is_arithmetic_v<T>> struct is_signed_ : false_type {};
template <class T> struct is_signed_<T, true> : integral_constant<bool, T(-1) < T(0)> {};
template <class T> inline constexpr bool is_signed_v = is_signed_<T>::value;
template <class T> inline constexpr bool is_unsigned_v = is_arithmetic_v<T> && !is_signed_v<T>;
template <class T> struct make_unsigned { using type = T; };
template <> struct make_unsigned<char> { using type = unsigned char; };
template <> struct make_unsigned<signed char> { using type = unsigned char; };
template <> struct make_unsigned<short> { using type = unsigned short; };
template <> struct make_unsigned<int> { using type = unsigned int; };
template <> struct make_unsigned<long> { using type = unsigned long; };
template <> struct make_unsigned<long long> { using type = unsigned long long; };
template <class T> using make_unsigned_t = typename make_unsigned<T>::type;
template <class T> inline constexpr bool is_trivially_copyable_v = __is_trivially_copyable(T);
template <class T> T declval_() noexcept;
template <class From, class To> struct is_convertible_ {
  template <class T> static void take(T) noexcept;
  template <class F, class T, class = decltype(take<T>(declval_<F>()))> static true_type test(int);
  template <class, class> static false_type test(...);
  using type = decltype(test<From, To>(0));
};
template <class From, class To>
inline constexpr bool is_convertible_v = is_convertible_<From, To>::type::value;
using ::floor;
}
)fsjit";

// Math functions are NVRTC built-ins; the macros are not.
constexpr const char* kMath = R"fsjit(#pragma once
#define INFINITY __int_as_float(0x7f800000)
#define NAN __int_as_float(0x7fc00000)
)fsjit";

std::mutex mutex;  // guards everything below
Api* api = nullptr;
std::map<std::pair<std::string, int>, cudaKernel_t> cache;  // (source, arch) -> kernel

void resolve(Api& a, dynlib::Symbols& sym) {
  sym.bind(a.CreateProgram, "nvrtcCreateProgram");
  sym.bind(a.CompileProgram, "nvrtcCompileProgram");
  sym.bind(a.DestroyProgram, "nvrtcDestroyProgram");
  sym.bind(a.GetProgramLogSize, "nvrtcGetProgramLogSize");
  sym.bind(a.GetProgramLog, "nvrtcGetProgramLog");
  sym.bind(a.GetCUBINSize, "nvrtcGetCUBINSize");
  sym.bind(a.GetCUBIN, "nvrtcGetCUBIN");
  sym.bind(a.GetErrorString, "nvrtcGetErrorString");
  sym.bind(a.Version, "nvrtcVersion");
}

// libnvrtc-builtins.so.<version>.* in `dir`: NVRTC opens it through the
// loader's path only, which a wheel's directory is not on, so it is loaded
// first.
std::string builtins_in(const std::string& dir, const std::string& version) {
  std::string prefix = "libnvrtc-builtins.so." + version;
  std::string found;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.rfind(prefix, 0) == 0 && name > found) found = name;
    }
    closedir(d);
  }
  return found.empty() ? "" : dir + "/" + found;
}

void add_dir(std::vector<dynlib::Candidate>& out, const std::string& dir) {
  for (const char* v : kVersions) {
    std::string lib = dir + "/libnvrtc.so." + v;
    if (!dynlib::is_file(lib)) continue;
    dynlib::Candidate c{lib};
    std::string builtins = builtins_in(dir, v);
    if (!builtins.empty()) c.preload.push_back(builtins);
    out.push_back(std::move(c));
  }
}

std::vector<dynlib::Candidate> candidates() {
  std::vector<dynlib::Candidate> c;
  for (const char* v : kVersions) {
    c.push_back({.path = std::string("libnvrtc.so.") + v, .already_loaded = true});
  }
  for (const auto& entry : dynlib::path_entries("FASTSYNC_NVRTC_PATH")) {
    if (entry.is_dir) {
      add_dir(c, entry.path);
    } else {
      c.push_back({entry.path});
    }
  }
  for (const char* v : kVersions) c.push_back({std::string("libnvrtc.so.") + v});
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"}) {
    if (const char* home = std::getenv(var); home && *home)
      add_dir(c, std::string(home) + "/lib64");
  }
  add_dir(c, "/usr/local/cuda/lib64");
  return c;
}

Api* load_locked(std::string* why) {
  if (api) return api;
  auto a = std::make_unique<Api>();
  auto lib = dynlib::load(
      candidates(), [&](dynlib::Symbols& sym) { resolve(*a, sym); },
      {"NVRTC (libnvrtc.so.13 or libnvrtc.so.12), which compiles compile()'s fused kernels",
       "fastsync needs NVRTC 12 or 13",
       "Install it with `pip install nvidia-cuda-nvrtc` (then import fastsync again), or set "
       "FASTSYNC_NVRTC_PATH to the directory that holds libnvrtc.so.13."},
      why);
  if (!lib) return nullptr;
  a->path = lib->path;
  api = a.release();
  return api;
}

int device_arch() {
  int dev = 0, major = 0, minor = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev), "arch");
  check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev), "arch");
  return major * 10 + minor;
}

std::vector<char> compile_with(Api& a, const std::string& source, int arch) {
  std::vector<const char*> names{"cstdint", "type_traits", "math.h"};
  std::vector<const char*> texts{kCstdint, kTypeTraits, kMath};
  for (const auto& h : embedded_headers()) {
    names.push_back(h.name);
    texts.push_back(h.text);
  }
  nvrtcProgram prog = nullptr;
  nvrtcResult r = a.CreateProgram(&prog, source.c_str(), "fastsync_jit.cu",
                                  static_cast<int>(names.size()), texts.data(), names.data());
  if (r != 0)
    throw std::runtime_error(std::string("[jit] nvrtcCreateProgram: ") + a.GetErrorString(r));
  std::string arch_flag = "-arch=sm_" + std::to_string(arch);
  const char* opts[] = {arch_flag.c_str(), "-std=c++20", "-default-device", "-DFASTSYNC_JIT=1"};
  r = a.CompileProgram(prog, 4, opts);
  if (r != 0) {
    size_t n = 0;
    a.GetProgramLogSize(prog, &n);
    std::string log(n, '\0');
    a.GetProgramLog(prog, log.data());
    a.DestroyProgram(&prog);
    throw std::runtime_error(std::string("[jit] NVRTC could not compile a generated kernel (") +
                             a.GetErrorString(r) + "):\n" + log + "\nsource:\n" + source);
  }
  size_t n = 0;
  a.GetCUBINSize(prog, &n);
  std::vector<char> cubin(n);
  a.GetCUBIN(prog, cubin.data());
  a.DestroyProgram(&prog);
  return cubin;
}

}  // namespace

bool available(std::string* why) {
  std::lock_guard lk(mutex);
  std::string reason;
  bool ok = load_locked(&reason) != nullptr;
  if (why) *why = reason;
  return ok;
}

std::string nvrtc_path() {
  std::lock_guard lk(mutex);
  return api ? api->path : "";
}

cudaKernel_t kernel(const std::string& source, const std::string& name) {
  std::lock_guard lk(mutex);
  int arch = device_arch();
  auto key = std::make_pair(source, arch);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  std::string why;
  Api* a = load_locked(&why);
  if (!a) throw std::runtime_error("[jit] " + why);
  std::vector<char> cubin = compile_with(*a, source, arch);
  cudaLibrary_t lib = nullptr;
  check(cudaLibraryLoadData(&lib, cubin.data(), nullptr, nullptr, 0, nullptr, nullptr, 0),
        "cudaLibraryLoadData");
  cudaKernel_t k = nullptr;
  check(cudaLibraryGetKernel(&k, lib, name.c_str()), "cudaLibraryGetKernel");
  cache.emplace(std::move(key), k);
  return k;
}

}  // namespace fastsync::cuda::jit
