#include "routing/redis_router.hpp"

#include <hiredis/hiredis.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <array>

#include "observability/metrics.hpp"
#include "util/clock.hpp"

namespace parley::routing {
namespace {

// Keys (none durable: each has a TTL, and Redis restarting empty loses only what clients
// and gateways set again):
//   parley:at:<user>:<device>  "<gateway>:<login>": the gateway holding the device and that
//                              gateway's number for the login (attach_counter_), so a
//                              displacement notice can say which login it ends without
//                              comparing two hosts' clocks. TTL key_ttl_, refreshed every
//                              third of it: the net under a lost logout, since a dead
//                              gateway's keys are taken by the others (below).
//   parley:on:<user>           the user's device ids that have such a key (members whose key
//                              expired with a dead gateway are dropped when read).
//   parley:sub:<user>          whom the user subscribed to (a set), kept while the user is
//                              online and for seen_ttl_ after.
//   parley:seen:<user>         when the user's last device left (ms), for seen_ttl_.
//   parley:gateways            every live gateway (a sorted set), scored by when it is to
//                              be taken for dead (its last beat + its ttl_, Redis's clock,
//                              s); it beats every ttl_ / 3.
//   parley:beats               each of those gateways' last beat (a hash, s).
//   parley:held:<gateway>      "<user> <device>" of each device the gateway holds, so that
//                              once it stops beating another can say its users went offline.
//   parley:notices             the version of the notices each of those gateways reads (a
//                              hash, routing/notices.hpp), set with its beat; a gateway
//                              missing from it reads version 1.
// Every presence decision is made inside one script, atomically, so two gateways never
// disagree about who is online or mutual.
//
// What the scripts share: the gateways holding a device of u, each once; whether a and b
// subscribed to each other; a notice to every gateway holding a device of u; u's presence
// to every mutual subscriber.
const std::string kPrelude = R"lua(
local function gw(v) return v and string.match(v, '^(%x+):') end
local function gateways(u)
  local out, seen = {}, {}
  for _, d in ipairs(redis.call('SMEMBERS', 'parley:on:' .. u)) do
    local g = gw(redis.call('GET', 'parley:at:' .. u .. ':' .. d))
    if not g then redis.call('SREM', 'parley:on:' .. u, d)
    elseif not seen[g] then seen[g] = true; out[#out + 1] = g end
  end
  return out
end
local function mutual(a, b)
  return a ~= b and redis.call('SISMEMBER', 'parley:sub:' .. a, b) == 1 and
         redis.call('SISMEMBER', 'parley:sub:' .. b, a) == 1
end
local function tell(u, notice)
  for _, g in ipairs(gateways(u)) do redis.call('PUBLISH', 'parley:gw:' .. g, notice) end
end
local function announce(u, online, seen)
  for _, t in ipairs(redis.call('SMEMBERS', 'parley:sub:' .. u)) do
    if mutual(u, t) then tell(t, 'S ' .. t .. ' ' .. u .. ' ' .. online .. ' ' .. seen) end
  end
end
local function came_online(u)
  redis.call('DEL', 'parley:seen:' .. u)
  announce(u, '1', '0')
end
local function went_offline(u, seen, seen_ttl)
  redis.call('SET', 'parley:seen:' .. u, seen, 'EX', seen_ttl)
  redis.call('EXPIRE', 'parley:sub:' .. u, seen_ttl)
  announce(u, '0', seen)
end
)lua";

// KEYS[1] the device's key; ARGV[1] this gateway, ARGV[2] the notice, ARGV[3] (if given)
// its form for a gateway reading notices of version 1. Publishes to the device's gateway
// unless that is this one (a connection that just closed here).
const std::string kRoute = R"lua(
local v = redis.call('GET', KEYS[1])
local g = v and string.match(v, '^(%x+):')
if not g or g == ARGV[1] then return 0 end
local notice = ARGV[2]
if ARGV[3] and (tonumber(redis.call('HGET', 'parley:notices', g)) or 1) < 2 then
  notice = ARGV[3]
end
redis.call('PUBLISH', 'parley:gw:' .. g, notice)
return 0
)lua";
// KEYS[1]; ARGV[1] this gateway, ARGV[2] the TTL, ARGV[3] this login's number, ARGV[4]
// "user device", ARGV[5] the user, ARGV[6] the device, ARGV[7] the subscriptions' TTL. The
// gateway that held the device before, if another, is told which of its logins ended (D).
// This gateway is told to wake the new login (W) once the key is set: a notice published
// before went elsewhere or nowhere, so the login reads the store again after anything such
// a notice announced. The user's first device online tells its mutual subscribers.
const std::string kAttach = kPrelude + R"lua(
local u, on = ARGV[5], 'parley:on:' .. ARGV[5]
local was_online = #gateways(u) > 0
local v = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[3], 'EX', ARGV[2])
redis.call('SADD', on, ARGV[6])
redis.call('EXPIRE', on, ARGV[2])
redis.call('SADD', 'parley:held:' .. ARGV[1], ARGV[4])
local g, n = nil, nil
if v then g, n = string.match(v, '^(%x+):(%d+)$') end
if g and g ~= ARGV[1] then
  redis.call('SREM', 'parley:held:' .. g, ARGV[4])
  redis.call('PUBLISH', 'parley:gw:' .. g, 'D ' .. ARGV[4] .. ' ' .. n)
