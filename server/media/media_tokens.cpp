#include "media/media_tokens.hpp"

#include <sodium.h>

namespace parley::media {
namespace {
constexpr std::size_t kIdBytes = 16;
constexpr std::size_t kSecretBytes = 32;
constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

// The token's raw bytes (id || secret), or false for anything that is not a token.
bool decode(std::string_view token, unsigned char (&raw)[kIdBytes + kSecretBytes]) {
  std::size_t len = 0;
  return token.size() <= 128 &&
         sodium_base642bin(raw, sizeof raw, token.data(), token.size(), nullptr, &len, nullptr,
                           kVariant) == 0 &&
         len == sizeof raw;
}
}  // namespace

MediaTokens::MediaTokens(std::chrono::milliseconds ttl, std::size_t max_live, std::size_t max_per_user)
    : ttl_(ttl), max_live_(max_live), max_per_user_(max_per_user) {}

void MediaTokens::prune(Clock::time_point now) {
  for (auto it = live_.begin(); it != live_.end();) {
    it = it->second.expires <= now ? live_.erase(it) : std::next(it);
  }
  for (auto it = by_user_.begin(); it != by_user_.end();) {
    std::erase_if(it->second, [&](const std::string& id) { return !live_.contains(id); });
    it = it->second.empty() ? by_user_.erase(it) : std::next(it);
  }
  next_prune_ = now + std::chrono::seconds(10);
}

std::string MediaTokens::issue(const TokenGrant& grant, Clock::time_point now) {
  std::string raw(kIdBytes + kSecretBytes, '\0');
  {
    std::lock_guard lock(mutex_);
    if (now >= next_prune_ || live_.size() >= max_live_) prune(now);
    auto& mine = by_user_[grant.user];
    if (const auto shared = grant.kind == TokenKind::Download ? reusable_download(mine, now) : live_.end();
        shared != live_.end()) {
      raw = shared->first + shared->second.secret;
    } else {
      while (!mine.empty() && !live_.contains(mine.front())) mine.pop_front();
      if (mine.size() >= max_per_user_) {  // the user's oldest goes
        live_.erase(mine.front());
        mine.pop_front();
      }
      if (live_.size() >= max_live_) return {};
      randombytes_buf(raw.data(), raw.size());
      auto id = raw.substr(0, kIdBytes);
      mine.push_back(id);
      live_[std::move(id)] = Entry{raw.substr(kIdBytes), grant, now + ttl_};
    }
  }
  std::string text(sodium_base64_ENCODED_LEN(raw.size(), kVariant), '\0');
  sodium_bin2base64(text.data(), text.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                    raw.size(), kVariant);
  text.resize(text.size() - 1);  // the terminating NUL
  sodium_memzero(raw.data(), raw.size());
  return text;
}

// A download token names no media, so the user's newest, while it has half its life left,
// serves every download asked for meanwhile: a client starting many downloads at once (each
// job asks) holds one token, rather than one per job, each voiding the oldest.
std::unordered_map<std::string, MediaTokens::Entry>::iterator MediaTokens::reusable_download(
    const std::deque<std::string>& mine, Clock::time_point now) {
  for (auto it = mine.rbegin(); it != mine.rend(); ++it) {
    const auto found = live_.find(*it);
    if (found != live_.end() && found->second.grant.kind == TokenKind::Download &&
        found->second.expires - now >= ttl_ / 2)
      return found;
  }
  return live_.end();
}

std::unordered_map<std::string, MediaTokens::Entry>::iterator MediaTokens::find_live(
    const unsigned char* raw) {
  const auto it = live_.find(std::string(reinterpret_cast<const char*>(raw), kIdBytes));
  if (it == live_.end() ||
      sodium_memcmp(it->second.secret.data(), raw + kIdBytes, kSecretBytes) != 0)
    return live_.end();
  return it;
}

std::optional<TokenGrant> MediaTokens::check(std::string_view token, Clock::time_point now) {
  unsigned char raw[kIdBytes + kSecretBytes];
  if (!decode(token, raw)) return std::nullopt;
  std::optional<TokenGrant> out;
  {
    std::lock_guard lock(mutex_);
    const auto it = find_live(raw);
    if (it != live_.end() && it->second.expires > now) out = it->second.grant;
  }
  sodium_memzero(raw, sizeof raw);
  return out;
}

void MediaTokens::revoke(std::string_view token) {
  unsigned char raw[kIdBytes + kSecretBytes];
  if (!decode(token, raw)) return;
  {
    std::lock_guard lock(mutex_);
    if (const auto it = find_live(raw); it != live_.end()) {
      if (const auto mine = by_user_.find(it->second.grant.user); mine != by_user_.end())
        std::erase(mine->second, it->first);
      sodium_memzero(it->second.secret.data(), it->second.secret.size());
      live_.erase(it);
    }
  }
  sodium_memzero(raw, sizeof raw);
}

}  // namespace parley::media
