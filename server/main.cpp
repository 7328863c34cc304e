#include <sodium.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>

#include "config/config.hpp"
#include "relay/relay.hpp"

int main(int argc, char** argv) {
  // First: reading the config already hashes and wipes secrets (--media-key-file).
  if (sodium_init() < 0) {
    std::fprintf(stderr, "parley-relay: libsodium failed to initialise\n");
    return 1;
  }
  int exit_code = 0;
  auto config = parley::parse_config(argc, argv, exit_code);
  if (!config) return exit_code;
  // A write to a peer that has gone must fail with EPIPE, not end the process: hiredis
  // writes with plain write(2), so Redis restarting would otherwise take every gateway down
  // with it. (Asio and libpq already avoid the signal on their own sockets.)
  std::signal(SIGPIPE, SIG_IGN);
  // Logs go to stderr; stdout carries only the "listening on" line that scripts read.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("relay"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  return parley::run_relay(*config);
}
