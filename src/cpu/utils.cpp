#include "cpu/utils.h"

#include "cpu/strided.h"

namespace fastsync::cpu {

void alloc(array& out) { out.set_data(allocator::malloc(out.nbytes())); }

void donate_or_alloc(const array& in, array& out) {
  if (in.is_donatable() && in.dtype() == out.dtype() && in.flags().row_contiguous &&
      in.size() == out.size() && in.data_size() == in.size() && in.size() > 0) {
    out.copy_shared_buffer(in, row_major_strides(out.shape()), Flags{}, out.size());
  } else {
    alloc(out);
  }
}

Strides broadcast_strides(const array& in, const Shape& shape) {
  Strides s(shape.size(), 0);
  size_t off = shape.size() - in.ndim();
  for (int i = 0; i < in.ndim(); ++i) {
    s[off + i] = in.shape()[i] == 1 ? 0 : in.strides()[i];
  }
  return s;
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
