#pragma once
// The ticks of our group messages. A group message shows two ticks once every member it went
// to has it (the relay's delivery marks, group_receipts) and two in the read colour once
// every one of them has read it (their end-to-end read receipts, group_reads), as one-to-one
// messages do for their one reader; "delivered to N of M · read by K of M" gives the counts
// before that.
//
// "Every member it went to" is those who were members when it was written and still are:
// messages.recipients holds how many others there were then (NULL for messages from before
// it was kept: the members now), and only receipts of members still in count, up to the
// lesser of the two. One who joined later never gets it; one who left never will. (One
// leaving and another joining before it arrives keeps it short of "every": the count cannot
// tell them apart.)
//
// Runs inside the caller's transaction; the caller emits messageStatusChanged for what it
// returns once that transaction is committed.
#include <QByteArray>
#include <QList>
#include <QPair>
#include <QSqlDatabase>
#include <QString>
#include <optional>

#include "messenger.hpp"

namespace parley::client::group_ticks {

// Raises our message `client_msg_id` in group `group_id` to what its receipts have earned,
// never back; its new status, or nullopt when it did not move (or a statement failed:
// `*ok` false then).
std::optional<MessageStatus> settle(QSqlDatabase& db, const QString& me, const QByteArray& group_id,
                                    const QByteArray& client_msg_id, bool* ok);

// After a member left: our newest messages in the group still short of Read (at most
// kResettleLimit, newest first) settled again, since one fewer may now be every one.
// (client_msg_id, new status) for those that moved; nullopt if a statement failed.
inline constexpr int kResettleLimit = 500;
std::optional<QList<QPair<QByteArray, MessageStatus>>> resettle(QSqlDatabase& db, const QString& me,
                                                                const QByteArray& group_id);

}  // namespace parley::client::group_ticks
