#pragma once
// What each device's undelivered 1:1 entries weigh against the inbox quota, in all and by
// sender (Store::inbox_bytes, Store::inbox_bytes_from), kept by the store in memory so the
// checks on every Send are lookups. Group rows weigh nothing here: the quota bounds what 1:1
// Sends can make the relay keep, and a group's rows must not fill it, or anyone able to add
// someone to groups could have their 1:1 messages refused.
//
// The inbox table stays the truth. A device not cached here is summed from its rows by the
// store, a read of every row of its inbox, group rows too (~2 million 1:1 rows at the quota,
// and group rows bounded only by their senders' shares of the group logs), so the cache
// keeps what it can: a job's rollback takes back only that job's changes (the journal,
// newest first), a whole transaction's rollback drops it all, and a cache past its bounds
// forgets first the senders with nothing waiting (free to forget), then the devices whose
// last sum read fewest rows, the cheapest to sum again, so nobody can make the relay re-read
// long inboxes by filling the cache with short ones.
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "store/records.hpp"

namespace parley::store {

class InboxWeights {
 public:
  // Devices and (device, sender) pairs kept between transactions. Past either, the pairs
  // with nothing waiting go; if that is not enough, the devices cheapest to sum again go
  // until both are at half. One batch of jobs may go past them until the next transaction
  // starts: a pair costs ~40 bytes, so ~10 MiB plus that batch's.
  static constexpr std::size_t kMaxDevices = 1 << 16;
  static constexpr std::size_t kMaxSenders = 1 << 18;

  struct Weight {
    std::uint64_t total = 0;
    std::uint64_t rows_read = 0;  // by the sum that cached it: what summing it again costs
    // By the sending device (one per account, so one per user: protocol.md 3.2).
    std::unordered_map<DevicePk, std::uint64_t> by_sender;

    std::uint64_t from(DevicePk sender) const {
      auto it = by_sender.find(sender);
      return it != by_sender.end() ? it->second : 0;
    }
    // One 1:1 row, as the store sums them.
    void add_row(DevicePk sender, std::uint64_t bytes) {
      total += bytes;
      by_sender[sender] += bytes;
    }
  };

  // The device's weight, or null when it is not cached.
  const Weight* find(DevicePk device) const {
    auto it = devices_.find(device);
    return it != devices_.end() ? &it->second : nullptr;
  }
  // Caches a device's weight summed from its rows (the running job's included): a rollback
  // of the job forgets it with the rows.
  const Weight& add_summed(DevicePk device, Weight weight);
  // Changes a cached device's weight by a 1:1 row of `bytes` from `sender` coming (delta > 0)
  // or going; an uncached device is left for its sum to find. (Group rows weigh nothing:
  // the store does not call this for them.)
  void adjust(DevicePk device, DevicePk sender, std::int64_t delta);

  // The running job's changes stay (its savepoint released, or the transaction committed).
  void keep() { journal_.clear(); }
  // The running job's changes go, newest first.
  void take_back();
  void clear();
  // Between transactions: past its bounds, the senders with nothing waiting go, then if
  // need be the devices cheapest to sum again.
  void shed_if_over();

  std::size_t devices() const { return devices_.size(); }
  std::size_t senders() const { return senders_; }

 private:
  // A sender's part of `weight`: its entry holds `bytes`, 0 included (shed_if_over).
  void set_from(Weight& weight, DevicePk sender, std::uint64_t bytes);
  bool within_bounds() const;

  struct Change {
    DevicePk device;
    bool summed;          // the job cached the device: taking it back forgets the device
    DevicePk sender;      // otherwise what changed, and the values before
    std::uint64_t total;
    std::uint64_t from;
  };

  std::unordered_map<DevicePk, Weight> devices_;
  std::size_t senders_ = 0;  // entries in every by_sender
  std::vector<Change> journal_;
};

}  // namespace parley::store
