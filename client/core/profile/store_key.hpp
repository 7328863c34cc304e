#pragma once
// <profile>/store.key: the profile's store key, 32 random bytes that seal its database
// (store/sealed_vfs.hpp) and its identity key (identity.sealed). Kept either as it is, for
// the owner only (as identity.key was), or sealed under a passphrase: Argon2id (libsodium's
// crypto_pwhash at its MODERATE limits, ~0.7 s and 256 MiB) derives the key of a secretbox
// holding the store key. Setting, changing or removing the passphrase rewrites this file only.
//
// Layout: "PARLEYK1", a kind byte, then
//   0 (no passphrase): key (32)
//   1 (passphrase):    opslimit (8, LE), memlimit (8, LE), salt (16), nonce (24), box (48)
#include <QString>
#include <optional>

#include "crypto/secure_bytes.hpp"

namespace parley::client {

using StoreKey = crypto::Secret<32>;

namespace store_key {

enum class Status {
  ok,
  missing,           // no store.key
  locked,            // protected and no passphrase given
  wrong_passphrase,  // protected and the passphrase does not open it
  damaged,
};

struct Unlocked {
  Status status = Status::missing;
  StoreKey key;
  QString error;  // for every status but ok
};

QString path(const QString& dir);
bool isProtected(const QString& dir);

// Writes `key` into `dir`, sealed under `passphrase` unless it is empty. Atomic: the file
// is whole, old or new, after a crash.
bool write(const QString& dir, const StoreKey& key, const QString& passphrase, QString* error);

Unlocked unlock(const QString& dir, const QString& passphrase);

}  // namespace store_key
}  // namespace parley::client
