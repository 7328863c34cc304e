#include "identity.hpp"

#include <sodium.h>

namespace parley::loadgen {

Identity::Identity(std::string_view prefix, std::uint64_t index)
    : username_(std::string(prefix) + "u" + std::to_string(index)) {
  std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
  crypto_generichash(seed.data(), seed.size(),
                     reinterpret_cast<const unsigned char*>(username_.data()), username_.size(),
                     nullptr, 0);
  crypto_sign_seed_keypair(public_key_.data(), secret_key_.data(), seed.data());
  sodium_memzero(seed.data(), seed.size());
}

Identity::~Identity() { sodium_memzero(secret_key_.data(), secret_key_.size()); }

std::string_view Identity::public_key() const {
  return {reinterpret_cast<const char*>(public_key_.data()), public_key_.size()};
}

std::string Identity::sign(AuthPurpose purpose, std::string_view relay_id, std::string_view nonce,
                           std::uint64_t server_time_ms) const {
  return sign(auth_transcript(purpose, relay_id, nonce, server_time_ms, kDevice, username_));
}

std::string Identity::sign(std::string_view transcript) const {
  std::string signature(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(transcript.data()), transcript.size(),
                       secret_key_.data());
  return signature;
}

}  // namespace parley::loadgen
