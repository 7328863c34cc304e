#pragma once
// Notices from other gateways handed to this gateway's connections (the presence registry
// says which): an inbox that grew is pushed from the entry the notice carried, or read from
// the store; a mark or a prekey warning pushed, a displaced connection closed, a connection
// whose notices may have gone astray re-read, presence and typing pushed to every
// connection of the user. A device not connected here (it just left) is skipped: it reads
// what waits at its next login.
#include "presence/presence_registry.hpp"
#include "routing/device_router.hpp"

namespace parley {
class Metrics;
}

namespace parley::routing {

class RoutedToSessions final : public RoutedNotices {
 public:
  RoutedToSessions(PresenceRegistry& presence, Metrics& metrics)
      : presence_(presence), metrics_(metrics) {}

  void appended(const std::string& user, std::uint32_t device, std::uint64_t inbox_seq,
                std::shared_ptr<const store::InboxEntry> entry) override;
  void mark_raised(const std::string& owner, std::uint32_t owner_device,
                   store::DeliveryMarkRecord mark, std::optional<std::uint64_t> follows) override;
  void prekeys_low(const std::string& user, std::uint32_t device,
                   std::uint32_t one_time_left) override;
  void displaced(const std::string& user, std::uint32_t device, std::uint64_t ended) override;
  void rescan(const std::string& user, std::uint32_t device) override;
  void presence(const std::string& user, PresenceInfo about) override;
  void typing(const std::string& user, const std::string& sender, bool active) override;

 private:
  PresenceRegistry& presence_;
  Metrics& metrics_;
};

}  // namespace parley::routing
