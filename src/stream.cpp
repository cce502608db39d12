#include "stream.h"

#include <mutex>
#include <stdexcept>
#include <vector>

#include "backend.h"

namespace fastsync {

std::string Device::str() const {
  return std::string(type == Type::cpu ? "Device(cpu, " : "Device(gpu, ") +
         std::to_string(index) + ")";
}

std::string Stream::str() const {
  return "Stream(" + std::string(device.type == Device::Type::cpu ? "cpu" : "gpu") +
         ", " + std::to_string(index) + ")";
}

bool gpu_available() { return gpu::is_available(); }

namespace {
// Guarded by registry_mutex: every stream ever created and the per-device
// default streams.
std::mutex registry_mutex;
std::vector<Stream> all_streams;
std::vector<Stream> defaults;  // one per device type, created lazily
Device default_dev = cpu_device;
thread_local std::optional<Stream> tls_stream;

Stream make_stream_locked(Device d) {
  if (d.type == Device::Type::gpu && !gpu::is_available()) {
    throw std::invalid_argument(
        "[stream] no GPU is available: this build of fastsync has no GPU "
        "backend or no CUDA device was found");
  }
  Stream s(static_cast<int>(all_streams.size()), d);
  all_streams.push_back(s);
  return s;
}

Stream default_stream_locked(Device d) {
  for (auto& s : defaults) {
    if (s.device == d) return s;
  }
  Stream s = make_stream_locked(d);
  defaults.push_back(s);
  return s;
}
}  // namespace

Device default_device() {
  if (tls_stream) return tls_stream->device;
  std::lock_guard lk(registry_mutex);
  return default_dev;
}

void set_default_device(Device d) {
  if (d.type == Device::Type::gpu && !gpu::is_available()) {
    throw std::invalid_argument(
        "[set_default_device] no GPU is available: this build of fastsync has "
        "no GPU backend or no CUDA device was found");
  }
  std::lock_guard lk(registry_mutex);
  default_dev = d;
}

Stream default_stream(Device d) {
  if (tls_stream && tls_stream->device == d) return *tls_stream;
  std::lock_guard lk(registry_mutex);
  return default_stream_locked(d);
}

void set_default_stream(Stream s) {
  std::lock_guard lk(registry_mutex);
  for (auto& d : defaults) {
    if (d.device == s.device) {
      d = s;
      return;
    }
  }
  defaults.push_back(s);
}

Stream new_stream(Device d) {
  std::lock_guard lk(registry_mutex);
  return make_stream_locked(d);
}

int num_streams() {
  std::lock_guard lk(registry_mutex);
  return static_cast<int>(all_streams.size());
}

Stream to_stream(const StreamOrDevice& s) {
  if (auto* st = std::get_if<Stream>(&s)) return *st;
  if (auto* d = std::get_if<Device>(&s)) return default_stream(*d);
  if (tls_stream) return *tls_stream;
  return default_stream(default_device());
}

StreamContext::StreamContext(StreamOrDevice s) : prev_(tls_stream) {
  tls_stream = to_stream(s);
}

StreamContext::~StreamContext() { tls_stream = prev_; }

}  // namespace fastsync
