// Hex helpers for the crypto tests' known-answer vectors.
#pragma once

#include <QByteArray>

#include <string_view>

#include "crypto/secure_bytes.hpp"

namespace parley::crypto::test {

inline Bytes hex(std::string_view s) {
  const QByteArray raw = QByteArray::fromHex(QByteArray(s.data(), static_cast<qsizetype>(s.size())));
  return Bytes(raw.begin(), raw.end());
}

inline QByteArray to_hex(ByteView b) {
  return QByteArray(reinterpret_cast<const char*>(b.data()), static_cast<qsizetype>(b.size())).toHex();
}

}  // namespace parley::crypto::test
