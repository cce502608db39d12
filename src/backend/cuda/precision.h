// The precision float32 products and convolutions run in on the GPU.
//
// Exact float32 by default. FASTSYNC_TF32=1 lets cuBLAS (matmul.cu) and
// cuDNN (cudnn.cpp) use TF32 tensor cores for float32 operands (inputs
// rounded to 10 mantissa bits, float32 accumulation): the setting PyTorch's
// torch.backends.cudnn.allow_tf32 (on by default) and
// torch.backends.cuda.matmul.allow_tf32 (off by default) choose. Read once,
// at the first product or convolution; any thread.
#pragma once

namespace fastsync::cuda {

bool tf32();

}  // namespace fastsync::cuda
