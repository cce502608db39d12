#include "backend/cuda/precision.h"

#include <cstdlib>
#include <string_view>

namespace fastsync::cuda {

bool tf32() {
  static const bool on = [] {
    const char* v = std::getenv("FASTSYNC_TF32");
    return v && std::string_view(v) == "1";
  }();
  return on;
}

}  // namespace fastsync::cuda
