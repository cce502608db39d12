// pool.h: per-thread caches of small blocks in front of one shared list.
#include <doctest/doctest.h>

#include <set>
#include <thread>
#include <vector>

#include "pool.h"

namespace fastsync {

namespace {
// A size no other test or library object uses, so these lists are ours.
struct Probe {
  char bytes[1000];
};
using List = FreeList<sizeof(Probe), alignof(Probe)>;
}  // namespace

TEST_CASE("pool: a freed block is handed out again on the same thread") {
  void* a = List::get();
  List::put(a);
  CHECK(List::get() == a);
  List::put(a);
}

TEST_CASE("pool: blocks freed on another thread, and a thread's cache at its exit, are reused") {
  // Made here, freed on a thread that then exits: its cache goes to the
  // shared list, from which this thread refills once its own cache is dry.
  std::vector<void*> made;
  for (int i = 0; i < 2000; ++i) made.push_back(List::get());
  std::thread([&] {
    for (void* p : made) List::put(p);
  }).join();
  const std::set<void*> before(made.begin(), made.end());
  size_t reused = 0;
  std::vector<void*> again;
  for (int i = 0; i < 2000; ++i) {
    again.push_back(List::get());
    reused += before.count(again.back());
  }
  CHECK(reused >= 1000);
  // Every block is distinct (none handed out twice) and writable.
  CHECK(std::set<void*>(again.begin(), again.end()).size() == again.size());
  for (void* p : again) static_cast<Probe*>(p)->bytes[999] = 1;
  for (void* p : again) List::put(p);
}

TEST_CASE("pool: shared pointers made by make_pooled free into the pool from any thread") {
  std::vector<std::shared_ptr<Probe>> made;
  for (int i = 0; i < 600; ++i) made.push_back(make_pooled<Probe>());
  std::thread([moved = std::move(made)]() mutable { moved.clear(); }).join();
  auto p = make_pooled<Probe>();
  p->bytes[0] = 7;
  CHECK(p->bytes[0] == 7);
}

}  // namespace fastsync
