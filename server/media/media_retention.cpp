#include "media/media_retention.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include <spdlog/spdlog.h>

#include "media/blob_claims.hpp"
#include "media/blob_store.hpp"
#include "media/media_context.hpp"
#include "media/upload_registry.hpp"
#include "store/store_worker.hpp"

namespace parley::media {
namespace {

constexpr auto kOrphanAge = std::chrono::hours(1);
constexpr std::size_t kOrphansPerSweep = 10'000;

std::uint64_t ms(std::chrono::hours h) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(h).count());
}

std::string bytes_of(const Sha256& hash) {
  return {reinterpret_cast<const char*>(hash.data()), hash.size()};
}

// Removes those of `unused` that no upload claimed since `decided_at`; the count removed.
std::size_t remove_unused(MediaContext& media, const std::vector<Sha256>& unused,
                          BlobClaims::Clock::time_point decided_at) {
  media.claims.prune();
  std::size_t removed = 0;
  for (const auto& hash : unused) {
    if (!media.claims.may_remove(hash, decided_at)) continue;
    media.blobs.remove_blob(hash);
    ++removed;
  }
  return removed;
}

}  // namespace

void purge_expired_media(store::StoreWorker& worker, MediaContext& media, std::uint64_t now_ms) {
  struct Purged {
    std::vector<store::MediaRecord> records;
    std::vector<Sha256> unused;
    BlobClaims::Clock::time_point decided_at;
  };
  auto purged = std::make_shared<Purged>();
  const auto before = now_ms - ms(media.limits.retention);
  const auto unfinished_before = now_ms - ms(media.limits.unfinished_ttl);
  worker.submit(
      [=](store::Store& s) {
        purged->decided_at = BlobClaims::Clock::now();
        purged->records = s.purge_media(before, unfinished_before);
        for (const auto& m : purged->records) {
          if (m.sha256.size() != Sha256{}.size() || s.blob_referenced(m.sha256)) continue;
          Sha256 hash{};
          std::copy(m.sha256.begin(), m.sha256.end(), hash.begin());
          purged->unused.push_back(hash);
        }
      },
      [purged, &media](store::JobStatus st) {
        if (st != store::JobStatus::Committed || purged->records.empty()) return;
        net::post(media.disk, [purged, &media] {
          for (const auto& m : purged->records) {
            media.uploads.forget(m.id);
            media.blobs.discard_staged(m.id);
          }
          const auto removed = remove_unused(media, purged->unused, purged->decided_at);
          // Kept: an identical upload took the blob meanwhile; its record names it now.
          spdlog::info("event=media_purge removed={} blobs_removed={} blobs_kept_for_new_uploads={}",
                       purged->records.size(), removed, purged->unused.size() - removed);
        });
      });
}

void sweep_orphan_blobs(store::StoreWorker& worker, MediaContext& media) {
  net::post(media.disk, [&worker, &media] {
    struct Sweep {
      std::vector<Sha256> candidates;
      std::vector<Sha256> unused;
      BlobClaims::Clock::time_point decided_at;
    };
    auto sweep = std::make_shared<Sweep>();
    sweep->candidates =
        media.blobs.list_blobs(std::chrono::system_clock::now() - kOrphanAge, kOrphansPerSweep);
    if (sweep->candidates.empty()) return;
    worker.submit(
        [sweep](store::Store& s) {
          sweep->decided_at = BlobClaims::Clock::now();
          for (const auto& hash : sweep->candidates)
            if (!s.blob_referenced(bytes_of(hash))) sweep->unused.push_back(hash);
        },
        [sweep, &media](store::JobStatus st) {
          if (st != store::JobStatus::Committed || sweep->unused.empty()) return;
          net::post(media.disk, [sweep, &media] {
            const auto removed = remove_unused(media, sweep->unused, sweep->decided_at);
            spdlog::info("event=media_orphans_removed checked={} removed={}", sweep->candidates.size(),
                         removed);
          });
        });
  });
}

}  // namespace parley::media
