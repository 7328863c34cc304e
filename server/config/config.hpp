#pragma once
// parley-relay's settings: command-line flags, optionally read from a config file too
// (`--config FILE`, TOML or INI with the flags' long names as keys).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "gateway/client_address.hpp"
#include "media/media_context.hpp"
#include "routing/redis_link.hpp"
#include "session/relay_context.hpp"

namespace parley {

struct Config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 7700;
  std::filesystem::path data_dir = "parley-data";
  // Empty: data_dir/media. Gateways of a tier give one shared directory (a network
  // filesystem with POSIX locks and atomic rename), so media crosses gateways.
  std::filesystem::path media_dir;
  // From --media-key-file: the key signing media tokens, the same on every gateway of a tier
  // (32 bytes, a hash of the file's first line). Empty: a random key of this process's own.
  std::string media_token_key;
  // Empty: the embedded store (relay.db in data_dir). Else a libpq connection string or
  // postgresql:// URI: the store of a multi-gateway tier (store/postgres/).
  std::string postgres;
  // Empty: no other gateways. Else HOST:PORT or unix:PATH of the Redis that gateways sharing
  // the PostgreSQL store route through (routing/redis_router.hpp).
  std::string redis;
  routing::RedisCredentials redis_credentials;  // from --redis-user, --redis-password-file
  // Among gateways: how long a device's entry in Redis outlives its gateway's last refresh
  // (every third of it); a dead gateway's users are shown offline after about this long.
  std::chrono::seconds presence_ttl{120};
  // Among gateways: how often to look for group fan-outs another gateway left half-done.
  std::chrono::seconds fanout_take_over{60};
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  unsigned threads = 0;  // 0: one per core
  bool durable_fsync = true;
  std::chrono::hours retention{24 * 30};
  std::chrono::hours dedup_window{24 * 7};
  std::chrono::hours last_seen_ttl{24 * 7};
  std::chrono::seconds idle_timeout{60};
  std::size_t max_frame_bytes = 256 * 1024;  // at least limits::kMaxFrameBytes
  std::size_t store_queue = 65536;
  // Store connections (each with its thread) for connections' sends, reads and acks; 0: the
  // default, 4 on PostgreSQL, 1 on SQLite (its single writer).
  unsigned store_connections = 0;
  bool public_metrics = false;
  std::uint32_t max_connections_per_address = 1000;  // 0: no limit
  double connections_per_address_per_second = 20;   // new ones, a burst of 10 s' worth; 0: none
  // The same for a network (an IPv4 /24, an IPv6 /48), its addresses together.
  std::uint32_t max_connections_per_network = 10000;
  double connections_per_network_per_second = 200;
  TrustedProxies trusted_proxies;
  std::string log_level = "info";
  SessionLimits limits;
  media::MediaLimits media;
};

// Parses argv. Returns the config, or nullopt with `exit_code` set when the program should
// exit now (help shown: 0; bad flags: 2, with the reason already printed).
std::optional<Config> parse_config(int argc, char** argv, int& exit_code);

}  // namespace parley
