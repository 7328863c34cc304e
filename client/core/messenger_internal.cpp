#include "messenger_internal.hpp"

#include <QSqlQuery>
#include <QVariant>

#include "crypto/secure_bytes.hpp"
#include "parley/username.hpp"

namespace parley::client::detail {

QByteArray random_id() {
  QByteArray id(16, '\0');
  crypto::random_bytes(reinterpret_cast<std::uint8_t*>(id.data()), 16);
  return id;
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
  return folded;
}

bool save_last_acked(QSqlDatabase& db, std::uint64_t seq) {
  QSqlQuery q(db);
  q.prepare("INSERT INTO settings(key, value) VALUES('last_acked', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), excluded.value)");
  q.addBindValue(static_cast<qulonglong>(seq));
  return q.exec();
}

}  // namespace parley::client::detail
