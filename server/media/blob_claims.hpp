#pragma once
// Which blobs may have a record that a retention decision could not see.
//
// Retention decides a blob is unused from the records committed when its store job ran,
// then removes it later on the disk thread. Meanwhile an identical upload may finish: it
// keeps the stored copy (content addressing) and writes its record after. A blob is claimed
// from that commit until its record's store job has finished; a decision may be acted on
// only if no claim was open at its time or since. Claims are remembered for kMemory after
// release, and decisions older than that are not acted on (the orphan sweep decides again).
//
// Thread: the media disk thread, like every BlobStore call that changes files.
#include <chrono>
#include <cstdint>
#include <map>

#include "media/blob_store.hpp"

namespace parley::media {

class BlobClaims {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kMemory = std::chrono::minutes(10);

  // An upload committed as `hash`; its record is about to be written.
  void claim(const Sha256& hash);
  // That record's store job has finished, committed or not.
  void release(const Sha256& hash, Clock::time_point now = Clock::now());
  // Whether a decision made at `decided_at` (no committed record names `hash`) still holds.
  bool may_remove(const Sha256& hash, Clock::time_point decided_at,
                  Clock::time_point now = Clock::now()) const;
  // Forgets released claims older than kMemory.
  void prune(Clock::time_point now = Clock::now());
  std::size_t size() const { return claims_.size(); }

 private:
  struct Claim {
    std::uint32_t open = 0;
    Clock::time_point released{};
  };
  std::map<Sha256, Claim> claims_;
};

}  // namespace parley::media