end
redis.call('PUBLISH', 'parley:gw:' .. ARGV[1], 'W ' .. ARGV[4])
if not was_online then
  redis.call('EXPIRE', 'parley:sub:' .. u, ARGV[7])
  came_online(u)
end
return 0
)lua";
// Forgets the device only if it is still this gateway's. ARGV[1] this gateway, ARGV[2] the
// user, ARGV[3] the device, ARGV[4] now (ms), ARGV[5] the subscriptions' TTL. The user's
// last device leaving records last-seen and tells its mutual subscribers.
const std::string kDetach = kPrelude + R"lua(
local u = ARGV[2]
redis.call('SREM', 'parley:held:' .. ARGV[1], u .. ' ' .. ARGV[3])
local v = redis.call('GET', KEYS[1])
if gw(v) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', 'parley:on:' .. u, ARGV[3])
if #gateways(u) == 0 then went_offline(u, ARGV[4], ARGV[5]) end
return 0
)lua";
// Keeps the entry alive, unless another gateway has the device now. ARGV[1] this gateway,
// ARGV[2] the TTL, ARGV[3] the newest login's number, ARGV[4] the user, ARGV[5] the device,
// ARGV[6] the subscriptions' TTL (kept while the user is online); ARGV[7], if given, a wake
// notice for this gateway (after Redis was away, when notices for the device may have been
// lost). A user found offline (this gateway was taken for dead while Redis was out of its
// reach, or Redis restarted empty) is online again for its mutual subscribers.
const std::string kRefresh = kPrelude + R"lua(
local v = redis.call('GET', KEYS[1])
if v ~= false and gw(v) ~= ARGV[1] then return 0 end
local u, on = ARGV[4], 'parley:on:' .. ARGV[4]
local was_online = #gateways(u) > 0
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[3], 'EX', ARGV[2])
redis.call('SADD', on, ARGV[5])
redis.call('EXPIRE', on, ARGV[2])
redis.call('SADD', 'parley:held:' .. ARGV[1], u .. ' ' .. ARGV[5])
redis.call('EXPIRE', 'parley:sub:' .. u, ARGV[6])
if not was_online then came_online(u) end
if ARGV[7] then redis.call('PUBLISH', 'parley:gw:' .. ARGV[1], ARGV[7]) end
return 0
)lua";
// ARGV[1] the user, ARGV[2] the subscriptions' TTL, ARGV[3..] its new set (no repeats).
// Returns the snapshot, three strings per mutual target (name, online 0/1, last-seen ms),
// and tells the targets that newly see the user online, and those that no longer see it.
const std::string kSubscribe = kPrelude + R"lua(
local u = ARGV[1]
local key = 'parley:sub:' .. u
local before = {}
for _, t in ipairs(redis.call('SMEMBERS', key)) do
  if mutual(u, t) then before[t] = true end
