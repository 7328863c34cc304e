// parley-loadgen: drives a running relay with many authenticated connections speaking the
// real protocol, and prints figures as Markdown table rows (figure | value | unit).
#include <sodium.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "coordinator.hpp"
#include "endpoint.hpp"
#include "worker.hpp"

int main(int argc, char** argv) {
  using parley::loadgen::Options;
  if (sodium_init() < 0) {
    std::fprintf(stderr, "parley-loadgen: libsodium failed to initialise\n");
    return 1;
  }
  Options o;
  CLI::App app{"parley-loadgen: load scenarios against a running parley-relay (loopback only)"};
  app.add_option("--scenario", o.scenario, "idle, pairs, replay, fanout or media")
      ->required()
      ->check(CLI::IsMember({"idle", "pairs", "replay", "fanout", "media"}));
  app.add_option("--relay", o.relay, "Relay HOST:PORT (plain ws://)")->capture_default_str();
  app.add_option("--relay-pid", o.relay_pid, "Relay process id, for its memory figures");
  app.add_option("--gateways", o.gateways,
                 "Gateways HOST:PORT,HOST:PORT,... sharing one store: users spread over them, "
                 "a pair's sender and receiver on different ones (--relay: the first's figures)");
  app.add_option("--label", o.label, "Put in front of every figure's name, e.g. the relay's settings");
  app.add_option("--prefix", o.prefix, "User name prefix (default: fresh per run)");
  app.add_flag("--no-register", o.no_register,
               "Users exist already (same --prefix on the same data directory): log in only");
  app.add_option("--workers", o.workers, "Worker processes (each keeps under 20,000 descriptors)")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_option("--worker-index", o.worker_index)->group("");  // set by the parent
  app.add_option("--concurrency", o.concurrency, "Connection set-ups in flight per worker")
      ->check(CLI::Range(1u, 10000u))
      ->capture_default_str();
  app.add_option("--timeout", o.timeout_seconds, "Seconds after which a worker gives up (bounded runs)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--connections", o.connections, "idle: connections to hold")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  app.add_option("--settle", o.settle_seconds, "idle: seconds to wait before measuring")->capture_default_str();
  app.add_option("--pairs", o.pairs, "pairs: sender/receiver pairs")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_option("--window", o.window, "pairs: messages in flight per pair (closed loop)")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  app.add_option("--rate", o.rate, "pairs: offered msgs/s over all pairs; fanout: GroupSends/s offered; 0 = closed loop")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--warmup", o.warmup_seconds, "pairs: seconds before measuring")->capture_default_str();
  app.add_option("--duration", o.duration_seconds, "pairs: seconds measured")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--payload-bytes", o.payload_bytes, "Ciphertext size")
      ->check(CLI::Range(16u, 200u * 1024u))
      ->capture_default_str();
  app.add_option("--messages", o.messages, "replay: messages queued before the device connects")
      ->check(CLI::Range(1u, 100000000u))
      ->capture_default_str();
  app.add_option("--members", o.members, "fanout: group members, sender included")
      ->check(CLI::Range(2u, 100000u))
      ->capture_default_str();
  app.add_option("--group-messages", o.group_messages, "fanout: messages sent to the group")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  app.add_option("--group-window", o.group_window, "fanout: GroupSends in flight")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  app.add_option("--media-transfers", o.media_transfers,
                 "media: transfers at a time, each with its own user and connections")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  app.add_option("--media-files", o.media_files, "media: files each transfer uploads, then downloads")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_option("--media-bytes", o.media_bytes, "media: ciphertext bytes per file (held once in memory)")
      ->check(CLI::Range(std::uint64_t{17}, std::uint64_t{1} << 30))
      ->capture_default_str();
  app.add_option("--media-chunk-bytes", o.media_chunk_bytes,
                 "media: bytes per PATCH and per ranged GET; 0 = the whole file in one request, as the client does")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 30))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    (void)parley::loadgen::parse_loopback_endpoint(o.relay, "--relay");
    (void)parley::loadgen::parse_gateways(o.gateways);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "parley-loadgen: %s\n", e.what());
    return 2;
  }

  // Connections are descriptors: take the whole allowance (20,000 here).
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  try {
    if (o.worker_index >= 0) return parley::loadgen::Worker(o).run();
    return parley::loadgen::coordinate(o, "/proc/self/exe");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parley-loadgen: %s\n", e.what());
    return 1;
  }
}
