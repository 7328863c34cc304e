// The filesystem blob store's part in retention: a blob an identical upload took after
// retention decided it was unused is kept until the next round decides again.
#include <QtTest>

#include <QTemporaryDir>

#include <sodium.h>

#include "media/fs_blob_store.hpp"

using parley::media::FsBlobStore;
using parley::media::Sha256;

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
  return hash;
}

}  // namespace

class FsBlobStoreTest : public QObject {
  Q_OBJECT

 private slots:
  void aBlobTakenAgainSinceRetentionDecidedIsKept() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    FsBlobStore blobs(dir.path().toStdString());
    const std::string bytes(1000, 'x');
    const auto hash = upload(blobs, std::string(16, 'a'), bytes);
    QVERIFY(std::filesystem::exists(blobs.blob_path(hash)));
    blobs.forget_claims();  // a round of removals went by: the first upload's record is in
    // Retention decides the blob is unused (its record expired); before the removal, the
    // same bytes are uploaded again and keep the stored copy.
    QCOMPARE(upload(blobs, std::string(16, 'b'), bytes), hash);
    QVERIFY(!blobs.remove_blob(hash));
    QVERIFY(std::filesystem::exists(blobs.blob_path(hash)));
    blobs.forget_claims();
    // The next round, deciding from records that include the new one, may remove it.
    QVERIFY(blobs.remove_blob(hash));
    QVERIFY(!std::filesystem::exists(blobs.blob_path(hash)));
  }
};

QTEST_GUILESS_MAIN(FsBlobStoreTest)
#include "fs_blob_store_test.moc"
