#pragma once
// A profile directory: one account on one relay. Mode 0700; its files 0600.
//   profile.json   username, relay URL, device id (no secrets)
//   identity.key   the Ed25519 identity secret key (64 bytes)
//   parley.db      the local store (store/database.hpp)
#include <QString>
#include <QUrl>
#include <optional>

#include "crypto/keys.hpp"

namespace parley::client {

struct Profile {
  QString dir;
  QString username;
  QUrl server;
  std::uint32_t device = 1;
  crypto::IdentityKeyPair identity;

  QString databasePath() const { return dir + "/parley.db"; }

  static bool exists(const QString& dir);
  static std::optional<Profile> load(const QString& dir, QString* error);
  // Writes profile.json and identity.key atomically; creates `dir` if needed.
  bool save(QString* error) const;
};

}  // namespace parley::client
