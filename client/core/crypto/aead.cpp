#include "crypto/aead.hpp"

#include <sodium.h>

#include <stdexcept>

namespace parley::crypto {

static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == kAeadKeyBytes);
static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == kAeadNonceBytes);
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == kAeadTagBytes);

Bytes aead_encrypt(ByteView key32, ByteView nonce24, ByteView plaintext, ByteView ad) {
  if (key32.size() != kAeadKeyBytes || nonce24.size() != kAeadNonceBytes)
    throw std::invalid_argument("aead_encrypt: wrong key or nonce size");
  if (!init()) throw std::runtime_error("libsodium initialisation failed");
  Bytes out(plaintext.size() + kAeadTagBytes);
  unsigned long long out_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &out_len, plaintext.data(),
                                             plaintext.size(), ad.data(), ad.size(), nullptr,
                                             nonce24.data(), key32.data());
  out.resize(static_cast<std::size_t>(out_len));
  return out;
}

std::optional<Bytes> aead_decrypt(ByteView key32, ByteView nonce24, ByteView ciphertext,
                                  ByteView ad) {
  if (key32.size() != kAeadKeyBytes || nonce24.size() != kAeadNonceBytes ||
      ciphertext.size() < kAeadTagBytes)
    return std::nullopt;
  if (!init()) return std::nullopt;
  Bytes out(ciphertext.size() - kAeadTagBytes);
  unsigned long long out_len = 0;
  // libsodium checks the tag in constant time before releasing any plaintext.
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &out_len, nullptr, ciphertext.data(),
                                                 ciphertext.size(), ad.data(), ad.size(),
                                                 nonce24.data(), key32.data()) != 0)
    return std::nullopt;
  out.resize(static_cast<std::size_t>(out_len));
  return out;
}

}  // namespace parley::crypto
