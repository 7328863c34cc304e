#pragma once
// Short-lived bearer tokens for the HTTP media endpoints, handed out over the authenticated
// WebSocket. A token is base64url(16-byte id || 32-byte secret): the id finds the grant, the
// secret is compared in constant time. Tokens live in memory only (a relay restart voids
// them; clients ask again) and are never logged.
//
// Thread-safe: sessions issue tokens on their strands, HTTP requests check them on theirs.
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/records.hpp"

namespace parley::media {

enum class TokenKind { Upload, Download };

struct TokenGrant {
  TokenKind kind = TokenKind::Download;
  store::UserId user = 0;
  std::string media_id;      // Upload: the one upload it may write
  std::uint64_t size = 0;    // Upload: the size reserved for it
};

class MediaTokens {
 public:
  using Clock = std::chrono::steady_clock;
  // At most `max_live` tokens in all and `max_per_user` for one user: a user's next token
  // voids its oldest, so one user cannot use up everyone's.
  MediaTokens(std::chrono::milliseconds ttl, std::size_t max_live, std::size_t max_per_user);

  // Empty when max_live tokens are live (refuse with UNAVAILABLE). A download token asked for
  // while the user's newest has half its life left is that one again.
  std::string issue(const TokenGrant& grant, Clock::time_point now = Clock::now());
  // The grant of a live token, or nullopt for an unknown, malformed or expired one.
  std::optional<TokenGrant> check(std::string_view token, Clock::time_point now = Clock::now());
  // Voids a token handed out but not used after all (its upload was never recorded), so it
  // neither works nor counts against its user's cap. Anything but a live token: no effect.
  void revoke(std::string_view token);
  std::chrono::milliseconds ttl() const { return ttl_; }

 private:
  struct Entry {
    std::string secret;  // 32 bytes
    TokenGrant grant;
    Clock::time_point expires;
  };
  void prune(Clock::time_point now);
  // The live entry of a decoded token whose secret matches (constant time), or end().
  std::unordered_map<std::string, Entry>::iterator find_live(const unsigned char* raw);
  std::unordered_map<std::string, Entry>::iterator reusable_download(const std::deque<std::string>& mine,
                                                                     Clock::time_point now);

  const std::chrono::milliseconds ttl_;
  const std::size_t max_live_;
  const std::size_t max_per_user_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> live_;  // by 16-byte id
  // Each user's token ids, oldest first; ids already gone from live_ are dropped lazily.
  std::unordered_map<store::UserId, std::deque<std::string>> by_user_;
  Clock::time_point next_prune_{};
};

}  // namespace parley::media
