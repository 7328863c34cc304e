#pragma once
// Downloads one attachment's ciphertext into a cache file with Range requests (so a dropped
// connection continues where it stopped), then checks its SHA-256 and decrypts it, chunk by
// chunk on a worker thread, into the target file (temporary file + atomic rename).
#include <QByteArray>
#include <QFile>
#include <atomic>
#include <memory>

#include "crypto/secret_stream.hpp"
#include "media/transfer.hpp"

namespace parley::wire {
class ServerFrame;
}

namespace parley::client::media {

struct DownloadSpec {
  QByteArray media_id;        // 16 bytes
  crypto::StreamKey key;
  quint64 ciphertext_size = 0;
  QByteArray sha256;          // 32 bytes
  QString cache_path;         // where the ciphertext collects (kept between attempts)
  QString target_path;        // where the plaintext goes on success
};

class DownloadJob : public TransferJob {
  Q_OBJECT
 public:
  DownloadJob(RelayClient& relay, QNetworkAccessManager& nam, QUrl base, DownloadSpec spec,
              QObject* parent = nullptr);
  ~DownloadJob() override;
  void start() override;

 signals:
  void finished(const QString& path);

 private:
  void requestToken();
  void fetch();
  void onData();
  void onDone();
  void verifyAndDecrypt();

  DownloadSpec spec_;
  QByteArray token_;
  std::unique_ptr<QFile> cache_;
  qint64 offset_ = 0;      // bytes in the cache file
  bool checked_status_ = false;
  std::shared_ptr<std::atomic<bool>> cancelled_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace parley::client::media
