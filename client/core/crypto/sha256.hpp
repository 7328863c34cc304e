// Incremental SHA-256 for large inputs (attachment ciphertext). OpenSSL, which uses the CPU's
// SHA extensions: several times faster than libsodium's portable SHA-256 on big files.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "crypto/secure_bytes.hpp"

namespace parley::crypto {

using Sha256Digest = std::array<std::uint8_t, 32>;

class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;

  void update(ByteView bytes);
  Sha256Digest finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace parley::crypto
