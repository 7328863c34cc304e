#include "relay/relay.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/thread_pool.hpp>

#include <boost/asio/ssl/context.hpp>
#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include "gateway/connection_set.hpp"
#include "gateway/connections_by_address.hpp"
#include "gateway/gateway.hpp"
#include "gateway/liveness.hpp"
#include "groups/fanout_worker.hpp"
#include "groups/group_limiter.hpp"
#include "groups/sender_holds.hpp"
#include "media/blob_claims.hpp"
#include "media/fs_blob_store.hpp"
#include "media/media_context.hpp"
#include "media/media_retention.hpp"
#include "media/media_tokens.hpp"
#include "media/transfer_slots.hpp"
#include "media/upload_registry.hpp"
#include "observability/metrics.hpp"
#include "presence/local_presence.hpp"
#include "routing/redis_router.hpp"
#include "routing/routed_to_sessions.hpp"
#include "session/deliver_bodies.hpp"
#include "session/keyed_rate_limiter.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite_store.hpp"
#include "store/store_worker.hpp"
#include "util/clock.hpp"
#include "util/thread_name.hpp"

namespace parley {
namespace {

constexpr auto kMaintenanceEvery = std::chrono::minutes(1);
constexpr unsigned kOrphanSweepEvery = 60;  // rounds
constexpr auto kDrainLimit = std::chrono::seconds(5);

// Retention: expired inbox entries, old dedup records, abandoned groups, stale last-seen,
// expired media; every hour (and at start), blobs no record names.
void schedule_maintenance(net::steady_timer& timer, store::StoreWorker& worker,
                          PresenceRegistry& presence, media::MediaContext& media,
                          media::OrphanSweep& orphans, const Config& cfg, unsigned round = 0) {
  if (round % kOrphanSweepEvery == 0) orphans.run(worker, media);
  timer.expires_after(kMaintenanceEvery);
  timer.async_wait([&timer, &worker, &presence, &media, &orphans, &cfg,
                    round](boost::system::error_code ec) {
    if (ec) return;
    const auto now = now_ms();
    const auto inbox_before = now - count_ms(cfg.retention);
    const auto sent_before = now - count_ms(cfg.dedup_window);
    auto removed = std::make_shared<std::pair<std::uint64_t, std::uint64_t>>();
    worker.submit(
        [=](store::Store& s) {
          removed->first = s.purge(inbox_before, sent_before);
          removed->second = s.purge_abandoned_groups();
        },
        [removed](store::JobStatus st) {
          if (st == store::JobStatus::Committed && (removed->first > 0 || removed->second > 0))
            spdlog::info("event=retention_purge removed={} groups_removed={}", removed->first,
                         removed->second);
        });
    presence.expire(now - count_ms(cfg.last_seen_ttl));
    media::purge_expired_media(worker, media, now);
    schedule_maintenance(timer, worker, presence, media, orphans, cfg, round + 1);
  });
}

// Among gateways: fan-outs another gateway left half-done are taken over (FanoutWorker).
void schedule_take_over(net::steady_timer& timer, groups::FanoutWorker& fanout,
                        std::chrono::seconds every) {
  timer.expires_after(every);
  timer.async_wait([&timer, &fanout, every](boost::system::error_code ec) {
    if (ec) return;
    fanout.take_over_stalled();
    schedule_take_over(timer, fanout, every);
  });
}

// The gateways' shared routing key, read from (or, by the first gateway, made in) the store,
// before any connection: the routing's MACs need it from its first notice. Throws, saying
// what to do, when the store cannot give it.
routing::notices::Key routing_key(store::StoreWorker& worker) {
  std::string read;
  if (worker.run_and_wait([&read](store::Store& s) { read = s.routing_key(); }) !=
      store::JobStatus::Committed)
    throw std::runtime_error(
        "cannot read or make the gateways' routing key (meta.routing_key): see the store's "
        "error above; the database must be reachable and writable by this gateway's role");
  routing::notices::Key key;
  const bool fits = read.size() == key.bytes.size();
  if (fits) std::copy(read.begin(), read.end(), key.bytes.begin());
  sodium_memzero(read.data(), read.size());
  if (!fits)
    throw std::runtime_error(fmt::format(
        "the gateways' routing key in the database (meta.routing_key) is {} bytes, not {}: "
        "with every gateway stopped, DELETE FROM meta WHERE key = 'routing_key'; the first to "
        "start again makes a new one",
        read.size(), key.bytes.size()));
  return key;
}

std::unique_ptr<net::ssl::context> make_tls(const Config& cfg) {
  if (cfg.tls_cert.empty()) return nullptr;
  auto tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                   net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                   net::ssl::context::no_tlsv1_1);
  tls->use_certificate_chain_file(cfg.tls_cert.string());
  tls->use_private_key_file(cfg.tls_key.string(), net::ssl::context::pem);
  return tls;
}

}  // namespace

