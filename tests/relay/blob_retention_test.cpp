// The pieces media retention stands on: BlobClaims (a blob an identical upload took after
// retention decided it was unused is kept) and FsBlobStore::list_blobs (what the orphan
// sweep checks).
#include <QtTest>

#include <QTemporaryDir>

#include <sodium.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <functional>

#include <boost/asio/thread_pool.hpp>
#include <future>

#include "media/blob_claims.hpp"
#include "media/fs_blob_store.hpp"
#include "media/media_context.hpp"
#include "media/media_retention.hpp"
#include "media/media_tokens.hpp"
#include "media/transfer_slots.hpp"
#include "media/upload_registry.hpp"
#include "observability/metrics.hpp"
#include "store/sqlite_store.hpp"
#include "store/store_worker.hpp"

using parley::media::BlobClaims;
using parley::media::FsBlobStore;
using parley::media::Sha256;
using namespace std::chrono_literals;

namespace {

// Stages `bytes` as upload `media_id` and commits it; its hash.
Sha256 upload(FsBlobStore& blobs, const std::string& media_id, const std::string& bytes) {
  std::error_code ec;
  auto w = blobs.open_staged(media_id, ec);
  if (!w || w->append({bytes.data(), bytes.size()})) return {};
  w.reset();
  Sha256 hash{};
  crypto_hash_sha256(hash.data(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  if (blobs.commit_staged(media_id, hash)) return {};
  blobs.drop_staged(media_id);
  return hash;
}

bool age(const std::filesystem::path& path, std::chrono::seconds by) {
  const timespec when{::time(nullptr) - by.count(), 0};
  const timespec times[2] = {when, when};
  return ::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0;
}

Sha256 hash_of(unsigned char fill) {
  Sha256 h{};
  h.fill(fill);
  return h;
}

// A store, a blob store and a disk thread in one temporary directory, and the media context a
// sweep runs with.
struct SweepRig {
  QTemporaryDir dir;
  std::filesystem::path root{dir.path().toStdString()};
  FsBlobStore blobs{root / "media"};
  parley::Metrics metrics;
  parley::store::StoreWorker worker{
      std::make_unique<parley::store::SqliteStore>(root, parley::store::Durability::Normal), metrics,
      1000};
  boost::asio::thread_pool disk{1};
  BlobClaims claims;
  parley::media::MediaTokens tokens{std::chrono::minutes(10)};
  parley::media::UploadRegistry uploads;
  parley::media::TransferSlots transfers{8, 1024};
  parley::media::MediaContext media{parley::media::MediaLimits{}, blobs, claims, tokens,
                                    uploads, transfers, disk.get_executor()};

  ~SweepRig() { disk.join(); }

  // Runs `work` in a store job; true once it committed.
  bool in_store(std::function<void(parley::store::Store&)> work) {
    std::promise<bool> done;
    worker.submit(std::move(work),
                  [&](parley::store::JobStatus st) { done.set_value(st == parley::store::JobStatus::Committed); });
    return done.get_future().get();
  }

  // Waits until everything a sweep started has run: its listing on the disk thread, its
  // store job, then its removals on the disk thread.
  void settle() {
    const auto through_disk = [&] {
      std::promise<void> done;
      boost::asio::post(disk.get_executor(), [&] { done.set_value(); });
      done.get_future().wait();
    };
    through_disk();
    std::promise<void> job;
    worker.submit([](parley::store::Store&) {}, [&](parley::store::JobStatus) { job.set_value(); });
    job.get_future().wait();
    through_disk();
  }
};

}  // namespace

class BlobRetentionTest : public QObject {
  Q_OBJECT

 private slots:
  void aBlobTakenSinceTheDecisionIsKept() {
    BlobClaims claims;
    const auto t0 = BlobClaims::Clock::now();
    const auto h = hash_of(1);
    QVERIFY(claims.may_remove(h, t0, t0 + 1s));  // nobody took it
    // Retention decides at t0 that h is unused; an identical upload commits at t0 + 1 s and
    // its record is being written when the removal comes.
    claims.claim(h);
    QVERIFY(!claims.may_remove(h, t0, t0 + 2s));
    // The record is in (released at t0 + 3 s): t0's decision could not see it.
    claims.release(h, t0 + 3s);
    QVERIFY(!claims.may_remove(h, t0, t0 + 4s));
    // A decision after the release saw the record; if it still says unused, that is so.
    QVERIFY(claims.may_remove(h, t0 + 5s, t0 + 6s));
    // Two uploads of the same bytes: the blob stays claimed until both records are written.
    claims.claim(h);
    claims.claim(h);
    claims.release(h, t0 + 7s);
    QVERIFY(!claims.may_remove(h, t0 + 8s, t0 + 9s));
    claims.release(h, t0 + 10s);
    QVERIFY(claims.may_remove(h, t0 + 11s, t0 + 12s));
  }

  void oldDecisionsAreNotActedOnAndOldReleasesForgotten() {
    BlobClaims claims;
    const auto t0 = BlobClaims::Clock::now();
    const auto released = hash_of(2), open = hash_of(3);
    claims.claim(released);
    claims.release(released, t0);
    claims.claim(open);
    // A decision older than the claims' memory may predate a release already forgotten.
    QVERIFY(!claims.may_remove(hash_of(4), t0, t0 + BlobClaims::kMemory + 1s));
    QVERIFY(claims.may_remove(hash_of(4), t0, t0 + BlobClaims::kMemory));
    claims.prune(t0 + BlobClaims::kMemory);
    QCOMPARE(claims.size(), std::size_t{2});
    claims.prune(t0 + BlobClaims::kMemory + 1s);
    QCOMPARE(claims.size(), std::size_t{1});  // an open claim is never forgotten
    QVERIFY(!claims.may_remove(open, t0 + BlobClaims::kMemory + 1s, t0 + BlobClaims::kMemory + 2s));
  }

  void listsOnlyBlobsWrittenBeforeTheCutoff() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::filesystem::path root = dir.path().toStdString();
    FsBlobStore blobs(root);
    const auto old_blob = upload(blobs, std::string(16, 'a'), std::string(100, 'x'));
    const auto new_blob = upload(blobs, std::string(16, 'b'), std::string(100, 'y'));
    QVERIFY(std::filesystem::exists(blobs.blob_path(old_blob)));
    QVERIFY(age(blobs.blob_path(old_blob), 2h));
    // Things in blobs/ that are not blobs are never listed, however old.
    const auto junk_dir = blobs.blob_path(old_blob).parent_path();
    for (const auto* name : {"not-a-hash", "ABCDEF", "README"}) {
      std::ofstream(junk_dir / name) << "x";
      QVERIFY(age(junk_dir / name, 2h));
    }
    auto upper = parley::media::to_hex(new_blob);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::ofstream(junk_dir / upper) << "x";
    QVERIFY(age(junk_dir / upper, 2h));
    std::filesystem::create_directories(junk_dir / parley::media::to_hex(hash_of(9)));
    // A well-formed name in another hash's directory is not where that blob would be.
    const auto misplaced = junk_dir / parley::media::to_hex(hash_of(static_cast<unsigned char>(old_blob[0] ^ 0xff)));
    std::ofstream(misplaced) << "x";
    QVERIFY(age(misplaced, 2h));

    const auto listed = blobs.list_blobs(std::chrono::system_clock::now() - 1h, std::nullopt, 100);
    QCOMPARE(listed.size(), std::size_t{1});
    QVERIFY(listed.front() == old_blob);
    QCOMPARE(blobs.list_blobs(std::chrono::system_clock::now() + 1min, std::nullopt, 100).size(), std::size_t{2});
    QVERIFY(blobs.remove_blob(old_blob, std::chrono::system_clock::now() - 1h));
    QVERIFY(!std::filesystem::exists(blobs.blob_path(old_blob)));
    QVERIFY(blobs.list_blobs(std::chrono::system_clock::now() - 1h, std::nullopt, 100).empty());
  }

  // Gateways of a tier share one media directory: an upload is written by one request at a
  // time across them, a look (HEAD) or a sweep never cuts in on a writer, and the next
  // writer, wherever it runs, starts from what the last one left.
  void relaysSharingTheBlobsNeverWriteOneUploadAtOnce() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::filesystem::path root(dir.path().toStdString());
    FsBlobStore a(root), b(root);
    const std::string id(16, 'u');
    std::error_code ec;
    auto wa = a.open_staged(id, ec);
    QVERIFY(wa);
    QVERIFY(!wa->append(std::string_view("abc")));
    QVERIFY(!b.open_staged(id, ec));
    QVERIFY(ec == std::errc::device_or_resource_busy);
    QVERIFY(!a.open_staged(id, ec));  // nor a second writer in the same relay
    QVERIFY(!b.idle_staged_size(id));
    b.discard_staged(id);
    QVERIFY(std::filesystem::exists(a.staged_path(id)));
    wa.reset();
    QCOMPARE(b.idle_staged_size(id), std::optional<std::uint64_t>(3));
    auto wb = b.open_staged(id, ec);
    QVERIFY(wb);
    QCOMPARE(wb->size(), std::uint64_t{3});
    wb.reset();
    b.discard_staged(id);
    QVERIFY(!std::filesystem::exists(a.staged_path(id)));
    QCOMPARE(a.idle_staged_size(id), std::optional<std::uint64_t>(0));
  }