end
redis.call('DEL', key)
if #ARGV >= 3 then
  redis.call('SADD', key, unpack(ARGV, 3))
  redis.call('EXPIRE', key, ARGV[2])
end
local online = #gateways(u) > 0
local out = {}
for i = 3, #ARGV do
  local t = ARGV[i]
  if mutual(u, t) then
    out[#out + 1] = t
    out[#out + 1] = #gateways(t) > 0 and '1' or '0'
    out[#out + 1] = redis.call('GET', 'parley:seen:' .. t) or '0'
    if online and not before[t] then tell(t, 'S ' .. t .. ' ' .. u .. ' 1 0') end
  end
end
for t in pairs(before) do
  if redis.call('SISMEMBER', key, t) == 0 then tell(t, 'S ' .. t .. ' ' .. u .. ' 0 0') end
end
return out
)lua";
// ARGV[1] the recipient, ARGV[2] the sender, ARGV[3] 0 or 1: to the recipient's devices,
// wherever they are, if the recipient follows the sender.
const std::string kTyping = kPrelude + R"lua(
if redis.call('SISMEMBER', 'parley:sub:' .. ARGV[1], ARGV[2]) == 1 then
  tell(ARGV[1], 'Y ' .. ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])
end
return 0
)lua";

// This gateway beats, and takes up to ARGV[4] devices of one gateway that has not beaten
// for its presence TTL: their keys still naming it go, and each of their users left with
// no device online is offline, last seen at that gateway's last beat, for its mutual
// subscribers. ARGV[1] this gateway, ARGV[2] its TTL (s), ARGV[3] the subscriptions' TTL,
// ARGV[5] the version of the notices it reads. Returns 1 while that gateway has devices
// left to take (the caller beats again at once).
// Times are Redis's (TIME), so no two gateways' clocks are compared, and each gateway's
// deadline is its own TTL's.
const std::string kBeat = kPrelude + R"lua(
local now = tonumber(redis.call('TIME')[1])
redis.call('ZADD', 'parley:gateways', now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', 'parley:beats', ARGV[1], now)
redis.call('HSET', 'parley:notices', ARGV[1], ARGV[5])
local dead = redis.call('ZRANGEBYSCORE', 'parley:gateways', '-inf', '(' .. now, 'LIMIT', 0, 1)[1]
if not dead then return 0 end
local held = 'parley:held:' .. dead
local last = string.format('%d', tonumber(redis.call('HGET', 'parley:beats', dead) or now) * 1000)
local users = {}
for _, e in ipairs(redis.call('SPOP', held, ARGV[4])) do
  local u, d = string.match(e, '^(%S+) (%d+)$')
  if u then
    local key = 'parley:at:' .. u .. ':' .. d
    local g = gw(redis.call('GET', key))
    if g == dead then redis.call('DEL', key) end
    if g == dead or not g then redis.call('SREM', 'parley:on:' .. u, d) end
    users[u] = true
  end
end
for u in pairs(users) do
  if #gateways(u) == 0 and redis.call('EXISTS', 'parley:seen:' .. u) == 0 then
    went_offline(u, last, ARGV[3])
  end
end
if redis.call('SCARD', held) > 0 then return 1 end
redis.call('ZREM', 'parley:gateways', dead)
redis.call('HDEL', 'parley:beats', dead)
redis.call('HDEL', 'parley:notices', dead)
return 0
)lua";

