// Safety numbers: Signal's numeric fingerprint (version 0, 5200 SHA-512 iterations).
#pragma once

#include <string>
#include <string_view>

#include "crypto/keys.hpp"

namespace parley::crypto {

inline constexpr int kFingerprintIterations = 5200;

// 30 digits for one identity: six 5-digit chunks of the iterated hash.
std::string fingerprint_half(const PublicKey& identity, std::string_view username);

// 60 digits in 12 groups of 5 separated by single spaces; both halves are ordered so that the
// two parties compute the same string.
std::string safety_number(const PublicKey& our_identity, std::string_view our_username,
                          const PublicKey& their_identity, std::string_view their_username);

}  // namespace parley::crypto
