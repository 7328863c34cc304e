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

}  // namespace parley::client
