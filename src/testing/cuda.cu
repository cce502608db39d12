// GPU eval of the test primitive (see testing.h): a kernel that records a
// failure in the stream's error record, so tests see a GPU-side error
// surface at a wait.
#include <stdexcept>

#include "backend/cuda/kernel_utils.cuh"
#include "testing/testing.h"

namespace fastsync {

namespace {
__global__ void fail_kernel(cuda::ErrorRecord* record, uint64_t position) {
  cuda::record_error(record, position, cuda::kErrorPlanted);
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

}  // namespace fastsync
