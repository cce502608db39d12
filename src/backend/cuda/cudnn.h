// cuDNN, loaded at run time, for the GPU convolutions (conv.cu): the
// library, a handle per CUDA stream, and the descriptors of one
// convolution. Loaded as cuBLAS is (cublas.h): libcudnn.so.9 already in the
// process, on the loader path, in FASTSYNC_CUDNN_PATH (which `import
// fastsync` points at PyPI's nvidia-cudnn wheel) or in the toolkit; its
// sub-libraries (ops, cnn, engines, ...) are loaded first from the same
// directory, since the wheel's directory is not on the loader path.
//
// The declarations below are the part of cudnn.h (cuDNN 9's legacy
// convolution API) that fastsync calls; building needs no cuDNN headers.
//
// Threads: the encoding thread (handles are per stream, made on first use
// and kept for the life of the process, as cuBLAS handles).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "array.h"
#include "backend/common/conv.h"
#include "backend/cuda/encoder.h"

namespace fastsync::cuda::cudnn {

using Handle = void*;
using TensorDesc = void*;
using FilterDesc = void*;
using ConvDesc = void*;
using BackendDesc = void*;  // any descriptor of the graph (backend) API
using Status = int;

// The algorithm-performance record cuDNN's heuristics return (the same
// layout for forward, backward-data and backward-filter).
struct AlgoPerf {
  int algo;
  Status status;
  float time;
  size_t memory;
  int determinism;
  int math_type;
  int reserved[3];
};

struct Api {
  const char* (*GetErrorString)(Status);
  Status (*Create)(Handle*);
  Status (*SetStream)(Handle, cudaStream_t);
  Status (*CreateTensorDescriptor)(TensorDesc*);
  Status (*SetTensorNdDescriptor)(TensorDesc, int, int, const int*, const int*);
  Status (*DestroyTensorDescriptor)(TensorDesc);
  Status (*CreateFilterDescriptor)(FilterDesc*);
  Status (*SetFilterNdDescriptor)(FilterDesc, int, int, int, const int*);
  Status (*DestroyFilterDescriptor)(FilterDesc);
  Status (*CreateConvolutionDescriptor)(ConvDesc*);
  Status (*SetConvolutionNdDescriptor)(ConvDesc, int, const int*, const int*, const int*, int, int);
  Status (*SetConvolutionGroupCount)(ConvDesc, int);
  Status (*SetConvolutionMathType)(ConvDesc, int);
  Status (*DestroyConvolutionDescriptor)(ConvDesc);
  Status (*GetForwardAlgorithm)(Handle, TensorDesc, FilterDesc, ConvDesc, TensorDesc, int, int*,
                                AlgoPerf*);
  Status (*GetForwardWorkspace)(Handle, TensorDesc, FilterDesc, ConvDesc, TensorDesc, int, size_t*);
  Status (*Forward)(Handle, const void*, TensorDesc, const void*, FilterDesc, const void*, ConvDesc,
                    int, void*, size_t, const void*, TensorDesc, void*);
  Status (*GetBackwardDataAlgorithm)(Handle, FilterDesc, TensorDesc, ConvDesc, TensorDesc, int,
                                     int*, AlgoPerf*);
  Status (*GetBackwardDataWorkspace)(Handle, FilterDesc, TensorDesc, ConvDesc, TensorDesc, int,
                                     size_t*);
  Status (*BackwardData)(Handle, const void*, FilterDesc, const void*, TensorDesc, const void*,
                         ConvDesc, int, void*, size_t, const void*, TensorDesc, void*);
  Status (*GetBackwardFilterAlgorithm)(Handle, TensorDesc, TensorDesc, ConvDesc, FilterDesc, int,
                                       int*, AlgoPerf*);
  Status (*GetBackwardFilterWorkspace)(Handle, TensorDesc, TensorDesc, ConvDesc, FilterDesc, int,
                                       size_t*);
  Status (*BackwardFilter)(Handle, const void*, TensorDesc, const void*, TensorDesc, const void*,
                           ConvDesc, int, void*, size_t, const void*, FilterDesc, void*);
  // The measured searches (cudnnFind*AlgorithmEx): each runs every
  // algorithm once on the given buffers and returns them fastest first.
  // Optional (null when the library has none).
  Status (*FindForward)(Handle, TensorDesc, const void*, FilterDesc, const void*, ConvDesc,
                        TensorDesc, void*, int, int*, AlgoPerf*, void*, size_t);
  Status (*FindBackwardData)(Handle, FilterDesc, const void*, TensorDesc, const void*, ConvDesc,
                             TensorDesc, void*, int, int*, AlgoPerf*, void*, size_t);
  Status (*FindBackwardFilter)(Handle, TensorDesc, const void*, TensorDesc, const void*, ConvDesc,
                               FilterDesc, void*, int, int*, AlgoPerf*, void*, size_t);
  // The graph (backend) API (cudnn_graph.h). Optional: null when absent.
  Status (*BackendCreateDescriptor)(int, BackendDesc*);
  Status (*BackendDestroyDescriptor)(BackendDesc);
  Status (*BackendFinalize)(BackendDesc);
  Status (*BackendSetAttribute)(BackendDesc, int, int, int64_t, const void*);
  Status (*BackendGetAttribute)(BackendDesc, int, int, int64_t, int64_t*, void*);
  Status (*BackendExecute)(Handle, BackendDesc, BackendDesc);
};

// The loaded library, or null with the loader's reasons in *why (loaded
// once; FASTSYNC_CUDNN=0 turns it off). Any thread.
const Api* api(std::string* why = nullptr);

// Throws std::runtime_error "[op] fn failed: <cuDNN's message>" unless ok.
void check(Status s, const char* op, const char* fn);

// The handle bound to `enc`'s CUDA stream.
Handle handle(CommandEncoder& enc);

// The descriptors of one convolution: image x (N, *spatial, C) and its
// output y (N, *out, O), both row-contiguous and channels-last, and the
// weight (O, *kernel, C / groups). A 1-D convolution is described as a 2-D
// one of height 1. Destroys them on scope exit.
class Descriptors {
 public:
  Descriptors(const ConvGeometry& g, int64_t batch, int64_t c_in, int64_t c_out, Dtype dtype);
  ~Descriptors();
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;

  TensorDesc x = nullptr, y = nullptr;
  FilterDesc w = nullptr;
  ConvDesc conv = nullptr;
};

// cuDNN's data type for `dtype` (float32, float64, float16, bfloat16).
int data_type(Dtype dtype);

// Whether a convolution of this geometry and dtype can run on cuDNN:
// symmetric non-negative padding, no input dilation, float32, float16 or
// bfloat16.
bool supports(const ConvGeometry& g, Dtype dtype);

}  // namespace fastsync::cuda::cudnn
