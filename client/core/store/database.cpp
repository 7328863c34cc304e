#include "store/database.hpp"

#include <QFile>
#include <QSqlError>
#include <QSqlQuery>
#include <QUuid>

#include "store/migrations.hpp"

namespace parley::client {

std::unique_ptr<Database> Database::open(const QString& path, QString* error) {
  if (!QFile::exists(path)) {
    QFile create(path);
    if (!create.open(QIODevice::WriteOnly)) {
      *error = QStringLiteral("cannot create %1: %2").arg(path, create.errorString());
      return nullptr;
    }
  }
  QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner);
  auto db = QSqlDatabase::addDatabase("QSQLITE", QUuid::createUuid().toString());
  db.setDatabaseName(path);
  if (!db.open()) {
    *error = QStringLiteral("cannot open %1: %2").arg(path, db.lastError().text());
    return nullptr;
  }
  QSqlQuery pragma(db);
  // WAL + FULL: a message the UI showed as stored survives a crash or power loss.
  // secure_delete: a used one-time prekey or a replaced ratchet state is overwritten in the
  // file, not left in a free page. Debian's SQLite has it on already; the SQLite bundled with
  // Qt on Windows and macOS does not.
  for (const char* p : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                        "PRAGMA foreign_keys=ON", "PRAGMA secure_delete=ON"}) {
    if (!pragma.exec(p)) {
      *error = pragma.lastError().text();
      return nullptr;
    }
  }
  if (!migrate(db, kSchemaVersion, error)) return nullptr;
  return std::unique_ptr<Database>(new Database(std::move(db)));
}

Database::~Database() {
  const QString name = db_.connectionName();
  db_.close();
  db_ = QSqlDatabase();
  QSqlDatabase::removeDatabase(name);
}

int Database::schemaVersion() {
  QSqlQuery q(db_);
  return q.exec("PRAGMA user_version") && q.next() ? q.value(0).toInt() : -1;
}

bool Database::transaction(const std::function<bool()>& body) {
  if (!batch_) {
    if (!db_.transaction()) return false;
    if (body() && db_.commit()) return true;
    db_.rollback();
    return false;
  }
  QSqlQuery sp(db_);
  if (!sp.exec("SAVEPOINT tx")) return false;
  if (body() && sp.exec("RELEASE tx")) return true;
  sp.exec("ROLLBACK TO tx");
  sp.exec("RELEASE tx");
  return false;
}

bool Database::beginBatch() {
  if (batch_) return true;
  batch_ = db_.transaction();
  return batch_;
}

void Database::abortBatch() {
  if (!batch_) return;
  batch_ = false;
  db_.rollback();
}

bool Database::commitBatch() {
  if (!batch_) return true;
  batch_ = false;
  if (db_.commit()) return true;
  db_.rollback();
  return false;
}

}  // namespace parley::client
