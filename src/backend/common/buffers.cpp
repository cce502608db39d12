#include "backend/common/buffers.h"

namespace fastsync {

void alloc(array& out, allocator::Allocator& a) { out.set_data(a.malloc(out.nbytes())); }

void donate_or_alloc(const array& in, array& out, allocator::Allocator& a, int stream) {
  if (in.is_donatable(stream) && in.dtype() == out.dtype() && in.flags().row_contiguous &&
      in.size() == out.size() && in.data_size() == in.size() && in.size() > 0) {
    out.copy_shared_buffer(in, row_major_strides(out.shape()), Flags{}, out.size());
  } else {
    alloc(out, a);
  }
}

void donate_any_or_alloc(std::initializer_list<const array*> candidates, array& out,
                         allocator::Allocator& a, int stream) {
  for (const array* in : candidates) {
    if (in->shape() == out.shape() && in->dtype() == out.dtype() && in->is_donatable(stream)) {
      donate_or_alloc(*in, out, a, stream);
      return;
    }
  }
  alloc(out, a);
}

}  // namespace fastsync
