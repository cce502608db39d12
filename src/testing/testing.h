// Test-only hooks, compiled into fastsync_core only when CMake's
// FASTSYNC_BUILD_TESTS is ON (which defines FASTSYNC_TEST_HOOKS=1 for
// everything that links fastsync_core). Product code must not use them.
//
// FailInTask: a primitive whose compute task always fails, so tests can
// check that an error inside a worker task (CPU) or a kernel (GPU) surfaces
// at the next wait and leaves the runtime usable. Its CPU eval is in
// cpu.cpp, its GPU eval in cuda.cu (built with the CUDA backend only).
#pragma once

#include <string>

#include "array.h"
#include "primitive.h"
#include "stream.h"

namespace fastsync {

class FailInTask : public Primitive {
 public:
  FailInTask(Stream s, std::string message) : Primitive(s), message_(std::move(message)) {}
  const char* name() const override { return "FailInTask"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  std::string message_;
};

// An op whose compute task throws `message` on the worker (on a GPU stream:
// a kernel plants the failure in the stream's error record).
array fail_in_task(const array& a, const std::string& message, StreamOrDevice s = {});

}  // namespace fastsync
