#pragma once
// Encryption at rest for the profile's SQLite file: a VFS shim over the platform's own that
// seals every page of the database and of its WAL with XChaCha20-Poly1305 under a key derived
// from the profile's store key. Each write takes a fresh random nonce, kept with the tag in
// the last kReserveBytes of the page, which SQLite leaves unused once the file's "reserved
// bytes" say so (Database::open sets them before the first page exists).
//
// The first 24 bytes of page 1 stay readable, as SQLite needs them to learn the page size
// and the reserve before it can read a page; they are authenticated with the rest of page 1.
// A database page is bound to its page number, so pages moved within the file are refused.
// A rollback journal's page records are sealed too. Temporary files and super-journals are
// refused outright: the store keeps temp_store=MEMORY, and refusing keeps anything unsealed
// off the disk should that change.
//
// A connection names its key by a slot in the URI (`?vfs=parley-sealed&keyslot=N`), never by
// the key itself; KeyBinding holds the slot for as long as files may be opened with it.
#include <QString>

class QSqlDatabase;
#include <cstdint>
#include <functional>

#include "crypto/secure_bytes.hpp"

namespace parley::client::sealed {

inline constexpr char kVfsName[] = "parley-sealed";
inline constexpr int kReserveBytes = 24 + 16;  // nonce + tag
inline constexpr std::size_t kKeyBytes = 32;

// Registers the VFS with SQLite (once; safe from any thread). False if SQLite refused.
bool install();

// Asks SQLite to leave kReserveBytes at the end of every page of `db`'s main database: at
// once for an empty one, from its next VACUUM (or VACUUM INTO copy) for one with pages.
// False when SQLite refused.
bool reserveRoom(const QSqlDatabase& db);

// A store key made available to the VFS under a slot number until destruction.
class KeyBinding {
 public:
  explicit KeyBinding(crypto::ByteView store_key);  // kKeyBytes
  ~KeyBinding();
  KeyBinding(const KeyBinding&) = delete;
  KeyBinding& operator=(const KeyBinding&) = delete;

  // `file:` URI for `path` through the VFS with this key, for Qt's QSQLITE_OPEN_URI.
  QString uri(const QString& path) const;

  // `tell` runs each time a page of a file opened with this key fails authentication where
  // no crash explains it (damage, tampering, or another key), on the thread that read it
  // and from inside SQLite: it must not use the connection. Empty: no one is told.
  void onRefused(std::function<void()> tell);

 private:
  std::uint64_t slot_;
};

// What a sealed file's pages could not be opened with: true when the last page the VFS
// refused on this thread failed authentication (wrong key, damage or tampering), so a caller
// can tell that apart from an ordinary I/O error, which SQLite reports alike.
bool lastFailureWasAuthentication();
void clearLastFailure();

}  // namespace parley::client::sealed