int run_relay(const Config& cfg) {
  std::error_code fs_ec;
  std::filesystem::create_directories(cfg.data_dir, fs_ec);
  if (fs_ec) {
    spdlog::error("cannot create data directory {}: {}", cfg.data_dir.string(), fs_ec.message());
    return 1;
  }
  ::chmod(cfg.data_dir.c_str(), 0700);

  Metrics metrics;
  // Changed by the group jobs on the first worker's thread, with its transactions.
  groups::SenderHolds group_holds;
  std::unique_ptr<store::StoreWorker> worker;
  // More store connections (PostgreSQL): the connections' own lanes beside `worker`.
  std::vector<std::unique_ptr<store::StoreWorker>> more_workers;
  try {
    if (cfg.postgres.empty()) {
      worker = std::make_unique<store::StoreWorker>(
          std::make_unique<store::SqliteStore>(
              cfg.data_dir, cfg.durable_fsync ? store::Durability::Full : store::Durability::Normal),
          metrics, cfg.store_queue);
    } else {
      auto first = std::make_unique<store::PostgresStore>(cfg.postgres);
      // Several stores count the inbox depth together, and the count sets the metric.
      const auto depth = first->shared_depth();
      const bool shared = cfg.store_connections > 1;
      if (shared) {
        depth->gauge = &metrics.inbox_depth;
        depth->add(0);
      }
      // --store-queue bounds the relay's queued jobs (and so their memory): shared among
      // the connections.
      const std::size_t queue =
          (cfg.store_queue + cfg.store_connections - 1) / cfg.store_connections;
      worker = std::make_unique<store::StoreWorker>(std::move(first), metrics, queue, 1024,
                                                    store::StoreWorker::kUnhurriedDelay,
                                                    /*publishes_depth=*/!shared);
      for (unsigned i = 1; i < cfg.store_connections; ++i)
        more_workers.push_back(std::make_unique<store::StoreWorker>(
            std::make_unique<store::PostgresStore>(cfg.postgres, depth), metrics, queue, 1024,
            store::StoreWorker::kUnhurriedDelay, /*publishes_depth=*/false));
    }
    worker->follow(group_holds);
  } catch (const std::exception& e) {
    // Not the connection string: it may hold a password.
    spdlog::error("cannot open the store {}: {}",
                  cfg.postgres.empty() ? "in " + cfg.data_dir.string() : "in PostgreSQL",
                  e.what());
    return 1;
  }

  std::unique_ptr<net::ssl::context> tls;
  try {
    tls = make_tls(cfg);
  } catch (const std::exception& e) {
    spdlog::error("cannot load TLS certificate/key: {}", e.what());
    return 1;
  }

  std::unique_ptr<media::BlobStore> blobs;
  const auto media_dir = cfg.media_dir.empty() ? cfg.data_dir / "media" : cfg.media_dir;
  try {
    blobs = std::make_unique<media::FsBlobStore>(media_dir);
  } catch (const std::exception& e) {
    spdlog::error("cannot create the media directory {}: {}", media_dir.string(), e.what());
    return 1;
  }
  auto media_tokens = cfg.media_token_key.empty()
                          ? std::make_unique<media::MediaTokens>(cfg.media.token_ttl)
                          : std::make_unique<media::MediaTokens>(
                                cfg.media.token_ttl,
                                std::span<const unsigned char, media::MediaTokens::kKeyBytes>(
                                    reinterpret_cast<const unsigned char*>(cfg.media_token_key.data()),
                                    media::MediaTokens::kKeyBytes));
  if (!cfg.redis.empty() && (cfg.media_dir.empty() || cfg.media_token_key.empty()))
    spdlog::warn("event=media_not_shared detail=\"media uploaded through this gateway is served by it "
                 "alone: give every gateway the same --media-dir and --media-key-file\"");
  media::UploadRegistry uploads;
  media::BlobClaims claims;
  media::TransferSlots transfers(cfg.media.max_downloads, cfg.media.max_transfers);
  // Its slices run on the disk thread, which outlives the block below: declared before
  // `disk`, it goes after it.
  media::OrphanSweep orphans;
  net::thread_pool disk(1);
  net::post(disk, [] { name_this_thread("parley-disk"); });
  media::MediaContext media{cfg.media, *blobs,    claims, *media_tokens, uploads,
                            transfers, disk.get_executor()};

  LocalPresence presence;
  const unsigned threads = cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
  // One io_context per I/O thread, each run by that thread alone: a connection lives on one
  // of them, so its handlers never run concurrently without a strand per connection. The
  // first also runs the control strand, the listener and the fan-out worker's completions.
  std::vector<std::unique_ptr<net::io_context>> io;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> io_work;
  for (unsigned i = 0; i < threads; ++i) {
    io.push_back(std::make_unique<net::io_context>(1));
    io_work.push_back(net::make_work_guard(*io.back()));
  }
  net::io_context& ioc = *io.front();
  const auto stop_io = [&io] {
    for (auto& c : io) c->stop();
  };
  DeliverBodies deliver_bodies(&metrics.deliver_bodies_encoded);
  groups::FanoutWorker fanout(*worker, presence, metrics, deliver_bodies, ioc.get_executor(), 4,
                              cfg.limits.fanout_chunk);
  groups::GroupLimiter group_limiter(cfg.limits.group_rate_per_second, cfg.limits.group_rate_burst);
  KeyedRateLimiter<store::UserId> one_time_prekey_budget(
      cfg.limits.one_time_prekeys_per_hour / 3600.0, cfg.limits.one_time_prekeys_per_hour);
  // A token bucket per address or network in `limiter`, or none (null) for a rate of 0.
  const auto budget = [](std::optional<AddressRateLimiter>& limiter, double per_second,
                         double burst) {
    if (per_second > 0) limiter.emplace(per_second, burst);
    return limiter ? &*limiter : nullptr;
  };
  // Registrations: a bucket of an hour's worth, refilled over the hour.
  const auto hourly = [&budget](std::optional<AddressRateLimiter>& limiter, double per_hour) {
    return budget(limiter, per_hour / 3600.0, per_hour);
  };
  std::optional<AddressRateLimiter> registrations_by_address, registrations_by_network;
  RelayContext relay{*worker,       presence,
                     metrics,       worker->relay_id(),
                     cfg.limits,    fanout,
                     group_limiter, group_holds,
                     one_time_prekey_budget,
                     media,         deliver_bodies,
                     hourly(registrations_by_address, cfg.limits.registrations_per_address_per_hour),
                     hourly(registrations_by_network, cfg.limits.registrations_per_network_per_hour)};
  // Gateways sharing the store reach each other's devices through Redis. Its threads call
  // into the presence registry and post to the I/O threads: declared after both, it stops
  // before they go.
  routing::RoutedToSessions routed(presence, metrics);
  std::unique_ptr<routing::RedisRouter> router;
  if (!cfg.redis.empty()) {
    try {
      router = std::make_unique<routing::RedisRouter>(
          cfg.redis, cfg.redis_credentials, routing_key(*worker), routed, metrics,
          std::chrono::duration_cast<std::chrono::seconds>(cfg.last_seen_ttl), cfg.presence_ttl);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
    relay.router = router.get();
    fanout.set_router(router.get());
  }
  if (!more_workers.empty()) {
    relay.lanes.push_back(worker.get());
    for (auto& w : more_workers) relay.lanes.push_back(w.get());
  }
  ConnectionSet connections;
  std::optional<ConnectionsByAddress> connections_by_address;
  if (cfg.max_connections_per_address > 0 || cfg.max_connections_per_network > 0)
    connections_by_address.emplace(cfg.max_connections_per_address,
                                   cfg.max_connections_per_network);
  // New connections: a burst of ten seconds' worth.
  const auto per_second = [&budget](std::optional<AddressRateLimiter>& limiter, double rate) {
    return budget(limiter, rate, std::max(1.0, 10 * rate));
  };
  std::optional<AddressRateLimiter> upgrades_by_address, upgrades_by_network;
  GatewayContext gateway{relay,
                         connections,
                         GatewayOptions{cfg.idle_timeout, cfg.max_frame_bytes, cfg.public_metrics,
                                        cfg.trusted_proxies},
                         tls.get(),
                         {},
                         connections_by_address ? &*connections_by_address : nullptr,
                         per_second(upgrades_by_address, cfg.connections_per_address_per_second),
                         per_second(upgrades_by_network, cfg.connections_per_network_per_second)};

  std::shared_ptr<Listener> listener;
  try {
    const auto address = net::ip::make_address(cfg.listen_host == "localhost" ? "127.0.0.1"
                                                                              : cfg.listen_host);
    std::vector<net::io_context*> connection_io;
    for (auto& c : io) connection_io.push_back(c.get());
    listener = std::make_shared<Listener>(ioc, std::move(connection_io), gateway,
                                          tcp::endpoint(address, cfg.listen_port));
  } catch (const std::exception& e) {
    spdlog::error("cannot listen on {}:{}: {}", cfg.listen_host, cfg.listen_port, e.what());
    return 1;
  }
  auto liveness = std::make_shared<LivenessSweep>(
      ioc, connections, std::chrono::duration_cast<std::chrono::milliseconds>(cfg.idle_timeout));
  {  // The I/O objects of this block go at its end, while their io_contexts still exist.
    // Signals, maintenance and the drain share one strand, so stopping never races with a
    // maintenance run re-arming its timer.
    auto control = net::make_strand(ioc);
    net::steady_timer maintenance(control);
    schedule_maintenance(maintenance, *worker, presence, media, orphans, cfg);
    net::steady_timer take_over(control);
    if (router) schedule_take_over(take_over, fanout, cfg.fanout_take_over);

    net::steady_timer drain_timer(control);
    auto drain_deadline = std::chrono::steady_clock::now();
    std::function<void()> wait_drained = [&] {
      if (connections.size() == 0 || std::chrono::steady_clock::now() > drain_deadline) {
        if (connections.size() > 0)
          spdlog::warn("event=drain_deadline connections_left={}", connections.size());
        stop_io();
        return;
      }
      drain_timer.expires_after(std::chrono::milliseconds(20));
      drain_timer.async_wait([&](boost::system::error_code ec) {
        if (!ec) wait_drained();
      });
    };

    // Installed before the listening line is printed: a SIGTERM right after start drains too.
    net::signal_set signals(control, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      spdlog::info("event=stopping signal={} connections={}", sig, connections.size());
      gateway.draining = true;
      listener->stop();
      liveness->stop();
      maintenance.cancel();
      take_over.cancel();
      // Each connection stops reading, lets its submitted store jobs commit and answer, then
      // closes with 1001.
      connections.close_all(1001, "relay is restarting; reconnect");
      drain_deadline = std::chrono::steady_clock::now() + kDrainLimit;
      wait_drained();
    });

    // Crash recovery: resume the fan-out of every group log entry not yet in all its inboxes.
    // Its store job is queued before any client can connect.
    fanout.recover();
    listener->start();
    liveness->start();
    const auto bound = listener->local_endpoint();
    const auto host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                              : bound.address().to_string();
    // The one line scripts and tests read: where to connect.
    std::printf("parley-relay listening on %s://%s:%u (data: %s)\n", tls ? "wss" : "ws",
                host.c_str(), bound.port(), std::filesystem::absolute(cfg.data_dir).c_str());
    std::fflush(stdout);
    spdlog::info("event=started listen={}:{} threads={} tls={} fsync={}", host, bound.port(),
                 threads, tls != nullptr, cfg.durable_fsync);

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i)
      pool.emplace_back([c = io[i].get(), name = "parley-io-" + std::to_string(i)] {
        name_this_thread(name.c_str());
        c->run();
      });
    // The main thread runs io_context 0 and keeps the process's name (ps, pgrep, killall).
    ioc.run();
    for (auto& t : pool) t.join();
  }

  // Every queued job runs and commits before we exit; the lanes first, whose completions can
  // still queue work (a group's fan-out) on the first.
  for (auto& w : more_workers) w->stop();
  worker->stop();
  disk.join();
  // Nothing calls the router any more (the store thread and the I/O threads are done), and
  // what it receives must not reach sessions whose io_contexts are about to go.
  router.reset();
  // Connections the drain's deadline left open are still held by handlers queued on the
  // io_contexts. Destroy those handlers now, while the gateway state a connection's
  // destructor reports to (the connection set, the address counts) still exists; declared
  // after the io_contexts, it would otherwise go first.
  listener.reset();
  liveness.reset();
  io_work.clear();
  io.clear();
  spdlog::info("event=stopped");
  return 0;
}

}  // namespace parley
