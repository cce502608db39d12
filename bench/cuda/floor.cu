// The floor under issue 17's synchronization rows: what each CUDA call the
// GPU backend makes costs the host on this machine, and what the round trips
// built from them cost end to end. Standalone (no fastsync):
//
//   nvcc -O2 -std=c++17 -arch=native bench/cuda/floor.cu -lcuda -o /tmp/floor && /tmp/floor
//
// Medians of 2,000 calls (µs).
#include <cuda.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "timing.h"

__global__ void empty() {}
__global__ void add1(float* x) { x[threadIdx.x] += 1.f; }
__global__ void add1_and_write(float* x, volatile unsigned long long* word, unsigned long long v) {
  x[threadIdx.x] += 1.f;
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence_system();
    *word = v;
  }
}

int main() {
  CK(cudaSetDevice(0));
  CK(cudaFree(0));
  cudaStream_t s, s2;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  CK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  float* x;
  CK(cudaMalloc(&x, 4096));
  CK(cudaMemset(x, 0, 4096));
  unsigned long long* word;
  CK(cudaHostAlloc((void**)&word, 64, cudaHostAllocDefault));
  *word = 0;
  void* pinned;
  CK(cudaHostAlloc(&pinned, 4096, cudaHostAllocDefault));
  cudaEvent_t ev, ev2;
  CK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
  CK(cudaEventCreateWithFlags(&ev2, cudaEventDisableTiming));
  const int N = 2000;
  auto sync = [&] { CK(cudaStreamSynchronize(s)); };
  unsigned long long v = 0;
  auto spin = [&](unsigned long long want) {
    while (*(volatile unsigned long long*)word < want) {
    }
  };

  std::printf("host cost of one call (µs, median of %d; stream drained between calls)\n", N);
  std::printf("  cudaLaunchKernel (empty)        %6.2f\n",
              median_us(N, [&] { empty<<<1, 1, 0, s>>>(); }, sync));
  std::printf("  cudaLaunchKernel (add, 1 block) %6.2f\n",
              median_us(N, [&] { add1<<<1, 16, 0, s>>>(x); }, sync));
  std::printf(
      "  cuStreamWriteValue64            %6.2f\n",
      median_us(
          N, [&] { CK(cuStreamWriteValue64((CUstream)s, (CUdeviceptr)word, ++v, 0)); }, sync));
  std::printf("  cudaEventRecord                 %6.2f\n",
              median_us(N, [&] { CK(cudaEventRecord(ev, s)); }, sync));
  CK(cudaEventRecord(ev, s));
  std::printf(
      "  cudaStreamWaitEvent             %6.2f\n",
      median_us(
          N, [&] { CK(cudaStreamWaitEvent(s2, ev, 0)); }, [&] { CK(cudaStreamSynchronize(s2)); }));
  std::printf(
      "  cudaMemcpyAsync 64 B D2H pinned %6.2f\n",
      median_us(N, [&] { CK(cudaMemcpyAsync(pinned, x, 64, cudaMemcpyDeviceToHost, s)); }, sync));
  std::printf(
      "  cudaMemcpyAsync 64 B H2D pinned %6.2f\n",
      median_us(N, [&] { CK(cudaMemcpyAsync(x, pinned, 64, cudaMemcpyHostToDevice, s)); }, sync));
  std::printf("  cudaEventQuery (done)           %6.2f\n",
              median_us(N, [&] { (void)cudaEventQuery(ev); }));

  std::printf("round trips (µs, median of %d)\n", N);
  std::printf("  add + WriteValue64, CPU spins   %6.2f\n", median_us(N, [&] {
                add1<<<1, 16, 0, s>>>(x);
                CK(cuStreamWriteValue64((CUstream)s, (CUdeviceptr)word, ++v, 0));
                spin(v);
              }));
  std::printf("  add writing the word, CPU spins %6.2f\n", median_us(N, [&] {
                add1_and_write<<<1, 16, 0, s>>>(x, word, ++v);
                spin(v);
              }));
  std::printf("  add + cudaStreamSynchronize     %6.2f\n", median_us(N, [&] {
                add1<<<1, 16, 0, s>>>(x);
                CK(cudaStreamSynchronize(s));
              }));
  std::printf("  add + event record + sync       %6.2f\n", median_us(N, [&] {
                add1<<<1, 16, 0, s>>>(x);
                CK(cudaEventRecord(ev, s));
                CK(cudaEventSynchronize(ev));
              }));

  std::printf("chains of 1000 adds (µs per op, median of 20)\n");
  const int K = 1000;
  std::printf("  one stream, launched            %6.2f\n", median_us(20, [&] {
                                                             for (int i = 0; i < K; ++i)
                                                               add1<<<1, 16, 0, s>>>(x);
                                                             CK(cudaStreamSynchronize(s));
                                                           }) / K);
  std::printf("  two streams, event per hop      %6.2f\n",
              median_us(20, [&] {
                for (int i = 0; i < K; ++i) {
                  cudaStream_t a = (i & 1) ? s2 : s, b = (i & 1) ? s : s2;
                  add1<<<1, 16, 0, a>>>(x);
                  CK(cudaEventRecord((i & 1) ? ev2 : ev, a));
                  CK(cudaStreamWaitEvent(b, (i & 1) ? ev2 : ev, 0));
                }
                CK(cudaStreamSynchronize(s));
                CK(cudaStreamSynchronize(s2));
              }) / K);
  // A graph captured once and replayed.
  cudaGraph_t g;
  cudaGraphExec_t ge;
  CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < K; ++i) add1<<<1, 16, 0, s>>>(x);
  CK(cudaStreamEndCapture(s, &g));
  double inst = median_us(1, [&] { CK(cudaGraphInstantiate(&ge, g, 0)); });
  std::printf("  graph instantiate (once)        %6.2f per node\n", inst / K);
  std::printf("  graph replay                    %6.2f\n", median_us(20, [&] {
                                                             CK(cudaGraphLaunch(ge, s));
                                                             CK(cudaStreamSynchronize(s));
                                                           }) / K);
  std::printf("  capture (launches into a graph) %6.2f\n",
              median_us(20, [&] {
                cudaGraph_t g2;
                CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
                for (int i = 0; i < K; ++i) add1<<<1, 16, 0, s>>>(x);
                CK(cudaStreamEndCapture(s, &g2));
                CK(cudaGraphDestroy(g2));
              }) / K);
  std::printf("  capture + exec update + replay  %6.2f\n",
              median_us(20, [&] {
                cudaGraph_t g2;
                CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
                for (int i = 0; i < K; ++i) add1<<<1, 16, 0, s>>>(x);
                CK(cudaStreamEndCapture(s, &g2));
                cudaGraphExecUpdateResultInfo info;
                CK(cudaGraphExecUpdate(ge, g2, &info));
                CK(cudaGraphLaunch(ge, s));
                CK(cudaStreamSynchronize(s));
                CK(cudaGraphDestroy(g2));
              }) / K);
  std::printf("  small graph (8 adds) capture+update+launch+spin %6.2f per graph\n", [&] {
    cudaGraph_t g8;
    cudaGraphExec_t e8;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < 8; ++i) add1<<<1, 16, 0, s>>>(x);
    CK(cudaStreamEndCapture(s, &g8));
    CK(cudaGraphInstantiate(&e8, g8, 0));
    return median_us(200, [&] {
      cudaGraph_t g2;
      CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
      for (int i = 0; i < 8; ++i) add1<<<1, 16, 0, s>>>(x);
      CK(cudaStreamEndCapture(s, &g2));
      cudaGraphExecUpdateResultInfo info;
      CK(cudaGraphExecUpdate(e8, g2, &info));
      CK(cudaGraphLaunch(e8, s));
      CK(cuStreamWriteValue64((CUstream)s, (CUdeviceptr)word, ++v, 0));
      spin(v);
      CK(cudaGraphDestroy(g2));
    });
  }());
  std::printf("  same 8 adds launched + spin     %6.2f per group\n", median_us(200, [&] {
                for (int i = 0; i < 8; ++i) add1<<<1, 16, 0, s>>>(x);
                CK(cuStreamWriteValue64((CUstream)s, (CUdeviceptr)word, ++v, 0));
                spin(v);
              }));
  return 0;
}
