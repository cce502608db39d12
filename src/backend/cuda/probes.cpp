#include "backend/cuda/probes.h"

#include <mutex>
#include <vector>

namespace fastsync::cuda {

struct ProbeNode {
  Probe probe;     // null once evaluated
  ProbeList prev;  // null once evaluated
  bool done = false;
  scheduler::ErrorRef first;  // valid once done

  ~ProbeNode() {
    // Unlink a long unevaluated list iteratively: recursive destruction of
    // thousands of nodes would overflow the stack.
    ProbeList p = std::move(prev);
    while (p && p.use_count() == 1) p = std::move(p->prev);
  }
};

namespace {
// Guards every ProbeNode's fields once the node is published in a mark.
// Recursive: a probe evaluates the lists of the marks it waited on.
std::recursive_mutex& probe_mutex() {
  static auto* m = new std::recursive_mutex();
  return *m;
}
}  // namespace

ProbeList push_probe(ProbeList head, Probe p) {
  auto n = std::make_shared<ProbeNode>();
  n->probe = std::move(p);
  n->prev = std::move(head);
  return n;
}

scheduler::ErrorRef first_error(const ProbeList& head) {
  if (!head) return nullptr;
  std::lock_guard lk(probe_mutex());
  // Oldest unevaluated first, so each node's predecessor is done.
  std::vector<ProbeNode*> todo;
  for (ProbeNode* n = head.get(); n && !n->done; n = n->prev.get()) todo.push_back(n);
  for (auto it = todo.rbegin(); it != todo.rend(); ++it) {
    ProbeNode* n = *it;
    if (n->done) continue;  // evaluated by a probe of an earlier node
    // Every probe runs, also after an error: each notes in the flow what
    // it found (a failed op, a spoiled buffer that arrived).
    scheduler::ErrorRef found = n->probe();
    scheduler::ErrorRef e = n->prev ? n->prev->first : nullptr;
    n->first = e ? std::move(e) : std::move(found);
    n->done = true;
    n->probe = nullptr;
  }
  // Links are cut after the walk (`todo` points into the list), oldest
  // first: a reset frees at most the node cut just before.
  for (auto it = todo.rbegin(); it != todo.rend(); ++it) (*it)->prev.reset();
  return head->first;
}

}  // namespace fastsync::cuda
