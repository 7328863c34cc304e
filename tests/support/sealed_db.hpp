#pragma once
// Tests that build a store by hand or change one behind its messenger's back: a raw Qt Sql
// connection to a sealed store, keyed as Parley keys it.
#include <QList>
#include <QSqlDatabase>
#include <QString>
#include <memory>

#include "profile/store_key.hpp"
#include "store/database.hpp"

namespace parley::test {

// The key tests give stores that belong to no profile.
const client::StoreKey& testStoreKey();

// Adds a connection named `name` to the sealed store at `path`, keyed by the profile it is in
// (its store.key, with no passphrase) or, in a folder that holds no profile, by
// testStoreKey(); a plain SQLite file (the relay's) as it is. `options` as for
// QSqlDatabase::setConnectOptions. Remove it as usual.
QSqlDatabase sealedDatabase(const QString& path, const QString& name, const QString& options = {});

// The key sealedDatabase uses for the store at `path`.
client::StoreKey storeKeyFor(const QString& path);

// Database::open with that key.
std::unique_ptr<client::Database> openStore(const QString& path, QString* error);

// The leaf pages of `table` in the closed store at `path`, in page order (from dbstat);
// empty with `error` set when they cannot be listed.
QList<int> leafPagesOf(const QString& path, const QString& table, QString* error);

// Damages page `page` (of 4096 bytes) of the file at `path` as a bad disk or a hand would:
// one byte in its sealed part flipped. False when the file cannot be changed.
bool flipByteInPage(const QString& path, int page);

}  // namespace parley::test
