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

// The relay's JSON error message when there is one, else Qt's description.
QString TransferJob::httpError(QNetworkReply* reply) {
  const auto body = QJsonDocument::fromJson(reply->readAll()).object();
  const auto status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  if (body.contains(QLatin1String("message")))
    return QStringLiteral("relay: %1 (HTTP %2)").arg(body.value(QLatin1String("message")).toString()).arg(status);
  return reply->errorString();
}

}  // namespace parley::client::media
