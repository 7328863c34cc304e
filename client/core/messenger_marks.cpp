// Delivery marks from the relay: applied to the store (sync/delivery_marks.cpp) in one
// transaction per frame, then announced the way the GUI and the CLI follow delivery.
#include <QTimer>

#include "messenger.hpp"
#include "sync/delivery_marks.hpp"

namespace parley::client {

void Messenger::onDeliveryMarks(const wire::DeliveryMarks& frame) {
  if (marks_paused_) return;
  marks::MarkEffects fx;
  const bool ok = db_->transaction(
      [&] { return marks::apply_frame(db_->db(), profile_.username, frame, &fx); });
  if (!ok) {
    // Nothing of the frame is stored, last_mark_version included; a later frame would move
    // the version past it, so reconnect and let the login ask for them again.
    marks_paused_ = true;
    emit problem(QStringLiteral("could not save delivery ticks (is the disk full?); reconnecting"
                                " to fetch them again"));
    QTimer::singleShot(0, this, [this] {
      relay_->stop();
      start();
    });
    return;
  }
  announceMarks(fx);
}

void Messenger::applyStoredMarks(const QString& peer, const QByteArray& group_id,
                                 const QByteArray& id, qint64 conv_seq) {
  marks::MarkEffects fx;
  const bool ok = db_->transaction([&] {
    return marks::apply_stored(db_->db(), profile_.username, peer, group_id, id, conv_seq, &fx);
  });
  if (ok) announceMarks(fx);
}

void Messenger::announceMarks(const marks::MarkEffects& fx) {
  for (const auto& s : fx.statuses) announceTicks(s.peer, {{s.client_msg_id, s.now}});
  for (const auto& [gid, id] : fx.group_members)
    emit groupDeliveryChanged(gid, id, deliveredCount(gid, id));
}

}  // namespace parley::client
