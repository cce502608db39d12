#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "backend/cpu/encoder.h"
#include "event.h"
#include "ops/ops.h"
#include "transforms.h"

using namespace fastsync;

TEST_CASE("encoder: dispatched tasks run in order on the stream's worker") {
  Stream s = new_stream(cpu_device);
  auto& enc = cpu::get_command_encoder(s);
  std::vector<int> order;
  std::thread::id worker_id;
  std::atomic<bool> done{false};
  for (int i = 0; i < 100; ++i) {
    enc.dispatch([&order, &worker_id, &done, i] {
      order.push_back(i);  // only the worker touches it
      worker_id = std::this_thread::get_id();
      if (i == 99) done.store(true, std::memory_order_release);
    });
    enc.commit({}, {});
  }
  // Wait without synchronize(), whose waiter may run the tasks itself
  // (scheduler::help): here the worker alone must run them.
  while (!done.load(std::memory_order_acquire)) std::this_thread::yield();
  REQUIRE(order.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(order[i] == i);
  CHECK(worker_id != std::this_thread::get_id());
  synchronize(s);
}

TEST_CASE("encoder: temporaries and inputs live until the task finishes") {
  Stream s = new_stream(cpu_device);
  auto& enc = cpu::get_command_encoder(s);
  std::atomic<bool> gate{false};
  std::weak_ptr<Data> temp_data, input_data;
  {
    array temp = zeros({1024}, float32, s);
    array input = ones({1024}, float32, s);
    eval({temp, input});
    temp_data = temp.data_shared_ptr();
    input_data = input.data_shared_ptr();
    enc.add_temporary(temp);
    enc.dispatch([&gate] {
      while (!gate.load()) std::this_thread::yield();
    });
    enc.commit({input}, {});
  }
  // The user's handles are gone; the retention list still holds the buffers.
  CHECK_FALSE(temp_data.expired());
  CHECK_FALSE(input_data.expired());
  gate = true;
  synchronize(s);
  CHECK(temp_data.expired());
  CHECK(input_data.expired());
}

TEST_CASE("encoder: a buffer donated to an output is not retained") {
  Stream s = new_stream(cpu_device);
  auto& enc = cpu::get_command_encoder(s);
  std::atomic<bool> gate{false};
  array in = ones({256}, float32, s);
  eval({in});
  array out = in;  // stands for an output that took the input's buffer
  enc.dispatch([&gate] {
    while (!gate.load()) std::this_thread::yield();
  });
  enc.commit({in}, {out});
  // Only `in` and `out` (one descriptor) hold the buffer: not the task.
  CHECK(in.data_shared_ptr().use_count() == 1);  // the descriptor's alone
  gate = true;
  synchronize(s);
}

TEST_CASE("encoder: an input named by eval_cpu and again by commit is kept once") {
  Stream s = new_stream(cpu_device);
  auto& enc = cpu::get_command_encoder(s);
  std::atomic<bool> gate{false};
  array in = ones({256}, float32, s);
  array out = zeros({256}, float32, s);
  eval({in, out});
  enc.set_input_array(in);
  enc.set_input_array(in);
  enc.dispatch([&gate] {
    while (!gate.load()) std::this_thread::yield();
  });
  enc.commit({in, in}, {out});
  // The descriptor's reference and the queued task's one.
  CHECK(in.data_shared_ptr().use_count() == 2);
  CHECK(in.data_shared_ptr()->queued_on(s.index) == 1);
  gate = true;
  synchronize(s);
  CHECK(in.data_shared_ptr().use_count() == 1);
}
