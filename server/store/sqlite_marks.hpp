#pragma once
// SqliteStore's delivery marks (docs/protocol.md 6.6): one row per (sending device, receiving
// device, conversation), raised in place by the receiver's acks, and a relay-wide version
// counter that orders the raises for a device's resume.
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "store/records.hpp"

namespace SQLite {
class Database;
}

namespace parley::store {

class SqliteMarks {
 public:
  explicit SqliteMarks(SQLite::Database& db);
  ~SqliteMarks();

  // Raises the mark to `up_to` (making it at `from` if there is none) and gives it the next
  // version; nullopt when it already was at or above (nothing changed).
  std::optional<MarkRaised> raise(DevicePk owner, DevicePk reader, std::string_view group_id,
                              std::uint64_t from, std::uint64_t up_to, std::uint64_t acked_ms);
  // A user (re)joins a group: marks of its devices from an earlier membership go, so its
  // new marks start at what it gets now.
  void forget_member(std::string_view group_id, UserId user);
  // Marks of `owner` with a version above `after`, by version, at most `limit`.
  std::vector<DeliveryMarkRecord> after(DevicePk owner, std::uint64_t after, std::size_t limit);
  std::uint64_t version() const { return version_; }

  // The counter lives in memory. Its start is stored (synced) when the store opens; after
  // that it is written inside a transaction (before COMMIT) when it has run 2^30 ahead of
  // the stored value, so that value plus the run gap always covers every version given out
  // (sqlite_marks.cpp).
  void before_commit();
  void committed() { saved_ = written_; }
  void rolled_back() { written_ = saved_; }

 private:
  void save(std::uint64_t version);

  struct Statements;
  std::unique_ptr<Statements> st_;
  std::uint64_t version_ = 0;  // the highest version handed out
  std::uint64_t written_ = 0;  // written in the open transaction
  std::uint64_t saved_ = 0;    // committed
};

}  // namespace parley::store
