// The graph-building API of distributed: argument checks, group and stream
// choice, graph nodes. Nothing here communicates. Any thread may call these.
//
// group: the group to communicate in (default: init()'s). stream: a CPU
// stream or device (default: the CPU default stream), since the MPI backend
// computes on the host. Over a group of one process every collective is the
// identity and returns its input, so single-process runs need no MPI.
//
// Collectives on one group are matched across processes in the order they
// run. Issue them on one stream per group (the default stream, unless told
// otherwise), or give concurrent streams groups of their own (split): two
// streams running collectives of one group at once may pair them up
// differently on each process.
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
