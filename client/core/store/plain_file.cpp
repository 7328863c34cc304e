#include "store/plain_file.hpp"

#include <QFile>
#include <QFileInfo>
#include <QSqlError>
#include <QSqlQuery>
#include <QUuid>

#include <filesystem>

#include "store/sealed_vfs.hpp"
#include "util/durable_files.hpp"


namespace parley::client {
namespace {

constexpr char kMagic[] = "SQLite format 3";  // and its NUL: 16 bytes

void remove_with_companions(const QString& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) QFile::remove(path + suffix);
}

// One connection for the length of a scope, removed from Qt's registry after.
class Connection {
 public:
  explicit Connection(const QString& name_or_uri)
      : db_(QSqlDatabase::addDatabase("QSQLITE", QUuid::createUuid().toString())) {
    db_.setConnectOptions(QStringLiteral("QSQLITE_OPEN_URI"));
    db_.setDatabaseName(name_or_uri);
  }
  ~Connection() {
    const QString name = db_.connectionName();
    db_.close();
    db_ = QSqlDatabase();
    QSqlDatabase::removeDatabase(name);
  }
  QSqlDatabase& db() { return db_; }

 private:
  QSqlDatabase db_;
};

// The sealed copy at `copy`, synced. The plain file is only read.
bool make_sealed_copy(const QString& path, const QString& copy, const sealed::KeyBinding& key,
                      QString* error) {
  Connection plain(path);
  if (!plain.db().open()) {
    *error = QStringLiteral("cannot open %1 to encrypt it: %2").arg(path, plain.db().lastError().text());
    return false;
  }
  QSqlQuery q(plain.db());
  // Nothing the copy sorts may spill into a plain temporary file.
  if (!q.exec("PRAGMA temp_store=MEMORY")) {
    *error = QStringLiteral("cannot encrypt %1: %2").arg(path, q.lastError().text());
    return false;
  }
  // Whatever its WAL holds goes into the copy too: the checkpoint brings it into the file.
  // Busy (another process has the store open) leaves part of it out: refused.
  if (!q.exec("PRAGMA wal_checkpoint(TRUNCATE)") || !q.next() || q.value(0).toInt() != 0) {
    *error = QStringLiteral("cannot encrypt %1 while another program has it open").arg(path);
    return false;
  }
  q.finish();
  if (!sealed::reserveRoom(plain.db())) {  // the copy's pages get room for nonce and tag
    *error = QStringLiteral("cannot encrypt %1: SQLite would not reserve room in its pages").arg(path);
    return false;
  }
  q.prepare(QStringLiteral("VACUUM INTO ?"));
  q.addBindValue(key.uri(copy));
  if (!q.exec()) {
    *error = QStringLiteral("cannot encrypt %1 (is the disk full?): %2").arg(path, q.lastError().text());
    return false;
  }
  return true;
}

int user_version(QSqlDatabase& db) {
  QSqlQuery q(db);
  return q.exec("PRAGMA user_version") && q.next() ? q.value(0).toInt() : -1;
}

// The copy must exist (mode=rw: never made empty here), be whole, and be the same version.
bool check_sealed_copy(const QString& path, const QString& copy, const sealed::KeyBinding& key,
                       QString* error) {
  int version = -1;
  {
    Connection plain(path);
    if (plain.db().open()) version = user_version(plain.db());
  }
  Connection sealed_db(key.uri(copy) + QStringLiteral("&mode=rw"));
  if (!sealed_db.db().open()) {
    *error = QStringLiteral("the encrypted copy of the profile's store did not check out; the "
                            "store was left as it was");
    return false;
  }
  QSqlQuery q(sealed_db.db());
  if (!q.exec("PRAGMA integrity_check") || !q.next() || q.value(0).toString() != QLatin1String("ok") ||
      version < 0 || user_version(sealed_db.db()) != version) {
    *error = QStringLiteral("the encrypted copy of the profile's store did not check out; the "
                            "store was left as it was");
    return false;
  }
  return true;
}

}  // namespace

PlainFile plainFileState(const QString& path) {
  QFile f(path);
  if (!f.exists()) return PlainFile::none;
  if (!f.open(QIODevice::ReadOnly)) return PlainFile::unreadable;
  const QByteArray head = f.read(24);
  if (head.size() < 24 || !head.startsWith(QByteArray(kMagic, sizeof kMagic))) return PlainFile::none;
  return static_cast<unsigned char>(head[20]) < sealed::kReserveBytes ? PlainFile::plain
                                                                      : PlainFile::none;
}

bool sealPlainFile(const QString& path, const sealed::KeyBinding& key, QString* error) {
  const QString copy = path + QStringLiteral(".sealing");
  remove_with_companions(copy);  // an earlier attempt's, cut short
  if (!make_sealed_copy(path, copy, key, error) || !check_sealed_copy(path, copy, key, error) ||
      !files::syncPath(copy)) {
    if (error->isEmpty()) *error = QStringLiteral("cannot write %1").arg(copy);
    remove_with_companions(copy);
    return false;
  }
  QFile plain(path);
  const bool can_overwrite = plain.open(QIODevice::ReadWrite | QIODevice::Unbuffered);
  // Emptied by the checkpoint (its old frames, plain, overwritten first); a plain WAL must not
  // meet the sealed file.
  files::shred(path + "-wal");
  QFile::remove(path + "-shm");
  std::error_code ec;
  std::filesystem::rename(QFile::encodeName(copy).constData(), QFile::encodeName(path).constData(), ec);
  if (ec) {
    *error = QStringLiteral("cannot put the encrypted store in place of %1: %2")
                 .arg(path, QString::fromStdString(ec.message()));
    remove_with_companions(copy);
    return false;
  }
  files::syncPath(QFileInfo(path).absolutePath());
  if (can_overwrite) files::overwrite(plain);
  return true;
}

}  // namespace parley::client
