#include "backend/cpu/copy.h"

#include "backend/cpu/parallel.h"
#include "backend/common/strided.h"

namespace fastsync::cpu {

namespace {
template <typename In, typename Out>
void copy_typed(const array& in, array& out) {
  const In* src = in.data<In>();
  Out* dst = out.data<Out>();
  auto cast = [](In v) { return static_cast<Out>(static_cast<compute_t<In>>(v)); };
  if (in.flags().row_contiguous && out.flags().row_contiguous && in.shape() == out.shape()) {
    parallel_for(out.size(), kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) dst[i] = cast(src[i]);
    });
    return;
  }
  for_each_strided<2>(out.shape(), {&in.strides(), &out.strides()},
                      [&](auto offs, int64_t n, auto st) {
                        const In* s = src + offs[0];
                        Out* d = dst + offs[1];
                        if (st[0] == 1 && st[1] == 1) {
                          for (int64_t i = 0; i < n; ++i) d[i] = cast(s[i]);
                        } else if (st[0] == 0) {
                          Out v = cast(*s);
                          for (int64_t i = 0; i < n; ++i) d[i * st[1]] = v;
                        } else {
                          for (int64_t i = 0; i < n; ++i) d[i * st[1]] = cast(s[i * st[0]]);
                        }
                      });
}
}  // namespace

void copy_kernel(const array& in, array& out) {
  dispatch_dtype(in.dtype(), [&](auto in_tag) {
    dispatch_dtype(out.dtype(), [&](auto out_tag) {
      copy_typed<decltype(in_tag), decltype(out_tag)>(in, out);
    });
  });
}

}  // namespace fastsync::cpu
