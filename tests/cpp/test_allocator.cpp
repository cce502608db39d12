#include <doctest/doctest.h>

#include <cstdlib>

#include "allocator.h"

using namespace fastsync;

TEST_CASE("allocator: statistics, cache reuse and limits") {
  allocator::Allocator a;
  auto b = a.malloc(10000);
  size_t bucket = allocator::Allocator::bucket_size(10000);
  CHECK(bucket >= 10000);
  CHECK(a.active_memory() == bucket);
  CHECK(a.peak_memory() == bucket);
  CHECK(a.cache_memory() == 0);

  a.free(b);
  CHECK(a.active_memory() == 0);
  CHECK(a.cache_memory() == bucket);

  // Same bucket comes back from the cache.
  auto c = a.malloc(9999);
  CHECK(c.ptr == b.ptr);
  CHECK(a.cache_memory() == 0);

  auto d = a.malloc(1 << 20);
  CHECK(a.peak_memory() == bucket + allocator::Allocator::bucket_size(1 << 20));
  a.free(c);
  a.free(d);
  a.reset_peak_memory();
  CHECK(a.peak_memory() == 0);

  // A much larger request does not take a small cached buffer.
  auto e = a.malloc(4 << 20);
  CHECK(e.ptr != d.ptr);
  a.free(e);

  a.clear_cache();
  CHECK(a.cache_memory() == 0);

  // The cache limit bounds what frees keep.
  a.set_cache_limit(1 << 20);
  auto f = a.malloc(2 << 20);
  a.free(f);
  CHECK(a.cache_memory() == 0);
  auto g = a.malloc(4096);
  a.free(g);
  CHECK(a.cache_memory() == 4096);
  CHECK(a.set_memory_limit(123) > 0);
  CHECK(a.memory_limit() == 123);
}

TEST_CASE("allocator: buffers are aligned and usable") {
  allocator::Allocator a;
  for (size_t n : {1, 17, 4096, 70000}) {
    auto b = a.malloc(n);
    CHECK(reinterpret_cast<uintptr_t>(b.ptr) % 64 == 0);
    static_cast<char*>(b.ptr)[n - 1] = 1;
    a.free(b);
  }
  // Large host buffers start on a huge-page boundary (they ask for
  // transparent huge pages), and every byte of an odd size is usable.
  for (size_t n : {size_t(4) << 20, (size_t(5) << 20) + 12345}) {
    auto b = a.malloc(n);
    CHECK(reinterpret_cast<uintptr_t>(b.ptr) % (size_t(2) << 20) == 0);
    static_cast<char*>(b.ptr)[0] = 1;
    static_cast<char*>(b.ptr)[n - 1] = 1;
    a.free(b);
  }
}

namespace {
// A memory source that counts what it hands out and takes back, standing in
// for the GPU backend's device memory.
int source_live = 0;
void* counting_alloc(size_t n) {
  ++source_live;
  return std::malloc(n);
}
void counting_release(void* p) {
  --source_live;
  std::free(p);
}
size_t small_capacity() { return size_t(1) << 20; }
}  // namespace

TEST_CASE("allocator: other memory sources; buffers know their owner") {
  allocator::Allocator dev(
      allocator::Source{counting_alloc, counting_release, small_capacity, /*device=*/true});
  CHECK(dev.is_device());
  CHECK(dev.memory_limit() == small_capacity() / 10 * 9);
  auto b = dev.malloc(1000);
  CHECK(b.owner == &dev);
  CHECK(allocator::is_device(b));
  CHECK(source_live == 1);
  allocator::free(b);  // goes back to its owner's cache, not to the host allocator
  CHECK(dev.cache_memory() == allocator::Allocator::bucket_size(1000));
  CHECK(source_live == 1);
  dev.clear_cache();  // returned to the source outside the allocator's lock
  CHECK(source_live == 0);
  auto h = allocator::malloc(10);
  CHECK(h.owner == &allocator::host());
  CHECK_FALSE(allocator::is_device(h));
  allocator::free(h);
  allocator::free(allocator::Buffer{});  // no owner: nothing to free
}

namespace {
// A source whose reuse hook hands back one stashed buffer (the GPU's
// stream-ordered reuse takes such a buffer from work in flight).
allocator::Buffer stash;
void* test_alloc(size_t n) { return std::aligned_alloc(64, n); }
void test_release(void* p) { std::free(p); }
size_t test_capacity() { return size_t(1) << 30; }
allocator::Buffer take_stash(size_t size) {
  if (stash.ptr && stash.size >= size && stash.size <= size + size / 8) {
    allocator::Buffer b = stash;
    stash = {};
    return b;
  }
  return {};
}
}  // namespace

TEST_CASE("allocator: a source's reuse hook is asked before the cache") {
  allocator::Allocator a(
      allocator::Source{test_alloc, test_release, test_capacity, false, "test", take_stash});
  auto b = a.malloc(1 << 20);
  const size_t one = a.active_memory();
  CHECK(one == allocator::Allocator::bucket_size(1 << 20));
  // Its array let go of it while queued work still reads it: never freed, still active.
  stash = b;
  auto c = a.malloc(1 << 20);
  CHECK(c.ptr == b.ptr);
  CHECK(c.size == b.size);
  CHECK(stash.ptr == nullptr);
  CHECK(a.active_memory() == one);
  CHECK(a.peak_memory() == one);
  // Nothing to reuse: a fresh buffer, counted.
  auto d = a.malloc(1 << 20);
  CHECK(d.ptr != c.ptr);
  CHECK(a.active_memory() == 2 * one);
  // A stashed buffer far larger than asked is left alone.
  stash = d;
  auto e = a.malloc(4096);
  CHECK(e.ptr != d.ptr);
  CHECK(stash.ptr == d.ptr);
  stash = {};
  a.free(c);
  a.free(d);
  a.free(e);
  CHECK(a.active_memory() == 0);
}
