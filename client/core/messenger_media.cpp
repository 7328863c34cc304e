// Files: encrypt -> upload -> announce (sendFile), and download -> verify -> decrypt -> save
// (fetchAttachment). The bytes move in media/ jobs; here they are tied to messages.
#include <algorithm>

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QMimeDatabase>
#include <QNetworkAccessManager>
#include <QRegularExpression>
#include <QSet>
#include <QSqlError>
#include <QSqlQuery>
#include <QThread>

#include "crypto/secret_stream.hpp"
#include "e2e.pb.h"
#include "media/download_job.hpp"
#include "media/file_cipher.hpp"
#include "media/thumbnail.hpp"
#include "media/upload_job.hpp"
#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "parley/username.hpp"
#include "util/bytes.hpp"

namespace parley::client {
namespace {

constexpr int kMaxFileNameBytes = 255;
constexpr int kMaxMimeBytes = 255;
constexpr quint64 kMaxAttachmentBytes = 1ull << 40;  // far beyond any relay's limit

// A character that reorders or hides text: a right-to-left override makes
// "invoice\u202Efdp.hta" read "invoiceath.pdf".
bool reorders_text(char16_t c) {
  return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0x200E ||
         c == 0x200F || c == 0x061C;
}

// The name a received file is saved under: no directories, no hidden or empty names, no
// control or direction-changing characters; the sender chose it, so it is never trusted as a
// path, nor to show its real extension.
QString safe_file_name(const QString& name) {
  QString out = QFileInfo(name).fileName();
  for (auto& c : out)
    if (c.unicode() < 0x20 || (c.unicode() >= 0x7f && c.unicode() <= 0x9f) || c == QLatin1Char('/') ||
        c == QLatin1Char('\\') || reorders_text(c.unicode()))
      c = QLatin1Char('_');
  // Until neither is left: " .bashrc" trimmed after its dots went would be hidden again.
  for (QString before; before != out;) {
    before = out;
    out = out.trimmed();
    while (out.startsWith(QLatin1Char('.'))) out.remove(0, 1);
  }
  if (out.isEmpty()) out = QStringLiteral("attachment");
  return out.left(200);
}

// `dir/name`, or `dir/stem (n).ext` when that exists: fetching never overwrites a file.
// A name in `dir` nobody has, taken at once as an empty file (created exclusively), so another
// download, or a file the user makes meanwhile, cannot be overwritten when ours is saved over
// it at the end. Empty with `error` when none can be made.
QString reserve_path(const QString& dir, const QString& name, QString* error) {
  const QFileInfo info(name);
  const QString stem = info.completeBaseName(), suffix = info.suffix();
  for (int n = 0; n < 10000; ++n) {
    const auto candidate =
        QDir(dir).filePath(n == 0 ? name
                           : suffix.isEmpty() ? QStringLiteral("%1 (%2)").arg(stem).arg(n)
                                              : QStringLiteral("%1 (%2).%3").arg(stem).arg(n).arg(suffix));
    QFile f(candidate);
    if (f.open(QIODevice::WriteOnly | QIODevice::NewOnly)) return candidate;
    if (!QFileInfo::exists(candidate)) {
      *error = QStringLiteral("cannot create %1: %2").arg(candidate, f.errorString());
      return {};
    }
  }
  *error = QStringLiteral("%1 has 10,000 files named like %2 already").arg(dir, name);
  return {};
}

}  // namespace

void Messenger::setProxy(const QNetworkProxy& proxy) {
  proxy_ = proxy;
  relay_->setProxy(proxy);
  if (nam_) nam_->setProxy(proxy);
}

QNetworkAccessManager& Messenger::nam() {
  if (!nam_) {
    nam_ = new QNetworkAccessManager(this);
    nam_->setProxy(proxy_);
  }
  return *nam_;
}

bool Messenger::validAttachment(const e2e::Attachment& a) {
  return a.media_id().size() == 16 && a.key().size() == crypto::StreamKey::size() &&
         a.ciphertext_sha256().size() == 32 && a.ciphertext_size() > 0 &&
         a.ciphertext_size() <= kMaxAttachmentBytes &&
         a.ciphertext_size() == crypto::stream_ciphertext_size(a.plaintext_size()) &&
         !a.file_name().empty() && a.file_name().size() <= kMaxFileNameBytes &&
         a.mime_type().size() <= kMaxMimeBytes &&
         a.thumbnail().size() <= static_cast<std::size_t>(media::kThumbnailMaxBytes) &&
         a.width() <= 1'000'000 && a.height() <= 1'000'000;
}

bool Messenger::attachmentIdTaken(const QByteArray& id, const QString& sender) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT 1 FROM attachments WHERE client_msg_id = ? AND sender != ?");
  q.addBindValue(id);
  q.addBindValue(sender);
  return !q.exec() || q.next();  // unreadable: refused too, never stored half-checked
}

