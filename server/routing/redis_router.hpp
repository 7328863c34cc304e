#pragma once
// Routing between gateways through Redis (docs/architecture.md, section 8.2).
//
// Presence in Redis: parley:at:<user>:<device> names the gateway holding the device, with a
// TTL its gateway keeps refreshing, so a gateway that dies takes its entries with it within
// the TTL and nothing about presence is ever durable. Gateways beat; once one has not for
// the TTL, the others say its users went offline. Presence subscriptions and last-seen
// times are there too, so the mutual rule is decided once for all gateways. Each gateway
// subscribes to its own channel, parley:gw:<id>. A notice is one EVAL: look the device (or
// the user's devices) up and publish to its gateway's channel, in one round trip,
// atomically.
//
// Two threads, each with its own connection: one sends (a bounded queue, pipelined), one
// reads the subscription. Neither ever blocks a caller: the store thread's commits queue a
// notice and go on.
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "routing/device_router.hpp"
#include "routing/notices.hpp"
#include "routing/redis_link.hpp"

struct redisReply;

namespace parley {
class Metrics;
}

namespace parley::routing {

class RedisRouter final : public DeviceRouter {
 public:
  // Connects both links once (throws with the reason if Redis cannot be reached, so a
  // misconfigured gateway stops at start), then runs its threads until destroyed.
  // `last_seen_ttl`: how long a user's subscriptions and last-seen time outlive its last
  // connection (--last-seen-days); `presence_ttl`: how long a gateway that stops beating
  // (every third of it) is taken for alive.
  // `key`: the gateways' shared routing key (Store::routing_key), copied.
  RedisRouter(const std::string& address, const RedisCredentials& credentials,
              const notices::Key& key, RoutedNotices& inbound, Metrics& metrics,
              std::chrono::seconds last_seen_ttl,
              std::chrono::seconds presence_ttl = std::chrono::seconds(120));
  ~RedisRouter() override;

  void attached(const std::string& user, std::uint32_t device,
                std::atomic<std::uint64_t>& login) override;
  void detached(const std::string& user, std::uint32_t device) override;
  void appended(const std::string& user, std::uint32_t device, std::uint64_t inbox_seq,
                const store::InboxEntry* entry) override;
  void mark_raised(const std::string& owner, std::uint32_t owner_device,
                   const store::DeliveryMarkRecord& mark,
                   std::optional<std::uint64_t> follows) override;
  void prekeys_low(const std::string& user, std::uint32_t device,
                   std::uint32_t one_time_left) override;
  void subscribe(const std::string& user, std::vector<std::string> targets,
                 std::function<void(Snapshot)> done) override;
  void typing(const std::string& recipient, const std::string& sender, bool active) override;

  const std::string& gateway_id() const { return gateway_; }

  // The Lua scripts (redis_router.cpp), each loaded on every new command link and called by
  // its SHA-1.
  enum class Script { Route, Attach, Detach, Refresh, Subscribe, Typing, Beat };
  static constexpr std::size_t kScripts = 7;
  // Devices of a dead gateway one beat takes: a bounded script (Redis runs one at a time),
  // beaten again at once while more are left.
  static constexpr std::size_t kDevicesTakenPerBeat = 500;


 private:
  using Command = std::vector<std::string>;
  // Gets a command's reply on the sending thread, or nullptr when none will come (the queue
  // full, Redis away).
  using Reply = std::function<void(const redisReply*)>;
  void queue(Command c, Reply reply = nullptr);
  // A notice for a device, by way of the gateway that holds it (the Route script).
  void route(const std::string& user, std::uint32_t device, notices::Notice notice);
  static Snapshot parse_snapshot(const redisReply& r);
  const std::string& sha(Script s) const { return shas_[static_cast<std::size_t>(s)]; }
  // SCRIPT LOAD of every script on the command link (Redis forgets them when it restarts);
  // false with `why` when Redis refused or the link broke.
  bool load_scripts(std::string& why);
  void send_loop();
  void receive_loop();
  // Every local device's key set again; with `wake`, each device's connection told to read
  // the store again too.
  void refresh_commands(std::vector<Command>& out, bool wake);
  // Queues this gateway's beat, which also takes a share of a dead gateway's devices.
  void beat();
  static std::string key_of(const std::string& user, std::uint32_t device);

  RoutedNotices& inbound_;
  Metrics& metrics_;
  const notices::Key key_;
  const std::string gateway_;  // 16 hex digits, new at every start
  const std::chrono::seconds ttl_;
  // A device's key: refreshed every third of it, a net under a logout lost on its way (a
  // dead gateway's keys are taken by the others at once), so long, since every device's
  // refresh is the one load on Redis that grows with connections rather than with traffic.
  static constexpr int kKeyTtlTimesBeat = 30;
  const std::chrono::seconds key_ttl_;
  const std::string seen_ttl_;  // seconds
  RedisLink sender_, receiver_;
  std::array<std::string, kScripts> shas_;  // set by the first load_scripts, then fixed

  std::mutex mutex_;
  std::condition_variable wake_;
  struct Queued {
    Command command;
    Reply reply;
    bool sent_before = false;  // its link broke before its reply: it is not sent a third time
  };
  std::deque<Queued> queue_;
  bool stopping_ = false;
  bool refresh_now_ = false;
  // The devices connected here: how many connections each has (one, but for a moment
  // while a newer one displaces an older), and the newest one's login number (what the
  // device's key names). Numbers grow for the gateway's life, never reused, so a late
  // notice ending an old login here cannot end a newer one (each session keeps its own:
  // Session::route_login).
  struct Local {
    std::string user;
    std::uint32_t device = 0;
    int connections = 0;
    std::uint64_t attach = 0;
  };
  std::unordered_map<std::string, Local> local_;  // by key_of
  std::uint64_t attach_counter_ = 0;

  std::atomic<bool> receive_done_{false};
  std::thread send_thread_, receive_thread_;
};

}  // namespace parley::routing
