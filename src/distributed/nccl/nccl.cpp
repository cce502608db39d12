// The NCCL backend: libnccl loaded with dlopen (dynlib.h), NcclComm (comm.h),
// and the entry points group.cpp calls (distributed/nccl/nccl.h).
//
// No NCCL header or library is needed to build fastsync: the slice of
// nccl.h used is declared below, with the values of NCCL 2.x's nccl.h
// (stable since 2.7, the first with ncclSend/ncclRecv). The library is
// looked for, in order: a libnccl.so.2 already in the process (PyTorch's,
// say: two NCCLs in one process would not share state), the loader's path,
// each entry of FASTSYNC_NCCL_PATH (':'-separated directories or library
// files; fastsync.distributed exports the nvidia-nccl wheel's lib directory
// there), and the CUDA toolkit's lib64. A failed load is not remembered: the
// next init tries again. The library is never unloaded, and communicators
// live until finalize, so GPU work in flight never outlives them.
//
// Threads: probe, create and finalize run on user threads (group.cpp holds
// its mutex around them, NcclComm::split does not); the enqueue methods
// (DeviceCollectives) run on the encoding thread.
#include "distributed/nccl/comm.h"

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/runtime.h"
#include "distributed/nccl/nccl.h"
#include "dynlib.h"
#include "errors.h"

namespace fastsync::cuda::nccl {

namespace {

// ---- The slice of nccl.h fastsync uses ----
struct ncclComm;
using ncclComm_t = ncclComm*;

// C enums: int-sized, hence the fixed underlying type.
enum ncclResult_t : int {
  ncclSuccess = 0,
  ncclUnhandledCudaError = 1,
  ncclSystemError = 2,
  ncclInternalError = 3,
  ncclInvalidArgument = 4,
  ncclInvalidUsage = 5,
  ncclRemoteError = 6,
  ncclInProgress = 7,
};

enum ncclDataType_t : int {
  ncclInt8 = 0,
  ncclUint8 = 1,
  ncclInt32 = 2,
  ncclUint32 = 3,
  ncclInt64 = 4,
  ncclUint64 = 5,
  ncclFloat16 = 6,
  ncclFloat32 = 7,
  ncclFloat64 = 8,
  ncclBfloat16 = 9,
};

enum ncclRedOp_t : int {
  ncclSum = 0,
  ncclMax = 2,
  ncclMin = 3,
};

// Passed by value to ncclCommInitRank: the layout must be nccl.h's.
constexpr size_t kUniqueIdBytes = 128;
struct ncclUniqueId {
  char internal[kUniqueIdBytes];
};
static_assert(sizeof(ncclUniqueId) == kUniqueIdBytes);

constexpr const char* kLibName = "libnccl.so.2";
constexpr const char* kToolkitLib = "/usr/local/cuda/lib64/libnccl.so.2";

struct Api {
  std::string path;
  void* lib = nullptr;
  int version = 0;

