// Crossings between devices (crossing.h): an op reads an array that lives on
// the other device. Called by the eval driver on the encoding thread, before
// the consumer's eval_cpu/eval_gpu; the consumer gets a view of a copy.
//
// GPU -> CPU: the producer's GPU stream copies the values into pinned
// memory and places a mark after the copy; the CPU stream waits on the mark
// (spin, then sleep) before the consumer's task.
// CPU -> GPU, still in flight: a task on the producer's CPU stream copies
// the values into pinned memory and raises a pinned flag; the GPU stream
// waits on the flag with a bounded spin kernel, then copies to the device
// (up to 64 KiB, the spin kernel copies them itself: one launch, not two).
// CPU -> GPU, already computed: copied on the consumer's stream right away,
// and the copy is cached on the host array for later GPU ops; an op on
// another GPU stream that reads the cached copy first waits for the copy
// (it sits behind the first consumer's earlier work, which may itself wait
// for a CPU stream).
// Nothing here blocks the encoding thread on compute.
#include "backend/cuda/crossing.h"

#include <cuda_runtime.h>

#include <atomic>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

#include "backend/common/flow.h"
#include "backend/cuda/allocators.h"
#include "backend/cuda/encoder.h"
#include "backend/cuda/gpu_timeline.h"
#include "backend/cuda/runtime.h"
#include "scheduler.h"
#include "timeline.h"

