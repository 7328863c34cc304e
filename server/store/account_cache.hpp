#pragma once
// Accounts as a send addresses them (the user's id and devices), kept in memory by the store
// so a send does not read the users and devices tables each time: those two lookups were
// 9 % of the store thread's time in the pairs benchmark (docs/performance-log.md).
//
// An account never changes once made, and its devices are made with it (create_account is
// the only writer of either table), so an entry cannot go stale while its row stands. It can
// only be wrong about a row a rolled-back job wrote: the store drops everything on every
// rollback, a job's or a batch's. Bounded: a full map is emptied and refilled by the sends
// that follow (an entry handed out lives on in its holder's shared_ptr).
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "store/records.hpp"
#include "util/string_map.hpp"

namespace parley::store {

class AccountCache {
 public:
  static constexpr std::size_t kMaxEntries = 1 << 14;

  std::shared_ptr<const Account> find(std::string_view username) const {
    auto it = entries_.find(username);
    return it != entries_.end() ? it->second : nullptr;
  }
  void put(std::string_view username, std::shared_ptr<const Account> account) {
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_.insert_or_assign(std::string(username), std::move(account));
  }
  void clear() { entries_.clear(); }

 private:
  StringMap<std::shared_ptr<const Account>> entries_;
};

}  // namespace parley::store