// By RedisRouter::Script. Sent by their SHA-1 (EVALSHA), not their text: a refresh, every
// 20 minutes for every device, would otherwise carry 1.3 KB of script for 40 bytes of name.
const std::array<const std::string*, RedisRouter::kScripts> kScriptText{
    &kRoute, &kAttach, &kDetach, &kRefresh, &kSubscribe, &kTyping, &kBeat};

constexpr std::size_t kQueueLimit = 1 << 16;
constexpr std::size_t kPipeline = 512;
// Commands queued past which a notice goes in its older (smaller) form: a few pipelines'
// worth, so at most ~3 MB of carried entries wait in the queue.
constexpr std::size_t kCarryBelowQueued = 1024;

std::string random_id() {
  unsigned char raw[8];
  randombytes_buf(raw, sizeof raw);
  char hex[2 * sizeof raw + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  return hex;
}

}  // namespace

std::string RedisRouter::key_of(const std::string& user, std::uint32_t device) {
  return "parley:at:" + user + ":" + std::to_string(device);
}

RedisRouter::RedisRouter(const std::string& address, const RedisCredentials& credentials,
                         const notices::Key& key, RoutedNotices& inbound, Metrics& metrics,
                         std::chrono::seconds last_seen_ttl, std::chrono::seconds presence_ttl)
    : inbound_(inbound),
      metrics_(metrics),
      key_(key),
      gateway_(random_id()),
      ttl_(presence_ttl),
      key_ttl_(presence_ttl * kKeyTtlTimesBeat),
      seen_ttl_(std::to_string(last_seen_ttl.count())),
      sender_(address, std::chrono::seconds(5), credentials),
      receiver_(address, std::chrono::milliseconds(0), credentials) {
  std::string why;
  if (!sender_.connect(why) || !load_scripts(why) || !receiver_.connect(why)) {
    // Redis's own words; with what to do where a password is the matter.
    if (why.starts_with("NOAUTH") || why.starts_with("WRONGPASS") || why.starts_with("ERR AUTH"))
      why += " (the gateway's Redis password is read from --redis-password-file, its ACL "
             "user from --redis-user)";
    throw std::runtime_error("--redis " + address + ": " + why);
  }
  if (!receiver_.send({"SUBSCRIBE", "parley:gw:" + gateway_}, why))
    throw std::runtime_error("cannot subscribe on Redis: " + why);
  send_thread_ = std::thread([this] { send_loop(); });
  receive_thread_ = std::thread([this] { receive_loop(); });
  spdlog::info("event=routing_started gateway={}", gateway_);
}

RedisRouter::~RedisRouter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  send_thread_.join();
  // An interrupt can land while the receiver is between connections, and its next read
  // would then block: interrupted until it has left.
  while (!receive_done_) {
    receiver_.interrupt();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  receive_thread_.join();
}

bool RedisRouter::load_scripts(std::string& why) {
  std::vector<Command> loads;
  for (const auto* text : kScriptText) loads.push_back({"SCRIPT", "LOAD", *text});
  std::size_t errors = 0, answered = 0;
  std::array<std::string, kScripts> shas;
  const auto each = [&](std::size_t i, const redisReply& r) {
    if (r.type == REDIS_REPLY_STRING) shas[i].assign(r.str, r.len);
    if (r.type == REDIS_REPLY_ERROR) why.assign(r.str, r.len);
  };
  const bool ok = sender_.pipeline(loads, errors, answered, why, each);
  if (!ok) return false;
  if (errors > 0) {
    sender_.close();
    return false;
  }
  // Set once, before the threads start; every later load gives the same (a script's SHA-1
  // is of its text), and other threads read them meanwhile.
  if (shas_[0].empty()) shas_ = std::move(shas);
  return true;
}

void RedisRouter::queue(Command c, Reply reply) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() < kQueueLimit) {
      queue_.push_back({std::move(c), std::move(reply)});
      wake_.notify_one();
      return;
    }
  }
  metrics_.routing_commands_dropped.fetch_add(1, std::memory_order_relaxed);
  if (reply) reply(nullptr);
}

