#pragma once
// The ticks of our group messages. A group message shows two ticks once every member it went
// to has it (the relay's delivery marks, group_receipts) and two in the read colour once
// every one of them has read it (their end-to-end read receipts, group_reads), as one-to-one
// messages do for their one reader. The counts ("delivered to N of M · read by K of M") use
// the same members (Messenger::receiptCounts).
//
// "Every member it went to" is the members now who joined before it was numbered
// (group_members.joined_seq below its conv_seq): one added after it never gets it, one who
// left is no longer waited for, one removed and added again is counted from the new join.
// Members from before joined_seq was kept count from the start of our marks from them
// (migration step 19), else from the group's start. A read receipt counts as delivery.
//
// Runs inside the caller's transaction; the caller tells views what moved once it commits.
#include <QByteArray>
#include <QList>
#include <QPair>
#include <QSqlDatabase>
#include <QString>
#include <optional>

#include "messenger.hpp"

namespace parley::client::group_ticks {

// The part of the queries that picks a message's members from group_members `g`, given the
// message's conv_seq as `seq_expr`: current members but `me_param`, joined before it.
QString went_to(const QString& seq_expr, const QString& me_param);
// Our message `id_param`'s conv_seq as SQL; one not numbered yet sorts after every join (it
// will go to the members now).
QString seq_of(const QString& id_param, const QString& me_param);

// Our message's M (`of`: the members it went to) and, of them, how many have read it and
// how many have it (a read counts); `seq` its conv_seq, or nullopt to look it up (a message
// not numbered yet went to the members now). nullopt if the statement failed.
std::optional<ReceiptCounts> count(QSqlDatabase& db, const QString& me, const QByteArray& group_id,
                                   const QByteArray& client_msg_id, std::optional<qint64> seq);

// Forward: receipts only add, so a status only rises. Regrade: members were added whom
// messages already numbered went to (their event reached us after the marks of others,
// while we caught up), so a status may also fall back to what is earned.
enum class Moves { Forward, Regrade };

// Sets our message `client_msg_id` in group `group_id` to what its receipts have earned;
// its new status, or nullopt when it did not move (or a statement failed: `*ok` false then).
std::optional<MessageStatus> settle(QSqlDatabase& db, const QString& me, const QByteArray& group_id,
                                    const QByteArray& client_msg_id, bool* ok,
                                    Moves moves = Moves::Forward);

// After members left (Forward) or were added at `after_seq` (Regrade): our messages numbered
// after `after_seq`, among the group's newest kResettleSeqs seqs, settled again.
// (client_msg_id, new status) for those that moved; nullopt if a statement failed.
inline constexpr int kResettleSeqs = 2000;
std::optional<QList<QPair<QByteArray, MessageStatus>>> resettle(QSqlDatabase& db, const QString& me,
                                                                const QByteArray& group_id,
                                                                qint64 after_seq = 0,
                                                                Moves moves = Moves::Forward);

}  // namespace parley::client::group_ticks
