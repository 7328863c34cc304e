#include "media/download_job.hpp"

#include <QNetworkReply>
#include <QThread>

#include "media/file_cipher.hpp"
#include "net/relay_client.hpp"
#include "parley.pb.h"

namespace parley::client::media {

DownloadJob::DownloadJob(RelayClient& relay, QNetworkAccessManager& nam, QUrl base, DownloadSpec spec,
                         QObject* parent)
    : TransferJob(relay, nam, std::move(base), parent), spec_(std::move(spec)) {
  // Connected first, so it runs before the messenger's handler, which may remove the cache
  // file: Windows cannot remove a file that is still open.
  connect(this, &TransferJob::failed, this, [this] {
    cancelled_->store(true);
    if (cache_) cache_->close();
  });
}

DownloadJob::~DownloadJob() { cancelled_->store(true); }

void DownloadJob::start() {
  cache_ = std::make_unique<QFile>(spec_.cache_path);
  if (!cache_->open(QIODevice::ReadWrite))
    return fail(QStringLiteral("cannot write the download cache: %1").arg(cache_->errorString()));
  cache_->setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
  offset_ = cache_->size();
  if (static_cast<quint64>(offset_) > spec_.ciphertext_size) {
    cache_->resize(0);
    offset_ = 0;
  }
  if (static_cast<quint64>(offset_) == spec_.ciphertext_size) return verifyAndDecrypt();
  if (offset_ > 0) emit resumed(offset_);
  requestToken();
}

void DownloadJob::requestToken() {
  if (ended()) return;
  wire::ClientFrame f;
  f.mutable_get_download_token();
  relay_.request(std::move(f), [self = QPointer<DownloadJob>(this)](const wire::ServerFrame& r) {
    if (!self || self->ended()) return;
    if (r.has_error()) {
      if (r.error().code() == wire::UNAVAILABLE || r.error().code() == wire::RATE_LIMITED ||
          r.error().code() == wire::UNAUTHENTICATED)
        return void(self->retryLater(QString::fromStdString(r.error().reason()),
                                     [s = self.data()] { s->requestToken(); }));
      return self->fail(QStringLiteral("the relay refused the download: %1")
                            .arg(QString::fromStdString(r.error().reason())));
    }
    if (!r.has_download_token()) return self->fail(QStringLiteral("the relay sent no download token"));
    self->token_ = QByteArray::fromStdString(r.download_token().token());
    self->fetch();
  });
}

void DownloadJob::fetch() {
  if (ended()) return;
  QUrl url = base_;
  url.setPath(QStringLiteral("/media/") + QString::fromLatin1(spec_.media_id.toHex()));
  QNetworkRequest req(url);
  req.setRawHeader("Authorization", "Bearer " + token_);
  if (offset_ > 0) req.setRawHeader("Range", "bytes=" + QByteArray::number(offset_) + "-");
  req.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
  checked_status_ = false;
  cache_->seek(offset_);
  reply_ = nam_.get(req);
  watchErrorBody(reply_);
  connect(reply_, &QNetworkReply::readyRead, this, &DownloadJob::onData);
  connect(reply_, &QNetworkReply::finished, this, &DownloadJob::onDone);
}

void DownloadJob::onData() {
  auto* reply = reply_.data();
  if (!reply || ended()) return;
  const auto status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  if (status != 200 && status != 206) return;  // an error body: watchErrorBody keeps it
  if (!checked_status_) {
    checked_status_ = true;
    // A 200 answers a Range the relay ignored: start over. A 206 must start where we are.
    if (status == 200 && offset_ > 0) {
      offset_ = 0;
      cache_->resize(0);
      cache_->seek(0);
    } else if (status == 206 &&
               !reply->rawHeader("Content-Range").startsWith("bytes " + QByteArray::number(offset_) + "-")) {
      return fail(QStringLiteral("the relay answered a different range than asked"));
    }
  }
  const auto bytes = reply->readAll();
  if (static_cast<quint64>(offset_ + bytes.size()) > spec_.ciphertext_size)
    return fail(QStringLiteral("the relay sent more bytes than the file has; nothing was saved"));
  if (cache_->write(bytes) != bytes.size())
    return fail(QStringLiteral("cannot write the download cache: %1").arg(cache_->errorString()));
  offset_ += bytes.size();
  if (!bytes.isEmpty()) attempts_ = 0;
  emit progress(offset_, static_cast<qint64>(spec_.ciphertext_size));
}

void DownloadJob::onDone() {
  auto* reply = reply_.data();
  if (!reply) return;
  reply->deleteLater();
  if (ended()) return;
  const auto status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  if (status == 200 || status == 206) {
    onData();
    if (ended()) return;
    cache_->flush();
    if (reply->error() == QNetworkReply::NoError && static_cast<quint64>(offset_) == spec_.ciphertext_size)
      return verifyAndDecrypt();
    // Cut short: continue from what we have.
    return void(retryLater(reply->errorString(), [this] { fetch(); }));
  }
  if (status == 401) return requestToken();
  if (status == 404)
    return fail(QStringLiteral("the file is no longer on the relay (expired or never finished)"));
  if (status == 416) {
    // Our cache is longer than the blob: it cannot be this file.
    cache_->resize(0);
    offset_ = 0;
    return fail(QStringLiteral("the relay's copy is shorter than announced; nothing was saved"));
  }
  if (status == 0 || status >= 500)
    return void(retryLater(reply->errorString(), [this] { fetch(); }));
  fail(QStringLiteral("download failed: %1").arg(httpError(reply)));
}

void DownloadJob::verifyAndDecrypt() {
  cache_->close();
  struct Outcome {
    bool ok = false;
    QString error;
  };
  auto outcome = std::make_shared<Outcome>();
  auto cancelled = cancelled_;
  auto spec = std::make_shared<DownloadSpec>(spec_);
  // Progress counts downloaded bytes; the check that follows is quick and not reported.
  auto* worker = QThread::create([outcome, cancelled, spec] {
    outcome->ok = decrypt_file(spec->cache_path, spec->ciphertext_size, spec->sha256, spec->key,
                               spec->target_path, nullptr, *cancelled, &outcome->error);
  });
  connect(worker, &QThread::finished, worker, &QObject::deleteLater);
  connect(worker, &QThread::finished, this, [this, outcome, spec] {
    if (ended()) return;
    // A bad copy is useless: the next attempt downloads afresh.
    QFile::remove(spec->cache_path);
    if (!outcome->ok) return fail(outcome->error);
    end();
    emit finished(spec->target_path);
  });
  worker->start();
}

}  // namespace parley::client::media