QString Messenger::attachmentBody(const e2e::Content& c) {
  if (!c.text().empty()) return QString::fromStdString(c.text());
  return QString::fromStdString(c.attachment().file_name());
}

bool Messenger::storeAttachment(const QString& sender, const QString& peer, const QByteArray& id,
                                const e2e::Attachment& a, const QString& local_path) {
  QSqlQuery q(db_->db());
  q.prepare("INSERT OR IGNORE INTO attachments(sender, client_msg_id, peer, media_id, key,"
            " ciphertext_size, sha256, plaintext_size, file_name, mime_type, width, height,"
            " thumbnail, local_path) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.addBindValue(sender);
  q.addBindValue(id);
  q.addBindValue(peer);
  q.addBindValue(qbytes(a.media_id()));
  q.addBindValue(qbytes(a.key()));
  q.addBindValue(static_cast<qlonglong>(a.ciphertext_size()));
  q.addBindValue(qbytes(a.ciphertext_sha256()));
  q.addBindValue(static_cast<qlonglong>(a.plaintext_size()));
  q.addBindValue(QString::fromStdString(a.file_name()));
  q.addBindValue(QString::fromStdString(a.mime_type()));
  q.addBindValue(static_cast<int>(a.width()));
  q.addBindValue(static_cast<int>(a.height()));
  q.addBindValue(qbytes(a.thumbnail()));
  q.addBindValue(local_path);
  return q.exec();
}

std::optional<AttachmentInfo> Messenger::attachment(const QByteArray& clientMsgId) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT sender, peer, file_name, mime_type, plaintext_size, width, height, thumbnail,"
            " local_path FROM attachments WHERE client_msg_id = ?");
  q.addBindValue(clientMsgId);
  if (!q.exec() || !q.next()) return std::nullopt;
  AttachmentInfo a;
  a.sender = q.value(0).toString();
  a.peer = q.value(1).toString();
  a.clientMsgId = clientMsgId;
  a.fileName = q.value(2).toString();
  a.mimeType = q.value(3).toString();
  a.size = q.value(4).toLongLong();
  a.width = q.value(5).toInt();
  a.height = q.value(6).toInt();
  a.thumbnail = q.value(7).toByteArray();
  a.localPath = q.value(8).toString();
  return a;
}

qint64 Messenger::sendFile(const QString& raw_peer, const QString& path, const QString& caption,
                           QString* error, qint64 reply_to) {
  // The same file to the same conversation, queued by an earlier call whose process stopped
  // before it ended (the same command run again): that send goes on, from what it uploaded.
  // The same means answering the same message too.
  qint64 file = 0;
  if (const auto peer = filePeer(raw_peer, error)) {
    QByteArray quote;
    if (reply_to != 0) {
      e2e::Content answering;
      if (!quoteMessage(*peer, reply_to, answering, error)) return 0;
      quote = qbytes(answering.quote().SerializeAsString());
    }
    const auto absolute = QFileInfo(path).absoluteFilePath();
    for (const auto& f : queuedFiles()) {
      const bool running = std::any_of(transfers_.begin(), transfers_.end(),
                                       [&](const auto& t) { return t.second.file == f.id; });
      if (!running && f.peer == *peer && f.path == absolute && f.caption == caption && f.quote == quote &&
          f.origin == Origin::Own)
        file = f.id;
    }
  }
  const bool earlier = file != 0;
  if (!earlier) file = queueFile(raw_peer, path, caption, error, reply_to);
  if (!file) return 0;
  const auto id = sendQueuedFile(file, error);
  if (id)
    transfers_[id].forget_on_failure = true;
  else if (!earlier)
    forgetFile(file);
  return id;
}

