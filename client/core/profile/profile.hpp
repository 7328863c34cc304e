#pragma once
// A profile directory: one account on one relay. Mode 0700; its files 0600.
//   profile.json     username, relay URL, device id (no secrets)
//   store.key        the store key, as it is or under a passphrase (store_key.hpp)
//   identity.sealed  the Ed25519 identity secret key (64 bytes), sealed with the store key
//   parley.db        the local store (store/database.hpp), sealed with the store key
// A profile from before encryption at rest had identity.key (the secret as it is) and a
// plain parley.db; the first load gives it a store key and seals both.
#include <QString>
#include <QUrl>
#include <optional>

#include "crypto/keys.hpp"
#include "profile/store_key.hpp"

namespace parley::client {

struct Profile {
  QString dir;
  QString username;
  QUrl server;
  std::uint32_t device = 1;
  crypto::IdentityKeyPair identity;
  StoreKey storeKey;

  QString databasePath() const { return dir + "/parley.db"; }

  static bool exists(const QString& dir);
  // The username in profile.json, which is readable before the profile is unlocked (empty
  // when there is none), so an unlock prompt can say whose profile it is.
  static QString usernameIn(const QString& dir);
  // Unlocks with `passphrase` (empty: the profile has none). On failure `status`, when
  // given, tells a passphrase to ask for (locked, wrong_passphrase) from the rest.
  static std::optional<Profile> load(const QString& dir, const QString& passphrase,
                                     QString* error, store_key::Status* status = nullptr);
  static std::optional<Profile> load(const QString& dir, QString* error) {
    return load(dir, QString(), error);
  }
  // A new profile's files, each written atomically: store.key (a fresh store key, under
  // `passphrase` unless empty), identity.sealed, profile.json. Creates `dir` if needed.
  bool save(QString* error, const QString& passphrase = QString());
};

}  // namespace parley::client
