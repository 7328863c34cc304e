#include "profile/profile.hpp"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <sodium.h>

#include <cstring>

#include "util/durable_files.hpp"

namespace parley::client {
namespace {

constexpr auto kOwnerOnly = QFile::ReadOwner | QFile::WriteOwner;

bool write_private(const QString& path, const QByteArray& data, QString* error) {
  QSaveFile f(path);
  if (!f.open(QIODevice::WriteOnly)) {
    *error = QStringLiteral("cannot write %1: %2").arg(path, f.errorString());
    return false;
  }
  f.setPermissions(kOwnerOnly);  // before any byte is written
  f.write(data);
  if (!f.commit()) {
    *error = QStringLiteral("cannot write %1: %2").arg(path, f.errorString());
    return false;
  }
  return true;
}

// identity.sealed: "PARLEYI1", nonce, secretbox of the 64-byte secret under a key derived
// from the store key (so the store key itself seals nothing but pages).
constexpr char kIdentityMagic[] = "PARLEYI1";
constexpr int kMagicSize = 8;
constexpr std::uint64_t kIdentityKeyId = 2;
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "parleyid";
constexpr int kSecretSize = 64;
constexpr int kSealedSize = kMagicSize + crypto_secretbox_NONCEBYTES + kSecretSize + crypto_secretbox_MACBYTES;

crypto::Secret<crypto_secretbox_KEYBYTES> identity_key_of(const StoreKey& store) {
  crypto::Secret<crypto_secretbox_KEYBYTES> k;
  crypto_kdf_derive_from_key(k.data(), k.size(), kIdentityKeyId, kKdfContext, store.data());
  return k;
}

bool write_identity(const QString& dir, const crypto::IdentityKeyPair& identity,
                    const StoreKey& store, QString* error) {
  const auto secret = identity.secret_bytes();
  QByteArray out(kSealedSize, '\0');
  std::memcpy(out.data(), kIdentityMagic, kMagicSize);
  auto* nonce = reinterpret_cast<unsigned char*>(out.data()) + kMagicSize;
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  const auto key = identity_key_of(store);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES, secret.data(), secret.size(), nonce,
                        key.data());
  return write_private(dir + "/identity.sealed", out, error);
}

std::optional<crypto::IdentityKeyPair> read_identity(const QString& dir, const StoreKey& store) {
  QFile f(dir + "/identity.sealed");
  if (!f.open(QIODevice::ReadOnly | QIODevice::Unbuffered)) return std::nullopt;
  const QByteArray in = f.read(kSealedSize + 1);
  if (in.size() != kSealedSize || !in.startsWith(kIdentityMagic)) return std::nullopt;
  const auto* nonce = reinterpret_cast<const unsigned char*>(in.constData()) + kMagicSize;
  crypto::Secret<kSecretSize> secret;
  const auto key = identity_key_of(store);
  if (crypto_secretbox_open_easy(secret.data(), nonce + crypto_secretbox_NONCEBYTES,
                                 kSecretSize + crypto_secretbox_MACBYTES, nonce, key.data()) != 0)
    return std::nullopt;
  return crypto::IdentityKeyPair::from_secret(secret.view());
}

// The identity.key of a profile from before encryption at rest: sealed into identity.sealed,
// then overwritten and removed. A crash in between leaves both, and the next load ends it.
std::optional<crypto::IdentityKeyPair> seal_plain_identity(const QString& dir, const StoreKey& store,
                                                           QString* error) {
  QFile key(dir + "/identity.key");
  if (!key.exists() || !key.open(QIODevice::ReadOnly | QIODevice::Unbuffered)) {
    *error = QStringLiteral("the profile in %1 has no identity key").arg(dir);
    return std::nullopt;
  }
  auto secret = key.readAll();
  auto identity = crypto::IdentityKeyPair::from_secret(crypto::ByteView(
      reinterpret_cast<const std::uint8_t*>(secret.constData()), static_cast<std::size_t>(secret.size())));
  sodium_memzero(secret.data(), static_cast<std::size_t>(secret.size()));
  if (!identity) {
    *error = QStringLiteral("the profile in %1 is damaged; restore its folder from a backup").arg(dir);
    return std::nullopt;
  }
  if (!write_identity(dir, *identity, store, error)) return std::nullopt;
  files::syncPath(dir);
  key.close();
  files::shred(dir + "/identity.key");
  return identity;
}

}  // namespace

