// Error reach on a backend whose errors are found late (a GPU stream's):
// which arrays an error spoiled.
//
// A GPU kernel that fails (a bad index, a singular matrix) is known to the
// host only once the GPU is past a later mark, and by then the ops after it
// have run on what it left. A Flow is the log that lets the host spoil
// exactly the buffers computed from the failure, as a CPU stream does as it
// goes (Data::spoil): for each op of one eval on one stream, what it read
// and what it wrote. When a mark is settled (mark.cpp), its probes report
// the ops that failed and the foreign buffers that arrived spoiled, then
// `walk` goes through the ops in order and spoils the outputs of a failed
// op and of every op that read a spoiled buffer.
//
// A stream starts a log only once something in the eval can fail (an op
// that holds an error record, a wait on a mark that carries probes, a
// crossing from a CPU stream): before that nothing can be spoiled, so a
// plain chain of ops logs nothing.
//
// Buffers are named by their Data's address and pinned by a weak_ptr, so
// the address is not reused while the log names it (Data is made by
// allocate_shared/make_shared: the control block holds the memory), and the
// log keeps no buffer alive. A spoiled buffer that died before the walk is
// still known by its address.
//
// Threads: `add`, `copy` and `close` on the encoding thread; `fail`,
// `taint`, `absorb` and `walk` from any thread (the CUDA backend's probes
// and marks, backend/cuda/probes.h). One mutex guards the log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "scheduler.h"

namespace fastsync {

struct Data;

class Flow {
 public:
  // Room for `ops` ops (a stream's previous log is a good guess: an eval
  // that recurs logs as much again).
  explicit Flow(size_t ops = 0) {
    ops_.reserve(ops);
    ins_.reserve(2 * ops);
    outs_.reserve(ops);
  }
  // Encoding thread: the op at `position` read `ins` and wrote `outs`.
  void add(uint64_t position, const std::vector<std::shared_ptr<Data>>& ins,
           const std::vector<std::shared_ptr<Data>>& outs);
  // Encoding thread: a copy (a crossing) read `in` and wrote `out`; no
  // failure by position applies to it.
  void copy(const std::shared_ptr<Data>& in, const std::shared_ptr<Data>& out);
  // Encoding thread: the eval's last op was logged.
  void close();
  // Ops logged so far (encoding thread): where a mark placed now ends.
  size_t size() const;

  // The op at `position`, or every op in [first, last], failed with `e`.
  void fail(uint64_t position, const scheduler::ErrorRef& e);
  void fail(uint64_t first, uint64_t last, const scheduler::ErrorRef& e);
  // `d` arrived spoiled by `e` (data copied from a failed CPU task).
  void taint(const std::weak_ptr<Data>& d, const Data* key, const scheduler::ErrorRef& e);
  // The buffers `source` (another eval, or another stream) knows spoiled:
  // this stream's ops may read them.
  void absorb(const Flow& source);
  // Spoils what the ops logged before `end` wrote, where they failed or
  // read a spoiled buffer. Ops already walked are skipped.
  void walk(size_t end);

 private:
  struct Ref {
    const Data* key;
    std::weak_ptr<Data> pin;
  };
  struct Op {
    uint64_t position;
    uint32_t ins_end, outs_end;  // into ins_, outs_
    bool copy;
  };
  struct Spoiled {
    std::weak_ptr<Data> pin;
    scheduler::ErrorRef error;
  };
  void push(uint64_t position, bool copy, const std::vector<std::shared_ptr<Data>>& ins,
            const std::vector<std::shared_ptr<Data>>& outs);
  scheduler::ErrorRef failure(const Op& op) const;
  scheduler::ErrorRef spoiled(const Ref& r) const;
  void spoil(const Ref& r, const scheduler::ErrorRef& e);

  mutable std::mutex m_;
  std::vector<Op> ops_;
  std::vector<Ref> ins_, outs_;
  size_t walked_ = 0;
  bool closed_ = false;
  struct Failed {
    uint64_t first, last;
    scheduler::ErrorRef error;
  };
  std::vector<Failed> failed_;  // few: one per failed op or failed run
  std::unordered_map<const Data*, Spoiled> spoiled_;
};

}  // namespace fastsync