  ncclResult_t (*GetVersion)(int*);
  ncclResult_t (*GetUniqueId)(ncclUniqueId*);
  ncclResult_t (*CommInitRank)(ncclComm_t*, int, ncclUniqueId, int);
  ncclResult_t (*CommDestroy)(ncclComm_t);
  ncclResult_t (*CommAbort)(ncclComm_t);
  ncclResult_t (*CommGetAsyncError)(ncclComm_t, ncclResult_t*);
  ncclResult_t (*AllReduce)(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t,
                            cudaStream_t);
  ncclResult_t (*AllGather)(const void*, void*, size_t, ncclDataType_t, ncclComm_t,
                            cudaStream_t);
  ncclResult_t (*Send)(const void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
  ncclResult_t (*Recv)(void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
  const char* (*GetErrorString)(ncclResult_t);
  const char* (*GetLastError)(ncclComm_t);  // NCCL 2.13+; may be null
};

std::mutex load_mutex;
Api* api = nullptr;  // never freed: communicators use it until exit

// Every communicator made, in creation order (the same on every member), for
// finalize; and whether finalize ran.
std::mutex comms_mutex;
std::vector<ncclComm_t> comms;
std::atomic<bool> finalized{false};

void resolve(Api& a, dynlib::Symbols& sym) {
#define FASTSYNC_NCCL_FN(field, required) sym.bind(a.field, "nccl" #field, required)
  FASTSYNC_NCCL_FN(GetVersion, true);
  FASTSYNC_NCCL_FN(GetUniqueId, true);
  FASTSYNC_NCCL_FN(CommInitRank, true);
  FASTSYNC_NCCL_FN(CommDestroy, true);
  FASTSYNC_NCCL_FN(CommAbort, true);
  FASTSYNC_NCCL_FN(CommGetAsyncError, true);
  FASTSYNC_NCCL_FN(AllReduce, true);
  FASTSYNC_NCCL_FN(AllGather, true);
  FASTSYNC_NCCL_FN(Send, true);
  FASTSYNC_NCCL_FN(Recv, true);
  FASTSYNC_NCCL_FN(GetErrorString, true);
  FASTSYNC_NCCL_FN(GetLastError, false);
#undef FASTSYNC_NCCL_FN
}

std::vector<dynlib::Candidate> candidates() {
  std::vector<dynlib::Candidate> c{{.path = kLibName, .already_loaded = true}, {kLibName}};
  for (const auto& entry : dynlib::path_entries("FASTSYNC_NCCL_PATH")) {
    c.push_back({entry.file(kLibName)});
  }
  c.push_back({kToolkitLib});
  return c;
}

std::string version_text(int code) {
  // NCCL_VERSION(X,Y,Z): X*1000+Y*100+Z up to 2.8, X*10000+Y*100+Z after.
  int major = code >= 10000 ? code / 10000 : code / 1000;
  int minor = code >= 10000 ? code / 100 % 100 : code / 100 % 10;
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(code % 100);
}

// Loads NCCL or explains, in `why`, everything that was tried.
Api* load(std::string* why) {
  std::lock_guard lk(load_mutex);
  if (api) return api;
  auto a = std::make_unique<Api>();
  auto lib = dynlib::load(
      candidates(), [&](dynlib::Symbols& sym) { resolve(*a, sym); },
      {std::string("NCCL (") + kLibName + ")", "fastsync needs NCCL 2.7 or newer",
       std::string("Install it with `pip install nvidia-nccl-cu13` (nvidia-nccl-cu12 for CUDA "
                   "12), or set FASTSYNC_NCCL_PATH to the directory holding ") +
           kLibName + " (or to the file)."},
      why);
  if (!lib) return nullptr;
  a->lib = lib->handle;
  a->path = lib->path;
  a->GetVersion(&a->version);
  api = a.release();
  return api;
}

std::string error_text(ncclResult_t rc) {
  const char* s = api ? api->GetErrorString(rc) : nullptr;
  return std::string(s && *s ? s : "error") + " (ncclResult_t " + std::to_string(rc) + ")";
}

[[noreturn]] void fail(const char* what, const char* call, ncclResult_t rc, ncclComm_t comm) {
  std::string msg = std::string("[") + what + "] " + call + " failed: " + error_text(rc);
  if (api && api->GetLastError) {
    // The reason NCCL logged for this failure, when it kept one.
    if (const char* last = api->GetLastError(comm); last && *last) msg += ": " + std::string(last);
  }
  // Which NCCL answered matters when several are installed.
  if (api) msg += " [NCCL " + version_text(api->version) + ", " + api->path + "]";
  throw std::runtime_error(msg);
}

ncclComm_t handle(void* p) { return static_cast<ncclComm_t>(p); }
// DeviceCollectives passes the GPU stream as an opaque handle.
cudaStream_t as_cuda(void* stream) { return static_cast<cudaStream_t>(stream); }

// -1 for the dtypes NCCL cannot reduce (int16, uint16).
int reduce_type(Dtype d) {
  switch (d.val) {
    case Dtype::Val::bool_:
    case Dtype::Val::uint8: return ncclUint8;
    case Dtype::Val::int8: return ncclInt8;
    case Dtype::Val::int32: return ncclInt32;
    case Dtype::Val::uint32: return ncclUint32;
    case Dtype::Val::int64: return ncclInt64;
    case Dtype::Val::uint64: return ncclUint64;
    case Dtype::Val::float16: return ncclFloat16;
    case Dtype::Val::bfloat16: return ncclBfloat16;
    case Dtype::Val::float32: return ncclFloat32;
    case Dtype::Val::float64: return ncclFloat64;
    case Dtype::Val::uint16:
    case Dtype::Val::int16:
    case Dtype::Val::complex64: return -1;  // the collectives' ops refuse complex64
  }
  return -1;
}

ncclRedOp_t reduce_op(Dtype d, ReduceOp op) {
  // bool travels as uint8 0/1: max is logical or (what MPI's all_sum of
  // bools gives too), min logical and.
  if (d == bool_) return op == ReduceOp::min ? ncclMin : ncclMax;
  switch (op) {
    case ReduceOp::sum: return ncclSum;
    case ReduceOp::max: return ncclMax;
    case ReduceOp::min: return ncclMin;
  }
  return ncclSum;
}

// The UUID of device 0, the GPU this process computes on.
std::array<uint8_t, 16> gpu_uuid() {
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::array<uint8_t, 16> out{};
  static_assert(sizeof(prop.uuid.bytes) == 16);
  std::memcpy(out.data(), prop.uuid.bytes, out.size());
  return out;
}

}  // namespace

NcclComm::NcclComm(void* comm, int rank, int size, std::shared_ptr<Comm> bootstrap)
    : comm_(comm), rank_(rank), size_(size), bootstrap_(std::move(bootstrap)) {}

std::shared_ptr<Comm> NcclComm::split(int color, int key) {
  check_usable("Group.split");
  return distributed::nccl::create(bootstrap_->split(color, key));
}

void NcclComm::check_usable(const char* what) const {
  if (finalized.load(std::memory_order_acquire)) {
    throw std::runtime_error(std::string("[") + what + "] NCCL was already finalized (at exit)");
  }
  // A remote rank's failure or a network error lands here, asynchronously;
  // without this check the next collective would wait on a dead peer.
  ncclResult_t state = ncclSuccess;
  if (api->CommGetAsyncError(handle(comm_), &state) == ncclSuccess && state != ncclSuccess &&
      state != ncclInProgress) {
    fail(what, "an earlier NCCL operation of this group (ncclCommGetAsyncError)", state,
         handle(comm_));
  }
}

void NcclComm::enqueue_all_reduce(const char* what, const void* in, void* out, size_t n, Dtype d,
                                  ReduceOp op, void* stream) {
  int t = reduce_type(d);
  if (t < 0) {
    throw type_error(std::string("[") + what + "] the NCCL backend cannot reduce " + d.name() +
                     " arrays (NCCL has no 16-bit integer type)");
  }
  check_usable(what);
  bind_device();
  if (auto rc = api->AllReduce(in, out, n, static_cast<ncclDataType_t>(t), reduce_op(d, op),
                               handle(comm_), as_cuda(stream))) {
    fail(what, "ncclAllReduce", rc, handle(comm_));
  }
}

void NcclComm::enqueue_all_gather(const char* what, const void* in, void* out, size_t bytes,
                                  void* stream) {
  check_usable(what);
  bind_device();
  if (auto rc = api->AllGather(in, out, bytes, ncclUint8, handle(comm_), as_cuda(stream))) {
    fail(what, "ncclAllGather", rc, handle(comm_));
  }
}

void NcclComm::enqueue_send(const char* what, const void* buf, size_t bytes, int dst,
                            void* stream) {
  check_usable(what);
  bind_device();
  if (auto rc = api->Send(buf, bytes, ncclUint8, dst, handle(comm_), as_cuda(stream))) {
    fail(what, "ncclSend", rc, handle(comm_));
  }
}

void NcclComm::enqueue_recv(const char* what, void* buf, size_t bytes, int src,
                            void* stream) {
  check_usable(what);
  bind_device();
  if (auto rc = api->Recv(buf, bytes, ncclUint8, src, handle(comm_), as_cuda(stream))) {
    fail(what, "ncclRecv", rc, handle(comm_));
  }
}

}  // namespace fastsync::cuda::nccl

namespace fastsync::distributed::nccl {

namespace impl = fastsync::cuda::nccl;

Probe probe() {
  Probe p;
  if (cuda::device_count() == 0) {
    p.status = Readiness::no_gpu;
    p.why = "no CUDA device is visible to this process";
    if (const char* vis = std::getenv("CUDA_VISIBLE_DEVICES")) {
      p.why += std::string(" (CUDA_VISIBLE_DEVICES=") + vis + ")";
    }
    return p;
  }
  try {
    p.gpu = impl::gpu_uuid();
  } catch (const std::exception& e) {
    p.status = Readiness::no_gpu;
    p.why = e.what();
    return p;
  }
  if (!impl::load(&p.why)) {
    p.status = Readiness::no_library;
    return p;
  }
  p.status = Readiness::ready;
  p.why.clear();
  return p;
}

std::shared_ptr<Comm> create(std::shared_ptr<Comm> bootstrap) {
  std::string why;
  impl::Api* a = impl::load(&why);
  if (impl::finalized.load(std::memory_order_acquire)) {
    throw std::runtime_error("[distributed.init] NCCL was already finalized (at exit)");
  }
  const int rank = bootstrap->rank();
  const int size = bootstrap->size();
  // Rank 0 makes the id and every rank takes it from an all_gather over the
  // bootstrap communicator (it has no broadcast). Rank 0's result code
  // travels with it: were rank 0 to raise before the exchange, the others
  // would wait in it forever.
  struct IdOffer {
    int32_t rc;
    int32_t pad;
    impl::ncclUniqueId id;
  };
  IdOffer mine{};
  if (rank == 0) {
    if (a) {
      cuda::bind_device();
      mine.rc = a->GetUniqueId(&mine.id);
    } else {
      mine.rc = -1;
    }
  }
  std::vector<IdOffer> all(static_cast<size_t>(size));
  distributed::host_collectives(Group(bootstrap), "distributed.init")
      .all_gather("distributed.init", &mine, all.data(), sizeof(IdOffer), uint8, 0);
  if (!a) throw std::runtime_error("[distributed.init] " + why);
  if (all[0].rc != impl::ncclSuccess) {
    std::string what = all[0].rc < 0 ? std::string("NCCL could not be loaded there")
                                     : impl::error_text(static_cast<impl::ncclResult_t>(all[0].rc));
    throw std::runtime_error("[distributed.init] ncclGetUniqueId failed on rank 0: " + what);
  }
  cuda::bind_device();
  impl::ncclComm_t comm = nullptr;
  if (auto rc = a->CommInitRank(&comm, size, all[0].id, rank)) {
    impl::fail("distributed.init", "ncclCommInitRank", rc, nullptr);
  }
  {
    std::lock_guard lk(impl::comms_mutex);
    impl::comms.push_back(comm);
  }
  return std::make_shared<impl::NcclComm>(comm, rank, size, std::move(bootstrap));
}

void finalize(bool abort) {
  std::vector<impl::ncclComm_t> comms;
  {
    std::lock_guard lk(impl::comms_mutex);
    comms.swap(impl::comms);
    impl::finalized.store(true, std::memory_order_release);
  }
  if (comms.empty()) return;
  if (!abort) {
    // Collectives still on the GPU need this process's side to finish;
    // leaving before them would strand the peers. A GPU that cannot even
    // synchronize is broken: abort rather than destroy, which could wait.
    try {
      gpu_backend().synchronize();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fastsync.distributed: the GPU failed at exit (%s); aborting NCCL\n",
                   e.what());
      abort = true;
    }
  }
  for (auto c : comms) {
    // ncclCommDestroy is collective among the ranks of a node: every rank
    // destroys in creation order, the order it made them together in.
    auto rc = abort ? impl::api->CommAbort(c) : impl::api->CommDestroy(c);
    if (rc != impl::ncclSuccess) {
      std::fprintf(stderr, "fastsync.distributed: %s at exit failed: %s\n",
                   abort ? "ncclCommAbort" : "ncclCommDestroy", impl::error_text(rc).c_str());
    }
  }
}

}  // namespace fastsync::distributed::nccl
