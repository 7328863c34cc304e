#pragma once
// Encoded Deliver bodies (frame.hpp) of group entries, shared by every member's frame for as
// long as any frame holds one. A fan-out step encodes each entry once for the members it
// pushes live; a member that fell behind reads its entries back from its inbox later, and
// gets the same bytes here instead of encoding a copy of its own. Without this, 1,000
// members catching up on 4 KiB messages queued 1,000 encoded copies of each (a peak RSS of
// up to 540 MiB in one fan-out run, against 24-39 MiB with it: docs/performance-log.md).
//
// Keyed by (group id, log seq), which names one immutable log entry (UNIQUE in group_log).
// Only weak references are kept: a body lives while a frame or a fan-out step holds it.
//
// Thread-safety: any thread; one short critical section per lookup.
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "session/shared_bytes.hpp"

namespace parley {
namespace store {
struct InboxEntry;
}

class DeliverBodies {
 public:
  // `encoded`, if given, counts the bodies encoded (Metrics::deliver_bodies_encoded).
  explicit DeliverBodies(std::atomic<std::uint64_t>* encoded = nullptr) : encoded_(encoded) {}

  // The body of `entry`, encoded on first use. Entries that are not a group's message or
  // event (nothing to share) are encoded every time.
  SharedBytes get(const store::InboxEntry& entry);

  std::size_t size_for_test();

 private:
  struct Key {
    std::array<char, 16> group_id;
    std::uint64_t seq;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };

  SharedBytes encode(const store::InboxEntry& entry);

  std::atomic<std::uint64_t>* encoded_;
  std::mutex mutex_;
  std::unordered_map<Key, SharedBytes::Weak, KeyHash> bodies_;
  std::size_t prune_at_ = kMinPrune;
  static constexpr std::size_t kMinPrune = 1024;
};

}  // namespace parley
