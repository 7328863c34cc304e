#pragma once
// The rules of group range rows that every Store keeps alike (sqlite_store.cpp,
// postgres/postgres_store.cpp): a member's inbox row names a range of the group's log, less
// the member's own messages; an ack counts what it covered per sending device and
// conversation; a sender's share changes by rows and by unfinished entries; and a row whose
// log entries are not all there makes the job fail rather than number the rest wrongly.
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "store/records.hpp"

namespace parley::store {

// A range row stands for its log entries less the device's own messages (it has those).
inline bool sent_by(const InboxEntry& e, DevicePk device) {
  return e.kind == EntryKind::GroupMessage && e.sender_pk == device;
}

// Counts an acknowledged entry into its (sending device, conversation)'s run.
inline void note_acked(std::vector<AckedMessages>& acked, const InboxEntry& e) {
  if (e.kind != EntryKind::Message && e.kind != EntryKind::GroupMessage) return;
  auto same = std::find_if(acked.begin(), acked.end(), [&](const AckedMessages& a) {
    return a.sender_pk == e.sender_pk && a.group_id == e.group_id;
  });
  if (same == acked.end()) {
    acked.push_back({e.sender, e.sender_device, e.sender_pk, e.group_id, e.conv_seq, e.conv_seq});
    return;
  }
  same->from = std::min(same->from, e.conv_seq);
  same->up_to = std::max(same->up_to, e.conv_seq);
}

// A change to a sender's row in group_sender_bytes, summed over a transaction
// (deferred_sums.hpp) and written at its commit before the log's reference counts (whose
// last release removes an entry, and with it its weight).
struct ShareDelta {
  std::int64_t bytes = 0;    // range rows charged to the sender, Store::kGroupEntryBytes each
  std::int64_t pending = 0;  // its entries the fan-out has not finished
  ShareDelta& operator+=(const ShareDelta& o) {
    bytes += o.bytes;
    pending += o.pending;
    return *this;
  }
  ShareDelta& operator-=(const ShareDelta& o) {
    bytes -= o.bytes;
    pending -= o.pending;
    return *this;
  }
  bool operator==(const ShareDelta&) const = default;
};

// A row or the fan-out names log entries that are not there: the store is inconsistent,
// and the job fails (so its device's replay or ack does) rather than skip entries and number
// the rest wrongly.
[[noreturn]] inline void missing_log_entries(std::uint64_t lo, std::uint64_t end,
                                             std::size_t found) {
  throw std::runtime_error("group log: entries " + std::to_string(lo) + ".." +
                           std::to_string(end) + " are named by an inbox row or the fan-out "
                           "but only the first " + std::to_string(found) + " are stored");
}
[[noreturn]] inline void range_row_mismatch(DevicePk device, std::uint64_t seq) {
  throw std::runtime_error("inbox of device " + std::to_string(device) + ": the range row at seq " +
                           std::to_string(seq) + " holds a different number of entries "
                           "than its log entries give it; that inbox cannot be read past it");
}

}  // namespace parley::store
