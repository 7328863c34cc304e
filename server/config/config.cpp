#include "config/config.hpp"

#include <CLI/CLI.hpp>
#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "parley/limits.hpp"
#include "routing/redis_link.hpp"

namespace parley {
namespace {

// A limit kept in bytes and given in MiB (1 .. 2^30); its help shows the default in MiB.
void add_mib_option(CLI::App& app, const std::string& name, std::uint64_t& bytes,
                    const std::string& what) {
  app.add_option_function<std::uint64_t>(
         name, [&bytes](const std::uint64_t& mib) { bytes = mib << 20; }, what)
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 30))
      ->default_str(std::to_string(bytes >> 20));
}

// The first line of `path` (without its line ending) into `out`; "" on success, else why
// not. The file must be the owner's alone, as libpq asks of a password file: a secret
// others can read is no longer one.
std::string read_secret_file(const std::string& flag, const std::string& path, std::string& out) {
  const auto where = flag + " " + path + ": ";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return where + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return where + "not a regular file";
  if ((st.st_mode & 077) != 0)
    return where + "group or others may read it; chmod 600 it (it holds a secret)";
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return where + std::strerror(errno);
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf, f);
  std::fclose(f);
  std::string_view text(buf, n);
  text = text.substr(0, text.find_first_of("\r\n"));
  std::string why;
  if (text.empty())
    why = where + "the first line is empty";
  else if (text.size() == n && n == sizeof buf)
    why = where + "longer than 1023 bytes";
  else
    out.assign(text);
  sodium_memzero(buf, sizeof buf);
  return why;
}

}  // namespace

