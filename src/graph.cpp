#include "graph.h"

#include <unordered_map>
#include <unordered_set>

#include "primitive.h"

namespace fastsync {

namespace {

std::string array_label(const array& a) { return shape_str(a.shape()) + " " + a.dtype().name(); }

}  // namespace

std::string to_dot(const std::vector<array>& outputs) {
  // Plain strings, not iostreams (see format.cpp).
  std::string dot = "digraph {\n";
  std::unordered_map<const void*, int> ids;  // array descriptors and nodes
  auto id_of = [&](const void* key) {
    return ids.try_emplace(key, static_cast<int>(ids.size())).first->second;
  };
  std::unordered_set<const void*> seen;
  // An explicit stack: graphs can be a million nodes deep.
  std::vector<array> stack(outputs.begin(), outputs.end());
  while (!stack.empty()) {
    array a = stack.back();
    stack.pop_back();
    if (!seen.insert(a.id()).second) continue;
    int aid = id_of(a.id());
    dot += "  a" + std::to_string(aid) + " [label=\"" + array_label(a) + "\", shape=box];\n";
    if (!a.has_node()) continue;
    int nid = id_of(a.node().get());
    dot += "  p" + std::to_string(nid) + " -> a" + std::to_string(aid) + ";\n";
    if (!seen.insert(a.node().get()).second) continue;
    dot += "  p" + std::to_string(nid) + " [label=\"" + a.primitive().name() + "\"];\n";
    for (const array& in : a.inputs()) {
      dot += "  a" + std::to_string(id_of(in.id())) + " -> p" + std::to_string(nid) + ";\n";
      stack.push_back(in);
    }
  }
  dot += "}\n";
  return dot;
}

std::map<std::string, int> op_counts(const std::vector<array>& outputs) {
  std::map<std::string, int> counts;
  std::unordered_set<const void*> seen;
  std::vector<array> stack(outputs.begin(), outputs.end());
  while (!stack.empty()) {
    array a = stack.back();
    stack.pop_back();
    if (!a.has_node() || a.status() != Status::unscheduled) continue;
    if (!seen.insert(a.node().get()).second) continue;
    ++counts[a.primitive().name()];
    for (const array& in : a.inputs()) stack.push_back(in);
  }
  return counts;
}

}  // namespace fastsync
