// Loading cuDNN at run time, the per-stream handles and the convolution
// descriptors (cudnn.h).
#include "backend/cuda/cudnn.h"

#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "backend/cuda/precision.h"
#include "backend/cuda/runtime.h"
#include "dynlib.h"
#include "primitives/conv.h"

namespace fastsync::cuda::cudnn {

namespace {

// cudnn.h's values.
enum : int { kFloat = 0, kDouble = 1, kHalf = 2, kBfloat16 = 9 };
enum : int { kNCHW = 0, kNHWC = 1 };
enum : int { kConvolution = 0, kCrossCorrelation = 1 };
enum : int { kDefaultMath = 0, kTensorOpMath = 1, kFmaMath = 3 };

constexpr const char* kToolkitDir = "/usr/local/cuda/lib64";
// Loaded before libcudnn.so.9 from its directory, dependencies first: the
// shim opens them by soname, which a wheel's directory would not resolve.
constexpr const char* kParts[] = {"libcudnn_graph.so.9",
                                  "libcudnn_engines_runtime_compiled.so.9",
                                  "libcudnn_engines_precompiled.so.9",
                                  "libcudnn_heuristic.so.9",
                                  "libcudnn_ops.so.9",
                                  "libcudnn_cnn.so.9"};

void add_dir(std::vector<dynlib::Candidate>& out, const std::string& dir) {
  std::string lib = dir + "/libcudnn.so.9";
  if (!dynlib::is_file(lib)) return;
  dynlib::Candidate c{lib};
  for (const char* part : kParts) {
    std::string p = dir + "/" + part;
    if (dynlib::is_file(p)) c.preload.push_back(p);
  }
  out.push_back(std::move(c));
}

std::vector<dynlib::Candidate> candidates() {
  std::vector<dynlib::Candidate> c;
  c.push_back({.path = "libcudnn.so.9", .already_loaded = true});
  c.push_back({"libcudnn.so.9"});
  for (const auto& entry : dynlib::path_entries("FASTSYNC_CUDNN_PATH")) {
    if (entry.is_dir) {
      add_dir(c, entry.path);
    } else {
      c.push_back({entry.path});
    }
  }
  if (dynlib::is_dir(kToolkitDir)) add_dir(c, kToolkitDir);
  return c;
}

void resolve(Api& a, dynlib::Symbols& sym) {
  sym.bind(a.GetErrorString, "cudnnGetErrorString");
  sym.bind(a.Create, "cudnnCreate");
  sym.bind(a.SetStream, "cudnnSetStream");
  sym.bind(a.CreateTensorDescriptor, "cudnnCreateTensorDescriptor");
  sym.bind(a.SetTensorNdDescriptor, "cudnnSetTensorNdDescriptor");
  sym.bind(a.DestroyTensorDescriptor, "cudnnDestroyTensorDescriptor");
  sym.bind(a.CreateFilterDescriptor, "cudnnCreateFilterDescriptor");
  sym.bind(a.SetFilterNdDescriptor, "cudnnSetFilterNdDescriptor");
  sym.bind(a.DestroyFilterDescriptor, "cudnnDestroyFilterDescriptor");
  sym.bind(a.CreateConvolutionDescriptor, "cudnnCreateConvolutionDescriptor");
  sym.bind(a.SetConvolutionNdDescriptor, "cudnnSetConvolutionNdDescriptor");
  sym.bind(a.SetConvolutionGroupCount, "cudnnSetConvolutionGroupCount");
  sym.bind(a.SetConvolutionMathType, "cudnnSetConvolutionMathType");
  sym.bind(a.DestroyConvolutionDescriptor, "cudnnDestroyConvolutionDescriptor");
  sym.bind(a.GetForwardAlgorithm, "cudnnGetConvolutionForwardAlgorithm_v7");
  sym.bind(a.GetForwardWorkspace, "cudnnGetConvolutionForwardWorkspaceSize");
  sym.bind(a.Forward, "cudnnConvolutionForward");
  sym.bind(a.GetBackwardDataAlgorithm, "cudnnGetConvolutionBackwardDataAlgorithm_v7");
  sym.bind(a.GetBackwardDataWorkspace, "cudnnGetConvolutionBackwardDataWorkspaceSize");
  sym.bind(a.BackwardData, "cudnnConvolutionBackwardData");
  sym.bind(a.GetBackwardFilterAlgorithm, "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
  sym.bind(a.GetBackwardFilterWorkspace, "cudnnGetConvolutionBackwardFilterWorkspaceSize");
  sym.bind(a.BackwardFilter, "cudnnConvolutionBackwardFilter");
  sym.bind(a.FindForward, "cudnnFindConvolutionForwardAlgorithmEx", false);
  sym.bind(a.FindBackwardData, "cudnnFindConvolutionBackwardDataAlgorithmEx", false);
  sym.bind(a.FindBackwardFilter, "cudnnFindConvolutionBackwardFilterAlgorithmEx", false);
  sym.bind(a.BackendCreateDescriptor, "cudnnBackendCreateDescriptor", false);
  sym.bind(a.BackendDestroyDescriptor, "cudnnBackendDestroyDescriptor", false);
  sym.bind(a.BackendFinalize, "cudnnBackendFinalize", false);
  sym.bind(a.BackendSetAttribute, "cudnnBackendSetAttribute", false);
  sym.bind(a.BackendGetAttribute, "cudnnBackendGetAttribute", false);
  sym.bind(a.BackendExecute, "cudnnBackendExecute", false);
}

struct Loaded {
  const Api* api = nullptr;  // never freed: handles outlive every static
  std::string why;
};

const Loaded& loaded() {
  static const Loaded l = [] {
    Loaded out;
    const char* env = std::getenv("FASTSYNC_CUDNN");
    if (env && std::string(env) == "0") {
      out.why = "FASTSYNC_CUDNN=0 turned cuDNN off";
      return out;
    }
    auto a = std::make_unique<Api>();
    auto lib = dynlib::load(
        candidates(), [&](dynlib::Symbols& sym) { resolve(*a, sym); },
        {"cuDNN 9 (libcudnn.so.9), which the GPU convolutions use",
         "fastsync needs cuDNN 9's convolution API",
         "Install it with `pip install nvidia-cudnn-cu13` (then import fastsync again), or set "
         "FASTSYNC_CUDNN_PATH to the directory that holds libcudnn.so.9."},
        &out.why);
    if (lib) out.api = a.release();
    return out;
  }();
  return l;
}

std::mutex handles_mutex;
auto* handles = new std::unordered_map<cudaStream_t, Handle>();  // never destroyed

// Dimensions (N, C, *spatial) and strides of a row-contiguous channels-last
// array: cuDNN reads the layout from the strides.
void nchw_of(int64_t n, int64_t c, const std::vector<int64_t>& spatial, std::vector<int>& dims,
             std::vector<int>& strides) {
  const int nd = static_cast<int>(spatial.size()) + 2;
  dims.assign(nd, 0);
  strides.assign(nd, 0);
  dims[0] = static_cast<int>(n);
  dims[1] = static_cast<int>(c);
  for (size_t i = 0; i < spatial.size(); ++i) dims[i + 2] = static_cast<int>(spatial[i]);
  int64_t s = c;  // the channel stride is 1
  strides[1] = 1;
  for (int d = nd - 1; d >= 2; --d) {
    strides[d] = static_cast<int>(s);
    s *= dims[d];
  }
  strides[0] = static_cast<int>(s);
}

}  // namespace

const Api* api(std::string* why) {
  const Loaded& l = loaded();
  if (!l.api && why) *why = l.why;
  return l.api;
}

void check(Status s, const char* op, const char* fn) {
  if (s == 0) return;
  const Api* a = api();
  throw std::runtime_error(std::string("[") + op + "] " + fn + " failed: " +
                           (a ? a->GetErrorString(s) : "cuDNN status " + std::to_string(s)));
}

int data_type(Dtype t) {
  if (t == float16) return kHalf;
  if (t == bfloat16) return kBfloat16;
  if (t == float64) return kDouble;
  return kFloat;
}

Handle handle(CommandEncoder& enc) {
  const Api* a = api();
  std::lock_guard lk(handles_mutex);
  auto it = handles->find(enc.cuda_stream());
  if (it != handles->end()) return it->second;
  Handle h = nullptr;
  check(a->Create(&h), "conv", "cudnnCreate");
  check(a->SetStream(h, enc.cuda_stream()), "conv", "cudnnSetStream");
  handles->emplace(enc.cuda_stream(), h);
  return h;
}

Descriptors::Descriptors(const ConvGeometry& g, int64_t batch, int64_t c_in, int64_t c_out,
                         Dtype dtype) {
  const Api* a = api();
  // 1-D as 2-D with a leading spatial axis of 1.
  std::vector<int64_t> in, out, kernel;
  std::vector<int> pad, stride, dil;
  if (g.dims == 1) {
    in.push_back(1);
    out.push_back(1);
    kernel.push_back(1);
    pad.push_back(0);
    stride.push_back(1);
    dil.push_back(1);
  }
  for (int d = 0; d < g.dims; ++d) {
    in.push_back(g.in[d]);
    out.push_back(g.out[d]);
    kernel.push_back(g.kernel[d]);
    pad.push_back(static_cast<int>(g.pad_lo[d]));
    stride.push_back(static_cast<int>(g.stride[d]));
    dil.push_back(static_cast<int>(g.kernel_dilation[d]));
  }
  const int type = data_type(dtype);
  const int nd = static_cast<int>(in.size()) + 2;
  std::vector<int> dims, strides;
  check(a->CreateTensorDescriptor(&x), "conv", "cudnnCreateTensorDescriptor");
  nchw_of(batch, c_in, in, dims, strides);
  check(a->SetTensorNdDescriptor(x, type, nd, dims.data(), strides.data()), "conv",
        "cudnnSetTensorNdDescriptor");
  check(a->CreateTensorDescriptor(&y), "conv", "cudnnCreateTensorDescriptor");
  nchw_of(batch, c_out, out, dims, strides);
  check(a->SetTensorNdDescriptor(y, type, nd, dims.data(), strides.data()), "conv",
        "cudnnSetTensorNdDescriptor");
  // The weight (O, *kernel, C / G) is cuDNN's KRSC: its NHWC filter format.
  std::vector<int> fdims{static_cast<int>(c_out), static_cast<int>(c_in / g.groups)};
  for (int64_t k : kernel) fdims.push_back(static_cast<int>(k));
  check(a->CreateFilterDescriptor(&w), "conv", "cudnnCreateFilterDescriptor");
  check(a->SetFilterNdDescriptor(w, type, kNHWC, nd, fdims.data()), "conv",
        "cudnnSetFilterNdDescriptor");
  check(a->CreateConvolutionDescriptor(&conv), "conv", "cudnnCreateConvolutionDescriptor");
  // Half types accumulate in float32; float32 stays exact float32 unless
  // FASTSYNC_TF32=1 (precision.h), as the matrix products do.
  const int compute = dtype == float64 ? kDouble : kFloat;
  check(a->SetConvolutionNdDescriptor(conv, nd - 2, pad.data(), stride.data(), dil.data(),
                                      g.flip ? kConvolution : kCrossCorrelation, compute),
        "conv", "cudnnSetConvolutionNdDescriptor");
  check(a->SetConvolutionGroupCount(conv, static_cast<int>(g.groups)), "conv",
        "cudnnSetConvolutionGroupCount");
  const bool exact = dtype == float64 || (dtype == float32 && !tf32());
  check(a->SetConvolutionMathType(
            conv, exact ? kFmaMath : (dtype == float32 ? kDefaultMath : kTensorOpMath)),
        "conv", "cudnnSetConvolutionMathType");
}

Descriptors::~Descriptors() {
  const Api* a = api();
  if (x) a->DestroyTensorDescriptor(x);
  if (y) a->DestroyTensorDescriptor(y);
  if (w) a->DestroyFilterDescriptor(w);
  if (conv) a->DestroyConvolutionDescriptor(conv);
}

bool supports(const ConvGeometry& g, Dtype dtype) {
  if (dtype != float32 && dtype != float16 && dtype != bfloat16) return false;
  for (int d = 0; d < g.dims; ++d) {
    if (g.input_dilation[d] != 1 || g.pad_lo[d] < 0) return false;
    // cuDNN pads both sides by pad_lo: the same output positions (and so
    // the same windows) as ours, or the padding differs where it is read.
    const int64_t reach = (g.kernel[d] - 1) * g.kernel_dilation[d] + 1;
    const int64_t size = g.in[d] + 2 * g.pad_lo[d] - reach;
    if (size < 0 || size / g.stride[d] + 1 != g.out[d]) return false;
    if (g.in[d] > INT32_MAX || g.out[d] > INT32_MAX) return false;
  }
  return true;
}

}  // namespace fastsync::cuda::cudnn

namespace fastsync {

bool gpu_dnn_convolution(const ConvGeometry& g, Dtype dtype) {
  return cuda::cudnn::supports(g, dtype) && cuda::cudnn::api() != nullptr;
}

}  // namespace fastsync
