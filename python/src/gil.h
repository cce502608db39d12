// The GIL and the bindings' threads.
//
// ReleaseGil: the GIL released around a blocking call of the bindings (eval,
// item, a wait), for its scope (also usable as nb::call_guard). Why not
// nb::gil_scoped_release: when the interpreter finalizes while a daemon thread
// is inside such a call, CPython before 3.14 ends that thread as it takes the
// GIL back, by unwinding it (pthread_exit); the unwinding meets noexcept
// frames (the guard's destructor, nanobind's dispatch) and the process aborts
// ("terminate called without an active exception") instead of exiting. So
// from the atexit hook on (prepare_exit, main thread) a thread leaving such a
// call waits: it parks for good once the interpreter finalizes, and goes on
// after 2 s if it has not (an exit hook registered before fastsync's may be
// waiting for a lock that thread holds). One already waiting for the GIL is
// let through first. The main thread never waits. From 3.14 CPython parks such
// threads itself and the hook does nothing.
//
// release_later: a Python reference dropped later, by a thread holding the GIL
// and no lock of the library (a ReleaseGil leaving its scope, the bindings of
// the transforms, or one pending call of the interpreter). For references held
// by graph nodes, which are freed on any thread, under the encoding lock too.
//
// One interpreter per process (sub-interpreters are not supported).
#pragma once

#include <Python.h>

namespace fastsync::py {

// Any thread, any lock held; steals the reference.
void release_later(PyObject* o);
// With the GIL and no lock of the library: drops what release_later kept.
void drain_released();

namespace exit_gate {
// With the GIL, on the main thread, before the interpreter finalizes.
void prepare_exit();
// Around taking the GIL back, on the releasing thread (its state `self`).
void wait_if_closing(PyThreadState* self);
void leave();
}  // namespace exit_gate

class ReleaseGil {
 public:
  ReleaseGil() : state_(PyEval_SaveThread()) {}
  ~ReleaseGil() {
    exit_gate::wait_if_closing(state_);
    PyEval_RestoreThread(state_);
    exit_gate::leave();
    drain_released();
  }
  ReleaseGil(const ReleaseGil&) = delete;
  ReleaseGil& operator=(const ReleaseGil&) = delete;

 private:
  PyThreadState* state_;
};

}  // namespace fastsync::py
