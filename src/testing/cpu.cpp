// CPU eval of the test primitive (see testing.h): a task that throws.
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "backend/cpu/utils.h"
#include "testing/testing.h"

namespace fastsync {

void FailInTask::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  cpu::alloc(outputs[0]);
  auto& enc = cpu::encoder_for(*this);
  enc.set_input_array(inputs[0]);
  enc.dispatch([msg = message_] { throw std::runtime_error(msg); });
}

void FailInEncode::eval_cpu(const std::vector<array>&, std::vector<array>&) {
  throw std::runtime_error(message_);
}

void Stall::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  cpu::alloc(outputs[0]);
  auto& enc = cpu::encoder_for(*this);
  enc.set_input_array(inputs[0]);
  enc.set_output_array(outputs[0]);
  enc.dispatch([src = static_cast<const char*>(inputs[0].raw_ptr()),
                dst = static_cast<char*>(outputs[0].raw_ptr()), bytes = outputs[0].nbytes(),
                us = microseconds_] {
    std::this_thread::sleep_for(std::chrono::microseconds(us));
    if (bytes) std::memcpy(dst, src, bytes);
  });
}

}  // namespace fastsync
