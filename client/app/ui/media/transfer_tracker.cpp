#include "media/transfer_tracker.hpp"

#include <QFileInfo>
#include <QSet>
#include <algorithm>

#include "messenger.hpp"

namespace parley::app {

using client::Messenger;

TransferTracker::TransferTracker(Messenger* messenger, QObject* parent)
    : QObject(parent), messenger_(messenger) {
  connect(messenger_, &Messenger::transferProgress, this, &TransferTracker::onProgress);
  connect(messenger_, &Messenger::transferFinished, this,
          [this](qint64 job, const QByteArray&, const QString& path) { onFinished(job, path); });
  connect(messenger_, &Messenger::transferFailed, this, &TransferTracker::onFailed);
  QSet<QString> peers;
  for (const auto& f : messenger_->queuedFiles()) {
    Transfer t;
    t.id = next_id_++;
    t.upload = true;
    t.waiting = true;
    t.file = f.id;
    t.peer = f.peer;
    t.path = f.path;
    t.caption = f.caption;
    t.fileName = QFileInfo(f.path).fileName();
    transfers_.insert(t.id, t);
    peers.insert(f.peer);
  }
  for (const auto& peer : peers) startNext(peer);
}

qint64 TransferTracker::upload(const QString& peer, const QString& path, const QString& caption,
                               QString* error, qint64 reply_to, client::Origin origin) {
  Transfer t;
  t.upload = true;
  t.peer = peer;
  t.path = path;
  t.caption = caption;
  t.fileName = QFileInfo(path).fileName();
  t.file = messenger_->queueFile(peer, path, caption, error, reply_to, origin);
  if (!t.file) return 0;
  if (!add(t, error)) {
    messenger_->forgetFile(t.file);
    return 0;
  }
  return next_id_ - 1;
}

bool TransferTracker::add(Transfer t, QString* error) {
  t.id = next_id_++;
  const bool busy = std::any_of(transfers_.cbegin(), transfers_.cend(), [&](const Transfer& o) {
    return o.upload && o.peer == t.peer && o.error.isEmpty();
  });
  t.waiting = busy;
  if (!busy) {
    t.job = messenger_->sendQueuedFile(t.file, error);
    if (!t.job) return false;
  }
  transfers_.insert(t.id, t);
  emit uploadsChanged(t.peer);
  return true;
}

void TransferTracker::startNext(const QString& peer) {
  for (;;) {
    Transfer* next = nullptr;
    for (auto& t : transfers_) {
      if (!t.upload || t.peer != peer || !t.error.isEmpty()) continue;
      if (!t.waiting) return;  // one is running
      if (!next || t.id < next->id) next = &t;
    }
    if (!next) return;
    QString error;
    next->waiting = false;
    next->job = messenger_->sendQueuedFile(next->file, &error);
    if (next->job) break;
    // Refused now (the file went away meanwhile): listed as failed, and on to the next.
    next->error = error;
    emit failed(*next, error);
  }
  emit uploadsChanged(peer);
}

qint64 TransferTracker::download(const QString& peer, const QByteArray& msg_id, const QString& dir,
                                 After after, const QString& save_as, QString* error) {
  if (const auto* running = downloadOf(msg_id)) {
    // Already coming: only what happens at the end changes.
    auto& t = transfers_[running->id];
    if (after != After::Nothing) {
      t.after = after;
      t.saveAs = save_as;
    }
    return t.id;
  }
  Transfer t;
  t.job = messenger_->fetchAttachment(msg_id, dir, error);
  if (!t.job) return 0;
  t.id = next_id_++;
  t.peer = peer;
  t.msgId = msg_id;
  t.after = after;
  t.saveAs = save_as;
  if (const auto a = messenger_->attachment(msg_id)) t.fileName = a->fileName;
  transfers_.insert(t.id, t);
  emit downloadChanged(msg_id);
  return t.id;
}

void TransferTracker::cancel(qint64 id) {
  const auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  if (it->job) return messenger_->cancelTransfer(it->job);  // onFailed("cancelled") follows
  // Waiting or failed: only queued in the messenger.
  if (it->upload) messenger_->forgetFile(it->file);
  const auto peer = it->peer;
  transfers_.erase(it);
  emit uploadsChanged(peer);
}

qint64 TransferTracker::retry(qint64 id, QString* error) {
  const auto it = transfers_.find(id);
  if (it == transfers_.end() || !it->upload || it->error.isEmpty()) return 0;
  // The same queued file, listed again as the newest: it goes after what waits now.
  const auto old = *it;
  auto again = old;
  again.error.clear();
  again.job = 0;
  again.done = again.total = 0;
  transfers_.erase(it);
  if (!add(again, error)) {
    transfers_.insert(old.id, old);  // still failed, still listed
    emit uploadsChanged(old.peer);
    return 0;
  }
  return next_id_ - 1;
}

void TransferTracker::dismiss(qint64 id) {
  const auto it = transfers_.find(id);
  if (it == transfers_.end() || it->error.isEmpty()) return;
  const auto peer = it->peer;
  messenger_->forgetFile(it->file);
  transfers_.erase(it);
  emit uploadsChanged(peer);
}

const TransferTracker::Transfer* TransferTracker::downloadOf(const QByteArray& msg_id) const {
  for (const auto& t : transfers_)
    if (!t.upload && t.msgId == msg_id) return &t;
  return nullptr;
}

const TransferTracker::Transfer* TransferTracker::find(qint64 id) const {
  const auto it = transfers_.find(id);
  return it == transfers_.end() ? nullptr : &*it;
}

TransferTracker::Transfer* TransferTracker::byJob(qint64 job) {
  for (auto& t : transfers_)
    if (t.job == job) return &t;
  return nullptr;
}

QList<TransferTracker::Transfer> TransferTracker::uploadsIn(const QString& peer) const {
  QList<Transfer> out;
  for (const auto& t : transfers_)
    if (t.upload && t.peer == peer) out << t;
  std::sort(out.begin(), out.end(), [](const Transfer& a, const Transfer& b) { return a.id < b.id; });
  return out;
}

void TransferTracker::announce(const Transfer& t) {
  if (t.upload)
    emit uploadsChanged(t.peer);
  else
    emit downloadChanged(t.msgId);
}

void TransferTracker::onProgress(qint64 job, qint64 done, qint64 total) {
  auto* t = byJob(job);
  if (!t) return;
  t->done = done;
  t->total = total;
  emit progressed(*t);
}

void TransferTracker::onFinished(qint64 job, const QString& path) {
  auto* found = byJob(job);
  if (!found) return;
  const auto t = *found;
  transfers_.remove(t.id);
  announce(t);
  if (t.upload)
    startNext(t.peer);
  else
    emit downloaded(t, path);
}

void TransferTracker::onFailed(qint64 job, const QString& error) {
  auto* found = byJob(job);
  if (!found) return;
  const bool cancelled = error == QLatin1String("cancelled");
  if (found->upload && !cancelled) {
    // Kept until the user retries or dismisses it.
    found->error = error;
    found->job = 0;
  }
  const auto t = *found;
  if (!t.upload || cancelled) transfers_.remove(t.id);
  announce(t);
  if (!cancelled) emit failed(t, error);
  if (t.upload) startNext(t.peer);
}

}  // namespace parley::app
