#include "fuse.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "autodiff.h"
#include "primitive.h"
#include "primitives/binary.h"
#include "primitives/fused.h"
#include "primitives/unary.h"
#include "transforms.h"

namespace fastsync {

namespace {

bool pending(const array& a) { return a.has_node() && a.status() == Status::unscheduled; }

// Every pending array behind `outputs`, inputs before consumers.
std::vector<array> topo_order(const std::vector<array>& outputs) {
  std::vector<array> order;
  std::unordered_set<const void*> seen;
  std::vector<std::pair<array, size_t>> stack;
  for (const array& o : outputs) {
    if (!pending(o) || !seen.insert(o.id()).second) continue;
    stack.push_back({o, 0});
    while (!stack.empty()) {
      auto& [a, next] = stack.back();
      const auto& ins = a.inputs();
      if (next < ins.size()) {
        const array& in = ins[next++];
        if (pending(in) && seen.insert(in.id()).second) stack.push_back({in, 0});
        continue;
      }
      order.push_back(a);
      stack.pop_back();
    }
  }
  return order;
}

// The op as a program step, when the node may be fused: one output, Unary
// or Binary, floating dtype, inputs in that dtype.
std::optional<FusedOp> as_step(const array& a) {
  if (!is_floating(a.dtype()) || a.node()->outputs.size() != 1) return std::nullopt;
  for (const array& in : a.inputs()) {
    if (in.dtype() != a.dtype()) return std::nullopt;
  }
  Primitive& p = a.primitive();
  if (auto* u = dynamic_cast<Unary*>(&p)) return FusedOp{true, static_cast<int>(u->op())};
  if (auto* b = dynamic_cast<Binary*>(&p)) {
    if (is_comparison(b->op())) return std::nullopt;
    return FusedOp{false, static_cast<int>(b->op())};
  }
  return std::nullopt;
}

bool same_stream(const array& a, const array& b) {
  return a.primitive().stream() == b.primitive().stream();
}

}  // namespace

FuseStats fuse(const std::vector<array>& outputs) {
  FuseStats stats;
  if (autodiff::is_tracing()) return stats;
  with_encode_lock([&] {
    std::vector<array> order = topo_order(outputs);
    // Consumers of each array among the pending nodes, and each array's place
    // in `order` (which holds one more reference to each).
    std::unordered_map<const void*, std::vector<const void*>> consumers;
    std::unordered_map<const void*, size_t> position;
    for (size_t i = 0; i < order.size(); ++i) {
      position[order[i].id()] = i;
      for (const array& in : order[i].inputs()) consumers[in.id()].push_back(order[i].id());
    }
    // Held by nothing but its consumers in the graph (and `order`).
    auto graph_only = [&](const array& a) {
      return a.use_count() == static_cast<long>(consumers[a.id()].size()) + 1;
    };
    std::unordered_set<const void*> absorbed;
    // Roots from the outputs down: each takes in the ops above it until none
    // joins. An op joins when every consumer is in the group and nothing
    // else holds it; or, as an extra output of the group, when what else
    // reads it comes after the root in `order` (so it cannot feed the group:
    // no cycle) and whatever else holds it is outside the graph.
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      const array& root = *it;
      if (absorbed.count(root.id()) || !as_step(root)) continue;
      const size_t root_at = position[root.id()];
      std::unordered_set<const void*> in_group{root.id()};
      std::unordered_set<const void*> exported;
      std::vector<array> members{root};
      for (bool grew = true; grew && members.size() < FusedProgram::kMaxSlots / 2;) {
        grew = false;
        for (size_t k = 0; k < members.size(); ++k) {
          const array m = members[k];  // members grows below
          for (const array& in : m.inputs()) {
            if (in_group.count(in.id()) || !pending(in) || in.shape() != root.shape() ||
                in.dtype() != root.dtype() || absorbed.count(in.id()) || !as_step(in) ||
                !same_stream(in, root)) {
              continue;
            }
            const auto& cs = consumers[in.id()];
            bool reads_after = true, all_in = true;
            for (const void* c : cs) {
              if (in_group.count(c)) continue;
              all_in = false;
              reads_after = reads_after && position[c] > root_at;
            }
            if (!reads_after) continue;
            if (!all_in || !graph_only(in)) exported.insert(in.id());
            in_group.insert(in.id());
            members.push_back(in);
            grew = true;
          }
        }
      }
      if (members.size() < 2) continue;
      // Program order: inputs before consumers.
      std::sort(members.begin(), members.end(), [&](const array& x, const array& y) {
        return position[x.id()] < position[y.id()];
      });
      // Build the program: external inputs get slots first, then each member.
      std::vector<array> ext;
      std::unordered_map<const void*, int> slot;
      for (const array& m : members) {
        for (const array& in : m.inputs()) {
          if (in_group.count(in.id()) || slot.count(in.id())) continue;
          slot[in.id()] = static_cast<int>(ext.size());
          ext.push_back(in);
        }
      }
      if (ext.size() + members.size() > FusedProgram::kMaxSlots) continue;
      FusedProgram prog;
      prog.n_inputs = static_cast<int>(ext.size());
      std::vector<array> extra;
      for (size_t j = 0; j < members.size(); ++j) {
        const array& m = members[j];
        FusedOp step = *as_step(m);
        const auto& ins = m.inputs();
        step.a = slot.at(ins[0].id());
        step.b = ins.size() > 1 ? slot.at(ins[1].id()) : 0;
        prog.ops.push_back(step);
        slot[m.id()] = prog.n_inputs + static_cast<int>(j);
        if (exported.count(m.id())) {
          prog.extra_outputs.push_back(slot[m.id()]);
          extra.push_back(m);
        }
      }
      for (size_t j = 0; j + 1 < members.size(); ++j) absorbed.insert(members[j].id());
      const std::shared_ptr<Node>& node = root.node();
      node->primitive = std::make_shared<Fused>(root.primitive().stream(), std::move(prog));
      node->inputs = std::move(ext);
      for (array& e : extra) e.become_output_of(node);
      ++stats.groups;
      stats.removed += static_cast<int>(members.size()) - 1;
    }
  });
  return stats;
}

int64_t graph_nodes(const std::vector<array>& outputs) {
  int64_t n = 0;
  with_encode_lock([&] {
    std::unordered_set<const Node*> nodes;
    for (const array& a : topo_order(outputs)) nodes.insert(a.node().get());
    n = static_cast<int64_t>(nodes.size());
  });
  return n;
}

}  // namespace fastsync
