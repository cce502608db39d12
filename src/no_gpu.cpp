// Linked when fastsync is built without a GPU backend: no GPU exists, so no
// GPU stream can be made and the other entry points are never reached.
#include <stdexcept>

#include "array.h"
#include "backend.h"

namespace fastsync::gpu {

namespace {
[[noreturn]] void unreachable() {
  throw std::logic_error("[gpu] this build of fastsync has no GPU backend");
}
}  // namespace

bool is_available() { return false; }
struct Mark {};
MarkRef make_mark(const Stream&) { unreachable(); }
void place(Mark&, bool, bool) { unreachable(); }
bool reached(const Mark&) { unreachable(); }
void host_wait(const Mark&) { unreachable(); }
scheduler::ErrorRef error(const Mark&) { unreachable(); }
void stream_wait(const MarkRef&, const Stream&, uint64_t) { unreachable(); }
uint64_t position(const Stream&) { unreachable(); }
void commit(const Stream&, const std::vector<array>&, const std::vector<array>&) { unreachable(); }
void discard(const Stream&) { unreachable(); }
void retain(const Stream&, std::shared_ptr<Data>) { unreachable(); }
array to_device(const array&, const std::optional<Stream>&, const Stream&) { unreachable(); }
array to_host(const array&, const std::optional<Stream>&, const Stream&) { unreachable(); }
array host_copy(const array&) { unreachable(); }
allocator::Allocator& device_allocator() { unreachable(); }
size_t inflight_bytes() { return 0; }
bool wait_for_memory() { return false; }
void synchronize_all() {}

}  // namespace fastsync::gpu
