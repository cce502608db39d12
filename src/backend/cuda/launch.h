// Kernel launches of the GPU evals: cuda::launch(enc, kernel, grid, block,
// smem, what, args...) enqueues kernel<<<grid, block, smem>>>(args...) on the
// encoder's stream. Outside a captured run, a launch whose kernel, shape and
// parameter bytes recur is replayed as a graph (call_graphs.h): about half
// the host time of cudaLaunchKernel. Inside one it joins the capture.
// Throws the CUDA error, naming `what`, if the launch fails.
//
// Encoding thread (under the eval driver's lock); *.cu files only.
#pragma once

#include <cuda_runtime.h>

#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "backend/cuda/encoder.h"
#include "backend/cuda/graph.h"
#include "backend/cuda/runtime.h"

namespace fastsync::cuda {

namespace launch_detail {

template <class T>
void append(std::string& key, const T& v) {
  key.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

}  // namespace launch_detail

template <typename... Params, typename... Args>
void launch(CommandEncoder& enc, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
            const char* what, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "one argument per kernel parameter");
  // The parameters converted as <<<>>> converts them; their bytes are what
  // the kernel receives, and so the key of a replay.
  std::tuple<std::decay_t<Params>...> params{std::forward<Args>(args)...};
  std::apply(
      [&](auto&... p) {
        void* ptrs[sizeof...(Params) + 1] = {static_cast<void*>(&p)...};
        auto call = [&] {
          check(cudaLaunchKernel(reinterpret_cast<const void*>(kernel), grid, block, ptrs, smem,
                                 enc.cuda_stream()),
                what);
        };
        if (enc.capturing() || !GraphCapture::enabled()) return call();
        // Reused: building the key allocates nothing once it has grown.
        thread_local std::string key;
        key.clear();
        launch_detail::append(key, kernel);
        launch_detail::append(key, grid);
        launch_detail::append(key, block);
        launch_detail::append(key, smem);
        (launch_detail::append(key, p), ...);
        enc.replay(key, call);
      },
      params);
}

}  // namespace fastsync::cuda
