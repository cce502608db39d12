// The error-reach log of a backend whose errors are found late (a GPU
// stream's, backend/common/flow.h), driven directly: failed ops spoil what
// they wrote and what was computed from it, and nothing else.
#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "array.h"
#include "backend/common/flow.h"

using namespace fastsync;

namespace {

using DataRef = std::shared_ptr<Data>;

DataRef buffer() { return std::make_shared<Data>(allocator::host().malloc(16)); }

scheduler::ErrorRef error(const char* what, uint64_t position) {
  auto e = std::make_shared<scheduler::TaskError>();
  e->error = std::make_exception_ptr(std::runtime_error(what));
  e->position = position;
  e->by_position = false;
  return e;
}

std::string message(const scheduler::ErrorRef& e) {
  try {
    std::rethrow_exception(e->error);
  } catch (const std::exception& x) {
    return x.what();
  }
}

}  // namespace

TEST_CASE("flow: a failed op spoils its outputs and their readers, nothing else") {
  Flow f;
  DataRef x = buffer(), bad = buffer(), good = buffer(), mixed = buffer(), later = buffer();
  f.add(1, {x}, {bad});
  f.add(2, {x}, {good});
  f.add(3, {good, bad}, {mixed});
  f.add(4, {good}, {later});
  f.fail(1, error("op 1 failed", 1));
  f.walk(f.size());
  REQUIRE(bad->spoiled());
  CHECK(message(bad->spoiled()) == "op 1 failed");
  CHECK(mixed->spoiled() == bad->spoiled());
  CHECK_FALSE(x->spoiled());
  CHECK_FALSE(good->spoiled());
  CHECK_FALSE(later->spoiled());
}

TEST_CASE("flow: a walk stops at its end and goes on from there") {
  Flow f;
  DataRef a = buffer(), b = buffer(), c = buffer();
  f.add(1, {}, {a});
  size_t first_mark = f.size();
  f.add(2, {a}, {b});
  f.add(3, {b}, {c});
  f.fail(1, error("failed", 1));
  f.walk(first_mark);
  CHECK(a->spoiled());
  CHECK_FALSE(b->spoiled());
  f.walk(f.size());
  CHECK(b->spoiled());
  CHECK(c->spoiled());
}

TEST_CASE("flow: two failures each spoil their own outputs with their own error") {
  Flow f;
  DataRef a = buffer(), b = buffer(), both = buffer();
  f.add(1, {}, {a});
  f.add(2, {}, {b});
  f.add(3, {b, a}, {both});
  f.fail(2, error("second", 2));
  f.fail(1, error("first", 1));
  f.walk(f.size());
  CHECK(message(a->spoiled()) == "first");
  CHECK(message(b->spoiled()) == "second");
  CHECK(message(both->spoiled()) == "second");  // its first spoiled input
}

TEST_CASE("flow: a failed run spoils every op in it; copies take only their input's state") {
  Flow f;
  DataRef before = buffer(), r1 = buffer(), r2 = buffer(), after = buffer();
  DataRef copied_clean = buffer(), copied_bad = buffer();
  f.add(4, {}, {before});
  f.add(5, {before}, {r1});
  f.add(6, {}, {r2});
  f.copy(before, copied_clean);  // logged between ops 6 and 7: no position of its own
  f.copy(r2, copied_bad);
  f.add(7, {before}, {after});
  f.fail(5, 6, error("the run failed", 5));
  f.walk(f.size());
  CHECK_FALSE(before->spoiled());
  CHECK(r1->spoiled());
  CHECK(r2->spoiled());
  CHECK_FALSE(copied_clean->spoiled());
  CHECK(copied_bad->spoiled());
  CHECK_FALSE(after->spoiled());
}

TEST_CASE("flow: a spoiled buffer that died before the walk still spoils its readers") {
  Flow f;
  DataRef out = buffer();
  {
    DataRef gone = buffer();
    f.add(1, {}, {gone});
    f.add(2, {gone}, {out});
  }
  // The log pins the dead buffer's address: a new buffer does not take it.
  DataRef fresh = buffer();
  f.add(3, {fresh}, {buffer()});
  f.fail(1, error("failed", 1));
  f.walk(f.size());
  CHECK(out->spoiled());
  CHECK_FALSE(fresh->spoiled());
}

TEST_CASE("flow: spoiled buffers travel to another log by absorb and by taint") {
  Flow producer, consumer;
  DataRef shared = buffer(), clean = buffer(), arrived = buffer();
  producer.add(1, {}, {shared});
  producer.add(2, {}, {clean});
  producer.fail(1, error("producer failed", 1));
  producer.close();
  producer.walk(producer.size());
  CHECK(producer.size() == 0);  // settled to the end: the ops are dropped
  DataRef r1 = buffer(), r2 = buffer(), r3 = buffer();
  consumer.add(1, {shared}, {r1});
  consumer.add(2, {clean}, {r2});
  consumer.add(3, {arrived}, {r3});
  consumer.absorb(producer);
  consumer.taint(arrived, arrived.get(), error("cpu task failed", 9));
  consumer.walk(consumer.size());
  CHECK(message(r1->spoiled()) == "producer failed");
  CHECK_FALSE(r2->spoiled());
  CHECK(message(r3->spoiled()) == "cpu task failed");
}

TEST_CASE("flow: ops logged while another thread walks") {
  // The encoding thread appends while a host thread settles marks (TSan).
  Flow f;
  std::vector<DataRef> outs;
  for (int i = 0; i < 400; ++i) outs.push_back(buffer());
  f.fail(1, error("failed", 1));
  std::atomic<size_t> logged{0};
  std::thread walker([&] {
    while (logged.load() < outs.size()) f.walk(logged.load());
  });
  for (size_t i = 0; i < outs.size(); ++i) {
    std::vector<DataRef> ins;
    if (i % 2 == 0 && i > 0) ins.push_back(outs[i - 2]);
    f.add(i + 1, ins, {outs[i]});
    logged.store(i + 1);
  }
  walker.join();
  f.walk(f.size());
  for (size_t i = 0; i < outs.size(); ++i) CHECK((outs[i]->spoiled() != nullptr) == (i % 2 == 0));
}

TEST_CASE("flow: a dead spoiled buffer travels only to a log whose ops read it") {
  Flow producer, reader, other;
  DataRef out_reader = buffer(), out_other = buffer();
  {
    DataRef gone = buffer();
    producer.add(1, {}, {gone});
    reader.add(1, {gone}, {out_reader});  // read while it lived
  }
  producer.fail(1, error("failed", 1));
  producer.walk(producer.size());
  reader.absorb(producer);
  reader.walk(reader.size());
  CHECK(out_reader->spoiled());
  other.absorb(producer);
  other.add(1, {buffer()}, {out_other});
  other.walk(other.size());
  CHECK_FALSE(out_other->spoiled());
}

TEST_CASE("flow: a buffer spoiled later, elsewhere, does not spoil an op that read it before") {
  // Donated to an op of a later eval that failed: what this eval computed from
  // it was computed from its clean contents.
  Flow f;
  DataRef in = buffer(), out = buffer(), failed_elsewhere = buffer();
  f.add(1, {}, {failed_elsewhere});
  f.add(2, {in}, {out});
  f.fail(1, error("failed", 1));  // the walk runs: something failed here
  in->spoil(error("a later op wrote it and failed", 7));
  f.walk(f.size());
  CHECK_FALSE(out->spoiled());
}
