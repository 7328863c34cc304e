#include <QFile>
#include <QFileInfo>
#include <QSqlError>
#include <QSqlQuery>
#include <map>
#include <memory>
#include <mutex>

#include "store/plain_file.hpp"
#include "store/sealed_vfs.hpp"
#include "sealed_db.hpp"

namespace parley::test {

const client::StoreKey& testStoreKey() {
  static const client::StoreKey key = [] {
    client::StoreKey k;
    for (std::size_t i = 0; i < k.size(); ++i) k.data()[i] = static_cast<std::uint8_t>(0xa0 + i);
    return k;
  }();
  return key;
}

client::StoreKey storeKeyFor(const QString& path) {
  const QString dir = QFileInfo(path).absolutePath();
  if (QFileInfo::exists(client::store_key::path(dir))) {
    auto unlocked = client::store_key::unlock(dir, QString());
    if (unlocked.status == client::store_key::Status::ok) return unlocked.key;
  }
  return testStoreKey();
}

std::unique_ptr<client::Database> openStore(const QString& path, QString* error) {
  return client::Database::open(path, storeKeyFor(path).view(), error);
}

QSqlDatabase sealedDatabase(const QString& path, const QString& name, const QString& options) {
  // Bindings live as long as the test process: a connection's WAL may open at any time.
  static std::mutex mutex;
  static std::map<QString, std::unique_ptr<client::sealed::KeyBinding>> bindings;
  if (client::plainFileState(path) == client::PlainFile::plain) {  // the relay's, say
    auto db = QSqlDatabase::addDatabase("QSQLITE", name);
    db.setConnectOptions(options);
    db.setDatabaseName(path);
    return db;
  }
  client::sealed::install();
  const client::StoreKey key = storeKeyFor(path);
  std::lock_guard lock(mutex);
  auto& binding = bindings[name];
  binding = std::make_unique<client::sealed::KeyBinding>(key.view());
  auto db = QSqlDatabase::addDatabase("QSQLITE", name);
  db.setConnectOptions(options.isEmpty() ? QStringLiteral("QSQLITE_OPEN_URI")
                                         : options + QStringLiteral(";QSQLITE_OPEN_URI"));
  db.setDatabaseName(binding->uri(path));
  return db;
}

QList<int> leafPagesOf(const QString& path, const QString& table, QString* error) {
  QList<int> pages;
  const QString name = QStringLiteral("leaf-pages");
  {
    auto db = sealedDatabase(path, name);
    QSqlQuery q(db);
    if (!db.open() || !q.prepare("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno")) {
      *error = db.lastError().text() + q.lastError().text();
    } else {
      q.addBindValue(table);
      if (!q.exec()) *error = q.lastError().text();
      while (q.next()) pages << q.value(0).toInt();
    }
    q.finish();
    db.close();
  }
  QSqlDatabase::removeDatabase(name);
  return pages;
}

bool flipByteInPage(const QString& path, int page) {
  QFile f(path);
  if (!f.open(QIODevice::ReadWrite)) return false;
  const qint64 at = qint64(page - 1) * 4096 + 2000;
  char c = 0;
  if (!f.seek(at) || !f.getChar(&c) || !f.seek(at)) return false;
  return f.putChar(static_cast<char>(c ^ 0x40));
}

}  // namespace parley::test
