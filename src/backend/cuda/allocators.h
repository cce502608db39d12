// The GPU backend's allocators. Any thread.
#pragma once

#include "allocator.h"

namespace fastsync::cuda {

// Device memory (cudaMalloc), with the CPU allocator's cache, statistics and
// limits; the default limit is 9/10 of the device's memory.
allocator::Allocator& device_allocator();
// Page-locked host memory (cudaHostAlloc): staging for crossings between
// devices, and the words CPU and GPU signal each other through.
allocator::Allocator& pinned_allocator();

}  // namespace fastsync::cuda
