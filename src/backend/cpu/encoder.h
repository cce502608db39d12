// The CPU command encoder: one per CPU stream (the StreamEncoder of the CPU
// backend, backend/backend.h).
//
// Used on the encoding thread only (under the eval driver's lock). A
// primitive's eval_cpu declares the buffers its compute reads and writes and
// dispatches the compute; encode() then commits the op, which sends the
// compute to the stream's worker together with a retention list: every
// declared input and temporary buffer, minus buffers that became an output's
// (donated), so they stay alive exactly until the compute that reads them is
// done. Those lists count as work queued on the stream (Data::queue), so an
// op later on the same stream may still write such a buffer in place.
//
// Marks on a CPU stream are a gate opened right after the task before the
// mark: folded into that task when it is still queued (scheduler::attach),
// else by a control task. A CPU stream waits on another CPU stream's mark
// through the next task it enqueues, which waits behind the mark's gate
// (the stream parks until it opens, scheduler::Gate); on a GPU stream's
// mark, with a task that blocks.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "array.h"
#include "backend/backend.h"
#include "scheduler.h"

namespace fastsync::cpu {

// The index of the CPU stream whose op this thread is encoding (inside
// CommandEncoder::eval), -1 elsewhere: what donation checks let queued work
// on (array::is_donatable).
int encoding_stream();

class CommandEncoder : public StreamEncoder {
 public:
  explicit CommandEncoder(Stream s) : StreamEncoder(s) {}

  void set_input_array(const array& a);
  void set_output_array(const array& a);
  void add_temporary(array a);
  void add_temporaries(std::vector<array> arrays);
  // Queues `fn` to run on the stream's worker after all earlier work there.
  void dispatch(scheduler::TaskFn fn);
  // The same for a compute that must run even when what it reads was
  // spoiled by an earlier error (its outputs are spoiled all the same): a
  // collective, which every rank has to enter.
  void dispatch_always(scheduler::TaskFn fn);
  // Ends the current op: sends its last dispatched compute with the retained
  // buffers, the op's `inputs` (except those donated to one of `outputs`)
  // and, for multi-output ops, the `outputs` themselves, which the user may
  // drop before the compute writes them.
  void commit(const std::vector<array>& inputs, const std::vector<array>& outputs) override;
  // Drops what the current op declared and dispatched (its encoding failed);
  // `inputs` are retained until the next mark.
  void discard(const std::vector<array>& inputs) override;

  // StreamEncoder.
  void eval(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) override;
  uint64_t position() const override;
  MarkRef make_mark() override;
  void place(const MarkRef& m, MarkKind kind) override;
  void wait(const MarkRef& m, uint64_t position) override;
  bool fence_position(uint64_t& pos) override;
  void wait_position(const Stream& producer, uint64_t pos) override;
  void retain(std::shared_ptr<Data> d) override;

 private:
  void keep(const std::shared_ptr<Data>& d);
  void dispatch(scheduler::TaskFn fn, bool always);
  void eval_profiled(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs);

  std::optional<scheduler::Task> pending_;
  std::vector<std::shared_ptr<Data>> inputs_;
  std::vector<Data*> outputs_;
  // Buffers to keep until the next mark (retain()).
  scheduler::KeepList retained_;
};

// The encoder of a CPU stream.
CommandEncoder& get_command_encoder(const Stream& s);

}  // namespace fastsync::cpu
