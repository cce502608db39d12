// Text forms of arrays for people (repr/str), as MLX prints them: values with
// six significant digits, at most three leading and three trailing entries
// per axis longer than six. Reads an evaluated host array; any thread.
#pragma once

#include <string>

#include "array.h"

namespace fastsync {

// "array([[1, 2],\n       [3, 4]], dtype=int32)"; `a` must be evaluated and
// readable on the host.
std::string format_array(const array& a);

// Digits after the point for floats (fixed notation), or -1 for the default
// six significant digits. Process-wide; any thread (an atomic).
void set_print_precision(int digits);
int print_precision();

}  // namespace fastsync
