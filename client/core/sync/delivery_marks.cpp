#include "sync/delivery_marks.hpp"

#include <QDateTime>
#include <QSet>
#include <QSqlQuery>
#include <QVariant>
#include <algorithm>
#include <limits>
#include <optional>

#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "parley/limits.hpp"
#include "parley/username.hpp"
#include "sync/group_ticks.hpp"
#include "util/bytes.hpp"

namespace parley::client::marks {
namespace {

constexpr int kGroupIdBytes = 16;
constexpr std::uint32_t kMaxDevice = 0x7fffffff;  // device ids are 1..2^31-1 on the wire
constexpr auto kMaxStored = static_cast<std::uint64_t>(std::numeric_limits<qint64>::max());

constexpr int kSent = static_cast<int>(MessageStatus::Sent);
constexpr int kDelivered = static_cast<int>(MessageStatus::Delivered);

// Where a mark belongs: the conversation key of `messages` and the group (empty for 1:1).
struct Conversation {
  QString peer;
  QByteArray group_id;
};

bool exists(QSqlDatabase& db, const char* sql, const QVariant& key) {
  QSqlQuery q(db);
  q.prepare(sql);
  q.addBindValue(key);
  return q.exec() && q.next();
}

// The conversation of a well-formed mark that we have, or nullopt.
std::optional<Conversation> place(QSqlDatabase& db, const QString& me, const wire::DeliveryMark& m) {
  if (m.up_to_conv_seq() == 0 || m.up_to_conv_seq() > kMaxStored || m.version() == 0 ||
      m.from_conv_seq() == 0 || m.from_conv_seq() > m.up_to_conv_seq() ||
      m.server_ts_ms() > kMaxStored || m.reader_device() == 0 || m.reader_device() > kMaxDevice)
    return std::nullopt;
  // Names arrive folded; anything else is not a user this client ever wrote to.
  if (m.reader().empty() || fold_username(m.reader()) != m.reader()) return std::nullopt;
  const auto reader = QString::fromStdString(m.reader());
  if (m.group_id().empty()) {
    if (!exists(db, "SELECT 1 FROM conversations WHERE peer = ?", reader)) return std::nullopt;
    return Conversation{reader, {}};
  }
  // Our own other device is not a member to count (1:1 with ourselves is a note to self).
  if (reader == me || m.group_id().size() != kGroupIdBytes) return std::nullopt;
  const auto gid = qbytes(m.group_id());
  if (!exists(db, "SELECT 1 FROM groups WHERE id = ?", gid)) return std::nullopt;
  // Only a member is counted: a relay naming others would show "delivered to 40 of 3" and
  // put made-up names in the receipt details.
  if (!detail::is_member(db, gid, reader)) return std::nullopt;
  return Conversation{Messenger::groupPeer(gid), gid};
}

// Our message `id` has reached `reader`. One-to-one it becomes Delivered if it was Sent
// (statuses only move forward, and a queued or failed message has no conv_seq a mark could
// cover, so only Sent is raised). In a group that member is counted; the message becomes
// Delivered once every member it went to is (group_ticks.hpp, after the frame).
bool cover(QSqlDatabase& db, const QString& me, const Conversation& c, const QByteArray& id,
           const QString& reader, qint64 at_ms, MarkEffects* out) {
  if (!c.group_id.isEmpty()) {
    QSqlQuery r(db);
    r.prepare("INSERT OR IGNORE INTO group_receipts(group_id, client_msg_id, member, at_ms)"
              " VALUES(?, ?, ?, ?)");
    r.addBindValue(c.group_id);
    r.addBindValue(id);
    r.addBindValue(reader);
    r.addBindValue(at_ms);
    if (!r.exec()) return false;
    if (r.numRowsAffected() > 0) out->group_members.append({c.group_id, id});
    return true;
  }
  QSqlQuery s(db);
  s.prepare("UPDATE messages SET status = ? WHERE sender = ? AND client_msg_id = ? AND status = ?");
  s.addBindValue(kDelivered);
  s.addBindValue(me);
  s.addBindValue(id);
  s.addBindValue(kSent);
  if (!s.exec()) return false;
  if (s.numRowsAffected() > 0) out->statuses.append({c.peer, id, MessageStatus::Delivered});
  return true;
}

// Raises the stored mark (stamped `at_ms`); the conv_seq below which it covers nothing new
// (the up_to it had, or the mark's from − 1 if higher), or nullopt on a failed statement.
std::optional<qint64> raise(QSqlDatabase& db, const Conversation& c, const wire::DeliveryMark& m,
                            qint64 at_ms) {
  QSqlQuery prev(db);
  prev.prepare("SELECT up_to, from_seq FROM delivery_marks WHERE peer = ? AND reader = ? AND"
               " reader_device = ?");
  prev.addBindValue(c.peer);
  prev.addBindValue(QString::fromStdString(m.reader()));
  prev.addBindValue(m.reader_device());
  if (!prev.exec()) return std::nullopt;
  const bool had = prev.next();
  const qint64 before = had ? prev.value(0).toLongLong() : 0;
  const auto up_to = static_cast<qint64>(m.up_to_conv_seq());
  const auto from = static_cast<qint64>(m.from_conv_seq());
  if (up_to <= before) return up_to;  // resent after a login, or older than what we hold
  if (!had) {
    // A row per reader device: a relay naming device after device would add rows for good.
    // No account has more devices than a Send may address.
    QSqlQuery devices(db);
    devices.prepare("SELECT COUNT(*) FROM delivery_marks WHERE peer = ? AND reader = ?");
    devices.addBindValue(c.peer);
    devices.addBindValue(QString::fromStdString(m.reader()));
    if (!devices.exec() || !devices.next()) return std::nullopt;
    if (devices.value(0).toLongLong() >= static_cast<qint64>(limits::kMaxDevicesPerSend)) return up_to;
  }
  // A mark starting above what we hold is a new membership (or device): it starts there;
  // otherwise it continues the one we have.
  const qint64 start = !had || from > before ? from : prev.value(1).toLongLong();
  QSqlQuery up(db);
  up.prepare("INSERT INTO delivery_marks(peer, reader, reader_device, from_seq, up_to, at_ms)"
             " VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(peer, reader, reader_device)"
             " DO UPDATE SET from_seq = excluded.from_seq, up_to = excluded.up_to,"
             " at_ms = excluded.at_ms");
  up.addBindValue(c.peer);
  up.addBindValue(QString::fromStdString(m.reader()));
  up.addBindValue(m.reader_device());
  up.addBindValue(start);
  up.addBindValue(up_to);
  up.addBindValue(at_ms);
  if (!up.exec()) return std::nullopt;
  return std::max(before, from - 1);
}

// Our group messages that gained members may now have reached every one: settled once per
// frame rather than per reader, since each settle counts all of a message's receipts.
bool settle_groups(QSqlDatabase& db, const QString& me, MarkEffects* out) {
  for (const auto& [gid, id] : out->group_members) {
    bool ok = true;
    if (const auto now = group_ticks::settle(db, me, gid, id, &ok))
      out->statuses.append({Messenger::groupPeer(gid), id, *now});
    if (!ok) return false;
  }
  return true;
}

// Several readers (or devices) of one frame can add members to the same message: one signal
// each is enough, since the count is read afresh.
void dedupe(MarkEffects* out) {
  QSet<QPair<QByteArray, QByteArray>> seen;
  QList<QPair<QByteArray, QByteArray>> unique;
  for (const auto& g : out->group_members)
    if (!seen.contains(g)) {
      seen.insert(g);
      unique.append(g);
    }
  out->group_members = std::move(unique);
}

}  // namespace

bool apply_frame(QSqlDatabase& db, const QString& me, const wire::DeliveryMarks& frame,
                 MarkEffects* out) {
  std::uint64_t top = 0;
  for (const auto& m : frame.marks()) {
    if (m.version() > kMaxStored) continue;  // cannot be stored; would poison the resume point
    // A skipped mark is handled too: there is no point in getting it again.
    top = std::max(top, static_cast<std::uint64_t>(m.version()));
    const auto c = place(db, me, m);
    if (!c) continue;
    const auto at_ms = detail::relay_time(m.server_ts_ms(), QDateTime::currentMSecsSinceEpoch());
    const auto before = raise(db, *c, m, at_ms);
    if (!before) return false;
    const auto up_to = static_cast<qint64>(m.up_to_conv_seq());
    if (up_to <= *before) continue;
    QSqlQuery q(db);
    q.prepare(covered_query(!c->group_id.isEmpty()));
    q.addBindValue(c->peer);
    q.addBindValue(*before);
    q.addBindValue(up_to);
    q.addBindValue(me);
    if (!q.exec()) return false;
    QList<QByteArray> ids;
    while (q.next()) ids << q.value(0).toByteArray();
    const auto reader = QString::fromStdString(m.reader());
    for (const auto& id : ids)
      if (!cover(db, me, *c, id, reader, at_ms, out)) return false;
  }
  dedupe(out);
  if (!settle_groups(db, me, out)) return false;
  return top == 0 || detail::raise_setting(db, QStringLiteral("last_mark_version"), top);
}

bool apply_stored(QSqlDatabase& db, const QString& me, const QString& peer,
                  const QByteArray& group_id, const QByteArray& client_msg_id, qint64 conv_seq,
                  MarkEffects* out) {
  // Only our shown messages: a read receipt, GROUP_INFO or sender key has no row to mark.
  QSqlQuery shown(db);
  shown.prepare("SELECT 1 FROM messages WHERE sender = ? AND client_msg_id = ? AND peer = ?");
  shown.addBindValue(me);
  shown.addBindValue(client_msg_id);
  shown.addBindValue(peer);
  if (!shown.exec()) return false;
  if (!shown.next() || conv_seq <= 0) return true;
  QSqlQuery q(db);
  // The earliest time among a reader's devices whose mark covers it.
  q.prepare("SELECT reader, MIN(at_ms) FROM delivery_marks WHERE peer = ? AND up_to >= ?"
            " AND from_seq <= ? GROUP BY reader ORDER BY reader");
  q.addBindValue(peer);
  q.addBindValue(conv_seq);
  q.addBindValue(conv_seq);
  if (!q.exec()) return false;
  QList<QPair<QString, qint64>> readers;
  while (q.next()) readers.append({q.value(0).toString(), q.value(1).toLongLong()});
  const Conversation c{peer, group_id};
  for (const auto& [reader, at_ms] : readers)
    if (!cover(db, me, c, client_msg_id, reader, at_ms, out)) return false;
  dedupe(out);
  return settle_groups(db, me, out);
}

QString covered_query(bool group) {
  // In a 1:1 conversation only Sent messages can change; in a group a Delivered or Read one
  // can still gain a member.
  return QStringLiteral("SELECT client_msg_id FROM messages WHERE peer = ? AND conv_seq > ?"
                        " AND conv_seq <= ? AND sender = ?%1 ORDER BY conv_seq")
      .arg(group ? QString() : QStringLiteral(" AND status = %1").arg(kSent));
}

std::uint64_t resume_version(QSqlDatabase& db, const QByteArray& relay_id) {
  QSqlQuery q(db);
  q.prepare("SELECT value FROM settings WHERE key = 'marks_relay_id'");
  if (q.exec() && q.next() && q.value(0).toByteArray() == relay_id) return last_version(db);
  // Both in one statement each, in this order: a crash between them leaves the old relay's
  // id with no version (a full resend), never a version under the new id.
  QSqlQuery reset(db);
  if (!reset.exec("DELETE FROM settings WHERE key = 'last_mark_version'")) return 0;
  QSqlQuery id(db);
  id.prepare("INSERT OR REPLACE INTO settings(key, value) VALUES('marks_relay_id', ?)");
  id.addBindValue(relay_id);
  id.exec();
  return 0;
}

std::uint64_t last_version(QSqlDatabase& db) {
  QSqlQuery q(db);
  q.exec("SELECT value FROM settings WHERE key = 'last_mark_version'");
  return q.next() ? q.value(0).toULongLong() : 0;
}

}  // namespace parley::client::marks
