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
#include "store/run_floor.hpp"

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

  // The counter lives in memory; its floor is stored as the transaction commits
  // (run_floor.hpp).
  void before_commit() { floor_.before_commit(); }
  void committed() { floor_.committed(); }
  void rolled_back() { floor_.rolled_back(); }

 private:
  struct Statements;
  std::unique_ptr<Statements> st_;
  RunFloor floor_;
  std::uint64_t version_;  // the highest version handed out
};

}  // namespace parley::store
