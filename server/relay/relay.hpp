#pragma once
#include "config/config.hpp"

namespace parley {

// Runs a relay until SIGINT/SIGTERM, then stops accepting, closes every connection with
// "going away", finishes the store's queued work and returns the process exit code.
int run_relay(const Config& config);

}  // namespace parley
