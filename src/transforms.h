// The eval driver: turns a graph into encoded work on streams.
#pragma once

#include <vector>

#include "array.h"

namespace fastsync {

// Evaluates `outputs` and waits until they are computed. Rethrows the first
// error raised while encoding or computing them.
void eval(std::vector<array> outputs);
// Encodes `outputs` and returns at once; reading them waits.
void async_eval(std::vector<array> outputs);
// Waits until all work already encoded on `s` is done; rethrows its error.
void synchronize(Stream s);
// Waits for every stream that ever received work.
void synchronize();

}  // namespace fastsync
