// The value guard of the tracing transforms (compile, vmap): while a
// compile_trace::Scope is open on a thread, evaluating a pending array or
// reading the value of one (or of an input of the trace) raises, since the
// value would be fixed into the traced graph; keys drawn from the global
// random state are logged (compile replays them as inputs). Scopes nest and
// belong to their thread. Implemented in replay.cpp.
#pragma once

#include <unordered_set>
#include <vector>

#include "array.h"

namespace fastsync {

namespace compile_trace {

bool active();
// Raise when the calling thread traces and `outputs` hold pending work.
void check_eval(const std::vector<array>& outputs);
// Raise when the calling thread traces and `a` is pending or an input.
void check_read(const array& a);
// Called by the random ops for each key drawn from the global state.
void note_global_key(const array& key);

// The transform tracing, named in the errors: a value read under compile
// would be fixed into every later call, under vmap into every entry.
enum class Tracer { compile, vmap };

class Scope {
 public:
  explicit Scope(const std::vector<array>& inputs, Tracer tracer = Tracer::compile);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
  // Ends the trace (idempotent); returns the global keys drawn inside it.
  // An enclosing scope hears of them too: they are constants of its graph.
  std::vector<array> close();

 private:
  std::unordered_set<const void*> inputs_;
  std::vector<array> keys_;
  Scope* outer_ = nullptr;
  Tracer tracer_;
  bool open_ = true;
  friend void check_eval(const std::vector<array>&);
  friend void check_read(const array&);
  friend void note_global_key(const array&);
};

}  // namespace compile_trace

}  // namespace fastsync
