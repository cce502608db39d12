// The graph-building API of distributed: argument checks, group and stream
// choice, graph nodes. Nothing here communicates. Any thread may call these.
//
// group: the group to communicate in (default: init()'s). stream: where the
// collective runs, which the group's backend decides: MPI computes on the
// host (a CPU stream; default: the CPU default stream), NCCL on the GPU (a
// GPU stream; default: the GPU default stream). Inputs on the other device
// are moved by the eval driver, ordered by events. Over a group of one
// process every collective is the identity and returns its input (any
// stream is accepted), so single-process runs need no MPI.
//
// Dtypes: every one over MPI. NCCL reduces int8, uint8, int32, uint32,
// int64, uint64, float16, bfloat16, float32, float64 and bool (as uint8:
// sum and max are logical or, min logical and, as over MPI); reductions of
// int16 and uint16 raise TypeError. all_gather, send and recv move bytes,
// so they take every dtype on both backends.
//
// Collectives on one group are matched across processes in the order they
// run. Issue them on one stream per group (the default stream, unless told
// otherwise), or give concurrent streams groups of their own (split): two
// streams running collectives of one group at once may pair them up
// differently on each process.
//
// NCCL caveats: shapes are not compared across ranks (that would cost a
// collective each): ranks passing different shapes to a collective, or a
// recv whose size differs from the send, get undefined results or hang,
// where MPI raises. A send and a recv with one peer run as GPU kernels that
// wait for each other: evaluate them in the order the peer does (rank 0
// sends then receives, rank 1 receives then sends), or on separate streams.
#pragma once

#include <optional>

#include "array.h"
#include "distributed/group.h"
#include "stream.h"

namespace fastsync::distributed {

array all_sum(const array& x, std::optional<Group> group = {}, StreamOrDevice s = {});
array all_max(const array& x, std::optional<Group> group = {}, StreamOrDevice s = {});
array all_min(const array& x, std::optional<Group> group = {}, StreamOrDevice s = {});
// Every rank's x concatenated along axis 0 in rank order; 0-d inputs gather
// into shape (size,).
array all_gather(const array& x, std::optional<Group> group = {}, StreamOrDevice s = {});
// Sends x to rank dst; returns x (evaluate it to make the send happen).
array send(const array& x, int dst, std::optional<Group> group = {}, StreamOrDevice s = {});
// Receives an array of this shape and dtype from rank src.
array recv(Shape shape, Dtype dtype, int src, std::optional<Group> group = {},
           StreamOrDevice s = {});
array recv_like(const array& x, int src, std::optional<Group> group = {}, StreamOrDevice s = {});

}  // namespace fastsync::distributed