namespace fastsync::cuda {

namespace {

// Host values up to this size are copied to the device through pinned
// memory, and device values up to it read back through pinned memory.
constexpr size_t kSmallCopy = 64 * 1024;

// The bytes a view reaches, negative strides included.
struct Region {
  char* lo;
  size_t bytes;
  size_t offset;  // from lo to the view's first element
};

Region region_of(const array& a) {
  int64_t lo = 0, hi = 0;
  for (int i = 0; i < a.ndim(); ++i) {
    if (a.shape()[i] <= 1) continue;
    int64_t reach = (a.shape()[i] - 1) * a.strides()[i];
    (reach < 0 ? lo : hi) += reach;
  }
  size_t item = a.itemsize();
  if (a.size() == 0) return {static_cast<char*>(a.raw_ptr()), 0, 0};
  char* first = static_cast<char*>(a.raw_ptr());
  return {first + lo * static_cast<int64_t>(item), static_cast<size_t>(hi - lo + 1) * item,
          static_cast<size_t>(-lo) * item};
}

std::shared_ptr<Data> new_data(allocator::Allocator& a, size_t bytes) {
  return std::make_shared<Data>(a.malloc(bytes));
}

array view_over(const array& in, const std::shared_ptr<Data>& d, const Region& r) {
  int64_t item = in.itemsize();
  return in.with_buffer(d, static_cast<char*>(d->buffer.ptr) + r.offset,
                        static_cast<int64_t>((r.bytes - r.offset) / item));
}

std::exception_ptr timeout_error(const ErrorRecord& r) {
  return std::make_exception_ptr(std::runtime_error(
      "[eval] a GPU stream waited more than " + std::to_string(r.a) +
      " ms for data from a CPU stream and gave up (FASTSYNC_GPU_WAIT_TIMEOUT_S)"));
}

// Shared by a staging task on a CPU stream and the probe of the GPU stream
// that waits for it.
struct Staging {
  std::atomic<bool> done{false};
  scheduler::ErrorRef error;  // written before `done`
};

// When a cached copy (made on `stream`) is complete: an event recorded after
// the copy, until a query finds it passed.
struct CopyReady {
  cudaEvent_t event = nullptr;
  cudaStream_t stream = nullptr;
  bool passed = false;  // encoding thread only
  ~CopyReady() {
    if (event) give_event(event);
  }
};

// Orders a read of a cached copy on `enc`'s stream after the copy.
void wait_for_copy(CommandEncoder& enc, const std::shared_ptr<void>& ready) {
  auto* r = static_cast<CopyReady*>(ready.get());
  if (!r || r->passed || r->stream == enc.raw_stream()) return;
  cudaError_t q = cudaEventQuery(r->event);
  if (q == cudaSuccess) {
    r->passed = true;
    return;
  }
  if (q != cudaErrorNotReady) check(q, "cudaEventQuery of a copy to the device");
  enc.end_graph();  // a captured run cannot wait on an event recorded outside it
  check(cudaStreamWaitEvent(enc.cuda_stream(), r->event, 0), "cudaStreamWaitEvent");
}

std::shared_ptr<void> record_copy(CommandEncoder& enc) {
  auto r = std::make_shared<CopyReady>();
  enc.end_graph();  // another stream waits on the event: recorded outside any capture
  r->event = take_event();
  check(cudaEventRecord(r->event, enc.cuda_stream()), "cudaEventRecord");
  r->stream = enc.cuda_stream();
  return r;
}

// Scalars: most ops take a Python number, a fresh one-element host array
// each time. Their device copies are shared by value, so a loop that adds
// 1.0 a thousand times copies it once. Written synchronously (once per
// distinct value), so every stream may read them at once. Encoding thread
// only (the driver's lock guards the cache).
array device_scalar(const array& in) {
  static auto* cache = new std::map<std::pair<int, uint64_t>, std::shared_ptr<Data>>();
  uint64_t bits = 0;
  std::memcpy(&bits, in.raw_ptr(), in.itemsize());
  auto key = std::make_pair(static_cast<int>(in.dtype().val), bits);
  auto it = cache->find(key);
  if (it == cache->end()) {
    if (cache->size() >= 4096) cache->clear();  // buffers in use stay retained
    auto dev = new_data(device_allocator(), 8);
    // From pinned memory the copy is complete when cudaMemcpy returns (from
    // pageable memory only staged), so no stream can read it early.
    auto staged = new_data(pinned_allocator(), 8);
    std::memcpy(staged->buffer.ptr, &bits, 8);
    bind_device();
    check(cudaMemcpy(dev->buffer.ptr, staged->buffer.ptr, 8, cudaMemcpyHostToDevice),
          "cudaMemcpy of a scalar");
    it = cache->emplace(key, std::move(dev)).first;
  }
  return in.with_buffer(it->second, it->second->buffer.ptr, 1);
}

// The wait on a CPU stream's flag, then the copy of its staged data: two
// operations, each with its span in a trace (signal: the trace's id).
void wait_then_copy(CommandEncoder& enc, const Stream& consumer, const uint32_t* flag,
                    ErrorRecord* record, const void* base, void* dev, size_t bytes,
                    uint64_t signal) {
  auto waited = signal ? gpu_timeline::begin(enc.cuda_stream()) : gpu_timeline::Open{};
  wait_flag(enc.cuda_stream(), flag, record, enc.op_position());
  if (signal) {
    gpu_timeline::end(waited, enc.cuda_stream(), consumer.index, "wait",
                      timeline::intern("wait (cpu data)"), 0, signal);
  }
  auto copied = signal ? gpu_timeline::begin(enc.cuda_stream()) : gpu_timeline::Open{};
  check(cudaMemcpyAsync(dev, base, bytes, cudaMemcpyHostToDevice, enc.cuda_stream()),
        "cudaMemcpyAsync to the device");
  if (signal) {
    gpu_timeline::end(copied, enc.cuda_stream(), consumer.index, "crossing",
                      timeline::intern("copy to gpu"));
  }
}

}  // namespace

array to_device(const array& in, const std::optional<Stream>& producer, const Stream& consumer) {
  auto& enc = get_command_encoder(consumer);
  if (!producer) {
    if (auto c = in.crossed_copy()) {
      wait_for_copy(enc, in.crossed_ready());
      return *c;
    }
    if (in.size() == 1 && in.itemsize() <= 8) return device_scalar(in);
  }
  Region r = region_of(in);
  auto dev = new_data(device_allocator(), r.bytes);
  if (r.bytes == 0) return view_over(in, dev, r);
  if (!producer) {
    // Computed already. Pinned memory is read by the copy engine later, so
    // it is kept until the copy ran. Pageable memory is staged by the CUDA
    // driver during the call, which is slow for the scalars most ops take:
    // small values go through a pinned buffer of ours instead.
    const void* src = r.lo;
    if (in.data_shared_ptr()->buffer.owner == &pinned_allocator()) {
      enc.keep(in.data_shared_ptr());
    } else if (r.bytes <= kSmallCopy) {
      auto staged = new_data(pinned_allocator(), r.bytes);
      std::memcpy(staged->buffer.ptr, r.lo, r.bytes);
      src = staged->buffer.ptr;
      enc.keep(std::move(staged));
    } else {
      enc.end_graph();  // a copy from pageable memory cannot be captured
    }
    check(cudaMemcpyAsync(dev->buffer.ptr, src, r.bytes, cudaMemcpyHostToDevice, enc.cuda_stream()),
          "cudaMemcpyAsync to the device");
    array out = view_over(in, dev, r);
    in.set_crossed_copy(out, record_copy(enc));
    return out;
  }
  // In flight on a CPU stream: stage through pinned memory.
  size_t flag_at = (r.bytes + 63) / 64 * 64;
  auto pinned = new_data(pinned_allocator(), flag_at + 64);
  char* base = static_cast<char*>(pinned->buffer.ptr);
  auto* flag = reinterpret_cast<uint32_t*>(base + flag_at);
  *flag = 0;
  auto st = std::make_shared<Staging>();
  // In a trace: the flag is a signal from the CPU stream's track to the GPU
  // stream's wait.
  const uint64_t signal = timeline::on() ? timeline::new_signal_id() : 0;
  // `pin`: the task writes the buffer, which must outlive it even if the
  // GPU side let go first (its wait timed out, or its launch failed).
  scheduler::enqueue_control(
      *producer, [src = in.data_shared_ptr(), pin = pinned, r, base, flag, st,
                  pos = in.position_on_stream(), signal, track = producer->index] {
        const int64_t t0 = signal ? timeline::now() : 0;
        // The buffer says whether a CPU task's error spoiled it; an error known
        // only by position spoils it from that position on.
        scheduler::ErrorRef e = src ? src->spoiled() : nullptr;
        if (!e) {
          e = scheduler::current_error();
          if (!e || !e->by_position || pos < e->position) e = nullptr;
        }
        st->error = std::move(e);
        std::memcpy(base, r.lo, r.bytes);
        st->done.store(true, std::memory_order_release);
        std::atomic_ref<uint32_t>(*flag).store(1, std::memory_order_release);
        if (signal) {
          timeline::span({timeline::stream_track(track), "signal",
                          timeline::intern("signal (to gpu)"), t0, timeline::now(), signal},
                         {{"bytes", static_cast<int64_t>(r.bytes)}});
        }
      });
  // The GPU stream stalls until this task ran: its stream's worker starts
  // now, even if the eval's pushes were quiet (scheduler::QuietPushes), and
  // so does every stream this eval pushed to quietly so far: the task may
  // wait on any of them (a fence's position), and nothing would wake them
  // before the eval's encoding ends; were this thread to block on the GPU
  // before that (a throttle), both would wait until the GPU's wait timed out.
  scheduler::wake(*producer);
  scheduler::wake_quiet_so_far();
  ErrorRecord* record = enc.error_record(kErrorWaitTimeout, timeout_error);
  if (!signal && r.bytes <= kSmallCopy) {
    // Small and untraced: the wait and the copy in one kernel (a launch
    // saved per crossing; a trace keeps their spans apart).
    wait_flag_copy(enc, flag, record, base, dev->buffer.ptr, r.bytes);
  } else {
    wait_then_copy(enc, consumer, flag, record, base, dev->buffer.ptr, r.bytes, signal);
  }
  enc.keep(pinned);
  // A spoiled source spoils the copy, and through the flow what the GPU
  // computes from it.
  enc.add_probe([st, pin = std::weak_ptr<Data>(dev), key = dev.get(),
                 flow = enc.flow()]() -> scheduler::ErrorRef {
    if (st->done.load(std::memory_order_acquire) && st->error) flow->taint(pin, key, st->error);
    return nullptr;
  });
  return view_over(in, dev, r);
}

array to_host(const array& in, const std::optional<Stream>& producer, const Stream& consumer) {
  Region r = region_of(in);
  if (!producer) return host_copy(in);  // computed already
  auto& penc = get_command_encoder(*producer);
  auto pinned = new_data(pinned_allocator(), r.bytes);
  if (r.bytes && r.bytes <= kSmallCopy && !timeline::on()) {
    copy_to_host(penc, r.lo, pinned->buffer.ptr, r.bytes);  // replayed when it recurs
  } else if (r.bytes) {
    auto copied = timeline::on() ? gpu_timeline::begin(penc.cuda_stream()) : gpu_timeline::Open{};
    check(cudaMemcpyAsync(pinned->buffer.ptr, r.lo, r.bytes, cudaMemcpyDeviceToHost,
                          penc.cuda_stream()),
          "cudaMemcpyAsync to the host");
    if (copied.begin) {
      gpu_timeline::end(copied, penc.cuda_stream(), producer->index, "crossing",
                        timeline::intern("copy to cpu"));
    }
  }
  penc.retain(in.data_shared_ptr());
  // If the producer's eval can fail, the copy is spoiled with its source.
  if (auto& flow = penc.flow_if_any()) flow->copy(in.data_shared_ptr(), pinned);
  encoder(consumer).wait(penc.mark_for_host(), in.position_on_stream());
  return view_over(in, pinned, r);
}

array host_copy(const array& in) {
  // The values are computed (the caller waited for them). Small reads
  // (item(), a row) are staged through pinned memory on this thread's
  // default stream: a copy into pageable memory is staged by the driver and
  // costs a few microseconds more, which item() in a loop pays every call.
  // The result itself is pageable: NumPy may keep it for as long as it
  // likes, and page-locked memory is scarce.
  Region r = region_of(in);
  auto host = new_data(allocator::host(), r.bytes);
  if (r.bytes) {
    bind_device();
    if (r.bytes <= kSmallCopy) {
      auto staging = new_data(pinned_allocator(), r.bytes);
      check(cudaMemcpyAsync(staging->buffer.ptr, r.lo, r.bytes, cudaMemcpyDeviceToHost,
                            cudaStreamPerThread),
            "cudaMemcpyAsync to the host");
      check(cudaStreamSynchronize(cudaStreamPerThread), "cudaStreamSynchronize");
      std::memcpy(host->buffer.ptr, staging->buffer.ptr, r.bytes);
    } else {
      check(cudaMemcpy(host->buffer.ptr, r.lo, r.bytes, cudaMemcpyDeviceToHost),
            "cudaMemcpy to the host");
    }
  }
  return view_over(in, host, r);
}

}  // namespace fastsync::cuda
