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
#include "util/clock.hpp"

namespace parley::media {
namespace {

constexpr auto kOrphanAge = std::chrono::hours(1);
// How long an idle upload's running hash is kept for its next PATCH.
constexpr auto kUploadStateKept = std::chrono::hours(1);

// When the store said no record names a blob.
struct Decision {
  BlobClaims::Clock::time_point at;                  // for this process's claims
  std::chrono::system_clock::time_point wall;        // for the blob's time (other gateways')
  static Decision now() { return {BlobClaims::Clock::now(), std::chrono::system_clock::now()}; }
};

// Removes those of `unused` that no upload claimed since the decision; the count removed.
// Uploads of other gateways sharing the blobs cannot claim here: a blob written within
// BlobClaims::kMemory before the decision (a commit whose record may still be coming, give
// or take the gateways' clock skew) is kept instead.
std::size_t remove_unused(MediaContext& media, const std::vector<Sha256>& unused, const Decision& decided) {
  media.claims.prune();
  std::size_t removed = 0;
  for (const auto& hash : unused) {
    if (!media.claims.may_remove(hash, decided.at)) continue;
    if (media.blobs.remove_blob(hash, decided.wall - BlobClaims::kMemory)) ++removed;
  }
  return removed;
}

}  // namespace

void purge_expired_media(store::StoreWorker& worker, MediaContext& media, std::uint64_t now_ms) {
  media.uploads.drop_idle(std::chrono::steady_clock::now() - kUploadStateKept);
  struct Purged {
    std::vector<store::MediaRecord> records;
    std::vector<Sha256> unused;
    Decision decided;
  };
  auto purged = std::make_shared<Purged>();
  const auto before = now_ms - count_ms(media.limits.retention);
  const auto unfinished_before = now_ms - count_ms(media.limits.unfinished_ttl);
  worker.submit(
      [=](store::Store& s) {
        purged->decided = Decision::now();
        purged->unused.clear();  // a run again starts afresh (store/job.hpp)
        purged->records = s.purge_media(before, unfinished_before);
        for (const auto& m : purged->records) {
          const auto hash = sha256_from_bytes(m.sha256);
          if (hash && !s.blob_referenced(m.sha256)) purged->unused.push_back(*hash);
        }
      },
      [purged, &media](store::JobStatus st) {
        if (st != store::JobStatus::Committed || purged->records.empty()) return;
        net::post(media.disk, [purged, &media] {
          for (const auto& m : purged->records) {
            media.uploads.forget(m.id);
            media.blobs.discard_staged(m.id);
          }
          const auto removed = remove_unused(media, purged->unused, purged->decided);
          // Kept: an identical upload took the blob meanwhile (here or on another gateway);
          // its record names it now.
          spdlog::info("event=media_purge removed={} blobs_removed={} blobs_kept_for_new_uploads={}",
                       purged->records.size(), removed, purged->unused.size() - removed);
        });
      });
}

void OrphanSweep::run(store::StoreWorker& worker, MediaContext& media) {
  net::post(media.disk, [this, &worker, &media] {
    struct Staged {
      std::vector<std::string> candidates;
      std::vector<std::string> orphans;
    };
    auto staged = std::make_shared<Staged>();
    staged->candidates =
        media.blobs.list_staged(std::chrono::system_clock::now() - kOrphanAge, staged_after_, per_run_);
    staged_after_ = staged->candidates.size() < per_run_
                        ? std::nullopt
                        : std::optional(staged->candidates.back());
    if (staged->candidates.empty()) return;
    worker.submit(
        [staged](store::Store& s) {
          staged->orphans.clear();  // a run again starts afresh (store/job.hpp)
          for (const auto& id : staged->candidates) {
            const auto m = s.find_media(id);
            if (!m || !m->sha256.empty()) staged->orphans.push_back(id);
          }
        },
        [staged, &media](store::JobStatus st) {
          if (st != store::JobStatus::Committed || staged->orphans.empty()) return;
          net::post(media.disk, [staged, &media] {
            std::size_t removed = 0;
            for (const auto& id : staged->orphans)
              // Not while a PATCH writes it (its lease); no record means none can start.
              media.uploads.look_if_idle(id, [&] {
                media.blobs.discard_staged(id);
                ++removed;
              });
            spdlog::info("event=media_staged_orphans_removed checked={} removed={}",
                         staged->candidates.size(), removed);
          });
        });
  });
  net::post(media.disk, [this, &worker, &media] {
    struct Sweep {
      std::vector<Sha256> candidates;
      std::vector<Sha256> unused;
      Decision decided;
    };
    auto sweep = std::make_shared<Sweep>();
    sweep->candidates =
        media.blobs.list_blobs(std::chrono::system_clock::now() - kOrphanAge, after_, per_run_);
    // A short slice reached the end: the next run starts over.
    after_ = sweep->candidates.size() < per_run_ ? std::nullopt
                                                         : std::optional(sweep->candidates.back());
    if (sweep->candidates.empty()) return;
    // A prompt job, though it writes nothing: its completion then means the batch it read
    // in was committed, so no record it saw missing can come back with a rollback.
    worker.submit(
        [sweep](store::Store& s) {
          sweep->decided = Decision::now();
          sweep->unused.clear();  // a run again starts afresh (store/job.hpp)
          for (const auto& hash : sweep->candidates)
            if (!s.blob_referenced(to_bytes(hash))) sweep->unused.push_back(hash);
        },
        [sweep, &media](store::JobStatus st) {
          if (st != store::JobStatus::Committed || sweep->unused.empty()) return;
          net::post(media.disk, [sweep, &media] {
            const auto removed = remove_unused(media, sweep->unused, sweep->decided);
            spdlog::info("event=media_orphans_removed checked={} removed={}",
                         sweep->candidates.size(), removed);
          });
        });
  });
}

}  // namespace parley::media