std::optional<Config> parse_config(int argc, char** argv, int& exit_code) {
  Config c;
  CLI::App app{"parley-relay: the Parley relay. Stores only ciphertext, in per-device inboxes, "
               "until each device acknowledges it."};
  app.set_config("--config", "", "Read options from a TOML/INI file (keys are the long flag names)");
  std::string listen = c.listen_host + ":" + std::to_string(c.listen_port);
  app.add_option("--listen", listen, "HOST:PORT to serve; HOST an IP address or localhost, PORT 0 picks a free one")
      ->capture_default_str();
  app.add_option("--data-dir", c.data_dir, "Directory for relay.db (created if missing)")
      ->capture_default_str();
  app.add_option("--postgres", c.postgres,
                 "Keep the store in this PostgreSQL database instead of relay.db: a libpq "
                 "connection string or postgresql:// URI (put a password in PGPASSFILE, not "
                 "here: the command line is public)")
      ->envname("PARLEY_POSTGRES");
  app.add_option("--redis", c.redis,
                 "Route to devices on other gateways through this Redis (HOST:PORT or "
                 "unix:PATH); needs --postgres, the store the gateways share")
      ->envname("PARLEY_REDIS");
  std::string redis_password_file;
  app.add_option("--redis-password-file", redis_password_file,
                 "File whose first line is the password for Redis's AUTH (owner-only: mode "
                 "0600 or stricter, as PGPASSFILE); without it, no AUTH")
      ->envname("PARLEY_REDIS_PASSWORD_FILE");
  unsigned presence_ttl_seconds = 120;
  app.add_option("--presence-ttl-seconds", presence_ttl_seconds,
                 "With --redis: how long a device's entry outlives its gateway's last refresh "
                 "(refreshed every third of it); a gateway silent this long is taken for dead "
                 "and its users shown offline")
      ->check(CLI::Range(3u, 3600u))
      ->capture_default_str();
  unsigned take_over_seconds = 60;
  app.add_option("--fanout-take-over-seconds", take_over_seconds,
                 "With --redis: how often to look for group fan-outs that stopped half-done (a "
                 "gateway died) and take over those that were behind at the last look too")
      ->check(CLI::Range(1u, 86400u))
      ->capture_default_str();
  app.add_option("--redis-user", c.redis_credentials.user,
                 "Redis ACL user to AUTH as (Redis 6 and later; default: the default user)")
      ->envname("PARLEY_REDIS_USER");
  app.add_option("--tls-cert", c.tls_cert, "PEM certificate chain: serve wss:// instead of ws://")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", c.tls_key, "PEM private key for --tls-cert")->check(CLI::ExistingFile);
  app.add_option("--threads", c.threads, "I/O threads (0: one per core)")->capture_default_str();
  std::string durability = "full";
  app.add_option("--durability", durability,
                 "full: fsync every commit a client waits on (survives power loss); normal: "
                 "survives a process crash only")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  unsigned retention_days = 30, dedup_days = 7, last_seen_days = 7;
  app.add_option("--retention-days", retention_days, "Undelivered entries expire after this")
      ->check(CLI::Range(1u, 3650u))
      ->capture_default_str();
  app.add_option("--dedup-days", dedup_days, "How long a client_msg_id is remembered per sender")
      ->check(CLI::Range(1u, 3650u))
      ->capture_default_str();
  app.add_option("--last-seen-days", last_seen_days, "How long last-seen is kept in memory")
      ->check(CLI::Range(1u, 365u))
      ->capture_default_str();
  unsigned idle = 60, auth = 30;
  app.add_option("--idle-timeout", idle, "Seconds without any traffic before a connection is closed")
      ->check(CLI::Range(2u, 3600u))
      ->capture_default_str();
  app.add_option("--auth-timeout", auth, "Seconds a connection may stay logged out")
      ->check(CLI::Range(1u, 600u))
      ->capture_default_str();
  app.add_option("--max-frame-bytes", c.max_frame_bytes, "Largest WebSocket message accepted")
      ->check(CLI::Range(limits::kMaxFrameBytes, std::size_t{16} << 20))
      ->capture_default_str();
  app.add_option("--send-queue-bytes", c.limits.send_queue_bytes,
                 "Bytes queued to one slow reader before it is disconnected")
      ->check(CLI::Range(std::size_t{1} << 20, std::size_t{1} << 30))
      ->capture_default_str();
  unsigned stall = 20;
  app.add_option("--write-stall-timeout", stall,
                 "Seconds a reader may leave its send queue full before it is disconnected")
      ->check(CLI::Range(1u, 600u))
      ->capture_default_str();
  app.add_option("--store-connections", c.store_connections,
                 "With --postgres: database connections, each with its own store thread, over "
                 "which the connections' sends, reads and acknowledgements are spread (each one "
                 "waits for a round trip per statement; several overlap) [default: 4]")
      ->check(CLI::Range(1u, 64u));
  app.add_option("--store-queue", c.store_queue,
                 "Store jobs queued relay-wide (shared equally among --store-connections); past "
                 "it requests are refused (UNAVAILABLE) until the store catches up")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--delivery-window", c.limits.delivery_window,
                 "Inbox entries in flight to a device before it must acknowledge")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  unsigned mark_linger_ms = static_cast<unsigned>(c.limits.mark_linger.count());
  app.add_option("--mark-linger-ms", mark_linger_ms,
                 "How long a delivery mark that follows another to its device within this may "
                 "wait to share a write with other frames (0: sent at once)")
      ->check(CLI::Range(0u, 1000u))
      ->capture_default_str();
  add_mib_option(app, "--inbox-quota-mib", c.limits.inbox_quota_bytes,
                 "Undelivered entries one device's inbox may hold (MiB); past it sends to that "
                 "user are refused until the device catches up");
  add_mib_option(app, "--inbox-share-mib", c.limits.inbox_share_bytes,
                 "Of one device's inbox, what one sender's undelivered messages may hold (MiB); "
                 "past it that sender's messages to the user are refused until the device "
                 "catches up, while others' still go");
  add_mib_option(app, "--group-share-mib", c.limits.group_share_bytes,
                 "What one user's group messages and membership events not yet received by "
                 "every member may hold (MiB), all groups together; once less than the largest "
                 "message is left, that user's group sends are refused until members catch up");
  app.add_option("--group-pending-max", c.limits.group_pending_max,
                 "Group messages and events of one user the fan-out may not yet have given to "
                 "every member; past it that user's group sends wait (RATE_LIMITED)")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  app.add_option("--rate", c.limits.rate_per_second, "Frames per second one connection may send")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rate-burst", c.limits.rate_burst, "Burst allowance for --rate")
      ->check(CLI::Range(1.0, 1e9))
      ->capture_default_str();
  app.add_option("--max-group-members", c.limits.max_group_members,
                 "Members one group may have, its creator included")
      ->check(CLI::Range(2u, 10000u))  // an event lists them all: ~360 KB at 10,000
      ->capture_default_str();
  app.add_option("--one-time-prekeys-per-hour", c.limits.one_time_prekeys_per_hour,
                 "One-time prekeys of one user handed out per hour to all fetchers together"
                 " (past it, bundles carry the signed prekey only)")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  app.add_option("--group-rate", c.limits.group_rate_per_second,
                 "Messages per second one group may receive (all senders together)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--group-rate-burst", c.limits.group_rate_burst, "Burst allowance for --group-rate")
      ->check(CLI::Range(1.0, 1e9))
      ->capture_default_str();
  app.add_option("--fanout-chunk", c.limits.fanout_chunk,
                 "Group fan-out: inbox rows written per store job")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_option("--media-max-bytes", c.media.max_bytes, "Largest file (ciphertext bytes) one upload may have")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--media-quota-bytes", c.media.quota_bytes,
                 "Media bytes one user may have stored at once")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 50))
      ->capture_default_str();
  unsigned media_idle = 30;
  app.add_option("--media-idle-seconds", media_idle,
                 "An upload or download that makes no progress for this long is closed")
      ->check(CLI::Range(1u, 3600u))
      ->capture_default_str();
  unsigned media_min_rate_kib = 8;
  app.add_option("--media-min-rate-kib", media_min_rate_kib,
                 "Slowest rate (KiB/s) served: an upload or download of S bytes is closed after"
                 " S at this rate or the idle time, whichever is longer (clients resume)")
      ->check(CLI::Range(1u, 1u << 20))
      ->capture_default_str();
  std::uint64_t media_min_free_mib = 1024;
  app.add_option("--media-min-free-mib", media_min_free_mib,
                 "Disk (MiB) media may not take: an upload needs its size plus this free, and"
                 " its bytes are refused below half of it (0: no check)")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 30))
      ->capture_default_str();
  app.add_option("--media-max-downloads", c.media.max_downloads,
                 "Downloads one user may run at once (more get 503 and retry)")
      ->check(CLI::Range(1u, 10000u))
      ->capture_default_str();
  app.add_option("--media-max-transfers", c.media.max_transfers,
                 "Uploads and downloads the relay runs at once, in all (more get 503 and retry)")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  app.add_option("--media-max-uploads", c.media.max_uploads, "Unfinished uploads one user may have")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  app.add_option("--media-dir", c.media_dir,
                 "Where uploads and media blobs live (default: DATA/media). Gateways of a tier give"
                 " one shared directory, with the same --media-key-file, so media crosses them");
  std::string media_key_file;
  app.add_option("--media-key-file", media_key_file,
                 "File whose first line (32+ characters, e.g. `openssl rand -base64 32`) keys the"
                 " media tokens; the same file on every gateway lets each check the others' tokens"
                 " (owner-only: mode 600). Default: a key of this process's own");
  unsigned media_days = 30;
  app.add_option("--media-retention-days", media_days, "Uploaded media is deleted after this")
      ->check(CLI::Range(1u, 3650u))
      ->capture_default_str();
  app.add_flag("--public-metrics", c.public_metrics,
               "Serve /metrics to any client (default: clients on this host only)");
  app.add_option("--max-connections-per-address", c.max_connections_per_address,
                 "WebSocket connections one client address (an IPv4 address, an IPv6 /64) may "
                 "hold at once; 0: no limit. Loopback clients are not counted")
      ->check(CLI::Range(0u, 10000000u))
      ->capture_default_str();
  app.add_option("--connections-per-address-per-second", c.connections_per_address_per_second,
                 "New WebSocket connections one client address may open per second (a burst of "
                 "ten seconds' worth); 0: no limit. Loopback clients are not counted")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--max-connections-per-network", c.max_connections_per_network,
                 "WebSocket connections one network (an IPv4 /24, an IPv6 /48) may hold at "
                 "once, all its addresses together; 0: no limit")
      ->check(CLI::Range(0u, 10000000u))
      ->capture_default_str();
  app.add_option("--connections-per-network-per-second", c.connections_per_network_per_second,
                 "New WebSocket connections one network may open per second, all its addresses "
                 "together (a burst of ten seconds' worth); 0: no limit")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  // A budget per hour: 0 turns it off, and below 1 a bucket could never hold a whole one.
  const CLI::Validator off_or_at_least_one(
      [](const std::string& v) {
        double x = -1;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
        const bool ok = ec == std::errc() && end == v.data() + v.size() &&
                        (x == 0 || (x >= 1 && x <= 1e9));
        return ok ? std::string() : std::string("expected 0 (no limit) or 1 .. 1e9");
      },
      "0 or 1 .. 1e9");
  app.add_option("--registrations-per-address-per-hour",
                 c.limits.registrations_per_address_per_hour,
                 "Accounts one client address may register per hour (a burst of as many, "
                 "refilled over the hour); 0: no limit. Loopback clients are not counted")
      ->check(off_or_at_least_one)
      ->capture_default_str();
  app.add_option("--registrations-per-network-per-hour", c.limits.registrations_per_network_per_hour,
                 "Accounts one network (an IPv4 /24, an IPv6 /48) may register per hour, all its "
                 "addresses together; 0: no limit")
      ->check(off_or_at_least_one)
      ->capture_default_str();
  std::vector<std::string> trusted_proxies;
  app.add_option("--trusted-proxy", trusted_proxies,
                 "A reverse proxy (address or CIDR block, repeatable) whose X-Forwarded-For "
                 "header names the client; set it when the relay runs behind one, or every "
                 "client has the proxy's address");
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw CLI::ValidationError("--listen", "expected HOST:PORT, e.g. 127.0.0.1:7700");
    c.listen_host = listen.substr(0, colon);
    if (c.listen_host.size() > 2 && c.listen_host.front() == '[' && c.listen_host.back() == ']')
      c.listen_host = c.listen_host.substr(1, c.listen_host.size() - 2);
    const auto port_text = listen.substr(colon + 1);
    unsigned port = 0;
    const auto [end, err] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (err != std::errc{} || end != port_text.data() + port_text.size() || port > 65535)
      throw CLI::ValidationError("--listen", "port must be a number 0..65535, e.g. 127.0.0.1:7700");
    c.listen_port = static_cast<std::uint16_t>(port);
    if (c.tls_cert.empty() != c.tls_key.empty())
      throw CLI::ValidationError("--tls-cert/--tls-key", "give both or neither");
    std::vector<Cidr> blocks;
    for (const auto& text : trusted_proxies) {
      const auto block = Cidr::parse(text);
      if (!block)
        throw CLI::ValidationError("--trusted-proxy",
                                   "expected an address or a CIDR block, e.g. 127.0.0.1 or "
                                   "10.0.0.0/8, not '" + text + "'");
      blocks.push_back(*block);
    }
    c.trusted_proxies = TrustedProxies(std::move(blocks));
  } catch (const CLI::ParseError& e) {
    // CLI11 prints help or the error; usage errors all exit 2, like other Unix tools.
    exit_code = app.exit(e) == 0 ? 0 : 2;
    return std::nullopt;
  }
  if (c.store_connections > 1 && c.postgres.empty()) {
    std::fprintf(stderr, "--store-connections: SQLite has one writer; more connections need "
                         "--postgres\n");
    exit_code = 2;
    return std::nullopt;
  }
  if (c.store_connections == 0) c.store_connections = c.postgres.empty() ? 1 : 4;
  if (!c.redis.empty()) {
    if (c.postgres.empty()) {
      std::fprintf(stderr, "--redis: gateways routing to each other must share one store; "
                           "give --postgres too\n");
      exit_code = 2;
      return std::nullopt;
    }
    if (!routing::RedisLink::valid_address(c.redis)) {
      std::fprintf(stderr, "--redis: expected HOST:PORT or unix:PATH, not '%s'\n", c.redis.c_str());
      exit_code = 2;
      return std::nullopt;
    }
  }
  if (!redis_password_file.empty() || !c.redis_credentials.user.empty()) {
    std::string why;
    if (c.redis.empty())
      why = "--redis-password-file and --redis-user need --redis";
    else if (redis_password_file.empty())
      why = "--redis-user needs --redis-password-file";
    else
      why = read_secret_file("--redis-password-file", redis_password_file, c.redis_credentials.password);
    if (!why.empty()) {
      std::fprintf(stderr, "%s\n", why.c_str());
      exit_code = 2;
      return std::nullopt;
    }
  }
  if (!media_key_file.empty()) {
    std::string line;
    auto why = read_secret_file("--media-key-file", media_key_file, line);
    if (why.empty() && line.size() < 32)
      why = "--media-key-file " + media_key_file + ": the first line is " + std::to_string(line.size()) +
            " characters; give at least 32 random ones (e.g. `openssl rand -base64 32`)";
    if (why.empty()) {
      c.media_token_key.assign(crypto_generichash_BYTES, '\0');
      crypto_generichash(reinterpret_cast<unsigned char*>(c.media_token_key.data()),
                         c.media_token_key.size(), reinterpret_cast<const unsigned char*>(line.data()),
                         line.size(), nullptr, 0);
    }
    sodium_memzero(line.data(), line.size());
    if (!why.empty()) {
      std::fprintf(stderr, "%s\n", why.c_str());
      exit_code = 2;
      return std::nullopt;
    }
  }
  c.durable_fsync = durability == "full";
  c.retention = std::chrono::hours(24 * retention_days);
  c.media.retention = std::chrono::hours(24 * media_days);
  c.media.min_free_bytes = media_min_free_mib << 20;
  c.media.idle = std::chrono::seconds(media_idle);
  c.media.min_bytes_per_second = std::uint64_t{media_min_rate_kib} * 1024;
  c.dedup_window = std::chrono::hours(24 * dedup_days);
  c.last_seen_ttl = std::chrono::hours(24 * last_seen_days);
  c.fanout_take_over = std::chrono::seconds(take_over_seconds);
  c.presence_ttl = std::chrono::seconds(presence_ttl_seconds);
  c.idle_timeout = std::chrono::seconds(idle);
  c.limits.auth_timeout = std::chrono::seconds(auth);
  c.limits.write_stall = std::chrono::seconds(stall);
  c.limits.mark_linger = std::chrono::milliseconds(mark_linger_ms);
  return c;
}

}  // namespace parley
