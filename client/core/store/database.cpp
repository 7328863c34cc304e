#include "store/database.hpp"

#include <QFile>
#include <QFileInfo>
#include <QSqlError>
#include <QSqlQuery>
#include <QUuid>

#include "store/migrations.hpp"
#include "store/plain_file.hpp"
#include "store/sealed_vfs.hpp"

namespace parley::client {

namespace {

QString explain(const QString& path, const QString& what) {
  if (sealed::lastFailureWasAuthentication())
    return QStringLiteral("cannot open %1: its pages do not open with this profile's key (the file "
                          "is damaged, or is not this profile's); restore the profile's folder "
                          "from a backup")
        .arg(path);
  return QStringLiteral("cannot open %1: %2").arg(path, what);
}

}  // namespace

std::unique_ptr<Database> Database::open(const QString& path, crypto::ByteView store_key,
                                         QString* error) {
  if (!sealed::install()) {
    *error = QStringLiteral("cannot open %1: SQLite refused the profile's encryption").arg(path);
    return nullptr;
  }
  auto key = std::make_unique<sealed::KeyBinding>(store_key);
  sealed::clearLastFailure();
  switch (plainFileState(path)) {
    case PlainFile::none:
      break;
    case PlainFile::plain:
      if (!sealPlainFile(path, *key, error)) return nullptr;
      break;
    case PlainFile::unreadable:
      *error = QStringLiteral("cannot read %1").arg(path);
      return nullptr;
  }
  bool fresh = false;
  if (!QFile::exists(path) || QFileInfo(path).size() == 0) {
    QFile create(path);
    if (!create.open(QIODevice::WriteOnly)) {
      *error = QStringLiteral("cannot create %1: %2").arg(path, create.errorString());
      return nullptr;
    }
    fresh = true;
  }
  QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner);
  auto db = QSqlDatabase::addDatabase("QSQLITE", QUuid::createUuid().toString());
  const auto fail = [&](const QString& what) {
    *error = explain(path, what);
    const QString name = db.connectionName();
    db.close();
    db = QSqlDatabase();
    QSqlDatabase::removeDatabase(name);
    return nullptr;
  };
  db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_URI"));
  db.setDatabaseName(key->uri(path));
  if (!db.open()) {
    const auto why = db.lastError().text();
    // Qt's SQLite is not ours (a bundled copy on some platforms) when it has no such VFS.
    if (why.contains(QLatin1String("no such vfs")))
      return fail(QStringLiteral("this build's Qt SQLite driver does not use the application's "
                                 "SQLite, so it cannot read an encrypted profile"));
    return fail(why);
  }
  if (fresh) {
    // Room for each page's nonce and tag, before the first page exists.
    if (!sealed::reserveRoom(db))
      return fail(QStringLiteral("cannot reserve room for its encryption"));
  }
  QSqlQuery pragma(db);
  // temp_store=MEMORY: sorts and temporary tables never reach the disk (the VFS refuses
  // temporary files, so this is also what keeps big sorts working).
  // WAL + FULL: a message the UI showed as stored survives a crash or power loss.
  // secure_delete: a used one-time prekey or a replaced ratchet state is overwritten in the
  // file, not left in a free page. Debian's SQLite has it on already; the SQLite bundled with
  // Qt on Windows and macOS does not.
  for (const char* p : {"PRAGMA temp_store=MEMORY", "PRAGMA journal_mode=WAL",
                        "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON",
                        "PRAGMA secure_delete=ON"}) {
    if (!pragma.exec(p)) return fail(pragma.lastError().text());
  }
  pragma.finish();
  if (!migrate(db, kSchemaVersion, error)) {
    const auto why = *error;
    return fail(why);
  }
  return std::unique_ptr<Database>(new Database(std::move(key), std::move(db)));
}

Database::Database(std::unique_ptr<sealed::KeyBinding> key, QSqlDatabase db)
    : key_(std::move(key)), db_(std::move(db)) {}

Database::~Database() {
  key_->onRefused({});  // whoever listens may be going before us
  const QString name = db_.connectionName();
  db_.close();
  db_ = QSqlDatabase();
  QSqlDatabase::removeDatabase(name);
}

void Database::onDamage(std::function<void()> tell) { key_->onRefused(std::move(tell)); }

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

bool Database::scrubRemovedWords() {
  if (batch_) return false;
  QSqlQuery q(db_);
  return q.exec("INSERT INTO messages_fts(messages_fts) VALUES('optimize')") &&
         q.exec("PRAGMA wal_checkpoint(TRUNCATE)") && q.next() && q.value(0).toInt() == 0;
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