std::optional<QString> Messenger::filePeer(const QString& raw_peer, QString* error) {
  if (raw_peer.startsWith(QLatin1Char('#'))) {
    // A group: the file goes to every member under the group's sender key, like a text.
    const auto gid = groupIdOf(raw_peer);
    bool member = false;
    for (const auto& m : groupMembers(gid)) member = member || m.username == profile_.username;
    if (gid.size() != 16 || !member) {
      *error = QStringLiteral("not a member of this group");
      return std::nullopt;
    }
    return groupPeer(gid);
  }
  std::string why;
  const auto folded = fold_username(raw_peer.toStdString(), &why);
  if (folded.empty()) {
    *error = QString::fromStdString(why);
    return std::nullopt;
  }
  return QString::fromStdString(folded);
}

qint64 Messenger::queueFile(const QString& raw_peer, const QString& path, const QString& caption,
                            QString* error, qint64 reply_to, Origin origin) {
  const auto target = filePeer(raw_peer, error);
  if (!target) return 0;
  const auto& peer = *target;
  const QFileInfo info(path);
  if (!info.exists() || !info.isFile() || !info.isReadable()) {
    *error = QStringLiteral("cannot read %1: not a readable file").arg(path);
    return 0;
  }
  if (caption.toUtf8().size() > 64 * 1024) {
    *error = QStringLiteral("the caption is longer than 64 KiB");
    return 0;
  }
  QByteArray quote;
  if (reply_to != 0) {
    e2e::Content answering;
    if (!quoteMessage(peer, reply_to, answering, error)) return 0;
    quote = qbytes(answering.quote().SerializeAsString());
  }
  // The message's id is chosen now: should the app stop between queuing the message and
  // forgetting the file, the message under that id says the file went (queuedFiles).
  QSqlQuery q(db_->db());
  q.prepare("INSERT INTO file_sends(peer, path, caption, client_msg_id, created_ms, quote, forwarded)"
            " VALUES(?, ?, ?, ?, ?, ?, ?)");
  q.addBindValue(peer);
  q.addBindValue(info.absoluteFilePath());
  q.addBindValue(caption.isNull() ? QStringLiteral("") : caption);  // a null QString binds NULL
  q.addBindValue(detail::new_message_id());
  q.addBindValue(QDateTime::currentMSecsSinceEpoch());
  q.addBindValue(quote.isEmpty() ? QVariant(QMetaType::fromType<QByteArray>()) : QVariant(quote));
  q.addBindValue(origin == Origin::Forwarded ? 1 : 0);
  if (!q.exec()) {
    *error = QStringLiteral("cannot record the file to send: %1").arg(q.lastError().text());
    return 0;
  }
  return q.lastInsertId().toLongLong();
}

QList<Messenger::QueuedFile> Messenger::queuedFiles() {
  // A file whose message was queued just before the app stopped has gone: forgotten here.
  QSqlQuery gone(db_->db());
  gone.prepare("SELECT id FROM file_sends WHERE client_msg_id IN"
               " (SELECT client_msg_id FROM messages WHERE sender = ?)");
  gone.addBindValue(profile_.username);
  QList<qint64> sent;
  if (gone.exec())
    while (gone.next()) sent << gone.value(0).toLongLong();
  for (const auto file : sent) forgetFile(file);
  QList<QueuedFile> out;
  QSqlQuery q(db_->db());
  q.exec("SELECT id, peer, path, caption, client_msg_id, quote, forwarded FROM file_sends ORDER BY id");
  while (q.next())
    out << QueuedFile{q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString(),
                      q.value(3).toString(), q.value(4).toByteArray(), q.value(5).toByteArray(),
                      q.value(6).toBool() ? Origin::Forwarded : Origin::Own};
  return out;
}

std::optional<Messenger::QueuedFile> Messenger::queuedFile(qint64 file) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT peer, path, caption, client_msg_id, quote, forwarded FROM file_sends WHERE id = ?");
  q.addBindValue(file);
  if (!q.exec() || !q.next()) return std::nullopt;
  return QueuedFile{file, q.value(0).toString(), q.value(1).toString(), q.value(2).toString(),
                    q.value(3).toByteArray(), q.value(4).toByteArray(),
                    q.value(5).toBool() ? Origin::Forwarded : Origin::Own};
}

