#include "backend/cpu/utils.h"

#include "backend/common/buffers.h"
#include "backend/common/strided.h"

namespace fastsync::cpu {

void alloc(array& out) { fastsync::alloc(out, allocator::host()); }

void donate_or_alloc(const array& in, array& out) {
  fastsync::donate_or_alloc(in, out, allocator::host(), encoding_stream());
}

array broadcast_view(const array& in, const Shape& shape) {
  if (in.shape() == shape) return in.unsafe_weak_copy();
  return in.unsafe_weak_copy(shape, broadcast_strides(in, shape));
}

CommandEncoder& encoder_for(const Primitive& p) { return get_command_encoder(p.stream()); }

CommandEncoder& begin_op(const Primitive& p, const array& in, array& out) {
  alloc(out);
  auto& enc = encoder_for(p);
  enc.set_input_array(in);
  enc.set_output_array(out);
  return enc;
}

}  // namespace fastsync::cpu
