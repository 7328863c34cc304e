#pragma once
// Short-lived bearer tokens for the HTTP media endpoints, handed out over the authenticated
// WebSocket. A token carries its grant and expiry and is signed (HMAC-SHA-512-256) with a
// key: any gateway holding the same key checks it without asking the one that issued it, so
// an upload may resume, and a download start, on any gateway of a tier. Nothing is kept per
// token. Tokens are never logged.
//
// Expiry is wall-clock time, so gateways sharing a key need their clocks in step (NTP); a
// skew shortens or lengthens a token's life by as much.
//
// Thread-safe: the key is read only.
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "store/records.hpp"

namespace parley::media {

enum class TokenKind { Upload, Download };

struct TokenGrant {
  TokenKind kind = TokenKind::Download;
  store::UserId user = 0;
  std::string media_id;      // Upload: the one upload it may write (16 bytes)
  std::uint64_t size = 0;    // Upload: the size reserved for it
};

class MediaTokens {
 public:
  using Clock = std::chrono::system_clock;
  static constexpr std::size_t kKeyBytes = 32;

  // A key of this process's own: tokens work on this relay only and die with it.
  explicit MediaTokens(std::chrono::milliseconds ttl);
  // A key shared by the gateways of a tier (--media-key-file).
  MediaTokens(std::chrono::milliseconds ttl, std::span<const unsigned char, kKeyBytes> key);
  ~MediaTokens();
  MediaTokens(const MediaTokens&) = delete;
  MediaTokens& operator=(const MediaTokens&) = delete;

  std::string issue(const TokenGrant& grant, Clock::time_point now = Clock::now()) const;
  // The grant of a token signed with this key and not expired; nullopt for anything else.
  std::optional<TokenGrant> check(std::string_view token, Clock::time_point now = Clock::now()) const;
  std::chrono::milliseconds ttl() const { return ttl_; }

 private:
  const std::chrono::milliseconds ttl_;
  std::array<unsigned char, kKeyBytes> key_{};
};

}  // namespace parley::media
