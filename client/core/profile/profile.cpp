#include "profile/profile.hpp"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <sodium.h>

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

}  // namespace

bool Profile::exists(const QString& dir) { return QFile::exists(dir + "/profile.json"); }

std::optional<Profile> Profile::load(const QString& dir, QString* error) {
  QFile meta(dir + "/profile.json");
  if (!meta.open(QIODevice::ReadOnly)) {
    *error = QStringLiteral("no profile in %1 (run `register` first)").arg(dir);
    return std::nullopt;
  }
  const auto json = QJsonDocument::fromJson(meta.readAll()).object();
  QFile key(dir + "/identity.key");
  if (!key.open(QIODevice::ReadOnly)) {
    *error = QStringLiteral("the profile in %1 has no identity.key").arg(dir);
    return std::nullopt;
  }
  auto secret = key.readAll();
  auto identity = crypto::IdentityKeyPair::from_secret(crypto::ByteView(
      reinterpret_cast<const std::uint8_t*>(secret.constData()), static_cast<std::size_t>(secret.size())));
  sodium_memzero(secret.data(), static_cast<std::size_t>(secret.size()));
  if (!identity || json.value("username").toString().isEmpty()) {
    *error = QStringLiteral("the profile in %1 is damaged").arg(dir);
    return std::nullopt;
  }
  return Profile{dir, json.value("username").toString(), QUrl(json.value("server").toString()),
                 static_cast<std::uint32_t>(json.value("device").toInt(1)), std::move(*identity)};
}

bool Profile::save(QString* error) const {
  if (!QDir().mkpath(dir)) {
    *error = QStringLiteral("cannot create %1").arg(dir);
    return false;
  }
  QFile::setPermissions(dir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
  const auto secret = identity.secret_bytes();
  QJsonObject json{{"username", username}, {"server", server.toString()},
                   {"device", static_cast<int>(device)}};
  return write_private(dir + "/identity.key",
                       QByteArray(reinterpret_cast<const char*>(secret.data()),
                                  static_cast<qsizetype>(secret.size())),
                       error) &&
         write_private(dir + "/profile.json", QJsonDocument(json).toJson(), error);
}

}  // namespace parley::client
