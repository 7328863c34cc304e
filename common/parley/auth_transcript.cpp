#include "parley/auth_transcript.hpp"

namespace parley {
namespace {
void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
}  // namespace

std::string auth_transcript(AuthPurpose purpose, std::string_view relay_id,
                            std::string_view nonce, std::uint64_t server_time_ms,
                            std::uint32_t device_id, std::string_view username) {
  static constexpr std::string_view kDomain{"parley-auth-v1\0", 15};
  std::string out;
  out.reserve(kDomain.size() + 1 + relay_id.size() + nonce.size() + 8 + 4 + 1 + username.size());
  out.append(kDomain);
  out.push_back(static_cast<char>(purpose));
  out.append(relay_id);
  out.append(nonce);
  put_be(out, server_time_ms, 8);
  put_be(out, device_id, 4);
  out.push_back(static_cast<char>(username.size()));
  out.append(username);
  return out;
}

}  // namespace parley
