#include "media/transfer.hpp"

#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkReply>

namespace parley::client::media {

QUrl media_base(const QUrl& relay_url) {
  QUrl u;
  u.setScheme(relay_url.scheme() == QLatin1String("wss") ? QStringLiteral("https")
                                                         : QStringLiteral("http"));
  u.setHost(relay_url.host());
  u.setPort(relay_url.port());
  return u;
}

TransferJob::TransferJob(RelayClient& relay, QNetworkAccessManager& nam, QUrl base, QObject* parent)
    : QObject(parent), relay_(relay), nam_(nam), base_(std::move(base)) {
  retry_.setSingleShot(true);
}

void TransferJob::cancel() {
  if (ended_) return;
  fail(QStringLiteral("cancelled"));
}

void TransferJob::fail(const QString& error) {
  if (ended_) return;
  ended_ = true;
  retry_.stop();
  if (reply_) {
    reply_->disconnect(this);
    reply_->abort();
    reply_->deleteLater();
  }
  emit failed(error);
}

bool TransferJob::retryLater(const QString& why, std::function<void()> again) {
  if (ended_) return false;
  if (++attempts_ > kMaxAttempts) {
    fail(QStringLiteral("gave up after %1 attempts: %2").arg(kMaxAttempts).arg(why));
    return false;
  }
  retry_.disconnect();
  connect(&retry_, &QTimer::timeout, this, std::move(again));
  retry_.start(std::min(500 * attempts_, 4000));
  return true;
}

void TransferJob::keepErrorBody(QNetworkReply* reply) {
  error_body_ += reply->read(std::max<qint64>(0, kMaxErrorBody - error_body_.size()));
  if (reply->bytesAvailable() > 0) reply->abort();  // more than any error message of the relay's
}

void TransferJob::watchErrorBody(QNetworkReply* reply) {
  error_reply_ = reply;  // a new request (a retry) has a body of its own
  error_body_.clear();
  connect(reply, &QNetworkReply::readyRead, this, [this, reply] {
    const auto status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status < 200 || status >= 300) keepErrorBody(reply);
  });
}

QString TransferJob::httpError(QNetworkReply* reply) const {
  auto text = reply == error_reply_ ? error_body_ : QByteArray();
  if (text.size() < kMaxErrorBody) text += reply->read(kMaxErrorBody - text.size());
  const auto body = QJsonDocument::fromJson(text).object();
  const auto status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  if (body.contains(QLatin1String("message")))
    return QStringLiteral("relay: %1 (HTTP %2)").arg(body.value(QLatin1String("message")).toString()).arg(status);
  return reply->errorString();
}

}  // namespace parley::client::media
