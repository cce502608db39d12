// The eval driver: turns a graph into encoded work on streams.
#pragma once

#include <functional>
#include <vector>

#include "array.h"

namespace fastsync {

// Evaluates `outputs` and waits until they are computed. Rethrows the first
// error raised while encoding or computing them.
void eval(std::vector<array> outputs);
// Encodes `outputs` and returns at once; reading them waits.
void async_eval(std::vector<array> outputs);
// Waits until all work already encoded on `s` is done; rethrows its error.
void synchronize(Stream s);
// Waits for every stream that ever received work.
void synchronize();
// Waits for every stream of device `d` that ever received work.
void synchronize(Device d);
// Evaluates and waits for `a`; returns it, or a host copy of it when it
// lives in device memory: what readers on the CPU (Python) use.
array host_readable(array a);
// All outputs of node `n`, dropped ones recreated (array::outputs), under
// the driver's lock: the transforms call it while another thread may be
// encoding the same node. Empty when no output is alive.
std::vector<array> node_outputs(const Node& n);
// Runs `f` under the driver's lock: graph rewrites (fuse.cpp) must not
// race a thread encoding the same nodes.
void with_encode_lock(const std::function<void()>& f);
// At graph build: makes `out` the view `p` computes of `inputs` right away,
// when nothing would be encoded for it anyway (a view of an input already
// encoded, in memory p's device reads, while no transform or compile
// traces). `out` then shares the input's buffer, status and event, as if
// an eval had produced it. False when `out` needs a node.
bool view_now(Primitive& p, const std::vector<array>& inputs, array& out);
// The allocator arrays on `d` come from.
allocator::Allocator& memory_allocator(Device d);

}  // namespace fastsync
