#include "crypto/hkdf.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace parley::crypto {

namespace {

static_assert(crypto_auth_hmacsha256_BYTES == kHmacSha256Bytes);

// Streaming HMAC whose state (derived from the key) is wiped when done.
class Hmac {
 public:
  explicit Hmac(ByteView key) { crypto_auth_hmacsha256_init(&st_, key.data(), key.size()); }
  ~Hmac() { sodium_memzero(&st_, sizeof st_); }
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;
  void update(ByteView m) { crypto_auth_hmacsha256_update(&st_, m.data(), m.size()); }
  void finish(std::uint8_t* out) { crypto_auth_hmacsha256_final(&st_, out); }

 private:
  crypto_auth_hmacsha256_state st_;
};

}  // namespace

Secret<32> hmac_sha256(ByteView key, ByteView message) {
  if (!init()) throw std::runtime_error("libsodium initialisation failed");
  Secret<32> out;
  Hmac h(key);
  h.update(message);
  h.finish(out.data());
  return out;
}

SecureBuffer hkdf_sha256(ByteView salt, ByteView ikm, ByteView info, std::size_t length) {
  if (length > kHkdfMaxLength) throw std::invalid_argument("hkdf_sha256: length > 255*HashLen");
  // Extract: PRK = HMAC(salt, IKM); an absent salt is HashLen zeros.
  static constexpr std::array<std::uint8_t, kHmacSha256Bytes> kZeroSalt{};
  const Secret<32> prk = hmac_sha256(salt.empty() ? ByteView(kZeroSalt) : salt, ikm);

  // Expand: T(i) = HMAC(PRK, T(i-1) || info || i), OKM = first `length` bytes of T(1)||T(2)...
  SecureBuffer okm(length);
  Secret<32> t;
  std::size_t done = 0;
  for (std::uint8_t i = 1; done < length; ++i) {
    Hmac h(prk.view());
    if (i > 1) h.update(t.view());
    h.update(info);
    const std::uint8_t counter[1] = {i};
    h.update(counter);
    h.finish(t.data());
    const std::size_t n = std::min(length - done, t.size());
    std::copy_n(t.data(), n, okm.data() + done);
    done += n;
  }
  return okm;
}

}  // namespace parley::crypto
