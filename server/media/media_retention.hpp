#pragma once
// Media retention, run by the relay's maintenance timer: expired records go in a store job,
// then their bytes on the disk thread; blobs no record names (an upload whose record never
// got written, a crash between a blob's rename and its record) go in an hourly sweep.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "media/blob_store.hpp"

namespace parley::store {
class StoreWorker;
}

namespace parley::media {

struct MediaContext;

// Records finished before `now_ms` − retention, or unfinished for longer than their TTL, and
// the blobs no remaining record names.
void purge_expired_media(store::StoreWorker& worker, MediaContext& media, std::uint64_t now_ms);

// Blobs last written over an hour ago that no record names, and staged uploads last written
// over an hour ago that no unfinished record names (a PATCH that raced retention's purge of
// its upload made its staging file again). Each run checks the next `per_run` of each in
// order, carrying on where the last one stopped and starting over past the end, so the named
// ones at the front cannot hide the orphans behind them.
class OrphanSweep {
 public:
  explicit OrphanSweep(std::size_t per_run = 10'000) : per_run_(per_run) {}
  void run(store::StoreWorker& worker, MediaContext& media);

 private:
  std::size_t per_run_;
  std::optional<Sha256> after_;  // the disk thread's, as is the next
  std::optional<std::string> staged_after_;
};

}  // namespace parley::media
