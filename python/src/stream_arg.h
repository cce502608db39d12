// The `stream=` keyword of a binding: None, a Stream, a Device or a DeviceType,
// as the core's StreamOrDevice. Header-only, for fastsync's own bindings and for
// extension modules (installed as <fastsync/python/stream_arg.h>): the Stream and
// Device types are the ones fastsync's module registered, found through the shared
// nanobind domain.
#pragma once

#include <nanobind/nanobind.h>

#include <string>

#include "stream.h"

namespace fastsync::py {

inline StreamOrDevice to_stream_or_device(nanobind::handle obj) {
  namespace nb = nanobind;
  if (obj.is_none()) return std::monostate{};
  if (nb::isinstance<Stream>(obj)) return nb::cast<Stream>(obj);
  if (nb::isinstance<Device>(obj)) return nb::cast<Device>(obj);
  if (nb::isinstance<Device::Type>(obj)) return Device(nb::cast<Device::Type>(obj));
  nb::str got(obj.type().attr("__name__"));
  throw nb::type_error(
      (std::string("stream must be None, a Stream, a Device or a DeviceType, got ") + got.c_str())
          .c_str());
}

}  // namespace fastsync::py
