// A convolution pass through cuDNN's graph (backend) API, for conv.cu.
//
// cuDNN 9 implements its legacy calls (cudnnConvolutionForward, ...) on top
// of this API, rebuilding the plan on every call: 80-210 us of host time per
// call on the H200 host, during which the GPU idles. Here the execution plan
// of each pass and shape is built once per stream and kept, so a call is one
// variant pack and cudnnBackendExecute. The graph API also reaches engines
// the legacy algorithms do not name (FFT and Winograd variants for
// channels-last layouts).
//
// The plan is cuDNN's heuristic's first engine that builds, or, where
// FASTSYNC_CUDNN_AUTOTUNE is not 0, the fastest of its first candidates
// timed once on the call's own buffers (which waits for the stream, once per
// shape). Engines that are nondeterministic, or that would round float32
// through TF32 or lower while FASTSYNC_TF32 is off, are never chosen.
//
// Threads: the encoding thread of the stream (plans are per stream handle;
// the cache is guarded by a mutex).
#pragma once

#include <cstdint>

#include "backend/common/conv.h"
#include "backend/cuda/encoder.h"
#include "dtype.h"

namespace fastsync::cuda::cudnn {

enum class Pass { forward, input_grad, weight_grad };

// The three tensors of a pass, by role: the image x (N, *spatial, C), the
// weight w (O, *kernel, C / groups) and the output image y (N, *out, O), all
// row-contiguous. The forward pass writes y, the input gradient x, the
// weight gradient w; the others are read.
struct ConvBuffers {
  void* x;
  void* w;
  void* y;
};

// Whether an engine is the fastest of several timed once per shape, in
// either API (else the heuristic's first): FASTSYNC_CUDNN_AUTOTUNE != 0.
bool autotune();

// Whether the graph API is there and not turned off (FASTSYNC_CUDNN_GRAPH=0
// sends every call through the legacy API).
bool graph_available();

// Runs the pass on `enc`'s stream through the cached plan for its shape.
// False, having run nothing, when cuDNN has no engine for it through this
// API (the caller then runs the legacy API); throws on a failed execution.
bool run_graph(CommandEncoder& enc, Pass pass, const ConvGeometry& g, int64_t batch, int64_t c_in,
               int64_t c_out, Dtype dtype, const ConvBuffers& b);

// Since the process started: plans built, passes run through a plan, and
// passes handed back to the legacy API (the backend's counters).
struct GraphCounts {
  int64_t plans, graph_runs, legacy_runs;
};
GraphCounts graph_counts();

}  // namespace fastsync::cuda::cudnn
