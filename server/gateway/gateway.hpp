#pragma once
// The gateway: accepts TCP (optionally TLS), serves /healthz and /metrics, and upgrades
// WebSocket requests offering the parley.v1 subprotocol to a connection (one per device).
#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "gateway/client_address.hpp"
#include "net/asio.hpp"
#include "session/relay_context.hpp"

namespace parley {

class ConnectionSet;
class ConnectionsByAddress;

struct GatewayOptions {
  std::chrono::seconds idle_timeout{60};  // no traffic at all for this long: closed
  std::size_t max_frame_bytes = 256 * 1024;
  bool public_metrics = false;  // /metrics for any peer, not only loopback ones
  TrustedProxies trusted_proxies;  // whose X-Forwarded-For names the client
};

// State the gateway's pieces share; owned by the Relay, outlives every connection.
struct GatewayContext {
  RelayContext& relay;
  ConnectionSet& connections;
  GatewayOptions options;
  net::ssl::context* tls = nullptr;  // null: plain ws://
  std::atomic<bool> draining{false};
  ConnectionsByAddress* connections_by_address = nullptr;  // null: no cap of either kind
  // WebSocket upgrades per second per client address, and per network (null: no limit).
  AddressRateLimiter* upgrades_by_address = nullptr;
  AddressRateLimiter* upgrades_by_network = nullptr;
};

// Starts accepting on `endpoint`; returns the bound endpoint (port 0 picks a free port).
// Accepted connections go to `connection_io` in turn (one io_context per I/O thread).
// Throws boost::system::system_error when it cannot bind.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, std::vector<net::io_context*> connection_io,
           GatewayContext& ctx, const tcp::endpoint& endpoint);
  void start();
  void stop();
  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void accept();

  std::vector<net::io_context*> connection_io_;
  std::size_t next_io_ = 0;
  GatewayContext& ctx_;
  tcp::acceptor acceptor_;  // on its own strand, like retry_: stop() may come from any thread
  net::steady_timer retry_;
};

// Takes an accepted socket through TLS (if configured) and HTTP to its handler.
void serve_http(GatewayContext& ctx, Socket socket);

}  // namespace parley
