#include "messenger_internal.hpp"

#include <QDateTime>
#include <QSqlQuery>
#include <QVariant>
#include <array>

#include "crypto/secure_bytes.hpp"
#include "parley/message_id.hpp"
#include "parley/username.hpp"

namespace parley::client::detail {

QByteArray new_message_id() {
  std::array<std::uint8_t, 10> random{};
  crypto::random_bytes(random.data(), random.size());
  const auto id = make_message_id(static_cast<std::uint64_t>(QDateTime::currentMSecsSinceEpoch()), random);
  return QByteArray(reinterpret_cast<const char*>(id.data()), static_cast<qsizetype>(id.size()));
}

std::optional<QStringList> fold_usernames(const QStringList& users, QString* why) {
  QStringList folded;
  for (const auto& u : users) {
    std::string problem;
    const auto f = fold_username(u.toStdString(), &problem);
    if (f.empty()) {
      *why = QStringLiteral("%1: %2").arg(u, QString::fromStdString(problem));
      return std::nullopt;
    }
    folded << QString::fromStdString(f);
  }
  folded.removeDuplicates();  // "Bob" and "bob" are one account
  return folded;
}

bool raise_setting(QSqlDatabase& db, const QString& key, std::uint64_t value) {
  QSqlQuery q(db);
  // Qt binds an unsigned 64-bit value as text, and SQLite ranks any text above any integer:
  // both sides are cast, or MAX would always pick the new value.
  q.prepare("INSERT INTO settings(key, value) VALUES(?, ?)"
            " ON CONFLICT(key) DO UPDATE"
            " SET value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))");
  q.addBindValue(key);
  q.addBindValue(static_cast<qulonglong>(value));
  return q.exec();
}

bool save_last_acked(QSqlDatabase& db, std::uint64_t seq) {
  return raise_setting(db, QStringLiteral("last_acked"), seq);
}

bool is_archived(QSqlDatabase& db, const QString& peer) {
  QSqlQuery q(db);
  q.prepare("SELECT archived FROM conversations WHERE peer = ?");
  q.addBindValue(peer);
  return q.exec() && q.next() && q.value(0).toBool();
}

bool has_conversation(QSqlDatabase& db, const QString& peer) {
  QSqlQuery q(db);
  q.prepare("SELECT 1 FROM conversations WHERE peer = ?");
  q.addBindValue(peer);
  return q.exec() && q.next();
}

bool is_member(QSqlDatabase& db, const QByteArray& group_id, const QString& name) {
  QSqlQuery q(db);
  q.prepare("SELECT 1 FROM group_members WHERE group_id = ? AND username = ?");
  q.addBindValue(group_id);
  q.addBindValue(name);
  return q.exec() && q.next();
}

bool prune_sessions(QSqlDatabase& db, const QString& peer, std::uint32_t device) {
  QSqlQuery q(db);
  q.prepare("DELETE FROM sessions WHERE peer = ? AND device = ? AND id NOT IN"
            " (SELECT id FROM sessions WHERE peer = ? AND device = ?"
            " ORDER BY last_used_ms DESC, id DESC LIMIT ?)");
  q.addBindValue(peer);
  q.addBindValue(device);
  q.addBindValue(peer);
  q.addBindValue(device);
  q.addBindValue(kSessionsKept);
  return q.exec();
}

}  // namespace parley::client::detail
