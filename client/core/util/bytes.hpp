#pragma once
// Conversions between Qt byte arrays, protobuf byte strings and the crypto library's views.
#include <QByteArray>
#include <string>

#include "crypto/keys.hpp"
#include "crypto/secure_bytes.hpp"

namespace parley::client {

inline crypto::ByteView view(const QByteArray& b) {
  return {reinterpret_cast<const std::uint8_t*>(b.constData()), static_cast<std::size_t>(b.size())};
}
inline crypto::ByteView view(const std::string& b) {
  return {reinterpret_cast<const std::uint8_t*>(b.data()), b.size()};
}
inline QByteArray qbytes(crypto::ByteView v) {
  return QByteArray(reinterpret_cast<const char*>(v.data()), static_cast<qsizetype>(v.size()));
}
inline QByteArray qbytes(const std::string& s) {
  return QByteArray(s.data(), static_cast<qsizetype>(s.size()));
}
inline std::string sbytes(crypto::ByteView v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}
inline std::string sbytes(const QByteArray& b) { return std::string(b.constData(), b.size()); }
inline std::string sbytes(const crypto::PublicKey& k) {
  return std::string(reinterpret_cast<const char*>(k.bytes.data()), k.bytes.size());
}
inline std::optional<crypto::PublicKey> public_key(const std::string& b) {
  if (b.size() != 32) return std::nullopt;
  crypto::PublicKey k;
  std::copy(b.begin(), b.end(), reinterpret_cast<char*>(k.bytes.data()));
  return k;
}

// `secret` copied out, and the source wiped: a decrypted plaintext or a serialized state must
// not go back to the allocator readable.
inline QByteArray qbytes_wiping(crypto::Bytes& secret) {
  auto copy = qbytes(crypto::ByteView(secret));
  crypto::secure_zero(secret.data(), secret.size());
  return copy;
}

// A serialized secret (a ratchet's or a sender key's state) on its way to a query. The
// source is wiped at once; the copy is wiped by whichever SecretBytes lets it go last, unless
// something else still shares it (wiping then would only detach a fresh copy). A query bound
// to it shares it until the query goes: declare the query after this, so it goes first.
class SecretBytes {
 public:
  explicit SecretBytes(crypto::ByteView secret) : bytes_(qbytes(secret)) {}
  explicit SecretBytes(crypto::Bytes&& source) : bytes_(qbytes_wiping(source)) {}
  SecretBytes(const SecretBytes&) = default;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() {
    if (!bytes_.isEmpty() && bytes_.isDetached())
      crypto::secure_zero(bytes_.data(), static_cast<std::size_t>(bytes_.size()));
  }
  const QByteArray& get() const { return bytes_; }

 private:
  QByteArray bytes_;
};

}  // namespace parley::client
