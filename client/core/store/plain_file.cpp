#include "store/plain_file.hpp"

#include <QFile>
#include <QFileInfo>
#include <QSqlDriver>
#include <QSqlError>
#include <QSqlQuery>
#include <QUuid>
#include <sqlite3.h>

#include <filesystem>

#include "store/sealed_vfs.hpp"

#ifdef Q_OS_WIN
#include <io.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

namespace parley::client {
namespace {

constexpr char kMagic[] = "SQLite format 3";  // and its NUL: 16 bytes

bool sync_descriptor(int fd) {
#ifdef Q_OS_WIN
  return _commit(fd) == 0;
#else
  return ::fsync(fd) == 0;
#endif
}

bool sync_path(const QString& path) {
#ifdef Q_OS_WIN
  QFile f(path);
  return f.open(QIODevice::ReadWrite) && sync_descriptor(f.handle());
#else
  const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = sync_descriptor(fd);
  ::close(fd);
  return ok;
#endif
}

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

sqlite3* handle_of(const QSqlDatabase& db) {
  const QVariant v = db.driver()->handle();
  return qstrcmp(v.typeName(), "sqlite3*") == 0 ? *static_cast<sqlite3* const*>(v.data()) : nullptr;
}

// The sealed copy at `copy`, synced. The plain file is only read.
bool make_sealed_copy(const QString& path, const QString& copy, const sealed::KeyBinding& key,
                      QString* error) {
  Connection plain(path);
  if (!plain.db().open()) {
    *error = QStringLiteral("cannot open %1 to encrypt it: %2").arg(path, plain.db().lastError().text());
    return false;
  }
  QSqlQuery q(plain.db());
  // Whatever its WAL holds goes into the copy too: the checkpoint brings it into the file.
  if (!q.exec("PRAGMA wal_checkpoint(TRUNCATE)")) {
    *error = QStringLiteral("cannot encrypt %1: %2").arg(path, q.lastError().text());
    return false;
  }
  q.finish();
  int reserve = sealed::kReserveBytes;  // the copy's pages get room for nonce and tag
  sqlite3* h = handle_of(plain.db());
  if (!h || sqlite3_file_control(h, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve) != SQLITE_OK) {
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

bool check_sealed_copy(const QString& copy, const sealed::KeyBinding& key, QString* error) {
  Connection sealed_db(key.uri(copy));
  QSqlQuery q(sealed_db.db());
  if (!sealed_db.db().open() || !q.exec("PRAGMA integrity_check") || !q.next() ||
      q.value(0).toString() != QLatin1String("ok")) {
    *error = QStringLiteral("the encrypted copy of the profile's store did not check out; the "
                            "store was left as it was");
    return false;
  }
  return true;
}

// Overwrites the plain store's bytes through `file`, which still names them after the rename.
void overwrite(QFile& file) {
  const qint64 size = file.size();
  const QByteArray zeros(64 * 1024, '\0');
  file.seek(0);
  for (qint64 done = 0; done < size; done += zeros.size())
    file.write(zeros.constData(), std::min<qint64>(zeros.size(), size - done));
  file.flush();
  sync_descriptor(file.handle());
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
  if (!make_sealed_copy(path, copy, key, error) || !check_sealed_copy(copy, key, error) ||
      !sync_path(copy)) {
    if (error->isEmpty()) *error = QStringLiteral("cannot write %1").arg(copy);
    remove_with_companions(copy);
    return false;
  }
  QFile plain(path);
  const bool can_overwrite = plain.open(QIODevice::ReadWrite);
  QFile::remove(path + "-wal");  // emptied by the checkpoint; a plain WAL must not meet the sealed file
  QFile::remove(path + "-shm");
  std::error_code ec;
  std::filesystem::rename(QFile::encodeName(copy).constData(), QFile::encodeName(path).constData(), ec);
  if (ec) {
    *error = QStringLiteral("cannot put the encrypted store in place of %1: %2")
                 .arg(path, QString::fromStdString(ec.message()));
    remove_with_companions(copy);
    return false;
  }
  sync_path(QFileInfo(path).absolutePath());
  if (can_overwrite) overwrite(plain);
  return true;
}

}  // namespace parley::client
