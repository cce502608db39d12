#include "backend/cuda/fused_source.h"

#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "backend/common/elementwise.h"

namespace fastsync::cuda {

namespace {

constexpr const char* kUnaryNames[] = {
#define FASTSYNC_NAME(o, Name) #o,
    FASTSYNC_UNARY_OPS(FASTSYNC_NAME)
#undef FASTSYNC_NAME
};
constexpr const char* kBinaryNames[] = {
#define FASTSYNC_NAME(o, Name) #o,
    FASTSYNC_BINARY_OPS(FASTSYNC_NAME)
#undef FASTSYNC_NAME
};

template <typename C>
bool computes_in(const FusedOp& o) {
  if (o.unary) {
    switch (static_cast<UnaryOp>(o.op)) {
#define FASTSYNC_CASE(op, Name)                                              \
  case UnaryOp::op:                                                          \
    if constexpr (elementwise::unary_supports<UnaryOp::op, C>()) {           \
      return std::is_same_v<elementwise::unary_result_t<UnaryOp::op, C>, C>; \
    }                                                                        \
    return false;
      FASTSYNC_UNARY_OPS(FASTSYNC_CASE)
#undef FASTSYNC_CASE
    }
    return false;
  }
  switch (static_cast<BinaryOp>(o.op)) {
#define FASTSYNC_CASE(op, Name)                                                \
  case BinaryOp::op:                                                           \
    if constexpr (elementwise::binary_supports<BinaryOp::op, C>()) {           \
      return std::is_same_v<elementwise::binary_result_t<BinaryOp::op, C>, C>; \
    }                                                                          \
    return false;
    FASTSYNC_BINARY_OPS(FASTSYNC_CASE)
#undef FASTSYNC_CASE
  }
  return false;
}

// Storage and compute type names, and the conversions between them, per
// dtype. Half types are stored as their bits: the generated code includes
// no CUDA header, and rounds as __float2half_rn / __float2bfloat16_rn do.
struct TypeCode {
  const char* storage;
  const char* compute;
  const char* load;   // a function of the stored value, or "" (a plain cast)
  const char* store;  // a function of the computed value, or ""
};

TypeCode type_code(Dtype d) {
  switch (d.val) {
    case Dtype::Val::float16: return {"unsigned short", "float", "fs_f16_to_f32", "fs_f32_to_f16"};
    case Dtype::Val::bfloat16:
      return {"unsigned short", "float", "fs_bf16_to_f32", "fs_f32_to_bf16"};
    case Dtype::Val::float32: return {"float", "float", "", ""};
    case Dtype::Val::float64: return {"double", "double", "", ""};
    default: throw std::logic_error("[compile] fused chains are floating point only");
  }
}

constexpr const char* kHalfHelpers = R"fsgen(
__device__ inline float fs_f16_to_f32(unsigned short h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}
__device__ inline unsigned short fs_f32_to_f16(float f) {
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}
__device__ inline float fs_bf16_to_f32(unsigned short h) { return __uint_as_float(unsigned(h) << 16); }
__device__ inline unsigned short fs_f32_to_bf16(float f) {
  unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);  // quiet NaN
  return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);  // nearest, ties to even
}
)fsgen";

}  // namespace

