#pragma once
// Delivery marks raised by an ack, and who to tell (marks.cpp).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "store/records.hpp"

namespace parley {

class PresenceRegistry;
namespace routing {
class DeviceRouter;
}
namespace store {
class Store;
}

// A mark raised for `owner`'s device `owner_device`, to push if it is connected.
struct MarkNotice {
  std::string owner;
  std::uint32_t owner_device = 0;
  store::DeliveryMarkRecord mark;  // its version and `from` are raised's, once committed
  // What the raise did (none: it already was that high). Set by a round trip of the job's
  // transaction, which may still roll back: only on_commit reads it.
  std::optional<store::MarkRaised> raised;
};
// An ack nearly always covers one conversation: its notice is kept in place.
using MarkNotices = boost::container::small_vector<MarkNotice, 1>;

// On the store thread, in the ack's job: raises the mark of every (sending device,
// conversation) the ack covered to its highest conv_seq (a new mark starts at the lowest).
// What each raise did is set in `notices` (made afresh) by the commit, so they must stay
// where they are until then: the job's own state.
void raise_delivery_marks(MarkNotices& notices, store::Store& s,
                          std::span<const store::AckedMessages> acked, store::DevicePk reader_pk,
                          const std::string& reader, std::uint32_t reader_device,
                          std::uint64_t now);

// On the store thread, right after the commit (so marks leave in version order): hands each
// mark to its owner's connection, if any.
// Pushes each to its owner's connection here, or through `router` (if any) to its gateway.
void notify_marks(PresenceRegistry& presence, routing::DeviceRouter* router,
                  std::span<MarkNotice> notices);

}  // namespace parley
