#include "conversation/forwarder.hpp"

#include "common/chat_title.hpp"
#include "media/transfer_tracker.hpp"
#include "messenger.hpp"

namespace parley::app {

using client::Messenger;

Forwarder::Forwarder(Messenger* messenger, TransferTracker* transfers, QObject* parent)
    : QObject(parent), messenger_(messenger), transfers_(transfers) {
  connect(transfers_, &TransferTracker::uploadsChanged, this, [this](const QString& peer) {
    if (queues_.contains(peer)) pump(peer);
  });
}

void Forwarder::forward(const QString& to, const QList<Copy>& copies) {
  queues_[to].copies += copies;
  pump(to);
}

int Forwarder::waiting() const {
  int n = 0;
  for (const auto& q : queues_) n += static_cast<int>(q.copies.size());
  return n;
}

void Forwarder::pump(const QString& to) {
  // Starting an upload reports a change of uploads at once: that chat, or another, is looked
  // at again once this one is done, never from inside it.
  if (pumping_) {
    again_.insert(to);
    return;
  }
  pumping_ = true;
  pumpOne(to);
  while (!again_.isEmpty()) {
    const QString next = *again_.begin();
    again_.remove(next);
    pumpOne(next);
  }
  pumping_ = false;
}

void Forwarder::pumpOne(const QString& to) {
  auto it = queues_.find(to);
  if (it == queues_.end()) return;
  if (it->upload != 0) {
    const auto* t = transfers_->find(it->upload);
    if (t && t->error.isEmpty()) return;  // still on its way
    // Ended: its message is queued. A failure stays in the chat's upload list with its
    // reason and Retry, as any file's; what came after it goes on.
    it->upload = 0;
  }
  while (!it->copies.isEmpty() && it->upload == 0) {
    const Copy c = it->copies.takeFirst();
    QString error;
    if (!c.file.isEmpty()) {
      it->upload = transfers_->upload(to, c.file, c.text, &error, 0, c.origin);
      if (it->upload == 0) emit problem(tr("Not forwarded to %1: %2").arg(chatTitle(messenger_, to), error));
      continue;
    }
    const bool sent = to.startsWith(QLatin1Char('#'))
                          ? messenger_->groupSend(Messenger::groupIdOf(to), c.text, &error, 0, c.origin).has_value()
                          : messenger_->sendText(to, c.text, &error, 0, c.origin).has_value();
    if (!sent) emit problem(tr("Not forwarded to %1: %2").arg(chatTitle(messenger_, to), error));
  }
  if (it->copies.isEmpty() && it->upload == 0) queues_.erase(it);
}

}  // namespace parley::app
