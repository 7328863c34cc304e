#include "routing/routed_to_sessions.hpp"

#include "observability/metrics.hpp"
#include "parley.pb.h"
#include "session/frame.hpp"
#include "session/session.hpp"

namespace parley::routing {

void RoutedToSessions::appended(const std::string& user, std::uint32_t device,
                                std::uint64_t inbox_seq,
                                std::shared_ptr<const store::InboxEntry> entry) {
  // Without an entry in hand (or one the session cannot push next) the session reads the
  // shared store, where every entry is committed before its notice is published.
  if (entry) metrics_.routed_entries_received.fetch_add(1, std::memory_order_relaxed);
  if (auto s = presence_.find(user, device))
    Session::notify_appended(std::move(s), inbox_seq, std::move(entry));
}

void RoutedToSessions::mark_raised(const std::string& owner, std::uint32_t owner_device,
                                   store::DeliveryMarkRecord mark,
                                   std::optional<std::uint64_t> follows) {
  if (auto s = presence_.find(owner, owner_device))
    Session::notify_mark(std::move(s), std::move(mark), follows);
}

void RoutedToSessions::prekeys_low(const std::string& user, std::uint32_t device,
                                   std::uint32_t one_time_left) {
  if (auto s = presence_.find(user, device)) {
    wire::ServerFrame low;
    low.mutable_prekeys_low()->set_one_time_prekeys_left(one_time_left);
    s->push(Frame::serialize(low));
  }
}

void RoutedToSessions::rescan(const std::string& user, std::uint32_t device) {
  if (auto s = presence_.find(user, device)) Session::notify_rescan(std::move(s));
}

void RoutedToSessions::presence(const std::string& user, PresenceInfo about) {
  for (auto& s : presence_.find_all(user)) Session::notify_presence(std::move(s), about);
}

void RoutedToSessions::typing(const std::string& user, const std::string& sender, bool active) {
  Frame frame;
  for (auto& s : presence_.find_all(user)) {
    if (!frame) frame = Session::typing_event(sender, active);
    s->push(frame);
  }
}

void RoutedToSessions::displaced(const std::string& user, std::uint32_t device,
                                 std::uint64_t ended) {
  // Checked against the connection found, not against the gateway's count: a login here
  // between the two would otherwise be closed by a notice meant for the one before it.
  if (auto s = presence_.find(user, device); s && s->route_login() <= ended)
    s->shutdown(kCloseDisplaced, "this device connected again elsewhere");
}

}  // namespace parley::routing
