// The floor under issue 17's 256² rows (x = maximum(x @ w, 0), evaluated each
// step or handed to async_eval each step): what the product, the relu and the
// ways of launching them cost the host and the GPU, without fastsync.
//
//   nvcc -O2 -std=c++17 -arch=native bench/cuda/gemm_step.cu -lcuda -lcublasLt -o /tmp/gs &&
//   /tmp/gs
//
// (add -L<dir of libcublasLt.so> where the toolkit has none, e.g. PyTorch's
// nvidia/cu13/lib). Medians (µs).
#include <cublasLt.h>
#include <cuda.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "timing.h"

__global__ void relu(const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = fmaxf(x[i], 0.f);
}

struct Gemm {
  cublasLtHandle_t lt;
  cublasLtMatmulDesc_t desc;
  cublasLtMatrixLayout_t lay;
  cublasLtMatmulAlgo_t algo;
  void* ws;
  size_t ws_size = 32 << 20;
  int n;
  Gemm(cublasLtHandle_t h, int n_, bool relu_epilogue) : lt(h), n(n_) {
    CK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    if (relu_epilogue) {
      cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_RELU;
      CK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof(ep)));
    }
    CK(cublasLtMatrixLayoutCreate(&lay, CUDA_R_32F, n, n, n));
    CK(cudaMalloc(&ws, ws_size));
    cublasLtMatmulPreference_t pref;
    CK(cublasLtMatmulPreferenceCreate(&pref));
    CK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                            &ws_size, sizeof(ws_size)));
    cublasLtMatmulHeuristicResult_t r;
    int found = 0;
    CK(cublasLtMatmulAlgoGetHeuristic(lt, desc, lay, lay, lay, lay, pref, 1, &r, &found));
    if (!found) {
      std::printf("no algorithm\n");
      std::exit(1);
    }
    algo = r.algo;
    CK(cublasLtMatmulPreferenceDestroy(pref));
  }
  void operator()(const float* a, const float* b, float* d, cudaStream_t s) const {
    float alpha = 1.f, beta = 0.f;
    CK(cublasLtMatmul(lt, desc, &alpha, b, lay, a, lay, &beta, d, lay, d, lay, &algo, ws, ws_size,
                      s));
  }
};

