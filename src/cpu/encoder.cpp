#include "cpu/encoder.h"

#include <algorithm>
#include <deque>

namespace fastsync::cpu {

void CommandEncoder::retain(std::shared_ptr<Data> d) {
  if (d) inputs_.push_back(std::move(d));
}

void CommandEncoder::set_input_array(const array& a) { retain(a.data_shared_ptr()); }

void CommandEncoder::set_output_array(const array& a) {
  if (auto d = a.data_shared_ptr()) outputs_.push_back(d.get());
}

void CommandEncoder::add_temporary(array a) { retain(a.data_shared_ptr()); }

void CommandEncoder::add_temporaries(std::vector<array> arrays) {
  for (auto& a : arrays) retain(a.data_shared_ptr());
}

void CommandEncoder::dispatch(scheduler::TaskFn fn) {
  if (pending_) scheduler::enqueue(stream_, std::move(*pending_));
  pending_ = scheduler::Task{std::move(fn), {}, false};
}

void CommandEncoder::commit(const std::vector<array>& inputs,
                            const std::vector<array>& outputs) {
  if (pending_) {
    for (auto& in : inputs) retain(in.data_shared_ptr());
    for (auto& out : outputs) set_output_array(out);
    auto& keep = pending_->keep;
    for (auto& d : inputs_) {
      // A buffer donated to an output lives on in that output; holding it
      // here would stop the next op in a chain from reusing it.
      if (std::find(outputs_.begin(), outputs_.end(), d.get()) != outputs_.end()) continue;
      keep.push_back(std::move(d));
    }
    if (outputs.size() > 1) {
      for (auto& out : outputs) keep.push_back(out.data_shared_ptr());
    }
    for (auto& out : outputs) {
      bool donated = false;
      for (auto& in : inputs) donated |= in.raw_ptr() == out.raw_ptr();
      if (!donated) pending_->bytes += out.nbytes();
    }
    scheduler::enqueue(stream_, std::move(*pending_));
    pending_.reset();
  }
  // Without a dispatch nothing reads the inputs asynchronously (views).
  inputs_.clear();
  outputs_.clear();
}

void CommandEncoder::discard() {
  pending_.reset();
  inputs_.clear();
  outputs_.clear();
}

CommandEncoder& get_command_encoder(const Stream& s) {
  // Only touched under the eval driver's lock.
  static std::deque<std::unique_ptr<CommandEncoder>> encoders;
  while (static_cast<int>(encoders.size()) <= s.index) encoders.push_back(nullptr);
  auto& e = encoders[s.index];
  if (!e) e = std::make_unique<CommandEncoder>(s);
  return *e;
}

}  // namespace fastsync::cpu
