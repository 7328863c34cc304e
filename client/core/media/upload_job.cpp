#include "media/upload_job.hpp"

#include <QNetworkReply>

#include "net/relay_client.hpp"
#include "parley.pb.h"

namespace parley::client::media {

UploadJob::UploadJob(RelayClient& relay, QNetworkAccessManager& nam, QUrl base, QString ciphertext,
                     quint64 size, QByteArray sha256, QByteArray earlier, QObject* parent)
    : TransferJob(relay, nam, std::move(base), parent),
      path_(std::move(ciphertext)),
      size_(size),
      sha256_(std::move(sha256)),
      media_id_(std::move(earlier)),
      sent_before_(!media_id_.isEmpty()),
      earlier_(sent_before_) {
  // The reply reading it is aborted by then; closed before the messenger removes the file,
  // which Windows refuses while it is open.
  connect(this, &TransferJob::failed, this, [this] { file_.reset(); });
}

void UploadJob::start() { requestToken(); }

void UploadJob::requestToken() {
  if (ended()) return;
  wire::ClientFrame f;
  if (media_id_.isEmpty())
    f.mutable_create_upload()->set_size(size_);
  else
    f.mutable_resume_upload()->set_media_id(media_id_.toStdString());
  relay_.request(std::move(f), [self = QPointer<UploadJob>(this)](const wire::ServerFrame& r) {
    if (self) self->onToken(r);
  });
}

void UploadJob::onToken(const wire::ServerFrame& f) {
  if (ended()) return;
  if (f.has_error()) {
    const auto& e = f.error();
    // Offline, relay restarting or busy, or reconnected and not logged in again yet: wait and
    // ask again. Anything else is final.
    if (e.code() == wire::UNAVAILABLE || e.code() == wire::RATE_LIMITED || e.code() == wire::UNAUTHENTICATED)
      return void(retryLater(QString::fromStdString(e.reason()), [this] { requestToken(); }));
    // An earlier run's upload the relay no longer has (expired, or its data went back): the
    // same ciphertext goes again under a new reservation.
    if (earlier_ && (e.code() == wire::MEDIA_NOT_FOUND || e.code() == wire::FORBIDDEN)) {
      earlier_ = false;
      media_id_.clear();
      sent_before_ = false;
      return requestToken();
    }
    return fail(QStringLiteral("the relay refused the upload: %1").arg(QString::fromStdString(e.reason())));
  }
  if (!f.has_upload_granted() || f.upload_granted().media_id().size() != 16 ||
      f.upload_granted().size() != size_)
    return fail(QStringLiteral("the relay sent a malformed upload grant"));
  const auto granted = QByteArray::fromStdString(f.upload_granted().media_id());
  if (!media_id_.isEmpty() && granted != media_id_)
    return fail(QStringLiteral("the relay granted a different upload than the one asked for"));
  const bool fresh = media_id_.isEmpty();
  earlier_ = false;
  media_id_ = granted;
  token_ = QByteArray::fromStdString(f.upload_granted().token());
  if (fresh) emit reserved(media_id_);
  // A fresh reservation starts at 0; after a drop the relay says where to continue.
  if (!sent_before_) return sendFrom(0);
  askOffset();
}

QNetworkRequest UploadJob::request() const {
  QUrl url = base_;
  url.setPath(QStringLiteral("/media/upload/") + QString::fromLatin1(media_id_.toHex()));
  QNetworkRequest req(url);
  req.setRawHeader("Authorization", "Bearer " + token_);
  req.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
  return req;
}

void UploadJob::askOffset() {
  if (ended()) return;
  reply_ = nam_.head(request());
  watchErrorBody(reply_);
  connect(reply_, &QNetworkReply::finished, this, [this, reply = reply_.data()] {
    reply->deleteLater();
    if (ended()) return;
    const auto status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status == 401) return requestToken();  // expired, or the relay restarted
    if (status != 200) {
      if (status == 0 || status >= 500 || status == 409) return dropped(reply->errorString());
      return fail(QStringLiteral("upload failed: %1").arg(httpError(reply)));
    }
    bool ok = false;
    const auto offset = reply->rawHeader("Upload-Offset").toLongLong(&ok);
    if (!ok || offset < 0 || static_cast<quint64>(offset) > size_)
      return fail(QStringLiteral("the relay reported a bad upload offset"));
    if (static_cast<quint64>(offset) == size_) {
      // Everything arrived; the relay names the blob by its hash.
      if (reply->rawHeader("ETag") != '"' + sha256_.toHex() + '"')
        return fail(QStringLiteral("the relay stored different bytes than were sent"));
      end();
      emit progress(static_cast<qint64>(size_), static_cast<qint64>(size_));
      emit finished(media_id_);
      return;
    }
    emit resumed(offset);
    sendFrom(offset);
  });
}

void UploadJob::sendFrom(qint64 offset) {
  if (ended()) return;
  sent_before_ = true;
  offset_ = offset;
  file_ = std::make_unique<QFile>(path_);
  if (!file_->open(QIODevice::ReadOnly) || !file_->seek(offset))
    return fail(QStringLiteral("cannot read the encrypted copy: %1").arg(file_->errorString()));
  auto req = request();
  req.setRawHeader("Upload-Offset", QByteArray::number(offset));
  req.setHeader(QNetworkRequest::ContentLengthHeader, static_cast<qint64>(size_) - offset);
  req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/octet-stream"));
  // The body is read from the file's current position: only bytes the relay lacks go out.
  reply_ = nam_.sendCustomRequest(req, "PATCH", file_.get());
  watchErrorBody(reply_);
  connect(reply_, &QNetworkReply::uploadProgress, this, [this](qint64 sent, qint64) {
    if (sent > 0) attempts_ = 0;  // progress: the connection works again
    emit progress(offset_ + sent, static_cast<qint64>(size_));
  });
  connect(reply_, &QNetworkReply::finished, this, &UploadJob::onSent);
}

void UploadJob::onSent() {
  auto* reply = reply_.data();
  if (!reply) return;
  reply->deleteLater();
  if (ended()) return;
  const auto status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  if (status == 201) {
    if (reply->rawHeader("ETag") != '"' + sha256_.toHex() + '"')
      return fail(QStringLiteral("the relay stored different bytes than were sent"));
    end();
    file_.reset();
    emit progress(static_cast<qint64>(size_), static_cast<qint64>(size_));
    emit finished(media_id_);
    return;
  }
  if (status == 401) return requestToken();
  if (status == 0 || status >= 500 || status == 409 || status == 204) return dropped(reply->errorString());
  fail(QStringLiteral("upload failed: %1").arg(httpError(reply)));
}

void UploadJob::dropped(const QString& why) {
  file_.reset();
  retryLater(why, [this] { askOffset(); });
}

}  // namespace parley::client::media
