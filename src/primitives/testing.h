// A primitive whose compute task always throws: lets tests check that an
// error inside a worker task surfaces at the next wait and leaves the
// runtime usable.
#pragma once

#include <string>

#include "primitive.h"

namespace fastsync {

class FailInTask : public Primitive {
 public:
  FailInTask(Stream s, std::string message) : Primitive(s), message_(std::move(message)) {}
  const char* name() const override { return "FailInTask"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  FASTSYNC_EVAL_GPU

 private:
  std::string message_;
};

}  // namespace fastsync