void RedisRouter::attached(const std::string& user, std::uint32_t device,
                           std::atomic<std::uint64_t>& login) {
  const auto key = key_of(user, device);
  std::uint64_t number = 0;
  {
    std::lock_guard lock(mutex_);
    auto& l = local_[key];
    l.user = user;
    l.device = device;
    ++l.connections;
    l.attach = number = ++attach_counter_;
  }
  login.store(number);
  const auto dev = std::to_string(device);
  queue({"EVALSHA", sha(Script::Attach), "1", key, gateway_, std::to_string(key_ttl_.count()),
         std::to_string(number), user + " " + dev, user, dev, seen_ttl_});
}

void RedisRouter::detached(const std::string& user, std::uint32_t device) {
  const auto key = key_of(user, device);
  {
    std::lock_guard lock(mutex_);
    auto it = local_.find(key);
    if (it == local_.end() || --it->second.connections > 0) return;
    local_.erase(it);
  }
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  queue({"EVALSHA", sha(Script::Detach), "1", key, gateway_, user, std::to_string(device),
         std::to_string(now.count()), seen_ttl_});
}

void RedisRouter::route(const std::string& user, std::uint32_t device, notices::Notice notice) {
  if (!notice.older.empty()) {
    // Behind a backlog (Redis slow or away) the older form goes alone: it is a tenth of a
    // carried entry's bytes in the queue and in Redis's buffers, and a notice that late is
    // as good read from the store.
    std::lock_guard lock(mutex_);
    if (queue_.size() >= kCarryBelowQueued) notice.full = std::exchange(notice.older, {});
  }
  Command c{"EVALSHA", sha(Script::Route), "1", key_of(user, device), gateway_,
            std::move(notice.full)};
  if (!notice.older.empty()) c.push_back(std::move(notice.older));
  queue(std::move(c));
}

void RedisRouter::appended(const std::string& user, std::uint32_t device, std::uint64_t inbox_seq,
                           const store::InboxEntry* entry) {
  route(user, device, notices::appended(user, device, inbox_seq, entry, key_));
}

void RedisRouter::mark_raised(const std::string& owner, std::uint32_t owner_device,
                              const store::DeliveryMarkRecord& m,
                              std::optional<std::uint64_t> follows) {
  route(owner, owner_device, notices::mark_raised(owner, owner_device, m, follows));
}

void RedisRouter::prekeys_low(const std::string& user, std::uint32_t device,
                              std::uint32_t one_time_left) {
  route(user, device, {notices::prekeys_low(user, device, one_time_left), {}});
}

void RedisRouter::subscribe(const std::string& user, std::vector<std::string> targets,
                            std::function<void(Snapshot)> done) {
  Command c{"EVALSHA", sha(Script::Subscribe), "0", user, seen_ttl_};
  c.insert(c.end(), std::make_move_iterator(targets.begin()),
           std::make_move_iterator(targets.end()));
  queue(std::move(c), [done = std::move(done)](const redisReply* r) {
    done(r != nullptr ? parse_snapshot(*r) : std::nullopt);
  });
}

void RedisRouter::typing(const std::string& recipient, const std::string& sender, bool active) {
  queue({"EVALSHA", sha(Script::Typing), "0", recipient, sender, active ? "1" : "0"});
}

void RedisRouter::beat() {
  queue({"EVALSHA", sha(Script::Beat), "0", gateway_, std::to_string(ttl_.count()), seen_ttl_,
         std::to_string(kDevicesTakenPerBeat), std::to_string(notices::kVersion)},
        [this](const redisReply* r) {
          if (r != nullptr && r->type == REDIS_REPLY_INTEGER && r->integer == 1) beat();
        });
}

