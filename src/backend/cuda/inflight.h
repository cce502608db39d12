// The cap on bytes kept alive for GPU work in flight (the CUDA backend's
// throttle, backend.cpp), and the count it rests on.
//
// Only bytes that waiting for the GPU would free count: buffers that only
// retention batches hold. Buffers the program still holds (weights, a KV
// cache) are retained by every op that reads them and would make the host
// wait on the GPU every few layers of a model. Telling the two apart takes a
// scan of every batch in flight, so the count is the last scan's result plus
// the bytes retained since by buffers that scan did not find held elsewhere:
// a weight read again by the next decode step adds nothing, and the scan
// runs again only when that estimate passes the cap. What a scan found held
// elsewhere stays known while it lives (a weight read by a layer no batch in
// flight covers at the next scan is still the program's), pinned by a weak
// reference, so a new buffer at a freed one's address is never taken for
// it. A buffer the program lets go after a scan counts from the next one on.
//
// Encoding thread, under the eval driver's lock, which guards the state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace fastsync {
struct Data;
}  // namespace fastsync

namespace fastsync::cuda::inflight {

// A buffer joined a retention batch (CommandEncoder). False if the last scan
// found the program holding it: retaining it keeps nothing alive for now.
bool note_retained(const std::shared_ptr<Data>& d);
// A buffer only retention held was taken for a new output (stream-ordered
// reuse, encoder.h): waiting would no longer free it.
void note_reused(const Data* d, size_t bytes);
// Whether the bytes only retention holds exceed FASTSYNC_MAX_INFLIGHT_GPU_MB
// (default 128 MiB). Scans again when the estimate says so, so a caller that
// released batches and asks again gets a fresh answer.
bool over_cap();
// Scans of the batches in flight so far (a counter of the backend).
uint64_t scans();

}  // namespace fastsync::cuda::inflight
