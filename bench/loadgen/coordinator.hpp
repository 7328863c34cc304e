#pragma once
#include "options.hpp"

namespace parley::loadgen {

// The parent process: starts the workers, releases them through each phase together,
// samples the relay's memory at the phase boundaries, merges the workers' counts and
// histograms, and prints one table row per figure. Returns the exit code.
int coordinate(Options options, const char* self_path);

}  // namespace parley::loadgen