bool Profile::exists(const QString& dir) { return QFile::exists(dir + "/profile.json"); }

QString Profile::usernameIn(const QString& dir) {
  QFile meta(dir + "/profile.json");
  if (!meta.open(QIODevice::ReadOnly)) return {};
  return QJsonDocument::fromJson(meta.readAll()).object().value("username").toString();
}

std::optional<Profile> Profile::load(const QString& dir, const QString& passphrase, QString* error,
                                     store_key::Status* status) {
  store_key::Status ignored;
  if (!status) status = &ignored;
  *status = store_key::Status::damaged;
  QFile meta(dir + "/profile.json");
  if (!meta.open(QIODevice::ReadOnly)) {
    *status = store_key::Status::missing;
    *error = QStringLiteral("no profile in %1 (run `register` first)").arg(dir);
    return std::nullopt;
  }
  const auto json = QJsonDocument::fromJson(meta.readAll()).object();
  if (json.value("username").toString().isEmpty()) {
    *error = QStringLiteral("the profile in %1 is damaged; restore its folder from a backup").arg(dir);
    return std::nullopt;
  }
  auto unlocked = store_key::unlock(dir, passphrase);
  const bool plain_identity = QFile::exists(dir + "/identity.key");
  if (unlocked.status == store_key::Status::missing && plain_identity &&
      !QFile::exists(dir + "/identity.sealed")) {
    // From before encryption at rest: a store key now, which seals the rest as it is met.
    randombytes_buf(unlocked.key.data(), unlocked.key.size());
    if (!store_key::write(dir, unlocked.key, QString(), error)) return std::nullopt;
    unlocked.status = store_key::Status::ok;
  } else if (unlocked.status == store_key::Status::missing) {
    *error = QStringLiteral("the profile in %1 has lost its store.key, without which it cannot be "
                            "opened; restore the profile's folder from a backup")
                 .arg(dir);
    return std::nullopt;
  }
  if (unlocked.status != store_key::Status::ok) {
    *status = unlocked.status;
    *error = unlocked.error;
    return std::nullopt;
  }
  std::optional<crypto::IdentityKeyPair> identity;
  if (QFile::exists(dir + "/identity.sealed")) {
    identity = read_identity(dir, unlocked.key);
    if (!identity) {
      *error = QStringLiteral("the identity key of the profile in %1 is damaged; restore the "
                            "profile's folder from a backup")
                 .arg(dir);
      return std::nullopt;
    }
    if (plain_identity) seal_plain_identity(dir, unlocked.key, error);  // a crash's leftover
  } else {
    identity = seal_plain_identity(dir, unlocked.key, error);
    if (!identity) return std::nullopt;
  }
  *status = store_key::Status::ok;
  return Profile{dir, json.value("username").toString(), QUrl(json.value("server").toString()),
                 static_cast<std::uint32_t>(json.value("device").toInt(1)), std::move(*identity),
                 std::move(unlocked.key)};
}

bool Profile::save(QString* error, const QString& passphrase) {
  if (!QDir().mkpath(dir)) {
    *error = QStringLiteral("cannot create %1").arg(dir);
    return false;
  }
  QFile::setPermissions(dir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
  randombytes_buf(storeKey.data(), storeKey.size());
  QJsonObject json{{"username", username}, {"server", server.toString()},
                   {"device", static_cast<int>(device)}};
  return store_key::write(dir, storeKey, passphrase, error) &&
         write_identity(dir, identity, storeKey, error) &&
         write_private(dir + "/profile.json", QJsonDocument(json).toJson(), error);
}

}  // namespace parley::client
