#pragma once
// What uploads and downloads share: the relay's HTTP base URL, retry policy, and the
// signals the GUI shows (bytes done/total, finished, failed with a message for the user).
//
// Thread: the Messenger's; a job lives there and is deleted (deleteLater) after it ends.
#include <QNetworkAccessManager>
#include <QObject>
#include <QPointer>
#include <QTimer>
#include <QUrl>

namespace parley::client {
class RelayClient;
}

namespace parley::client::media {

// ws://host:port -> http://host:port (wss -> https): the media endpoints share the port.
QUrl media_base(const QUrl& relay_url);

class TransferJob : public QObject {
  Q_OBJECT
 public:
  TransferJob(RelayClient& relay, QNetworkAccessManager& nam, QUrl base, QObject* parent = nullptr);

  virtual void start() = 0;
  // Stops at once: failed("cancelled") follows. Safe to call more than once.
  void cancel();

 signals:
  void progress(qint64 done, qint64 total);
  // An upload or download restarted after a dropped connection at `offset`, keeping what was
  // already transferred.
  void resumed(qint64 offset);
  void failed(const QString& error);

 protected:
  // A dropped connection or a relay restart: try again after a pause, up to kMaxAttempts.
  // Returns false (and fails the job) when attempts are exhausted.
  bool retryLater(const QString& why, std::function<void()> again);
  void fail(const QString& error);
  bool ended() const { return ended_; }
  void end() { ended_ = true; }
  // The relay's error message (from the body kept by keepErrorBody), else Qt's description.
  QString httpError(QNetworkReply* reply) const;
  // Called for every request made: while its status is not a success, keeps the first
  // kMaxErrorBody bytes of its body for httpError and aborts it past that, so a relay cannot
  // make us buffer an endless error page.
  void watchErrorBody(QNetworkReply* reply);

  RelayClient& relay_;
  QNetworkAccessManager& nam_;
  QUrl base_;
  QPointer<QNetworkReply> reply_;
  QTimer retry_;
  int attempts_ = 0;

 private:
  void keepErrorBody(QNetworkReply* reply);
  bool ended_ = false;
  QByteArray error_body_;       // of error_reply_ (compared, never dereferenced)
  const QNetworkReply* error_reply_ = nullptr;
  static constexpr int kMaxAttempts = 8;
  static constexpr qsizetype kMaxErrorBody = 4096;
};

}  // namespace parley::client::media
