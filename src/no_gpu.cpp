// Linked when fastsync is built without a GPU backend.
#include "backend.h"

namespace fastsync::gpu {
bool is_available() { return false; }
}  // namespace fastsync::gpu