void RedisRouter::refresh_commands(std::vector<Command>& out, bool wake) {
  std::lock_guard lock(mutex_);
  const auto ttl = std::to_string(key_ttl_.count());
  for (const auto& [key, local] : local_) {
    const auto device = std::to_string(local.device);
    out.push_back({"EVALSHA", sha(Script::Refresh), "1", key, gateway_, ttl,
                   std::to_string(local.attach), local.user, device, seen_ttl_});
    if (wake) out.back().push_back("W " + local.user + " " + device);
  }
}

DeviceRouter::Snapshot RedisRouter::parse_snapshot(const redisReply& r) {
  if (r.type != REDIS_REPLY_ARRAY || r.elements % 3 != 0) return std::nullopt;
  std::vector<PresenceInfo> out;
  for (std::size_t i = 0; i < r.elements; i += 3) {
    std::string_view f[3];
    for (int k = 0; k < 3; ++k) {
      const auto* e = r.element[i + k];
      if (e->type != REDIS_REPLY_STRING) return std::nullopt;
      f[k] = std::string_view(e->str, e->len);
    }
    PresenceInfo info;
    if (!notices::username(f[0], info.username) || (f[1] != "0" && f[1] != "1") ||
        !notices::number(f[2], info.last_seen_ms))
      return std::nullopt;
    info.online = f[1] == "1";
    out.push_back(std::move(info));
  }
  return out;
}

void RedisRouter::send_loop() {
  using Clock = std::chrono::steady_clock;
  auto next_refresh = Clock::now() + key_ttl_ / 3;
  auto next_beat = Clock::now();
  std::vector<Command> batch;
  // For batch[i] from the queue (the refresh's own come after): who waits for its reply,
  // and whether it was sent once already.
  std::vector<Reply> replies;
  std::vector<char> sent_before;
  std::string why;
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    batch.clear();
    replies.clear();
    sent_before.clear();
    bool refresh = false, wake = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, std::min(next_refresh, next_beat), [&] {
        return stopping_ || refresh_now_ || !queue_.empty() || Clock::now() >= next_beat;
      });
      if (stopping_) return;
      // After Redis was away, notices for our devices may have been lost: they read again.
      wake = std::exchange(refresh_now_, false);
      refresh = wake || Clock::now() >= next_refresh;
      while (!queue_.empty() && batch.size() < kPipeline) {
        batch.push_back(std::move(queue_.front().command));
        replies.push_back(std::move(queue_.front().reply));
        sent_before.push_back(queue_.front().sent_before);
        queue_.pop_front();
      }
    }
    if (refresh) {
      refresh_commands(batch, wake);
      next_refresh = Clock::now() + key_ttl_ / 3;
    }
    if (Clock::now() >= next_beat) {
      beat();  // in the next batch
      next_beat = Clock::now() + ttl_ / 3;
    }
    if (batch.empty()) continue;
    if (!sender_.connected() && !(sender_.connect(why) && load_scripts(why))) {
      // Notices are hints (device_router.hpp): these are given up; the entries wait in the
      // store for the devices' next reads. Whoever waits for a reply is told none will come.
      metrics_.routing_commands_dropped.fetch_add(batch.size(), std::memory_order_relaxed);
      spdlog::warn("event=routing_unreachable reason=\"{}\"", why);
      for (auto& reply : replies)
        if (reply) reply(nullptr);
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, backoff, [&] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      refresh_now_ = true;  // Redis may have restarted empty: say again where our devices are
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    std::size_t errors = 0, answered = 0;
    bool unloaded = false;  // Redis answered NOSCRIPT: its scripts were flushed by hand
    const auto each = [&](std::size_t i, const redisReply& r) {
      unloaded = unloaded || (r.type == REDIS_REPLY_ERROR &&
                              std::string_view(r.str, r.len).starts_with("NOSCRIPT"));
      if (i < replies.size() && replies[i]) replies[i](&r);
    };
    if (!sender_.pipeline(batch, errors, answered, why, each)) {
      spdlog::warn("event=routing_failed reason=\"{}\"", why);
      // The link broke before every reply came (Redis slow past the timeout, a link cut):
      // Redis ran some of the rest, or none. Each goes once more, first, on the next link:
      // every command here may run twice (a notice twice is a hint twice, a subscription set
      // twice the same set). Otherwise notices for devices on other gateways would be lost
      // while those gateways' own subscriptions, and so their wakes, never broke.
      std::vector<Reply> given_up;
      {
        std::lock_guard lock(mutex_);
        for (std::size_t i = std::min(replies.size(), batch.size()); i-- > answered;) {
          if (sent_before[i]) {
            given_up.push_back(std::move(replies[i]));
            continue;
          }
          queue_.push_front({std::move(batch[i]), std::move(replies[i]), true});
        }
        refresh_now_ = true;  // as after any lost connection: set our devices' keys again
      }
      metrics_.routing_commands_dropped.fetch_add(given_up.size(), std::memory_order_relaxed);
      for (auto& reply : given_up)
        if (reply) reply(nullptr);
      continue;
    }
    // Those commands failed as any refused one does; the next batch comes on a new link,
    // which loads the scripts again.
    if (unloaded) sender_.close();
    if (errors > 0) spdlog::warn("event=routing_errors count={}", errors);
    metrics_.routing_commands_sent.fetch_add(batch.size() - errors, std::memory_order_relaxed);
  }
}

