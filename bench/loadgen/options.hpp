#pragma once
// Command-line options shared by the coordinating parent and its worker processes (a
// worker is the same binary started with --worker-index).
#include <cstdint>
#include <string>

namespace parley::loadgen {

struct Options {
  std::string scenario;              // idle | pairs | replay | fanout | media
  std::string relay = "127.0.0.1:7700";
  // Gateways of one multi-gateway relay tier (comma-separated HOST:PORT), instead of
  // --relay for the users' connections; empty: every user on --relay.
  std::string gateways;
  long relay_pid = 0;                // for RSS figures; 0: not reported
  std::string label;                 // prefixed to every figure, e.g. the relay's settings
  std::string prefix;                // user name prefix; random per run when empty
  bool no_register = false;          // the users exist already (an earlier run's --prefix)
  unsigned workers = 1;              // processes; each holds < 20,000 descriptors
  int worker_index = -1;             // >= 0: this process is a worker
  unsigned concurrency = 200;        // connection set-ups in flight per worker
  double timeout_seconds = 600;      // a worker still running after this fails
  // idle
  unsigned connections = 1000;
  double settle_seconds = 3;
  // pairs
  unsigned pairs = 500;
  unsigned window = 1;               // messages in flight per pair (closed loop)
  double rate = 0;                   // offered msgs/s over all pairs; 0: closed loop
  double warmup_seconds = 2;
  double duration_seconds = 10;
  unsigned payload_bytes = 200;
  // replay
  unsigned messages = 10000;
  // fanout
  unsigned members = 1000;
  unsigned group_messages = 50;
  unsigned group_window = 4;         // GroupSends in flight
  // media
  unsigned media_transfers = 4;      // transfers at a time, each with its own user
  unsigned media_files = 4;          // files each of them uploads, then downloads
  std::uint64_t media_bytes = 4u << 20;  // ciphertext bytes per file
  std::uint64_t media_chunk_bytes = 0;   // bytes per PATCH / ranged GET; 0: whole file
};

}  // namespace parley::loadgen
