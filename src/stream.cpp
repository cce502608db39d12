#include "stream.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace fastsync {

std::string Device::str() const {
  return std::string(type == Type::cpu ? "Device(cpu, " : "Device(gpu, ") + std::to_string(index) +
         ")";
}

std::string Stream::str() const {
  return "Stream(" + std::string(device.type == Device::Type::cpu ? "cpu" : "gpu") + ", " +
         std::to_string(index) + ")";
}

bool gpu_available() { return gpu_backend().is_available(); }

namespace {
// The registry: states in chunks of kChunk, chunk pointers in a fixed table.
// Chunks and states are made under registry_mutex and published with
// release stores of the chunk pointer and of n_streams, then read without
// the lock. The defaults are atomics too, so ops, which ask for them on
// every call, take no lock: the index of each device type's default stream
// (-1 until first use) and the default device type.
constexpr int kChunk = 256;
constexpr int kMaxChunks = 1024;  // 262,144 streams
std::mutex registry_mutex;
std::atomic<StreamState*> chunks[kMaxChunks];
std::atomic<int> n_streams{0};
std::atomic<int> default_index[2] = {-1, -1};
// The default device: resolved at first use, not at import (so importing
// fastsync initializes no GPU driver): FASTSYNC_DEFAULT_DEVICE=cpu|gpu if
// set (another value, or gpu without a GPU, is an error, not a quiet CPU
// run), else the GPU when one is available (as MLX), else the CPU. -1 until
// then; any thread may resolve it, they agree.
std::atomic<int> default_dev{-1};

Device::Type resolve_default_device() {
  int d = default_dev.load(std::memory_order_acquire);
  if (d >= 0) return static_cast<Device::Type>(d);
  const char* env = std::getenv("FASTSYNC_DEFAULT_DEVICE");
  std::string want = env ? env : "";
  if (!want.empty() && want != "cpu" && want != "gpu") {
    throw std::invalid_argument("FASTSYNC_DEFAULT_DEVICE must be 'cpu' or 'gpu', got '" + want +
                                "'");
  }
  if (want == "gpu" && !gpu_available()) {
    throw std::invalid_argument(
        "FASTSYNC_DEFAULT_DEVICE=gpu but no GPU is available (no GPU backend in this build or "
        "no CUDA device found)");
  }
  Device::Type t = want == "cpu"                      ? Device::Type::cpu
                   : want == "gpu" || gpu_available() ? Device::Type::gpu
                                                      : Device::Type::cpu;
  int expected = -1;
  default_dev.compare_exchange_strong(expected, static_cast<int>(t), std::memory_order_acq_rel);
  return static_cast<Device::Type>(default_dev.load(std::memory_order_acquire));
}
thread_local std::optional<Stream> tls_stream;

int slot(Device d) { return d.type == Device::Type::cpu ? 0 : 1; }

Stream make_stream_locked(Device d) {
  Backend& b = backend(d.type);
  if (!b.is_available()) {
    throw std::invalid_argument(
        "[stream] no GPU is available: this build of fastsync has no GPU "
        "backend or no CUDA device was found");
  }
  int i = n_streams.load(std::memory_order_relaxed);
  if (i >= kChunk * kMaxChunks) {
    throw std::runtime_error("[new_stream] at most " + std::to_string(kChunk * kMaxChunks) +
                             " streams can be made in one process");
  }
  StreamState* chunk = chunks[i / kChunk].load(std::memory_order_relaxed);
  if (!chunk) {
    // Never freed, like the states in it.
    chunk = static_cast<StreamState*>(::operator new(sizeof(StreamState) * kChunk));
    chunks[i / kChunk].store(chunk, std::memory_order_release);
  }
  Stream s(i, d);
  auto* state = new (chunk + i % kChunk) StreamState(s);
  state->encoder = b.make_encoder(s).release();
  n_streams.store(i + 1, std::memory_order_release);
  return s;
}

Stream default_stream_locked(Device d) {
  int i = default_index[slot(d)].load();
  if (i >= 0) return Stream(i, d);
  Stream s = make_stream_locked(d);
  default_index[slot(d)].store(s.index);
  return s;
}
}  // namespace

Device default_device() {
  if (tls_stream) return tls_stream->device;
  return Device(resolve_default_device());
}

void set_default_device(Device d) {
  if (!backend(d.type).is_available()) {
    throw std::invalid_argument(
        "[set_default_device] no GPU is available: this build of fastsync has "
        "no GPU backend or no CUDA device was found");
  }
  default_dev.store(static_cast<int>(d.type), std::memory_order_release);
}

Stream default_stream(Device d) {
  if (tls_stream && tls_stream->device == d) return *tls_stream;
  int i = default_index[slot(d)].load(std::memory_order_acquire);
  if (i >= 0) return Stream(i, d);
  std::lock_guard lk(registry_mutex);
  return default_stream_locked(d);
}

void set_default_stream(Stream s) { default_index[slot(s.device)].store(s.index); }

Stream new_stream(Device d) {
  std::lock_guard lk(registry_mutex);
  return make_stream_locked(d);
}

int num_streams() { return n_streams.load(std::memory_order_acquire); }

StreamState& stream_state(int index) {
  if (index < 0 || index >= n_streams.load(std::memory_order_acquire)) {
    throw std::invalid_argument("[stream] no stream has index " + std::to_string(index));
  }
  return chunks[index / kChunk].load(std::memory_order_acquire)[index % kChunk];
}

StreamState& stream_state(const Stream& s) { return stream_state(s.index); }

Stream to_stream(const StreamOrDevice& s) {
  if (auto* st = std::get_if<Stream>(&s)) return *st;
  if (auto* d = std::get_if<Device>(&s)) return default_stream(*d);
  if (tls_stream) return *tls_stream;
  return default_stream(default_device());
}

StreamContext::StreamContext(StreamOrDevice s) : prev_(tls_stream) { tls_stream = to_stream(s); }

StreamContext::~StreamContext() { tls_stream = prev_; }

}  // namespace fastsync
