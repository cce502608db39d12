// Graph inspection for people: the unevaluated graph behind some arrays in
// Graphviz's DOT language. Reads the graph only; call it on the thread that
// builds the graph (not concurrently with an eval of the same arrays).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "array.h"

namespace fastsync {

// Nodes are the primitives (labelled with their names) and the arrays
// without a primitive (inputs, evaluated arrays: labelled with shape and
// dtype); edges run from inputs to the primitives that read them.
std::string to_dot(const std::vector<array>& outputs);

// The unevaluated nodes behind `outputs`, counted by primitive name: what an
// eval of them would encode (a per-op breakdown for benchmarks).
std::map<std::string, int> op_counts(const std::vector<array>& outputs);

}  // namespace fastsync