void RedisRouter::receive_loop() {
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag = true; }
  } done{receive_done_};
  std::string why;
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (!receiver_.connected()) {
      if (!receiver_.connect(why) || !receiver_.send({"SUBSCRIBE", "parley:gw:" + gateway_}, why)) {
        spdlog::warn("event=routing_unreachable reason=\"{}\"", why);
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, backoff, [&] { return stopping_; });
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
        continue;
      }
      backoff = std::chrono::milliseconds(100);
    }
    redisReply* r = receiver_.next_reply(why);
    if (r == nullptr) continue;  // reconnects above (or stops)
    // ["subscribe", channel, 1] confirms the subscription; ["message", channel, payload].
    const auto kind = r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                              r->element[0]->type == REDIS_REPLY_STRING
                          ? std::string_view(r->element[0]->str, r->element[0]->len)
                          : std::string_view();
    if (kind == "subscribe") {
      // Listening (again): what was published to us meanwhile is lost, so our devices' keys
      // are set again and their connections read the store again (refresh_commands).
      {
        std::lock_guard lock(mutex_);
        refresh_now_ = true;
      }
      wake_.notify_all();
    } else if (kind == "message" && r->element[2]->type == REDIS_REPLY_STRING) {
      const std::string_view notice(r->element[2]->str, r->element[2]->len);
      switch (notices::dispatch(notice, inbound_, key_, now_ms())) {
        case notices::Dispatched::EntryRefused: {
          // Announced all the same: the device's connection reads the entry from the store.
          // Said on the first and then at each power of two: a clock skewed past the window
          // refuses every carried entry, and a line per message would flood the log.
          const auto n = metrics_.routed_entries_refused.fetch_add(1, std::memory_order_relaxed) + 1;
          if ((n & (n - 1)) == 0)
            spdlog::warn("event=routing_entry_refused count={} hint=\"a MAC not made with this "
                         "tier's routing key, or a gateway clock more than {} s off\"",
                         n, notices::kCarriedFreshnessMs / 1000);
          [[fallthrough]];
        }
        case notices::Dispatched::Handed:
          metrics_.routed_notices_received.fetch_add(1, std::memory_order_relaxed);
          break;
        case notices::Dispatched::Malformed:
          spdlog::warn("event=routing_bad_notice bytes={}", notice.size());
          break;
      }
    }
    RedisLink::free_reply(r);
  }
}

}  // namespace parley::routing
