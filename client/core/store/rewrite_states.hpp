#pragma once
// Rewrites the serialized crypto states (a ratchet session's, a sender key's) of a table's
// `state` column in place: the schema step that moved them to a new format, and the daily
// drop of expired skipped keys. The caller runs it inside a transaction.
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QString>
#include <QVariant>

#include <optional>
#include <utility>
#include <vector>

#include "crypto/keys.hpp"
#include "util/bytes.hpp"

namespace parley::client {

// `rewrite(bytes)` returns a row's new state, or nullopt to leave the row as it is (nothing
// to change, or a state it cannot read: the paths that use it report that). False, with
// `error` set, when a query fails.
template <class Rewrite>
bool rewrite_states(QSqlDatabase& db, const char* table, Rewrite rewrite, QString* error) {
  // Read whole before writing: the rows are not updated under an open SELECT on them.
  std::vector<std::pair<qint64, SecretBytes>> changed;
  {
    QSqlQuery rows(db);
    if (!rows.exec(QStringLiteral("SELECT rowid, state FROM %1").arg(table))) {
      *error = rows.lastError().text();
      return false;
    }
    while (rows.next())
      if (std::optional<crypto::Bytes> state = rewrite(view(rows.value(1).toByteArray())))
        changed.emplace_back(rows.value(0).toLongLong(), SecretBytes(std::move(*state)));
  }
  for (const auto& [rowid, state] : changed) {
    QSqlQuery save(db);
    save.prepare(QStringLiteral("UPDATE %1 SET state = ? WHERE rowid = ?").arg(table));
    save.addBindValue(state.get());
    save.addBindValue(rowid);
    if (!save.exec()) {
      *error = save.lastError().text();
      return false;
    }
  }
  return true;
}

}  // namespace parley::client
