#pragma once
// Who a connection comes from, for the per-address and per-network limits
// (connections_by_address.hpp, the registration budgets) and the loopback-only /metrics.
// Behind a reverse proxy (TLS termination) every peer is the proxy.
// A proxy the operator names (--trusted-proxy) appends the address it took the request from
// to X-Forwarded-For; the client is then the rightmost entry that is not itself a trusted
// proxy. Entries further left were written by the client or by proxies nobody vouches for,
// so they are never read: a client cannot choose its own address.
#include <optional>
#include <string_view>
#include <vector>

#include "net/asio.hpp"
#include "util/address_key.hpp"

namespace parley {

// An address block, "192.0.2.0/24", "2001:db8::/32", or one address.
struct Cidr {
  net::ip::address network;
  unsigned prefix = 0;
  bool contains(const net::ip::address& a) const;
  static std::optional<Cidr> parse(std::string_view text);
};

class TrustedProxies {
 public:
  TrustedProxies() = default;
  explicit TrustedProxies(std::vector<Cidr> blocks) : blocks_(std::move(blocks)) {}
  bool contains(const net::ip::address& a) const;
  bool empty() const { return blocks_.empty(); }

 private:
  std::vector<Cidr> blocks_;
};

// IPv4-mapped IPv6 addresses as IPv4, so one client has one address whatever the socket.
net::ip::address unmapped(const net::ip::address& a);

// Where a request comes from.
struct ClientAddress {
  net::ip::address address;
  // A trusted proxy forwarded it (with an X-Forwarded-For header): the address is not the
  // relay's own host even when it reads as loopback, which only a misconfigured proxy
  // passing the client's header through can produce.
  bool forwarded = false;
  // Not counted by the per-address limits, and shown /metrics: a client on the relay's host.
  bool local() const { return !forwarded && address.is_loopback(); }
};

// The client: `peer` itself, unless it is a trusted proxy and `forwarded_for` (every
// X-Forwarded-For header, in order, joined by commas) names an address it vouches for. An
// entry that does not parse ends the walk at the last address vouched for.
ClientAddress client_address(const net::ip::address& peer, std::string_view forwarded_for,
                             const TrustedProxies& trusted);

AddressKey address_key(const net::ip::address& a);

}  // namespace parley
