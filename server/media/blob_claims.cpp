#include "media/blob_claims.hpp"

#include <cassert>

namespace parley::media {

void BlobClaims::claim(const Sha256& hash) { ++claims_[hash].open; }

void BlobClaims::release(const Sha256& hash, Clock::time_point now) {
  const auto it = claims_.find(hash);
  assert(it != claims_.end() && it->second.open > 0);
  if (it == claims_.end() || it->second.open == 0) return;
  --it->second.open;
  it->second.released = now;
}

bool BlobClaims::may_remove(const Sha256& hash, Clock::time_point decided_at,
                            Clock::time_point now) const {
  // A release forgotten by prune() could have come after so old a decision.
  if (now - decided_at > kMemory) return false;
  const auto it = claims_.find(hash);
  if (it == claims_.end()) return true;
  // A release is taken after its record's commit: one before the decision means the
  // decision saw the record (and so would not have called the blob unused).
  return it->second.open == 0 && it->second.released < decided_at;
}

void BlobClaims::prune(Clock::time_point now) {
  std::erase_if(claims_, [now](const auto& entry) {
    return entry.second.open == 0 && now - entry.second.released > kMemory;
  });
}

}  // namespace parley::media
