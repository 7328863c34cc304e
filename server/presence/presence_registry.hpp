#pragma once
// Who is connected to this gateway, and who may see whom online. Ephemeral by design: it
// lives in memory and is rebuilt by clients as they reconnect; nothing here is ever written
// to the durable store. Devices connected to other gateways are reached through routing/
// (Redis keys and notices), not through this registry. Among gateways the subscriptions,
// last-seen times and the mutual rule live in Redis instead (routing/redis_router.cpp), and
// this registry only maps devices to their connections here: with no subscription in it,
// it makes no presence notice of its own.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

class Session;

struct PresenceInfo {
  std::string username;
  bool online = false;
  std::uint64_t last_seen_ms = 0;  // 0: not seen since the relay started, or expired
};

// A presence change to push to one connection.
struct PresenceNotice {
  std::shared_ptr<Session> to;
  PresenceInfo about;
};

class PresenceRegistry {
 public:
  virtual ~PresenceRegistry() = default;

  struct Attached {
    std::shared_ptr<Session> displaced;   // the older connection of the same device, if any
    std::vector<PresenceNotice> notices;  // "user is online" to mutual subscribers
  };
  // Makes `session` the live connection for (user, device).
  virtual Attached attach(const std::string& user, std::uint32_t device,
                          const std::shared_ptr<Session>& session) = 0;

  // Forgets (user, device) if it still maps to `session`; when the user's last device leaves,
  // records last-seen and returns "offline" notices for mutual subscribers.
  virtual std::vector<PresenceNotice> detach(const std::string& user, std::uint32_t device,
                                             const Session* session, std::uint64_t now_ms) = 0;

  virtual std::shared_ptr<Session> find(std::string_view user, std::uint32_t device) = 0;
  virtual std::vector<std::shared_ptr<Session>> find_all(std::string_view user) = 0;

  // Replaces `user`'s subscriptions. Returns the current presence of every target that has
  // subscribed to `user` too (for `user`), plus "user is online" notices for those targets.
  struct Subscribed {
    std::vector<PresenceInfo> visible;
    std::vector<PresenceNotice> notices;
  };
  virtual Subscribed subscribe(const std::string& user, std::vector<std::string> targets) = 0;

  // Whether `watcher` has subscribed to `target`'s presence.
  virtual bool watches(std::string_view watcher, std::string_view target) = 0;

  // Forgets users offline since before `before_ms`: their last-seen and their subscriptions.
  virtual void expire(std::uint64_t before_ms) = 0;
};

}  // namespace parley
