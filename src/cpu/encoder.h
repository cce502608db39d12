// The CPU command encoder: one per CPU stream.
//
// Used on the encoding thread only (under the eval driver's lock). A
// primitive's eval_cpu declares the buffers its compute reads and writes and
// dispatches the compute; the driver then commits the op, which sends the
// compute to the stream's worker together with a retention list: every
// declared input and temporary buffer, minus buffers that became an output's
// (donated), so they stay alive exactly until the compute that reads them is
// done.
#pragma once

#include <memory>
#include <vector>

#include "array.h"
#include "scheduler.h"

namespace fastsync::cpu {

class CommandEncoder {
 public:
  explicit CommandEncoder(Stream s) : stream_(s) {}

  void set_input_array(const array& a);
  void set_output_array(const array& a);
  void add_temporary(array a);
  void add_temporaries(std::vector<array> arrays);
  // Queues `fn` to run on the stream's worker after all earlier work there.
  void dispatch(scheduler::TaskFn fn);
  // Ends the current op: sends its last dispatched compute with the retained
  // buffers, the op's `inputs` (except those donated to one of `outputs`)
  // and, for multi-output ops, the `outputs` themselves, which the user may
  // drop before the compute writes them.
  void commit(const std::vector<array>& inputs, const std::vector<array>& outputs);

  // Drops what the current op declared and dispatched: its encoding failed.
  void discard();

  const Stream& stream() const { return stream_; }

 private:
  void retain(std::shared_ptr<Data> d);

  Stream stream_;
  std::optional<scheduler::Task> pending_;
  std::vector<std::shared_ptr<Data>> inputs_;
  std::vector<const Data*> outputs_;
};

// The encoder of a CPU stream (created on first use).
CommandEncoder& get_command_encoder(const Stream& s);

}  // namespace fastsync::cpu
