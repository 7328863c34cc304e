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
  // `ciphertext`: the encrypted file, `size` bytes hashing to `sha256`. `earlier`: the media
  // id of an upload of it begun before (by an earlier run): continued from what the relay
  // has, or begun afresh when the relay no longer has it.
  UploadJob(RelayClient& relay, QNetworkAccessManager& nam, QUrl base, QString ciphertext,
            quint64 size, QByteArray sha256, QByteArray earlier = {}, QObject* parent = nullptr);
  void start() override;

 signals:
  // The relay reserved a new upload: the id to give the next job, should this one not end.
  void reserved(const QByteArray& media_id);
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
  bool earlier_ = false;  // media_id_ came from an earlier run, not yet confirmed by the relay
};

}  // namespace parley::client::media