  // Retention on one gateway decided a blob was unused; an upload of the same bytes on
  // another committed it since (its claim is in that gateway's memory, not here) and its
  // record is coming. The blob's time keeps it.
  void aBlobAnotherRelayCommittedSinceIsKept() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::filesystem::path root(dir.path().toStdString());
    FsBlobStore here(root), there(root);
    const std::string bytes = "the same ciphertext, uploaded twice";
    const auto h = upload(here, std::string(16, '1'), bytes);
    QVERIFY(age(here.blob_path(h), 2h));
    const auto decided = std::chrono::system_clock::now();
    // There, the upload's bytes were staged long ago (resumed after a restart, say): the
    // commit is what dates the blob.
    const std::string id(16, '2');
    std::error_code ec;
    auto w = there.open_staged(id, ec);
    QVERIFY(w && !w->append({bytes.data(), bytes.size()}));
    w.reset();
    QVERIFY(age(there.staged_path(id), 2h));
    const auto inode = [&] {
      struct stat st {};
      return ::stat(here.blob_path(h).c_str(), &st) == 0 ? st.st_ino : ino_t{0};
    };
    const auto kept = inode();
    QVERIFY(!there.commit_staged(id, h));
    QCOMPARE(inode(), kept);  // the stored copy kept (a download of it goes on), its time renewed
    QVERIFY(std::filesystem::exists(there.staged_path(id)));  // until its record is written
    there.drop_staged(id);
    QVERIFY(!here.remove_blob(h, decided - BlobClaims::kMemory));
    QVERIFY(std::filesystem::exists(here.blob_path(h)));
    // Nothing but the blob is left in its directory (the aside name went back).
    QCOMPARE(std::distance(std::filesystem::directory_iterator(here.blob_path(h).parent_path()),
                          std::filesystem::directory_iterator{}),
             1);
    // Written long before the decision: removed.
    QVERIFY(age(here.blob_path(h), 2h));
    QVERIFY(here.remove_blob(h, decided - BlobClaims::kMemory));
    QVERIFY(!std::filesystem::exists(here.blob_path(h)));
    QVERIFY(!here.remove_blob(h, decided));  // gone already
  }

  // An upload finished on another gateway is never forgotten here by name: its state goes
  // once idle, never while a request holds it.
  void idleUploadStateIsDropped() {
    parley::media::UploadRegistry uploads;
    const std::string idle(16, 'i'), busy(16, 'b');
    QVERIFY(uploads.lease(idle, 10));
    uploads.release(idle);
    QVERIFY(uploads.lease(busy, 10));
    const auto later = std::chrono::steady_clock::now() + 1s;
    uploads.drop_idle(std::chrono::steady_clock::now() - 1h);
    QCOMPARE(uploads.size(), std::size_t{2});
    uploads.drop_idle(later);
    QCOMPARE(uploads.size(), std::size_t{1});
    QVERIFY(!uploads.lease(busy, 10));  // still held
    uploads.release(busy);
    uploads.drop_idle(later + 1h);
    QCOMPARE(uploads.size(), std::size_t{0});
  }

  // Bytes staged long ago (an upload resumed after days) make a blob written now.
  void aBlobCommittedFromOldStagedBytesIsNew() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    FsBlobStore blobs(std::filesystem::path(dir.path().toStdString()));
    const std::string id(16, '6'), bytes = "staged long ago";
    std::error_code ec;
    auto w = blobs.open_staged(id, ec);
    QVERIFY(w && !w->append({bytes.data(), bytes.size()}));
    w.reset();
    QVERIFY(age(blobs.staged_path(id), 2h));
    Sha256 h{};
    crypto_hash_sha256(h.data(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    QVERIFY(!blobs.commit_staged(id, h));
    QVERIFY(!blobs.remove_blob(h, std::chrono::system_clock::now() - BlobClaims::kMemory));
    QVERIFY(std::filesystem::exists(blobs.blob_path(h)));
  }

  // A blob put aside by a remover that then keeps it goes back without replacing one a
  // commit put under its name meanwhile (that one's time is what protects it).
  void aPutBackKeepsANewerCommit() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    FsBlobStore blobs(std::filesystem::path(dir.path().toStdString()));
    const auto h = upload(blobs, std::string(16, '4'), "put back");
    auto aside = blobs.blob_path(h);
    aside += ".removing-00000000000000aa";
    std::filesystem::rename(blobs.blob_path(h), aside);
    QVERIFY(upload(blobs, std::string(16, '5'), "put back") == h);  // the newer commit
    struct stat newer {};
    QCOMPARE(::stat(blobs.blob_path(h).c_str(), &newer), 0);
    QVERIFY(age(aside, 2h));
    blobs.list_blobs(std::chrono::system_clock::now() - 1h, std::nullopt, 100);
    struct stat now {};
    QCOMPARE(::stat(blobs.blob_path(h).c_str(), &now), 0);
    QCOMPARE(now.st_ino, newer.st_ino);
    QVERIFY(!std::filesystem::exists(aside));
  }

  // A remover that stopped between putting a blob aside and deciding leaves it under another
  // name; the sweep's listing puts it back.
  void aBlobLeftAsideIsPutBack() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    FsBlobStore blobs(std::filesystem::path(dir.path().toStdString()));
    const auto h = upload(blobs, std::string(16, '3'), "left aside");
    auto aside = blobs.blob_path(h);
    aside += ".removing-00000000000000ff";
    std::filesystem::rename(blobs.blob_path(h), aside);
    // However new: a record may name it, and its downloads fail until it is back.
    blobs.list_blobs(std::chrono::system_clock::now() - 1h, std::nullopt, 100);
    QVERIFY(std::filesystem::exists(blobs.blob_path(h)));
    QVERIFY(!std::filesystem::exists(aside));
  }

  // The sweep checks a slice at a time: slices come in hash order and each resumes after the
  // last, so every blob is reached whatever comes before it.
  void listsInSlicesInHashOrder() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    FsBlobStore blobs(std::filesystem::path(dir.path().toStdString()));
    std::vector<Sha256> all;
    for (int i = 0; i < 40; ++i)
      all.push_back(upload(blobs, std::string(15, 'm') + static_cast<char>(i), "blob " + std::to_string(i)));
    std::sort(all.begin(), all.end());
    const auto later = std::chrono::system_clock::now() + 1min;
    std::vector<Sha256> seen;
    std::optional<Sha256> after;
    for (int slice = 0; slice < 10; ++slice) {
      const auto got = blobs.list_blobs(later, after, 7);
      QVERIFY(got.size() <= 7);
      QVERIFY(std::is_sorted(got.begin(), got.end()));
      seen.insert(seen.end(), got.begin(), got.end());
      if (got.size() < 7) break;
      after = got.back();
    }
    QVERIFY(seen == all);
  }

  // The sweep checks a slice per run and carries on after it: blobs that records name, at
  // the front of the order, must not hide an orphan behind them.
  void theSweepReachesOrphansBehindNamedBlobs() {
    SweepRig rig;
    std::vector<Sha256> all;
    for (int i = 0; i < 7; ++i) {
      all.push_back(upload(rig.blobs, std::string(15, 's') + static_cast<char>(i), "sweep " + std::to_string(i)));
      QVERIFY(age(rig.blobs.blob_path(all.back()), 2h));
    }
    std::sort(all.begin(), all.end());
    // Records name the first six in hash order; the last is an orphan.
    QVERIFY(rig.in_store([&](parley::store::Store& s) {
      const auto owner = s.create_account("owner", std::string(32, 'k'), 1, 1);
      if (!owner) return;
      for (int i = 0; i < 6; ++i) {
        const auto id = std::string(15, 'r') + static_cast<char>(i);
        s.create_media({id, owner->user_id, 100, {}, 1, 0});
        s.complete_media(id, parley::media::to_bytes(all[static_cast<std::size_t>(i)]), 2);
      }
    }));
    parley::media::OrphanSweep sweep(3);  // three blobs a run
    const auto orphan = rig.blobs.blob_path(all.back());
    for (int run = 0; run < 2; ++run) {  // the six named ones, three at a time
      sweep.run(rig.worker, rig.media);
      rig.settle();
      QVERIFY2(std::filesystem::exists(orphan), "reached before its slice");
    }
    sweep.run(rig.worker, rig.media);
    rig.settle();
    QVERIFY2(!std::filesystem::exists(orphan), "the third run did not reach it");
    for (std::size_t i = 0; i < 6; ++i) QVERIFY(std::filesystem::exists(rig.blobs.blob_path(all[i])));
  }

  // Staged bytes of an upload no unfinished record names (a PATCH that raced the purge of
  // its upload makes its staging file again) go too, once an hour old; those of an
  // unfinished upload stay however old, and so do young ones and one a PATCH is writing.
  void theSweepRemovesStagedUploadsNoRecordNames() {
    SweepRig rig;
    const std::string waiting(16, 'w'), finished(16, 'f'), purged(16, 'p'), young(16, 'y'),
        writing(16, 'x');
    for (const auto* id : {&waiting, &finished, &purged, &young, &writing}) {
      std::error_code ec;
      auto w = rig.blobs.open_staged(*id, ec);
      QVERIFY(w && !w->append({"bytes", 5}));
      if (id != &young) QVERIFY(age(rig.blobs.staged_path(*id), 2h));
    }
    QVERIFY(rig.in_store([&](parley::store::Store& s) {
      const auto owner = s.create_account("stager", std::string(32, 'k'), 1, 1);
      if (!owner) return;
      s.create_media({waiting, owner->user_id, 100, {}, 1, 0});
      s.create_media({finished, owner->user_id, 100, {}, 1, 0});
      s.complete_media(finished, std::string(32, 'h'), 2);
    }));
    const auto lease = rig.uploads.lease(writing, 100);
    QVERIFY(lease);
    parley::media::OrphanSweep sweep(2);  // two a run: the cursor must carry on
    for (int run = 0; run < 3; ++run) {
      sweep.run(rig.worker, rig.media);
      rig.settle();
    }
    QVERIFY(std::filesystem::exists(rig.blobs.staged_path(waiting)));
    QVERIFY(!std::filesystem::exists(rig.blobs.staged_path(finished)));
    QVERIFY(!std::filesystem::exists(rig.blobs.staged_path(purged)));
    QVERIFY(std::filesystem::exists(rig.blobs.staged_path(young)));
    QVERIFY(std::filesystem::exists(rig.blobs.staged_path(writing)));
    // Once its PATCH has ended, the next sweep that reaches it removes it.
    rig.uploads.release(writing);
    for (int run = 0; run < 3; ++run) {
      sweep.run(rig.worker, rig.media);
      rig.settle();
    }
    QVERIFY(!std::filesystem::exists(rig.blobs.staged_path(writing)));
    QVERIFY(std::filesystem::exists(rig.blobs.staged_path(waiting)));
  }
};

QTEST_GUILESS_MAIN(BlobRetentionTest)
#include "blob_retention_test.moc"