int main() {
  CK(cudaSetDevice(0));
  CK(cudaFree(0));
  const int n = 256, nn = n * n;
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  float *w, *x0, *x1, *m;
  for (float** p : {&w, &x0, &x1, &m}) CK(cudaMalloc(p, nn * sizeof(float)));
  {
    std::vector<float> h(nn, 1.f / n), one(nn, 1.f);
    CK(cudaMemcpy(w, h.data(), nn * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(x0, one.data(), nn * 4, cudaMemcpyHostToDevice));
  }
  unsigned long long* word;
  CK(cudaHostAlloc((void**)&word, 64, cudaHostAllocDefault));
  *word = 0;
  unsigned long long v = 0;
  auto spin = [&](unsigned long long want) {
    while (*(volatile unsigned long long*)word < want) {
    }
  };
  auto signal = [&] {
    CK(cuStreamWriteValue64((CUstream)s, (CUdeviceptr)word, ++v, 0));
    spin(v);
  };
  auto sync = [&] { CK(cudaStreamSynchronize(s)); };
  cublasLtHandle_t lt;
  CK(cublasLtCreate(&lt));
  Gemm mm(lt, n, false), mm_relu(lt, n, true);
  const int threads = 256, blocks = (nn + threads - 1) / threads;
  // One step from src to dst: the product into m, then the relu.
  auto step = [&](const float* src, float* dst) {
    mm(src, w, m, s);
    relu<<<blocks, threads, 0, s>>>(m, dst, nn);
  };
  auto step_fused = [&](const float* src, float* dst) { mm_relu(src, w, dst, s); };
  for (int i = 0; i < 200; ++i) step(i & 1 ? x1 : x0, i & 1 ? x0 : x1);
  for (int i = 0; i < 200; ++i) step_fused(i & 1 ? x1 : x0, i & 1 ? x0 : x1);
  sync();
  const int N = 2000;

  std::printf("host cost of one call (µs, median of %d; stream drained between calls)\n", N);
  std::printf("  cublasLtMatmul 256² f32          %6.2f\n",
              median_us(N, [&] { mm(x0, w, m, s); }, sync));
  std::printf("  cublasLtMatmul, relu epilogue    %6.2f\n",
              median_us(N, [&] { mm_relu(x0, w, m, s); }, sync));
  std::printf("  relu kernel launch               %6.2f\n",
              median_us(N, [&] { relu<<<blocks, threads, 0, s>>>(m, x1, nn); }, sync));

  // GPU time: a graph of 100 steps, launched and timed with events.
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  auto gpu_per_step = [&](const std::function<void(const float*, float*)>& f) {
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < 100; ++i) f(i & 1 ? x1 : x0, i & 1 ? x0 : x1);
    CK(cudaStreamEndCapture(s, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    std::vector<float> t;
    for (int r = 0; r < 21; ++r) {
      CK(cudaEventRecord(e0, s));
      CK(cudaGraphLaunch(ge, s));
      CK(cudaEventRecord(e1, s));
      CK(cudaEventSynchronize(e1));
      float ms;
      CK(cudaEventElapsedTime(&ms, e0, e1));
      t.push_back(ms * 1000.f / 100.f);
    }
    std::sort(t.begin(), t.end());
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(g));
    return t[t.size() / 2];
  };
  std::printf("GPU time per step (µs, graph of 100 steps, median of 21)\n");
  std::printf("  product alone                    %6.2f\n",
              gpu_per_step([&](const float* a, float* d) { mm(a, w, d, s); }));
  std::printf("  product + relu kernel            %6.2f\n", gpu_per_step(step));
  std::printf("  product with relu epilogue       %6.2f\n", gpu_per_step(step_fused));

  // Two executable graphs of one step each, as buffers alternate x0 -> x1 -> x0.
  auto one_step_exec = [&](const std::function<void(const float*, float*)>& f, const float* a,
                           float* d) {
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    f(a, d);
    CK(cudaStreamEndCapture(s, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    CK(cudaGraphDestroy(g));
    return ge;
  };
  cudaGraphExec_t ex[2] = {one_step_exec(step, x0, x1), one_step_exec(step, x1, x0)};
  cudaGraphExec_t exf[2] = {one_step_exec(step_fused, x0, x1), one_step_exec(step_fused, x1, x0)};
  auto mm_only = [&](const float* a, float* d) { mm(a, w, d, s); };
  cudaGraphExec_t exm[2] = {one_step_exec(mm_only, x0, m), one_step_exec(mm_only, x1, m)};
  std::printf("  cudaGraphLaunch of the product   %6.2f\n",
              median_us(N, [&] { CK(cudaGraphLaunch(exm[0], s)); }, sync));
  auto relu_only = [&](const float* a, float* d) { relu<<<blocks, threads, 0, s>>>(a, d, nn); };
  cudaGraphExec_t exr = one_step_exec(relu_only, m, x1);
  std::printf("  cudaGraphLaunch of the relu      %6.2f\n",
              median_us(N, [&] { CK(cudaGraphLaunch(exr, s)); }, sync));
  std::printf("  capture + instantiate the relu   %6.2f\n", median_us(200, [&] {
                cudaGraphExec_t e = one_step_exec(relu_only, m, x1);
                CK(cudaGraphExecDestroy(e));
              }));
  std::printf("round trip of the relu alone (µs, median of %d)\n", N);
  std::printf("  launched + write + spin          %6.2f\n", median_us(N, [&] {
                relu<<<blocks, threads, 0, s>>>(m, x1, nn);
                signal();
              }));
  std::printf("  1-node graph + write + spin      %6.2f\n", median_us(N, [&] {
                CK(cudaGraphLaunch(exr, s));
                signal();
              }));
  int k = 0;
  std::printf(
      "eval each: one step, then the CPU spins on a host-visible write (µs, median of %d)\n", N);
  std::printf("  product + relu, launched         %6.2f\n", median_us(N, [&] {
                step(k & 1 ? x1 : x0, k & 1 ? x0 : x1);
                ++k;
                signal();
              }));
  std::printf("  relu epilogue, launched          %6.2f\n", median_us(N, [&] {
                step_fused(k & 1 ? x1 : x0, k & 1 ? x0 : x1);
                ++k;
                signal();
              }));
  std::printf("  product + relu, one graph        %6.2f\n", median_us(N, [&] {
                CK(cudaGraphLaunch(ex[k & 1], s));
                ++k;
                signal();
              }));
  std::printf("  relu epilogue, one graph         %6.2f\n", median_us(N, [&] {
                CK(cudaGraphLaunch(exf[k & 1], s));
                ++k;
                signal();
              }));
  std::printf("  product graph + relu launched   %6.2f\n", median_us(N, [&] {
                CK(cudaGraphLaunch(exm[k & 1], s));
                relu<<<blocks, threads, 0, s>>>(m, k & 1 ? x0 : x1, nn);
                ++k;
                signal();
              }));
  std::printf("  capture + update + launch (2 ops) %5.2f\n", median_us(N, [&] {
                cudaGraph_t g;
                CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
                step(k & 1 ? x1 : x0, k & 1 ? x0 : x1);
                CK(cudaStreamEndCapture(s, &g));
                cudaGraphExecUpdateResultInfo info;
                CK(cudaGraphExecUpdate(ex[k & 1], g, &info));
                CK(cudaGraphLaunch(ex[k & 1], s));
                ++k;
                signal();
                CK(cudaGraphDestroy(g));
              }));

  const int S = 1000;
  std::printf("async: %d steps launched back to back, then one wait (µs per step, median of 9)\n",
              S);
  auto per_step = [&](const std::function<void()>& f) {
    return median_us(9,
                     [&] {
                       for (int i = 0; i < S; ++i) f();
                       sync();
                     }) /
           S;
  };
  std::printf("  product + relu, launched         %6.2f\n", per_step([&] {
                step(k & 1 ? x1 : x0, k & 1 ? x0 : x1);
                ++k;
              }));
  std::printf("  relu epilogue, launched          %6.2f\n", per_step([&] {
                step_fused(k & 1 ? x1 : x0, k & 1 ? x0 : x1);
                ++k;
              }));
  std::printf("  product + relu, one graph each   %6.2f\n", per_step([&] {
                CK(cudaGraphLaunch(ex[k & 1], s));
                ++k;
              }));
  std::printf("  relu epilogue, one graph each    %6.2f\n", per_step([&] {
                CK(cudaGraphLaunch(exf[k & 1], s));
                ++k;
              }));

  std::printf("the parts of a captured 2-op run (µs, median of %d, stream drained)\n", N);
  cudaGraph_t g2 = nullptr;
  std::printf("  begin + 2 captured ops + end     %6.2f\n",
              median_us(
                  N,
                  [&] {
                    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
                    step(x0, x1);
                    CK(cudaStreamEndCapture(s, &g2));
                  },
                  [&] { CK(cudaGraphDestroy(g2)); }));
  CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  step(x0, x1);
  CK(cudaStreamEndCapture(s, &g2));
  std::printf("  cudaGraphExecUpdate              %6.2f\n", median_us(N, [&] {
                cudaGraphExecUpdateResultInfo info;
                CK(cudaGraphExecUpdate(ex[0], g2, &info));
              }));
  std::printf("  cudaGraphLaunch (2 nodes)        %6.2f\n",
              median_us(N, [&] { CK(cudaGraphLaunch(ex[0], s)); }, sync));
  size_t nodes = 0;
  CK(cudaGraphGetNodes(g2, nullptr, &nodes));
  std::vector<cudaGraphNode_t> ns(nodes);
  std::printf("  nodes of the captured run        %6zu\n", nodes);
  std::printf("  cudaGraphGetNodes + kernel params of each %4.2f\n", median_us(N, [&] {
                size_t c = nodes;
                CK(cudaGraphGetNodes(g2, ns.data(), &c));
                for (auto nd : ns) {
                  cudaGraphNodeType t;
                  CK(cudaGraphNodeGetType(nd, &t));
                  if (t == cudaGraphNodeTypeKernel) {
                    cudaKernelNodeParams p;
                    CK(cudaGraphKernelNodeGetParams(nd, &p));
                  }
                }
              }));
  std::printf("  cudaGraphDestroy                 %6.2f\n",
              median_us(
                  N, [&] { CK(cudaGraphDestroy(g2)); },
                  [&] {
                    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
                    step(x0, x1);
                    CK(cudaStreamEndCapture(s, &g2));
                  }));
  return 0;
}
