#pragma once
// Delivery marks (docs/protocol.md 6.6): per (conversation, reader device), the highest
// conv_seq of ours that device has acknowledged. The relay pushes them instead of a receipt
// per message; here they become the Delivered status of our messages and, in groups, the
// members counted in "delivered to N of M" (group_receipts) and, once that is every member,
// the message's two ticks (group_ticks.hpp).
//
// Every function runs inside the caller's transaction and only reads and writes the store;
// the caller emits the signals for `MarkEffects` once that transaction is committed.
#include <QByteArray>
#include <QList>
#include <QPair>
#include <QSqlDatabase>
#include <QString>
#include <cstdint>

#include "messenger.hpp"
#include "parley.pb.h"

namespace parley::client::marks {

// What applying marks changed, in the order found, each message at most once per list.
struct MarkEffects {
  struct Status {
    QString peer;
    QByteArray client_msg_id;
    MessageStatus now;  // Delivered; in a group also Read, if every read came before the marks
  };
  QList<Status> statuses;                              // our messages whose ticks moved
  QList<QPair<QByteArray, QByteArray>> group_members;  // (group_id, client_msg_id): a member more
};

// Applies one DeliveryMarks frame from the relay: raises each stored mark and marks our
// messages it newly covers (conv_seq in (previous up_to, up_to]), then records the frame's
// highest version as the next login's last_mark_version. `me` is our folded username.
// Marks that fail validation (up_to or version 0, a bad reader or device, a group id that is
// not 16 bytes, a conversation or group we do not have) are skipped: a mark only ever adds
// ticks, and one we cannot place has nothing to add. False: a statement failed; the caller
// rolls the whole frame back.
bool apply_frame(QSqlDatabase& db, const QString& me, const wire::DeliveryMarks& frame,
                 MarkEffects* out);

// Our message `client_msg_id` in conversation `peer` has just been given `conv_seq` by its
// SendAck. A mark covering it may have come first (the SendAck was lost with a dropped
// connection and the retry's duplicate answer came later): applies every stored mark of the
// conversation with up_to >= conv_seq to it. `group_id` is empty for a 1:1 conversation.
bool apply_stored(QSqlDatabase& db, const QString& me, const QString& peer,
                  const QByteArray& group_id, const QByteArray& client_msg_id, qint64 conv_seq,
                  MarkEffects* out);

// The highest DeliveryMark.version stored (0: none yet).
std::uint64_t last_version(QSqlDatabase& db);

// The last_mark_version to send at a login to the relay `relay_id`. Versions belong to one
// relay's data directory: when the id differs from the one the stored version came from (a
// relay started afresh), the stored version is dropped and 0 is sent, so no mark of the new
// relay is skipped for a version it happens to share with the old one.
std::uint64_t resume_version(QSqlDatabase& db, const QByteArray& relay_id);

// The statement that finds our messages a raised mark newly covers, binding (peer, previous
// up_to, up_to, me). Public so a test can check that its plan goes through
// messages_by_conversation: a mark must read the messages it covers, never a whole history.
QString covered_query(bool group);

}  // namespace parley::client::marks
