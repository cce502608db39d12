// Device memory and pinned host memory: two instances of the caching
// allocator (allocator.h) over cudaMalloc and cudaHostAlloc. Device buffers
// freed into the cache are immediately reusable by any stream: the eval
// driver retains every buffer a GPU op reads until the GPU is past that op
// (encoder.h), so nothing in the cache is still in use. Before the cache, an
// op being encoded may take a buffer only its own stream's work in flight
// still reads (stream-ordered reuse, encoder.h).
#include "backend/cuda/allocators.h"
#include "backend/cuda/encoder.h"
#include "backend/cuda/runtime.h"

namespace fastsync::cuda {

namespace {
void* device_alloc(size_t n) {
  bind_device();
  void* p = nullptr;
  if (cudaMalloc(&p, n) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return p;
}
void device_release(void* p) { cudaFree(p); }
allocator::Buffer reuse_on_stream(size_t size) {
  auto* e = CommandEncoder::encoding();
  return e ? e->take_reusable(size) : allocator::Buffer{};
}

void* pinned_alloc(size_t n) {
  bind_device();
  void* p = nullptr;
  if (cudaHostAlloc(&p, n, cudaHostAllocPortable) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return p;
}
void pinned_release(void* p) { cudaFreeHost(p); }
// Pinned memory is page-locked RAM: cap it well below the machine's memory.
size_t pinned_capacity() { return size_t(16) << 30; }
}  // namespace

allocator::Allocator& device_allocator() {
  // Never destroyed: buffers may be freed during static teardown.
  static auto* a = new allocator::Allocator(allocator::Source{
      device_alloc, device_release, total_device_memory, true, "gpu", reuse_on_stream});
  return *a;
}

allocator::Allocator& pinned_allocator() {
  static auto* a = new allocator::Allocator(
      allocator::Source{pinned_alloc, pinned_release, pinned_capacity, false, "pinned"});
  return *a;
}

}  // namespace fastsync::cuda

namespace fastsync::gpu {
allocator::Allocator& device_allocator() { return cuda::device_allocator(); }
}  // namespace fastsync::gpu
