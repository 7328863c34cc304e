#pragma once
// Uploads one encrypted file: reserve a media id over the WebSocket (CreateUpload), then
// PATCH the ciphertext to /media/upload/<id>. After a dropped connection or a relay restart
// it asks the relay how much it has (HEAD, with a fresh token if needed) and sends only
// the rest.
#include <QByteArray>
#include <QFile>
#include <memory>

#include "media/transfer.hpp"

namespace parley::wire {
class ServerFrame;
}

namespace parley::client::media {

class UploadJob : public TransferJob {
  Q_OBJECT
 public:
  // `ciphertext`: the encrypted file, `size` bytes hashing to `sha256`.
  UploadJob(RelayClient& relay, QNetworkAccessManager& nam, QUrl base, QString ciphertext,
            quint64 size, QByteArray sha256, QObject* parent = nullptr);
  void start() override;

 signals:
  void finished(const QByteArray& media_id);

 private:
  void requestToken();
  void onToken(const wire::ServerFrame& f);
  void askOffset();
  void sendFrom(qint64 offset);
  void onSent();
  QNetworkRequest request() const;
  void dropped(const QString& why);

  QString path_;
  quint64 size_;
  QByteArray sha256_;
  QByteArray media_id_;
  QByteArray token_;
  std::unique_ptr<QFile> file_;
  qint64 offset_ = 0;
  bool sent_before_ = false;
};

}  // namespace parley::client::media