std::string fused_kernel_source(const FusedProgram& prog, Dtype dtype, const FusedRead* reads,
                                bool vectorized) {
  TypeCode t = type_code(dtype);
  auto load = [&](const std::string& v) {
    return *t.load ? std::string(t.load) + "(" + v + ")" : std::string("(") + t.compute + ")" + v;
  };
  auto store = [&](const std::string& v) {
    return *t.store ? std::string(t.store) + "(" + v + ")" : v;
  };
  const std::vector<int> outs = prog.output_slots();
  // The chain for element i: slot k of input k read as `at(k)`, then each op.
  auto body = [&](const std::string& indent, auto&& in_expr) {
    std::string b;
    for (int k = 0; k < prog.n_inputs; ++k) {
      b += indent + "const " + t.compute + " s" + std::to_string(k) + " = " + load(in_expr(k)) +
           ";\n";
    }
    for (size_t j = 0; j < prog.ops.size(); ++j) {
      const FusedOp& o = prog.ops[j];
      std::string a = "s" + std::to_string(o.a), bb = "s" + std::to_string(o.b);
      b += indent + "const " + t.compute + " s" +
           std::to_string(prog.n_inputs + static_cast<int>(j)) + " = ";
      if (o.unary) {
        b += std::string("UnaryFn<UnaryOp::") + kUnaryNames[o.op] + ">{}(" + a + ");\n";
      } else {
        b += std::string("BinaryFn<BinaryOp::") + kBinaryNames[o.op] + ">{}(" + a + ", " + bb +
             ");\n";
      }
    }
    return b;
  };
  auto element = [&](int k, const std::string& i) {
    std::string ks = std::to_string(k);
    std::string at = reads[k] == FusedRead::dense    ? i
                     : reads[k] == FusedRead::cyclic ? i + " % m" + ks
                                                     : "0";
    return "in" + ks + "[" + at + "]";
  };
  std::string src = "#include \"backend/common/elementwise.h\"\n";
  src += kHalfHelpers;
  if (vectorized) {
    src += std::string("struct alignas(16) fs_vec { ") + t.storage + " e[16 / sizeof(" + t.storage +
           ")]; };\n";
  }
  src += "extern \"C\" __global__ void fused(";
  for (int k = 0; k < prog.n_inputs; ++k) {
    src += std::string("const ") + t.storage + "* in" + std::to_string(k) + ", ";
  }
  for (size_t o = 0; o < outs.size(); ++o) {
    src += std::string(t.storage) + "* out" + std::to_string(o) + ", ";
  }
  src += "long long n";
  for (int k = 0; k < prog.n_inputs; ++k) {
    if (reads[k] == FusedRead::cyclic) src += ", long long m" + std::to_string(k);
  }
  src += ") {\n  using namespace fastsync;\n  using namespace fastsync::elementwise;\n";
  src +=
      "  const long long tid = blockIdx.x * (long long)blockDim.x + threadIdx.x;\n"
      "  const long long stride = (long long)gridDim.x * blockDim.x;\n"
      "  long long first = 0;\n";
  if (vectorized) {
    // 16 bytes of every dense operand per load and store; the lanes of a
    // unit unrolled. The n % V elements left run one a thread below.
    src += std::string("  constexpr int V = 16 / sizeof(") + t.storage + ");\n";
    src += "  const long long units = n / V;\n";
    src += "  for (long long u = tid; u < units; u += stride) {\n";
    for (int k = 0; k < prog.n_inputs; ++k) {
      if (reads[k] == FusedRead::dense) {
        std::string ks = std::to_string(k);
        src += "    const fs_vec v" + ks + " = reinterpret_cast<const fs_vec*>(in" + ks + ")[u];\n";
      }
    }
    for (size_t o = 0; o < outs.size(); ++o) src += "    fs_vec w" + std::to_string(o) + ";\n";
    src += "#pragma unroll\n    for (int l = 0; l < V; ++l) {\n";
    src += "      const long long i = u * V + l;\n      (void)i;\n";
    src += body("      ", [&](int k) {
      return reads[k] == FusedRead::dense ? "v" + std::to_string(k) + ".e[l]" : element(k, "i");
    });
    for (size_t o = 0; o < outs.size(); ++o) {
      src +=
          "      w" + std::to_string(o) + ".e[l] = " + store("s" + std::to_string(outs[o])) + ";\n";
    }
    src += "    }\n";
    for (size_t o = 0; o < outs.size(); ++o) {
      std::string os = std::to_string(o);
      src += "    reinterpret_cast<fs_vec*>(out" + os + ")[u] = w" + os + ";\n";
    }
    src += "  }\n  first = units * V;\n";
  }
  src += "  for (long long i = first + tid; i < n; i += stride) {\n";
  src += body("    ", [&](int k) { return element(k, "i"); });
  for (size_t o = 0; o < outs.size(); ++o) {
    src += "    out" + std::to_string(o) + "[i] = " + store("s" + std::to_string(outs[o])) + ";\n";
  }
  src += "  }\n}\n";
  return src;
}

bool fused_op_computes_in(const FusedOp& o, Dtype dtype) {
  return dtype == float64 ? computes_in<double>(o) : computes_in<float>(o);
}

}  // namespace fastsync::cuda
