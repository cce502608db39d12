// The slice of a graph between some arrays (targets) and later ones
// (outputs): what the transforms walk. Built on the caller's thread; it
// reads only graph structure, which never changes once built.
#pragma once

#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "array.h"
#include "primitive.h"

namespace fastsync {

// The nodes between `targets` and `outputs`: every node reachable from the
// outputs that some target feeds, inputs before consumers. The walk does
// not enter a target's own node. Derivatives follow only the inputs a
// primitive passes gradients through; `every_input` follows all of them (a
// batch axis crosses stop_gradient too).
class Tape {
 public:
  Tape(const std::vector<array>& outputs, const std::vector<array>& targets,
       bool every_input = false)
      : every_input_(every_input) {
    for (auto& t : targets) targets_.insert(t.id());
    for (auto& o : outputs) visit(o);
  }

  bool is_target(const array& a) const { return targets_.count(a.id()) > 0; }
  // Whether a derivative can flow from a target into `a`.
  bool reaches(const array& a) const {
    if (is_target(a)) return true;
    if (!a.has_node()) return false;
    auto it = reaches_.find(a.node().get());
    return it != reaches_.end() && it->second;
  }
  // Inputs of `n` that a target reaches and that pass derivatives.
  std::vector<int> argnums(const Node& n) const {
    std::vector<int> out;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (follows(n, i) && reaches(n.inputs[i])) {
        out.push_back(static_cast<int>(i));
      }
    }
    return out;
  }
  const std::vector<std::shared_ptr<Node>>& order() const { return order_; }

 private:
  // Iterative post-order: deep graphs (long chains) must not overflow the
  // stack.
  void visit(const array& root) {
    if (is_target(root) || !root.has_node()) return;
    struct Frame {
      std::shared_ptr<Node> node;
      size_t next = 0;
    };
    std::vector<Frame> stack;
    auto push = [&](const std::shared_ptr<Node>& n) {
      if (reaches_.emplace(n.get(), false).second) stack.push_back({n});
    };
    push(root.node());
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next < f.node->inputs.size()) {
        const array& in = f.node->inputs[f.next++];
        if (!is_target(in) && in.has_node()) push(in.node());
        continue;
      }
      std::shared_ptr<Node> n = std::move(f.node);
      stack.pop_back();
      bool r = false;
      for (size_t i = 0; i < n->inputs.size() && !r; ++i) {
        r = follows(*n, i) && reaches(n->inputs[i]);
      }
      reaches_[n.get()] = r;
      if (r) order_.push_back(std::move(n));
    }
  }

  bool follows(const Node& n, size_t i) const {
    return every_input_ || n.primitive->passes_gradient(static_cast<int>(i));
  }

  bool every_input_;
  std::unordered_set<const void*> targets_;
  std::unordered_map<const Node*, bool> reaches_;
  std::vector<std::shared_ptr<Node>> order_;
};

}  // namespace fastsync