void Messenger::forgetFile(qint64 file) {
  QSqlQuery q(db_->db());
  q.prepare("DELETE FROM file_sends WHERE id = ?");
  q.addBindValue(file);
  q.exec();
  QFile::remove(copyOf(file));
}

QString Messenger::copyOf(qint64 file) const {
  return profile_.dir + QStringLiteral("/media-out/file-%1.enc").arg(file);
}

void Messenger::removeStaleCopies() {
  // A copy whose file is no longer queued: forgotten while a job still held it open (Windows
  // refuses to delete an open file), or the row went with a crash in between.
  QSet<qint64> queued;
  QSqlQuery q(db_->db());
  if (!q.exec("SELECT id FROM file_sends")) return;
  while (q.next()) queued.insert(q.value(0).toLongLong());
  if (q.lastError().isValid()) return;  // not every queued file was read: its copy may be one
  static const QRegularExpression name(QStringLiteral("^file-([0-9]+)\\.enc$"));
  const QDir dir(profile_.dir + QStringLiteral("/media-out"));
  for (const auto& entry : dir.entryList(QDir::Files)) {
    const auto m = name.match(entry);
    if (m.hasMatch() && !queued.contains(m.captured(1).toLongLong())) QFile::remove(dir.filePath(entry));
  }
}

std::optional<std::pair<e2e::Attachment, QByteArray>> Messenger::copyRecordOf(qint64 file) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT attachment, media_id FROM file_sends WHERE id = ? AND attachment IS NOT NULL");
  q.addBindValue(file);
  if (!q.exec() || !q.next()) return std::nullopt;
  const auto blob = q.value(0).toByteArray();
  e2e::Attachment a;
  if (!a.ParseFromArray(blob.constData(), static_cast<int>(blob.size())) ||
      a.key().size() != crypto::StreamKey::size() || a.ciphertext_sha256().size() != 32)
    return std::nullopt;
  return std::pair{std::move(a), q.value(1).toByteArray()};
}

