#include "gateway/client_address.hpp"

#include <charconv>
#include <string>

namespace parley {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<net::ip::address> parse_address(std::string_view text) {
  boost::system::error_code ec;
  auto a = net::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return unmapped(a);
}

// One X-Forwarded-For entry: an address, possibly with a port ("192.0.2.1:4711",
// "[2001:db8::1]:4711"), as some proxies write it.
std::optional<net::ip::address> parse_forwarded(std::string_view entry) {
  entry = trim(entry);
  if (entry.starts_with('[')) {
    const auto close = entry.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return parse_address(entry.substr(1, close - 1));
  }
  if (const auto colon = entry.find(':');
      colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos)
    entry = entry.substr(0, colon);  // one colon: IPv4 with a port
  return parse_address(entry);
}

// An address's bytes, an IPv4 address's in the first four.
std::array<unsigned char, 16> address_bytes(const net::ip::address& a) {
  std::array<unsigned char, 16> out{};
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.begin());
  } else {
    const auto b = a.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), out.begin());
  }
  return out;
}

}  // namespace

net::ip::address unmapped(const net::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  return a;
}

bool Cidr::contains(const net::ip::address& candidate) const {
  const auto a = unmapped(candidate);
  if (a.is_v4() != network.is_v4()) return false;
  const auto have = address_bytes(a);
  const auto want = address_bytes(network);
  unsigned bits = prefix;
  for (std::size_t i = 0; bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const auto mask = static_cast<unsigned char>(0xff << (8 - take));
    if ((have[i] & mask) != (want[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  text = trim(text);
  const auto slash = text.find('/');
  const auto address = parse_address(text.substr(0, slash));
  if (!address) return std::nullopt;
  const unsigned max = address->is_v4() ? 32 : 128;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
        prefix > max)
      return std::nullopt;
  }
  return Cidr{*address, prefix};
}

bool TrustedProxies::contains(const net::ip::address& a) const {
  for (const auto& b : blocks_)
    if (b.contains(a)) return true;
  return false;
}

ClientAddress client_address(const net::ip::address& peer, std::string_view forwarded_for,
                             const TrustedProxies& trusted) {
  auto client = unmapped(peer);
  const bool forwarded = trusted.contains(client) && !forwarded_for.empty();
  while (trusted.contains(client) && !forwarded_for.empty()) {
    const auto comma = forwarded_for.rfind(',');
    const auto entry = comma == std::string_view::npos ? forwarded_for
                                                       : forwarded_for.substr(comma + 1);
    forwarded_for = comma == std::string_view::npos ? std::string_view{}
                                                    : forwarded_for.substr(0, comma);
    const auto next = parse_forwarded(entry);
    if (!next) break;
    client = *next;
  }
  return {client, forwarded};
}

AddressKey address_key(const net::ip::address& candidate) {
  const auto a = unmapped(candidate);
  const auto bytes = address_bytes(a);
  AddressKey key;
  const std::size_t kept = a.is_v4() ? 4 : 8;  // an IPv6 address's /64
  std::copy(bytes.begin(), bytes.begin() + kept, key.bytes.begin());
  key.family = a.is_v4() ? 4 : 6;
  return key;
}

}  // namespace parley
