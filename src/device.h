// Devices: where arrays live and primitives run. Value types.
#pragma once

#include <string>

namespace fastsync {

struct Device {
  enum class Type { cpu, gpu };
  Type type;
  int index = 0;
  constexpr Device(Type t, int i = 0) : type(t), index(i) {}  // NOLINT
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
};

inline constexpr Device cpu_device{Device::Type::cpu};
inline constexpr Device gpu_device{Device::Type::gpu};

// True when a GPU backend is compiled in and a device is present.
bool gpu_available();

// The process default device; set_default_device is thread-safe.
Device default_device();
void set_default_device(Device d);

}  // namespace fastsync