qint64 Messenger::sendQueuedFile(qint64 file_id, QString* error) {
  const auto file = queuedFile(file_id);
  if (!file) {
    *error = QStringLiteral("that file is no longer waiting to be sent");
    return 0;
  }
  for (const auto& [other, t] : transfers_)
    if (t.file == file_id) {
      *error = QStringLiteral("that file is already being sent");
      return 0;
    }
  {
    QSqlQuery sent(db_->db());
    sent.prepare("SELECT 1 FROM messages WHERE sender = ? AND client_msg_id = ?");
    sent.addBindValue(profile_.username);
    sent.addBindValue(file->clientMsgId);
    if (sent.exec() && sent.next()) {
      forgetFile(file_id);
      *error = QStringLiteral("that file was sent already");
      return 0;
    }
  }
  // Checked again: a file queued before a restart may have gone, or we may have left the group.
  if (file->peer.startsWith(QLatin1Char('#'))) {
    bool member = false;
    for (const auto& m : groupMembers(groupIdOf(file->peer)))
      member = member || m.username == profile_.username;
    if (!member) {
      *error = QStringLiteral("not a member of this group");
      return 0;
    }
  }
  // The encrypted copy an earlier try left, with its key and upload: reused when it checks.
  auto earlier = copyRecordOf(file_id);
  const QFileInfo info(file->path);
  if (!earlier && (!info.exists() || !info.isFile() || !info.isReadable())) {
    *error = QStringLiteral("cannot read %1: not a readable file").arg(file->path);
    return 0;
  }
  const auto tmp_dir = profile_.dir + QStringLiteral("/media-out");
  if (!QDir().mkpath(tmp_dir)) {
    *error = QStringLiteral("cannot create %1").arg(tmp_dir);
    return 0;
  }
  QFile::setPermissions(tmp_dir, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
  const qint64 id = next_transfer_++;
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  // The copy is the queued file's, kept until it is forgotten, so a later run can go on
  // uploading it (removeStaleCopies, forgetFile): not a transfer's temporary file.
  const auto copy = copyOf(file_id);
  transfers_[id] = Transfer{nullptr, cancelled, {}, {}, {}, file_id, false, {}};

  // Checking the copy, or encrypting (and reading an image for a preview), blocks on disk: a
  // worker thread. The key lives in the attachment message, built there and handed back whole.
  auto attachment = std::make_shared<e2e::Attachment>();
  auto reused = std::make_shared<bool>(false);
  if (earlier) *attachment = earlier->first;
  auto failure = std::make_shared<QString>();
  const auto source = file->path;
  const auto mime = earlier ? QString() : QMimeDatabase().mimeTypeForFile(info).name();
  auto* worker = QThread::create([attachment, reused, failure, cancelled, source, copy, mime] {
    if (attachment->ciphertext_size() > 0 &&
        media::file_matches(copy, attachment->ciphertext_size(), qbytes(attachment->ciphertext_sha256()),
                            *cancelled)) {
      *reused = true;
      return;
    }
    auto key = crypto::new_stream_key();
    // Not reported as progress: encryption runs at disk speed, the upload is what takes time.
    auto encrypted = media::encrypt_file(source, copy, key, nullptr, *cancelled, failure.get());
    if (!encrypted) return;
    const auto type = mime.isEmpty() ? QMimeDatabase().mimeTypeForFile(source).name() : mime;
    attachment->Clear();
    attachment->set_key(key.data(), key.size());
    attachment->set_ciphertext_size(encrypted->ciphertext_size);
    attachment->set_ciphertext_sha256(encrypted->sha256.toStdString());
    attachment->set_plaintext_size(encrypted->plaintext_size);
    attachment->set_file_name(QFileInfo(source).fileName().toStdString().substr(0, kMaxFileNameBytes));
    attachment->set_mime_type(type.toStdString().substr(0, kMaxMimeBytes));
    if (type.startsWith(QLatin1String("image/"))) {
      const auto preview = media::make_preview(source);
      attachment->set_width(static_cast<std::uint32_t>(preview.width));
      attachment->set_height(static_cast<std::uint32_t>(preview.height));
      attachment->set_thumbnail(preview.jpeg.toStdString());
    }
  });
  connect(worker, &QThread::finished, worker, &QObject::deleteLater);
  connect(worker, &QThread::finished, this,
          [this, id, file = *file, attachment, reused, failure, upload = earlier ? earlier->second : QByteArray()] {
            if (!transfers_.count(id)) return;
            if (!failure->isEmpty()) return endTransfer(id, *failure);
            if (*reused) return uploadEncrypted(id, file, attachment, upload);
            // A new copy under a new key: whatever an earlier upload holds is not its bytes.
            QSqlQuery q(db_->db());
            q.prepare("UPDATE file_sends SET attachment = ?, media_id = NULL WHERE id = ?");
            q.addBindValue(qbytes(attachment->SerializeAsString()));
            q.addBindValue(file.id);
            q.exec();
            uploadEncrypted(id, file, attachment, {});
          });
  worker->start();
  return id;
}

void Messenger::uploadEncrypted(qint64 id, const QueuedFile& file,
                                std::shared_ptr<e2e::Attachment> attachment, const QByteArray& earlier) {
  auto& t = transfers_[id];
  if (t.cancelled->load()) return endTransfer(id, QStringLiteral("cancelled"));
  auto* job = new media::UploadJob(*relay_, nam(), media::media_base(profile_.server), copyOf(file.id),
                                   attachment->ciphertext_size(), qbytes(attachment->ciphertext_sha256()),
                                   earlier, this);
  t.job = job;
  connect(job, &media::UploadJob::reserved, this, [this, file_id = file.id](const QByteArray& media_id) {
    QSqlQuery q(db_->db());
    q.prepare("UPDATE file_sends SET media_id = ? WHERE id = ?");
    q.addBindValue(media_id);
    q.addBindValue(file_id);
    q.exec();
  });
  connect(job, &media::TransferJob::progress, this,
          [this, id](qint64 done, qint64 total) { emit transferProgress(id, done, total); });
  connect(job, &media::TransferJob::resumed, this, [this, id](qint64 offset) { emit transferResumed(id, offset); });
  connect(job, &media::TransferJob::failed, this, [this, id](const QString& e) { endTransfer(id, e); });
  connect(job, &media::UploadJob::finished, this, [this, id, file, attachment](const QByteArray& media_id) {
    attachment->set_media_id(media_id.toStdString());
    e2e::Content content;
    content.set_type(e2e::ATTACHMENT);
    content.set_text(file.caption.toStdString());
    content.set_forwarded(file.origin == Origin::Forwarded);
    *content.mutable_attachment() = *attachment;
    // Made by queueFile from a message of ours: a quote that no longer parses (a damaged
    // row) leaves the file going without it rather than not at all.
    if (!file.quote.isEmpty() &&
        !content.mutable_quote()->ParseFromArray(file.quote.constData(), static_cast<int>(file.quote.size())))
      content.clear_quote();
    QString error;
    const auto body = attachmentBody(content);
    const auto msg =
        file.peer.startsWith(QLatin1Char('#'))
            ? enqueueGroup(groupIdOf(file.peer), std::move(content), body,
                           &error, file.clientMsgId)
            : enqueue(file.peer, std::move(content), &error, {}, file.clientMsgId);
    if (!msg) return endTransfer(id, error);
    // Had the app stopped right here, queuedFiles would find the message and forget the file.
    forgetFile(file.id);
    QSqlQuery q(db_->db());
    q.prepare("UPDATE attachments SET local_path = ? WHERE sender = ? AND client_msg_id = ?");
    q.addBindValue(file.path);
    q.addBindValue(profile_.username);
    q.addBindValue(*msg);
    q.exec();
    endTransfer(id, {}, *msg, file.path);
  });
  job->start();
}

void Messenger::removeFilesOf(const Transfer& t, bool unfinished) {
  if (!t.temp_path.isEmpty()) QFile::remove(t.temp_path);
  // A download that did not finish gives its name back (still the empty file it made).
  if (unfinished && !t.reserved_path.isEmpty() && QFileInfo(t.reserved_path).size() == 0)
    QFile::remove(t.reserved_path);
}

void Messenger::endTransfer(qint64 id, const QString& error, const QByteArray& msg_id,
                            const QString& path) {
  const auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  removeFilesOf(it->second, !error.isEmpty());
  if (!error.isEmpty() && it->second.forget_on_failure) forgetFile(it->second.file);
  if (it->second.job) it->second.job->deleteLater();
  transfers_.erase(it);
  if (error.isEmpty())
    emit transferFinished(id, msg_id, path);
  else
    emit transferFailed(id, error);
}

void Messenger::cancelTransfer(qint64 id) {
  const auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  it->second.cancelled->store(true);
  // An upload cancelled is a file the user no longer wants sent. Its copy goes when the
  // transfer ends, once the job has closed it.
  if (it->second.file) {
    QSqlQuery q(db_->db());
    q.prepare("DELETE FROM file_sends WHERE id = ?");
    q.addBindValue(it->second.file);
    q.exec();
    it->second.temp_path = copyOf(it->second.file);
  }
  if (it->second.job) return it->second.job->cancel();  // failed("cancelled") ends it
  // Still encrypting: the worker stops at its next buffer and reports "cancelled".
}

void Messenger::dropFileOf(const QByteArray& msg_id, const QByteArray& media_id, const QString& local_path,
                           bool stop_downloads) {
  std::vector<qint64> running;
  for (const auto& [id, t] : transfers_)
    if (stop_downloads && !msg_id.isEmpty() && t.msg_id == msg_id) running.push_back(id);
  for (const auto id : running) cancelTransfer(id);
  // Only a copy inside the profile, by its real place (a link there from outside is not
  // one), and one no other message names.
  const auto profile = QFileInfo(profile_.dir).canonicalFilePath();
  const auto file = local_path.isEmpty() ? QString() : QFileInfo(local_path).canonicalFilePath();
  if (!profile.isEmpty() && !file.isEmpty() && QFileInfo(local_path).absoluteFilePath() == file &&
      file.startsWith(profile + QLatin1Char('/'))) {
    QSqlQuery other(db_->db());
    other.prepare("SELECT 1 FROM attachments WHERE local_path = ?");
    other.addBindValue(local_path);
    if (other.exec() && !other.next()) QFile::remove(file);
  }
  if (!media_id.isEmpty())
    QFile::remove(profile_.dir + QStringLiteral("/media-in/") + QString::fromLatin1(media_id.toHex()) +
                  QStringLiteral(".part"));
}

qint64 Messenger::fetchAttachment(const QByteArray& clientMsgId, const QString& dir, QString* error) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT media_id, key, ciphertext_size, sha256, file_name FROM attachments"
            " WHERE client_msg_id = ?");
  q.addBindValue(clientMsgId);
  if (!q.exec() || !q.next()) {
    *error = QStringLiteral("no message with a file has that id");
    return 0;
  }
  const QFileInfo target_dir(dir);
  if (!target_dir.isDir() || !target_dir.isWritable()) {
    *error = QStringLiteral("%1 is not a writable directory").arg(dir);
    return 0;
  }
  const auto cache_dir = profile_.dir + QStringLiteral("/media-in");
  if (!QDir().mkpath(cache_dir)) {
    *error = QStringLiteral("cannot create %1").arg(cache_dir);
    return 0;
  }
  QFile::setPermissions(cache_dir, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
  const auto key_bytes = q.value(1).toByteArray();
  if (key_bytes.size() != static_cast<qsizetype>(crypto::StreamKey::size())) {
    *error = QStringLiteral("the stored attachment key is damaged");
    return 0;
  }
  media::DownloadSpec spec;
  spec.media_id = q.value(0).toByteArray();
  spec.key = crypto::StreamKey(view(key_bytes));
  spec.ciphertext_size = static_cast<quint64>(q.value(2).toLongLong());
  spec.sha256 = q.value(3).toByteArray();
  spec.target_path = reserve_path(target_dir.absoluteFilePath(), safe_file_name(q.value(4).toString()), error);
  if (spec.target_path.isEmpty()) return 0;
  const auto reserved = spec.target_path;
  const qint64 id = next_transfer_++;
  // One cache file per attachment, kept when a download fails, so the next one resumes from
  // it. A download of an attachment already being fetched gets a scratch file of its own,
  // removed when it ends: sharing one, the first to finish removed it under the other, which
  // then failed. (One a dead process left under the same name went when the profile was
  // opened: ProfileLock::removeLeftovers.)
  const auto stem = cache_dir + QLatin1Char('/') + QString::fromLatin1(spec.media_id.toHex());
  spec.cache_path = stem + QStringLiteral(".part");
  QString scratch;
  const bool shared = std::any_of(transfers_.begin(), transfers_.end(),
                                  [&](const auto& t) { return t.second.cache_path == spec.cache_path; });
  if (shared) {
    scratch = stem + QLatin1Char('.') + QString::number(id) + QStringLiteral(".part");
    spec.cache_path = scratch;
  }
  const auto cache_path = spec.cache_path;
  auto* job = new media::DownloadJob(*relay_, nam(), media::media_base(profile_.server), std::move(spec), this);
  transfers_[id] = Transfer{job, std::make_shared<std::atomic<bool>>(false), scratch, reserved, cache_path,
                            0, false, clientMsgId};
  connect(job, &media::TransferJob::progress, this,
          [this, id](qint64 done, qint64 total) { emit transferProgress(id, done, total); });
  connect(job, &media::TransferJob::resumed, this, [this, id](qint64 offset) { emit transferResumed(id, offset); });
  connect(job, &media::TransferJob::failed, this, [this, id](const QString& e) { endTransfer(id, e); });
  connect(job, &media::DownloadJob::finished, this, [this, id, clientMsgId](const QString& saved) {
    QSqlQuery u(db_->db());
    u.prepare("UPDATE attachments SET local_path = ? WHERE client_msg_id = ?");
    u.addBindValue(saved);
    u.addBindValue(clientMsgId);
    if (u.exec() && u.numRowsAffected() == 0) {
      // Taken back or deleted here while it came: no copy is kept for it in the profile (one
      // saved to a folder of the user's own is theirs).
      dropFileOf(clientMsgId, {}, saved, false);  // this download is the one ending
      if (!QFile::exists(saved)) return endTransfer(id, QStringLiteral("the message was deleted"));
    }
    endTransfer(id, {}, clientMsgId, saved);
  });
  job->start();
  return id;
}

}  // namespace parley::client
