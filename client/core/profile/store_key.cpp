#include "profile/store_key.hpp"

#include <QFile>
#include <QSaveFile>
#include <QScopeGuard>
#include <sodium.h>

#include <cstring>

#include "util/durable_files.hpp"

namespace parley::client::store_key {
namespace {

constexpr char kMagic[] = "PARLEYK1";
constexpr int kMagicSize = 8;
constexpr char kPlain = 0;
constexpr char kPassphrase = 1;
constexpr int kSaltSize = crypto_pwhash_SALTBYTES;
constexpr int kNonceSize = crypto_secretbox_NONCEBYTES;
constexpr int kBoxSize = static_cast<int>(StoreKey::size()) + crypto_secretbox_MACBYTES;
constexpr int kProtectedSize = kMagicSize + 1 + 8 + 8 + kSaltSize + kNonceSize + kBoxSize;
constexpr int kPlainSize = kMagicSize + 1 + static_cast<int>(StoreKey::size());

void put64(QByteArray& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.append(static_cast<char>(v >> (8 * i)));
}

std::uint64_t get64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

// The passphrase as UTF-8 in a buffer that is wiped when done.
class Utf8 {
 public:
  explicit Utf8(const QString& s) : bytes_(s.toUtf8()) {}
  ~Utf8() { sodium_memzero(bytes_.data(), static_cast<std::size_t>(bytes_.size())); }
  Utf8(const Utf8&) = delete;
  Utf8& operator=(const Utf8&) = delete;
  const char* data() const { return bytes_.constData(); }
  unsigned long long size() const { return static_cast<unsigned long long>(bytes_.size()); }

 private:
  QByteArray bytes_;
};

bool derive(crypto::Secret<crypto_secretbox_KEYBYTES>& out, const QString& passphrase,
            const unsigned char* salt, std::uint64_t ops, std::uint64_t mem) {
  const Utf8 utf8(passphrase);
  return crypto_pwhash(out.data(), out.size(), utf8.data(), utf8.size(), salt, ops,
                       static_cast<std::size_t>(mem), crypto_pwhash_ALG_ARGON2ID13) == 0;
}

}  // namespace

QString path(const QString& dir) { return dir + QStringLiteral("/store.key"); }

bool isProtected(const QString& dir) {
  QFile f(path(dir));
  if (!f.open(QIODevice::ReadOnly)) return false;
  const QByteArray head = f.read(kMagicSize + 1);
  return head.size() == kMagicSize + 1 && head.startsWith(kMagic) && head[kMagicSize] == kPassphrase;
}

bool write(const QString& dir, const StoreKey& key, const QString& passphrase, QString* error) {
  QByteArray out(kMagic, kMagicSize);
  if (passphrase.isEmpty()) {
    out.append(kPlain);
    out.append(reinterpret_cast<const char*>(key.data()), static_cast<qsizetype>(key.size()));
  } else {
    const std::uint64_t ops = crypto_pwhash_OPSLIMIT_MODERATE;
    const std::uint64_t mem = crypto_pwhash_MEMLIMIT_MODERATE;
    unsigned char salt[kSaltSize];
    unsigned char nonce[kNonceSize];
    unsigned char box[kBoxSize];
    randombytes_buf(salt, sizeof salt);
    randombytes_buf(nonce, sizeof nonce);
    crypto::Secret<crypto_secretbox_KEYBYTES> wrapping;
    if (!derive(wrapping, passphrase, salt, ops, mem)) {
      *error = QStringLiteral("not enough memory to protect the profile with a passphrase");
      return false;
    }
    crypto_secretbox_easy(box, key.data(), key.size(), nonce, wrapping.data());
    out.append(kPassphrase);
    put64(out, ops);
    put64(out, mem);
    out.append(reinterpret_cast<const char*>(salt), kSaltSize);
    out.append(reinterpret_cast<const char*>(nonce), kNonceSize);
    out.append(reinterpret_cast<const char*>(box), kBoxSize);
  }
  // The file it replaces still names its bytes after the rename: they are overwritten
  // then, so a key once kept without a passphrase is not left on the disk beside the new one.
  QFile old(path(dir));
  const bool had_old = old.exists() && old.open(QIODevice::ReadWrite | QIODevice::Unbuffered);
  QSaveFile f(path(dir));
  bool ok = f.open(QIODevice::WriteOnly);
  if (ok) {
    f.setPermissions(QFile::ReadOwner | QFile::WriteOwner);  // before any byte is written
    ok = f.write(out) == out.size() && f.commit();
  }
  sodium_memzero(out.data(), static_cast<std::size_t>(out.size()));
  if (!ok) {
    *error = QStringLiteral("cannot write %1: %2").arg(path(dir), f.errorString());
    return false;
  }
  files::syncPath(dir);
  if (had_old) files::overwrite(old);
  return true;
}

Unlocked unlock(const QString& dir, const QString& passphrase) {
  Unlocked result;
  QFile f(path(dir));
  if (!f.exists()) {
    result.error = QStringLiteral("the profile in %1 has no store.key").arg(dir);
    return result;
  }
  result.status = Status::damaged;
  result.error = QStringLiteral("the profile's store.key in %1 is damaged, and without it the profile "
                                "cannot be opened; restore the profile's folder from a backup")
                     .arg(dir);
  if (!f.open(QIODevice::ReadOnly | QIODevice::Unbuffered)) {
    result.error = QStringLiteral("cannot read %1: %2").arg(path(dir), f.errorString());
    return result;
  }
  QByteArray in = f.read(kProtectedSize + 1);
  const auto wipe = qScopeGuard([&in] { sodium_memzero(in.data(), static_cast<std::size_t>(in.size())); });
  if (in.size() < kMagicSize + 1 || !in.startsWith(kMagic)) return result;
  const char* p = in.constData() + kMagicSize + 1;
  if (in[kMagicSize] == kPlain) {
    if (in.size() != kPlainSize) return result;
    std::memcpy(result.key.data(), p, result.key.size());
  } else if (in[kMagicSize] == kPassphrase) {
    if (in.size() != kProtectedSize) return result;
    if (passphrase.isEmpty()) {
      result.status = Status::locked;
      result.error = QStringLiteral("the profile in %1 is protected by a passphrase").arg(dir);
      return result;
    }
    const std::uint64_t ops = get64(p);
    const std::uint64_t mem = get64(p + 8);
    // Bounds, so a doctored file cannot make unlocking take hours or all the memory.
    if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_SENSITIVE ||
        mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_SENSITIVE)
      return result;
    const auto* salt = reinterpret_cast<const unsigned char*>(p + 16);
    const auto* nonce = salt + kSaltSize;
    const auto* box = nonce + kNonceSize;
    crypto::Secret<crypto_secretbox_KEYBYTES> wrapping;
    if (!derive(wrapping, passphrase, salt, ops, mem)) {
      result.error = QStringLiteral("not enough memory to unlock the profile");
      return result;
    }
    if (crypto_secretbox_open_easy(result.key.data(), box, kBoxSize, nonce, wrapping.data()) != 0) {
      result.status = Status::wrong_passphrase;
      result.error = QStringLiteral("wrong passphrase for the profile in %1").arg(dir);
      return result;
    }
  } else {
    return result;
  }
  result.status = Status::ok;
  result.error.clear();
  return result;
}

}  // namespace parley::client::store_key
