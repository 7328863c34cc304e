#pragma once
// Reaching a device connected to another gateway. A relay alone has none (RelayContext's
// router is null); gateways sharing one store and one Redis route through RedisRouter.
//
// Only notices cross: "the device's inbox has entries up to seq n" (with a small 1:1 entry
// itself, to push without a read), "a delivery mark of the device was raised", "this device
// connected elsewhere", "the device is running out of one-time prekeys", "read again what is
// stored"; and, per user, presence updates and typing. Every entry is in the shared store,
// committed before its notice leaves, which the device's own gateway reads, so a notice lost
// on the way (Redis restarting, a full queue) delays delivery to the device's next read or
// login, and loses nothing. (A presence or typing notice lost is lost, as either is when a
// connection drops: both are ephemeral by design.)
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "presence/presence_registry.hpp"
#include "store/records.hpp"

namespace parley::routing {

class DeviceRouter {
 public:
  virtual ~DeviceRouter() = default;

  // A connection of the device logged in here / closed here. Any thread; once each per
  // connection. `login` gets the login's number on this gateway before anything can name
  // it (a displacement notice ends only the login it names).
  virtual void attached(const std::string& user, std::uint32_t device,
                        std::atomic<std::uint64_t>& login) = 0;
  virtual void detached(const std::string& user, std::uint32_t device) = 0;

  // For a device not connected here (any thread, the store thread's commits among them):
  // tells the gateway that holds it, if any, without waiting. `entry`, when given, is the
  // committed entry at `inbox_seq`, which the notice may carry (routing/notices.hpp).
  virtual void appended(const std::string& user, std::uint32_t device, std::uint64_t inbox_seq,
                        const store::InboxEntry* entry) = 0;
  // `follows`: MarkRaised::follows, which the owner's gateway uses as its own raises'.
  virtual void mark_raised(const std::string& owner, std::uint32_t owner_device,
                           const store::DeliveryMarkRecord& mark,
                           std::optional<std::uint64_t> follows) = 0;
  virtual void prekeys_low(const std::string& user, std::uint32_t device,
                           std::uint32_t one_time_left) = 0;

  // Presence and typing across gateways (docs/protocol.md, 8): the subscriptions, last-seen
  // times and who is online live in Redis, not in any gateway's PresenceRegistry, so the
  // mutual rule is decided in one place whatever gateway each side is on.
  //
  // Replaces `user`'s subscription set (`targets` folded, without repeats) and tells the
  // targets that newly see or no longer see `user`. `done` gets the snapshot (one entry per
  // mutual target), or nullopt when Redis could not answer; it runs on the router's thread
  // and must only hand the result on.
  using Snapshot = std::optional<std::vector<PresenceInfo>>;
  virtual void subscribe(const std::string& user, std::vector<std::string> targets,
                         std::function<void(Snapshot)> done) = 0;
  // A typing notice from `sender`, for `recipient`'s devices wherever they are, if the
  // recipient follows the sender.
  virtual void typing(const std::string& recipient, const std::string& sender, bool active) = 0;
};

// What a gateway does with the notices other gateways send it (wired in relay.cpp to the
// presence registry's local sessions).
class RoutedNotices {
 public:
  virtual ~RoutedNotices() = default;
  // `entry`: the entry at `inbox_seq` when the notice carried it, else null.
  virtual void appended(const std::string& user, std::uint32_t device, std::uint64_t inbox_seq,
                        std::shared_ptr<const store::InboxEntry> entry) = 0;
  virtual void mark_raised(const std::string& owner, std::uint32_t owner_device,
                           store::DeliveryMarkRecord mark,
                           std::optional<std::uint64_t> follows) = 0;
  virtual void prekeys_low(const std::string& user, std::uint32_t device,
                           std::uint32_t one_time_left) = 0;
  // The device logged in on another gateway, ending login `ended` here: its connection here
  // goes if it is that login or an older one (not one that came since).
  virtual void displaced(const std::string& user, std::uint32_t device, std::uint64_t ended) = 0;
  // To every connection here of `user`: a presence update about another user, a typing
  // event from one.
  virtual void presence(const std::string& user, PresenceInfo about) = 0;
  virtual void typing(const std::string& user, const std::string& sender, bool active) = 0;
  // Notices for the device may have gone elsewhere or nowhere (its login here, Redis coming
  // back): its connection reads its inbox and marks from the store again.
  virtual void rescan(const std::string& user, std::uint32_t device) = 0;
};

}  // namespace parley::routing
