#pragma once
// Load-test users: names and Ed25519 keys derived from a run prefix and an index, so every
// worker process (and a later login) finds the same key for the same user without passing
// keys around. Test identities only: the seed is public by construction.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "parley/auth_transcript.hpp"

namespace parley::loadgen {

class Identity {
 public:
  Identity(std::string_view prefix, std::uint64_t index);
  ~Identity();
  Identity(const Identity&) = delete;
  Identity& operator=(const Identity&) = delete;

  const std::string& username() const { return username_; }
  std::string_view public_key() const;
  // Signs the auth transcript for this user's device 1.
  std::string sign(AuthPurpose purpose, std::string_view relay_id, std::string_view nonce,
                   std::uint64_t server_time_ms) const;
  // Signs any other transcript (a group change) with the same key.
  std::string sign(std::string_view transcript) const;

 private:
  std::string username_;
  std::array<unsigned char, 32> public_key_{};
  std::array<unsigned char, 64> secret_key_{};
};

inline constexpr std::uint32_t kDevice = 1;

}  // namespace parley::loadgen
