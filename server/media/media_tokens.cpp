#include "media/media_tokens.hpp"

#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <cstring>

namespace parley::media {
namespace {
// version ‖ kind ‖ user ‖ expires (ms since the epoch) ‖ size ‖ media id ‖ MAC, integers
// little-endian. A download token's media id is zeros (it names none).
constexpr unsigned char kVersion = 1;
constexpr std::size_t kMediaIdBytes = 16;
constexpr std::size_t kBodyBytes = 1 + 1 + 8 + 8 + 8 + kMediaIdBytes;
constexpr std::size_t kTokenBytes = kBodyBytes + crypto_auth_BYTES;
constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
static_assert(MediaTokens::kKeyBytes == crypto_auth_KEYBYTES);

void put_u64(unsigned char* at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint64_t get_u64(const unsigned char* at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | at[i];
  return v;
}
std::int64_t epoch_ms(MediaTokens::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
}  // namespace

MediaTokens::MediaTokens(std::chrono::milliseconds ttl) : ttl_(ttl) {
  crypto_auth_keygen(key_.data());
}

MediaTokens::MediaTokens(std::chrono::milliseconds ttl, std::span<const unsigned char, kKeyBytes> key)
    : ttl_(ttl) {
  std::memcpy(key_.data(), key.data(), key_.size());
}

MediaTokens::~MediaTokens() { sodium_memzero(key_.data(), key_.size()); }

std::string MediaTokens::issue(const TokenGrant& grant, Clock::time_point now) const {
  unsigned char raw[kTokenBytes] = {};
  raw[0] = kVersion;
  raw[1] = grant.kind == TokenKind::Upload ? 1 : 0;
  put_u64(raw + 2, static_cast<std::uint64_t>(grant.user));
  put_u64(raw + 10, static_cast<std::uint64_t>(epoch_ms(now + ttl_)));
  if (grant.kind == TokenKind::Upload) {
    assert(grant.media_id.size() == kMediaIdBytes);
    put_u64(raw + 18, grant.size);
    std::memcpy(raw + 26, grant.media_id.data(), std::min(grant.media_id.size(), kMediaIdBytes));
  }
  crypto_auth(raw + kBodyBytes, raw, kBodyBytes, key_.data());
  std::string text(sodium_base64_ENCODED_LEN(kTokenBytes, kVariant), '\0');
  sodium_bin2base64(text.data(), text.size(), raw, kTokenBytes, kVariant);
  text.resize(text.size() - 1);  // the terminating NUL
  sodium_memzero(raw, sizeof raw);  // a bearer token
  return text;
}

std::optional<TokenGrant> MediaTokens::check(std::string_view token, Clock::time_point now) const {
  unsigned char raw[kTokenBytes];
  std::size_t len = 0;
  if (token.size() > 2 * kTokenBytes ||
      sodium_base642bin(raw, sizeof raw, token.data(), token.size(), nullptr, &len, nullptr,
                        kVariant) != 0 ||
      len != kTokenBytes)
    return std::nullopt;
  // crypto_auth_verify compares in constant time.
  if (crypto_auth_verify(raw + kBodyBytes, raw, kBodyBytes, key_.data()) != 0 || raw[0] != kVersion ||
      raw[1] > 1)
    return std::nullopt;
  const auto expires = get_u64(raw + 10);
  if (static_cast<std::int64_t>(expires) <= epoch_ms(now)) return std::nullopt;
  TokenGrant grant;
  grant.user = static_cast<store::UserId>(get_u64(raw + 2));
  if (raw[1] == 1) {
    grant.kind = TokenKind::Upload;
    grant.size = get_u64(raw + 18);
    grant.media_id.assign(reinterpret_cast<const char*>(raw + 26), kMediaIdBytes);
  }
  return grant;
}

}  // namespace parley::media
