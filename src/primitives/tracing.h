// Primitives the transforms add to a graph: tracers, the stop_gradient wall
// and custom-derivative functions. All are views: nothing is computed.
#pragma once

#include "autodiff.h"
#include "primitives/shape.h"

namespace fastsync {

// The input itself. A transform traces a function on identities of its
// primals, so each primal is a distinct node the backward walk can find
// (even when one array is passed twice).
class Identity : public ViewPrimitive {
 public:
  using ViewPrimitive::ViewPrimitive;
  const char* name() const override { return "Identity"; }
  FASTSYNC_VMAP
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override {
    return {inputs[0].shape()};
  }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override;

 private:
  void view(const array& in, array& out) const override;
};

// The input itself, through which no derivative flows.
class StopGradient : public Identity {
 public:
  using Identity::Identity;
  const char* name() const override { return "StopGradient"; }
  bool passes_gradient(int) const override { return false; }
};

// Inputs: the forward function's outputs, then its primals. Outputs: views
// of the former, whose derivatives come from the user's rules (or from the
// forward graph when a rule is absent).
class CustomTransforms : public Depends {
 public:
  CustomTransforms(Stream s, int n_outputs, CustomVjp vjp, CustomJvp jvp)
      : Depends(s, n_outputs), vjp_(std::move(vjp)), jvp_(std::move(jvp)) {}
  const char* name() const override { return "CustomTransforms"; }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override;
  bool passes_gradient(int input) const override { return input >= n_; }

 private:
  CustomVjp vjp_;
  CustomJvp jvp_;
};

}  // namespace fastsync
