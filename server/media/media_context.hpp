#pragma once
// What the media endpoints and the media frames share; owned by the Relay, outlives every
// connection.
#include <algorithm>
#include <chrono>
#include <cstdint>

#include "net/asio.hpp"

namespace parley::media {

class BlobClaims;
class BlobStore;
class MediaTokens;
class TransferSlots;
class UploadRegistry;

struct MediaLimits {
  std::uint64_t max_bytes = 100ull << 20;          // one file's ciphertext
  std::uint64_t quota_bytes = 1ull << 30;          // all of one user's stored media
  std::uint32_t max_uploads = 4;                   // unfinished uploads per user
  std::uint32_t max_downloads = 8;                 // downloads of one user at once
  std::uint32_t max_transfers = 1024;              // uploads and downloads at once, in all
  // Disk the media may not take, so the database (often on the same disk) can still grow:
  // an upload is granted only with its size plus this free, and its bytes are refused
  // once less than half of this is free (the client resumes later). 0: no check.
  std::uint64_t min_free_bytes = 1ull << 30;
  std::chrono::hours retention{24 * 30};           // then the blob is deleted
  std::chrono::hours unfinished_ttl{24};           // abandoned uploads go after this
  std::chrono::milliseconds token_ttl{10 * 60 * 1000};
  // A transfer whose next piece (a read of an upload, a write of a download) makes no
  // progress for this long is closed; a slow link is fine, a stalled one is not.
  std::chrono::seconds idle{30};
  // And a whole transfer of S bytes gets S at this rate, or the idle time if longer
  // (transfer_time): a peer moving a few bytes per idle period would otherwise hold the
  // connection (and an upload's lease) for as long as it liked. A cut transfer resumes.
  std::uint64_t min_bytes_per_second = 8 * 1024;
};

// How long a transfer of `bytes` may take in all: the idle time, or the time `bytes` takes
// at the slowest rate served, whichever is longer.
inline std::chrono::seconds transfer_time(const MediaLimits& limits, std::uint64_t bytes) {
  const auto rate = std::max<std::uint64_t>(limits.min_bytes_per_second, 1);
  const auto at_rate = std::chrono::seconds((bytes + rate - 1) / rate);
  return std::max(limits.idle, at_rate);
}

struct MediaContext {
  MediaLimits limits;
  BlobStore& blobs;
  BlobClaims& claims;  // the disk thread's
  MediaTokens& tokens;
  UploadRegistry& uploads;
  TransferSlots& transfers;
  // One thread for blocking disk work (fsync, rehashing, renames), so I/O threads only ever
  // do bounded page-cache reads and writes.
  net::any_io_executor disk;
};

}  // namespace parley::media
