// The GIL released around a blocking call of the bindings (eval, item, a
// wait), for the scope of a ReleaseGil (also usable as nb::call_guard).
//
// Why not nb::gil_scoped_release: when the interpreter finalizes while a
// daemon thread is inside such a call, CPython before 3.14 ends that thread as
// it takes the GIL back, by unwinding it (pthread_exit); the unwinding meets
// noexcept frames (the guard's destructor, nanobind's dispatch) and the
// process aborts ("terminate called without an active exception") instead of
// exiting. So at exit (prepare_exit, from an atexit hook on the main thread)
// a thread leaving such a call parks instead, holding no lock of the library,
// and ends with the process; one already waiting for the GIL is let through
// first. The main thread itself is never parked.
#pragma once

#include <Python.h>

namespace fastsync::py {

namespace exit_gate {
// With the GIL, on the main thread, before the interpreter finalizes.
void prepare_exit();
// Around taking the GIL back: false when the caller must park instead.
bool enter(PyThreadState* self);
void leave();
[[noreturn]] void park();
}  // namespace exit_gate

class ReleaseGil {
 public:
  ReleaseGil() : state_(PyEval_SaveThread()) {}
  ~ReleaseGil() {
    if (!exit_gate::enter(state_)) exit_gate::park();
    PyEval_RestoreThread(state_);
    exit_gate::leave();
  }
  ReleaseGil(const ReleaseGil&) = delete;
  ReleaseGil& operator=(const ReleaseGil&) = delete;

 private:
  PyThreadState* state_;
};

}  // namespace fastsync::py
