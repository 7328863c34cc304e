#pragma once
// What the media endpoints and the media frames share; owned by the Relay, outlives every
// connection.
#include <chrono>
#include <cstdint>

#include "net/asio.hpp"

namespace parley::media {

class BlobStore;
class MediaTokens;
class UploadRegistry;

struct MediaLimits {
  std::uint64_t max_bytes = 100ull << 20;          // one file's ciphertext
  std::uint64_t quota_bytes = 1ull << 30;          // all of one user's stored media
  std::uint32_t max_uploads = 4;                   // unfinished uploads per user
  std::chrono::hours retention{24 * 30};           // then the blob is deleted
  std::chrono::hours unfinished_ttl{24};           // abandoned uploads go after this
  std::chrono::milliseconds token_ttl{10 * 60 * 1000};
  // A transfer whose next piece (a read of an upload, a write of a download) makes no
  // progress for this long is closed; a slow link is fine, a stalled one is not.
  std::chrono::seconds idle{30};
};

struct MediaContext {
  MediaLimits limits;
  BlobStore& blobs;
  MediaTokens& tokens;
  UploadRegistry& uploads;
  // One thread for blocking disk work (fsync, rehashing, renames), so I/O threads only ever
  // do bounded page-cache reads and writes.
  net::any_io_executor disk;
};

}  // namespace parley::media
