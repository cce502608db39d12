// Entry points a GPU backend provides. Builds without one link
// no_gpu.cpp, which reports that no GPU exists.
#pragma once

namespace fastsync::gpu {
bool is_available();
}  // namespace fastsync::gpu
