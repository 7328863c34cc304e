#pragma once
// Media retention, run by the relay's maintenance timer: expired records go in a store job,
// then their bytes on the disk thread; blobs no record names (an upload whose record never
// got written, a crash between a blob's rename and its record) go in an hourly sweep.
#include <cstdint>

namespace parley::store {
class StoreWorker;
}

namespace parley::media {

struct MediaContext;

// Records finished before `now_ms` − retention, or unfinished for longer than their TTL, and
// the blobs no remaining record names.
void purge_expired_media(store::StoreWorker& worker, MediaContext& media, std::uint64_t now_ms);

// Blobs last written over an hour ago that no record names, at most 10,000 per call.
void sweep_orphan_blobs(store::StoreWorker& worker, MediaContext& media);

}  // namespace parley::media
