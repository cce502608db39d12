// Error probes of a GPU stream: functions the host runs once the GPU is
// past a mark, each noting in the stream's flow (flow.h) what the device
// (or a stream the work waited on) recorded, and returning the error of an
// op of this stream that failed, or null.
//
// A stream's probes since the end of its last eval form a persistent list,
// newest first. A mark keeps the list's head as it was when placed: O(1),
// where copying the list made an eval with n fences cost O(n^2) (1,000 adds
// hopping between two streams spent ~25 µs per op copying probes). Each node
// caches the first error of the list up to it, so however many marks share
// a prefix, every probe runs once; a node drops its probe and its link once
// evaluated, so a chain of marks across evals (each waiting on the last)
// does not hold every earlier mark alive.
//
// Threads: pushed on the encoding thread; evaluated from any thread, once the
// GPU is past the mark (under a process-wide recursive lock: a probe may
// evaluate another stream's list).
#pragma once

#include <functional>
#include <memory>

#include "scheduler.h"

namespace fastsync::cuda {

using Probe = std::function<scheduler::ErrorRef()>;

struct ProbeNode;
using ProbeList = std::shared_ptr<ProbeNode>;

// `head` with `p` added after every probe already in it.
ProbeList push_probe(ProbeList head, Probe p);
// Runs every probe in `head` not run yet; the error of the oldest probe
// that reports one, or null.
scheduler::ErrorRef first_error(const ProbeList& head);

}  // namespace fastsync::cuda
