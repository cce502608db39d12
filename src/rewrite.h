// Eval-time rewrites: the eval driver (transforms.cpp) offers each node it
// walks, on the encoding thread and under its lock, while no transform
// traces on that thread (a traced node must keep its own derivative). A
// rewrite changes the node in place, and only where nothing else can tell:
// the nodes it absorbs are held by nothing but the node, and the result is
// bit for bit what the graph as built computes. Each costs a type check on
// nodes it does not apply to.
#pragma once

namespace fastsync {

struct Node;

// maximum(p, +0.0) where p is a float32 or float64 product (Matmul or
// AddMM) of the same dtype on the same CPU stream, held by nothing but this node: the node becomes
// one MatmulRelu over the product's inputs (one task instead of two, and no
// second pass over memory). Returns whether it did.
bool fold_relu_into_product(Node& n);

}  // namespace fastsync
