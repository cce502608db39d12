// GPU evals of the test primitives (see testing.h): a kernel that records a
// failure in the stream's error record, so tests see a GPU-side error
// surface at a wait; a kernel that spins on the GPU's clock, then copies.
#include <stdexcept>

#include "backend/cuda/kernel_utils.cuh"
#include "backend/cuda/signal_device.cuh"
#include "testing/testing.h"

namespace fastsync {

namespace {
__global__ void fail_kernel(cuda::ErrorRecord* record, uint64_t position) {
  cuda::record_error(record, position, cuda::kErrorPlanted);
}

__global__ void stall_copy_kernel(const char* src, char* dst, size_t bytes, uint64_t ns) {
  if (threadIdx.x == 0) {
    const uint64_t start = cuda::global_ns();
    while (cuda::global_ns() - start < ns) __nanosleep(1000);
  }
  __syncthreads();
  cuda::block_copy<false>(src, dst, bytes);
}
}  // namespace

void FailInTask::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  cuda::alloc(outputs[0]);
  enc.set_input_array(inputs[0]);
  auto* record = enc.error_record(cuda::kErrorPlanted, [msg = message_](const cuda::ErrorRecord&) {
    return std::make_exception_ptr(std::runtime_error(msg));
  });
  fail_kernel<<<1, 1, 0, enc.cuda_stream()>>>(record, enc.op_position());
  cuda::check_launch("[fail_in_task] kernel");
}

void FailInEncode::eval_gpu(const std::vector<array>&, std::vector<array>&) {
  throw std::runtime_error(message_);
}

void Stall::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& enc = cuda::encoder_for(*this);
  cuda::alloc(outputs[0]);
  enc.set_input_array(inputs[0]);
  enc.set_output_array(outputs[0]);
  // Launched directly, never replayed: each stall is its own.
  stall_copy_kernel<<<1, 256, 0, enc.cuda_stream()>>>(
      static_cast<const char*>(inputs[0].raw_ptr()), static_cast<char*>(outputs[0].raw_ptr()),
      outputs[0].nbytes(), static_cast<uint64_t>(microseconds_) * 1000);
  cuda::check_launch("[stall] kernel");
}

}  // namespace fastsync
