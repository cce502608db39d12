// Marks: points on a GPU stream's timeline, the GPU half of events and
// fences (backend.h). A mark is made on the encoding thread and placed
// there later (events are placed at the end of an eval); waiters on any
// thread wait until it is placed, then until the GPU writes the stream's
// timeline word up to its value. A GPU stream waiting on a mark waits on the
// CUDA event recorded at the same point: no host thread blocks.
#include <cuda_runtime.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "backend.h"
#include "cuda/encoder.h"
#include "cuda/runtime.h"

namespace fastsync::gpu {

namespace {
// Recycled CUDA events (creating one costs microseconds). Any thread.
std::mutex event_pool_mutex;
std::vector<cudaEvent_t>& event_pool() {
  static auto* p = new std::vector<cudaEvent_t>();
  return *p;
}
cudaEvent_t take_event() {
  {
    std::lock_guard lk(event_pool_mutex);
    auto& p = event_pool();
    if (!p.empty()) {
      cudaEvent_t e = p.back();
      p.pop_back();
      return e;
    }
  }
  cudaEvent_t e;
  cuda::check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
  return e;
}
void give_event(cudaEvent_t e) {
  std::lock_guard lk(event_pool_mutex);
  event_pool().push_back(e);
}
}  // namespace

struct Mark {
  explicit Mark(Stream s) : stream(s), encoder(&cuda::get_command_encoder(s)) {}
  ~Mark() {
    if (event) give_event(event);
  }
  Stream stream;
  cuda::CommandEncoder* encoder;
  std::atomic<uint64_t> value{0};  // 0 until placed; release-published
  std::atomic<bool> light{false};  // placed without a timeline value
  cudaEvent_t event = nullptr;
  std::vector<cuda::Probe> probes;  // written before `value`
  mutable std::once_flag probed;
  mutable scheduler::ErrorRef error;
};

MarkRef make_mark(const Stream& s) { return std::make_shared<Mark>(s); }

void place(Mark& m, bool end_of_eval, bool host_visible) {
  auto& enc = *m.encoder;
  uint64_t v = host_visible ? enc.place_point() : 0;
  m.event = take_event();
  cuda::check(cudaEventRecord(m.event, enc.stream()), "cudaEventRecord");
  m.probes = enc.probes();
  if (end_of_eval) enc.clear_probes();
  if (host_visible) {
    m.value.store(v, std::memory_order_release);
  } else {
    m.light.store(true, std::memory_order_release);
  }
}

bool reached(const Mark& m) {
  if (m.light.load(std::memory_order_acquire)) return cudaEventQuery(m.event) == cudaSuccess;
  uint64_t v = m.value.load(std::memory_order_acquire);
  return v != 0 && m.encoder->reached(v);
}

void host_wait(const Mark& m) {
  uint64_t v = m.value.load(std::memory_order_acquire);
  while (v == 0) {
    if (m.light.load(std::memory_order_acquire)) {
      // Not on the timeline (rarely waited on by the host).
      cuda::check(cudaEventSynchronize(m.event), "cudaEventSynchronize");
      return;
    }
    // Placed by the encoding thread within microseconds of being made.
    std::this_thread::yield();
    v = m.value.load(std::memory_order_acquire);
  }
  m.encoder->wait_for(v);
}

scheduler::ErrorRef error(const Mark& m) {
  std::call_once(m.probed, [&] {
    for (auto& p : m.probes) {
      if (auto e = p()) {
        m.error = std::move(e);
        break;
      }
    }
  });
  return m.error;
}

void stream_wait(const MarkRef& m, const Stream& consumer, uint64_t position) {
  if (consumer.device == Device::Type::gpu) {
    auto& enc = cuda::get_command_encoder(consumer);
    if (m->value.load(std::memory_order_acquire) == 0 &&
        !m->light.load(std::memory_order_acquire)) {
      throw std::logic_error("[eval] a GPU stream would wait on a mark not yet placed");
    }
    if (!(m->stream == consumer)) {
      cuda::check(cudaStreamWaitEvent(enc.stream(), m->event, 0), "cudaStreamWaitEvent");
    }
    // An error before the mark spoils the consumer from its next op on.
    enc.add_probe([m, position, from = enc.op_position()]() -> scheduler::ErrorRef {
      auto e = error(*m);
      if (!e || position < e->position) return nullptr;
      auto moved = std::make_shared<scheduler::TaskError>(*e);
      moved->position = from;
      return moved;
    });
    return;
  }
  scheduler::enqueue_control(consumer, [m, position] {
    host_wait(*m);
    auto e = error(*m);
    if (e && position >= e->position) scheduler::set_error(e);
  });
}

uint64_t position(const Stream& s) { return cuda::get_command_encoder(s).committed(); }

void commit(const Stream& s, const std::vector<array>& inputs, const std::vector<array>& outputs) {
  cuda::get_command_encoder(s).commit(inputs, outputs);
}

void discard(const Stream& s) { cuda::get_command_encoder(s).discard(); }

void retain(const Stream& s, std::shared_ptr<Data> d) {
  cuda::get_command_encoder(s).retain(std::move(d));
}

size_t inflight_bytes() { return cuda::CommandEncoder::total_pending_bytes(); }

bool wait_for_memory() {
  for (auto* e : cuda::all_encoders()) {
    e->reclaim();
  }
  for (auto* e : cuda::all_encoders()) {
    if (e->release_oldest()) return true;
  }
  return false;
}

void synchronize_all() {
  for (auto* e : cuda::all_encoders()) {
    cuda::check(cudaStreamSynchronize(e->stream()), "cudaStreamSynchronize");
    e->reclaim();
  }
}

}  // namespace fastsync::gpu
