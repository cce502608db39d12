// Crossings between devices: an op reads an array that lives in the other
// device's memory. Called through Backend::cross and Backend::host_copy
// (backend.cpp) by the eval driver on the encoding thread, before the
// consumer's eval_cpu/eval_gpu.
#pragma once

#include <optional>

#include "array.h"

namespace fastsync::cuda {

// `in` (host memory) read by an op on the GPU stream `consumer`; `producer`
// is the CPU stream that computes `in`, if it may still be in flight.
array to_device(const array& in, const std::optional<Stream>& producer, const Stream& consumer);
// `in` (device memory) read by an op on the CPU stream `consumer`;
// `producer` is the GPU stream that computes `in`, if still in flight.
array to_host(const array& in, const std::optional<Stream>& producer, const Stream& consumer);
// Any thread: a host copy of an evaluated, computed device array. Blocks.
array host_copy(const array& in);

}  // namespace fastsync::cuda
