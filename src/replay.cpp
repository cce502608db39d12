#include "replay.h"

#include <stdexcept>
#include <string>
#include <unordered_map>

#include "errors.h"
#include "primitive.h"
#include "transforms.h"

namespace fastsync {

namespace {

bool pending(const array& a) { return a.has_node() && a.status() == Status::unscheduled; }

}  // namespace

namespace compile_trace {

namespace {
// The innermost open scope of this thread (each thread traces on its own).
thread_local Scope* current = nullptr;
}  // namespace

bool active() { return current != nullptr; }

namespace {
// The error's words for each tracer: its name, what a value read would be
// fixed into, and the way out.
struct TracerWords {
  const char* name;
  const char* fixed_into;
  const char* outside;
};
TracerWords words(Tracer t) {
  if (t == Tracer::vmap) {
    return {"vmap", "every entry of the batch", "call the function on each entry"};
  }
  return {"compile", "every later call", "call the function uncompiled"};
}
}  // namespace

void check_eval(const std::vector<array>& outputs) {
  if (!current) return;
  for (const array& a : outputs) {
    if (pending(a)) {
      const TracerWords w = words(current->tracer_);
      throw std::invalid_argument(std::string("[") + w.name + "] cannot evaluate an array while " +
                                  w.name + " traces the function: its value would be fixed into " +
                                  w.fixed_into + ". Return it instead (or " + w.outside + ").");
    }
  }
}

void check_read(const array& a) {
  for (Scope* s = current; s; s = s->outer_) {
    if (pending(a) || s->inputs_.count(a.id())) {
      const TracerWords w = words(s->tracer_);
      throw std::invalid_argument(
          std::string("[") + w.name +
          "] cannot read an array's value (item, tolist, a NumPy conversion, a Python branch on "
          "it) while " +
          w.name + " traces the function: the value read would be fixed into " + w.fixed_into +
          ". Compute with arrays instead (mx.where for branches), or " + w.outside + ".");
    }
  }
}

void note_global_key(const array& key) {
  if (current) current->keys_.push_back(key);
}

Scope::Scope(const std::vector<array>& inputs, Tracer tracer) : outer_(current), tracer_(tracer) {
  for (const array& a : inputs) inputs_.insert(a.id());
  current = this;
}

Scope::~Scope() { close(); }

std::vector<array> Scope::close() {
  if (open_) {
    open_ = false;
    // Scopes close innermost first (Python's try/finally nests them).
    current = outer_;
    if (outer_) outer_->keys_.insert(outer_->keys_.end(), keys_.begin(), keys_.end());
  }
  return keys_;
}

}  // namespace compile_trace

Tape::Tape(const std::vector<array>& inputs, const std::vector<array>& outputs)
    : n_inputs_(inputs.size()) {
  std::unordered_map<const void*, int> input_index;
  for (size_t i = 0; i < inputs.size(); ++i) {
    input_index.emplace(inputs[i].id(), static_cast<int>(i));
  }
  std::unordered_map<const void*, int> constant_index;
  // Step number of each visited node (-1 while on the stack).
  std::unordered_map<const Node*, int> step_of;
  auto is_input = [&](const array& a) { return input_index.count(a.id()) > 0; };
  auto ref_of = [&](const array& a) -> Ref {
    if (auto it = input_index.find(a.id()); it != input_index.end()) {
      return {From::input, it->second};
    }
    if (pending(a)) return {From::step, step_of.at(a.node().get()), a.position()};
    auto [it, fresh] = constant_index.emplace(a.id(), static_cast<int>(constants_.size()));
    if (fresh) constants_.push_back(a);
    return {From::constant, it->second};
  };
  auto unvisited = [&](const array& a) {
    return !is_input(a) && pending(a) && !step_of.count(a.node().get());
  };

  with_encode_lock([&] {
    std::vector<std::pair<array, size_t>> stack;
    for (const array& o : outputs) {
      if (!unvisited(o)) continue;
      step_of[o.node().get()] = -1;
      stack.push_back({o, 0});
      while (!stack.empty()) {
        const array a = stack.back().first;
        size_t& next = stack.back().second;
        const auto& ins = a.inputs();
        if (next < ins.size()) {
          const array in = ins[next++];
          if (unvisited(in)) {
            step_of[in.node().get()] = -1;
            stack.push_back({in, 0});
          }
          continue;
        }
        stack.pop_back();
        Step step;
        for (const array& in : ins) {
          step.inputs.push_back(ref_of(in));
          step.input_shapes.push_back(in.shape());
        }
        const Node& n = *a.node();
        step.primitive = n.primitive;
        // Single-output nodes keep their shape in the array only (array.h).
        step.shapes = n.outputs.size() == 1 ? std::vector<Shape>{a.shape()} : n.shapes;
        step.dtypes = n.outputs.size() == 1 ? std::vector<Dtype>{a.dtype()} : n.dtypes;
        step_of[&n] = static_cast<int>(steps_.size());
        steps_.push_back(std::move(step));
      }
    }
    for (const array& o : outputs) outputs_.push_back(ref_of(o));
  });
}

std::vector<int64_t> Tape::signature(const std::vector<array>& arrays, bool shapeless) {
  std::vector<int64_t> sig;
  std::unordered_map<const void*, int64_t> first;
  for (size_t i = 0; i < arrays.size(); ++i) {
    const array& a = arrays[i];
    sig.push_back(first.emplace(a.id(), static_cast<int64_t>(i)).first->second);
    sig.push_back(static_cast<int64_t>(a.dtype().val));
    sig.push_back(a.ndim());
    if (!shapeless) sig.insert(sig.end(), a.shape().begin(), a.shape().end());
  }
  return sig;
}

std::vector<array> Tape::operator()(const std::vector<array>& inputs, bool shapeless) const {
  if (inputs.size() != n_inputs_) {
    throw std::invalid_argument("[compile] the recorded function takes " +
                                std::to_string(n_inputs_) + " arrays, got " +
                                std::to_string(inputs.size()));
  }
  std::vector<std::vector<array>> made(steps_.size());
  auto get = [&](const Ref& r) -> const array& {
    switch (r.from) {
      case From::input: return inputs[r.index];
      case From::constant: return constants_[r.index];
      default: return made[r.index][r.output];
    }
  };
  for (size_t j = 0; j < steps_.size(); ++j) {
    const Step& step = steps_[j];
    std::vector<array> ins;
    ins.reserve(step.inputs.size());
    bool reshaped = false;
    for (size_t k = 0; k < step.inputs.size(); ++k) {
      ins.push_back(get(step.inputs[k]));
      reshaped |= ins.back().shape() != step.input_shapes[k];
    }
    std::vector<Shape> shapes = step.shapes;
    if (reshaped) {
      const Primitive& p = *step.primitive;
      if (!shapeless) {
        throw std::invalid_argument(std::string("[compile] ") + p.name() +
                                    " was recorded for other input shapes");
      }
      if (!p.shapes_from_inputs()) {
        throw std::invalid_argument(
            std::string("[compile] shapeless: ") + p.name() + " was built for fixed shapes (" +
            shape_str(step.shapes[0]) +
            ") and cannot follow inputs of new shapes; compile without shapeless=True, or use "
            "ops whose shapes follow their inputs");
      }
      try {
        shapes = p.output_shapes(ins);
      } catch (const not_implemented&) {
        throw std::invalid_argument(std::string("[compile] shapeless: ") + p.name() +
                                    " cannot infer its output shapes from new input shapes");
      }
    }
    if (shapes.size() == 1) {
      made[j] = {array(std::move(shapes[0]), step.dtypes[0], step.primitive, std::move(ins))};
    } else {
      made[j] = array::make_arrays(std::move(shapes), step.dtypes, step.primitive, std::move(ins));
    }
  }
  std::vector<array> out;
  out.reserve(outputs_.size());
  for (const Ref& r : outputs_) out.push_back(get(r));
  return out;
}

}  // namespace fastsync
