#pragma once
// The client's local store: one SQLite file per profile through Qt Sql, schema brought up to
// date by numbered migrations. Every multi-step change runs in one transaction, so a crash
// at any point leaves the file as it was before or after the change. Every page of the file
// and of its WAL is sealed under the profile's store key (sealed_vfs.hpp); a file from before
// that (no room reserved in its pages) is sealed when first opened.
//
// Thread: the thread that opened it (Qt Sql connections are per thread).
#include <QSqlDatabase>
#include <QString>
#include <functional>
#include <memory>

#include "crypto/secure_bytes.hpp"

namespace parley::client {
namespace sealed {
class KeyBinding;
}

class Database {
 public:
  static constexpr int kSchemaVersion = 26;

  // Opens (creating with mode 0600) with `store_key` (32 bytes) and migrates. Null with
  // `error` set on failure; a key that does not open the file (or a damaged file) says so.
  static std::unique_ptr<Database> open(const QString& path, crypto::ByteView store_key,
                                        QString* error);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  QSqlDatabase& db() { return db_; }

  // `tell` runs each time a page read fails its check (the file was damaged or changed
  // outside Parley), from inside the SQLite call that read it: it must not use the store.
  // The query that read the page fails; what was read before it stands.
  void onDamage(std::function<void()> tell);
  int schemaVersion();

  // Runs `body` in a transaction: committed if it returns true, rolled back otherwise.
  // Inside a batch it is a savepoint: undone alone if `body` fails, durable with the batch.
  bool transaction(const std::function<bool()>& body);

  // A batch groups many transactions under one commit, so storing N received messages
  // costs one fsync instead of N. The caller commits before anything that depends on the
  // batch leaves the process (an ack, a message encrypted with a state it advanced).
  bool beginBatch();
  // False when the commit failed: everything since beginBatch() is rolled back.
  bool commitBatch();
  // Rolls back everything since beginBatch().
  void abortBatch();
  bool inBatch() const { return batch_; }

  // Leaves no copy of words taken out of messages (a deletion, an edit): the search index,
  // which keeps a deleted entry's terms in its older segments until they merge, is merged
  // whole, and the WAL, which keeps earlier versions of pages, is written back and emptied.
  // The pages freed are zeroed (secure_delete). Costs about a millisecond per thousand
  // messages; for after a removal, outside any transaction.
  bool scrubRemovedWords();

 private:
  Database(std::unique_ptr<sealed::KeyBinding> key, QSqlDatabase db);
  std::unique_ptr<sealed::KeyBinding> key_;  // outlives the connection: the WAL opens late
  QSqlDatabase db_;
  bool batch_ = false;
};

}  // namespace parley::client
