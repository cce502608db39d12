// Test-only hooks, compiled into fastsync_core only when CMake's
// FASTSYNC_BUILD_TESTS is ON (which defines FASTSYNC_TEST_HOOKS=1 for
// everything that links fastsync_core). Product code must not use them.
//
// FailInTask: a primitive whose compute task always fails, so tests can
// check that an error inside a worker task (CPU) or a kernel (GPU) surfaces
// at the next wait and leaves the runtime usable. Its CPU eval is in
// cpu.cpp, its GPU eval in cuda.cu (built with the CUDA backend only).
//
// FailInEncode: a primitive whose eval_cpu/eval_gpu throws at once, before
// it declares anything: tests check that what the eval driver encoded for
// its inputs (crossings still being written) outlives the failure.
//
// Stall: a copy of its input made after its stream has stood still for a
// given time (a CPU task sleeps; on a GPU stream one kernel spins on the
// GPU's clock first). Work queued behind it waits, so the host runs that
// far ahead of the stream, as it does on a slow or busy device: tests check
// that results do not depend on how far.
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

class FailInEncode : public Primitive {
 public:
  FailInEncode(Stream s, std::string message) : Primitive(s), message_(std::move(message)) {}
  const char* name() const override { return "FailInEncode"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  std::string message_;
};

// An op whose encoding throws `message` (RuntimeError) on the eval's thread.
array fail_in_encode(const array& a, const std::string& message, StreamOrDevice s = {});

class Stall : public Primitive {
 public:
  Stall(Stream s, int64_t microseconds) : Primitive(s), microseconds_(microseconds) {}
  const char* name() const override { return "Stall"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  int64_t microseconds_;
};

// A row-contiguous copy of `a`, made after the stream stood still for
// `microseconds` (at most 10 s).
array stall(const array& a, int64_t microseconds, StreamOrDevice s = {});

}  // namespace fastsync
