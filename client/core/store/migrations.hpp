#pragma once
#include <QSqlDatabase>
#include <QString>

namespace parley::client {

// Applies every step after the file's user_version, each in its own transaction.
// Returns false with `error` set if a step fails or the file is newer than this build.
bool migrate(QSqlDatabase& db, int target_version, QString* error);

}  // namespace parley::client
