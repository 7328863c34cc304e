#pragma once
// The two transports a gateway serves: plain TCP (ws://) and TLS (wss://).
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <optional>

#include "net/asio.hpp"
#include "util/address_key.hpp"

namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace parley {

using PlainStream = beast::basic_stream<tcp, IoExecutor>;
using TlsStream = beast::ssl_stream<PlainStream>;
using UpgradeRequest = http::request<http::empty_body>;

struct GatewayContext;

// Where a WebSocket connection comes from, for the per-address limits (client_address.hpp).
struct ClientOrigin {
  std::optional<AddressKey> key;  // none for a loopback client: not limited
  bool counted = false;           // holds one of the key's connections (release on close)
};

// Completes the WebSocket handshake for `req` and runs the connection until it closes.
template <class Stream>
void start_websocket(GatewayContext& ctx, Stream&& stream, UpgradeRequest req, ClientOrigin origin);

extern template void start_websocket<PlainStream>(GatewayContext&, PlainStream&&, UpgradeRequest,
                                                  ClientOrigin);
extern template void start_websocket<TlsStream>(GatewayContext&, TlsStream&&, UpgradeRequest,
                                                ClientOrigin);

// Reads the next request on a kept-alive connection (after a media response).
template <class Stream>
void resume_http(GatewayContext& ctx, Stream&& stream, beast::flat_buffer&& buffer);

extern template void resume_http<PlainStream>(GatewayContext&, PlainStream&&, beast::flat_buffer&&);
extern template void resume_http<TlsStream>(GatewayContext&, TlsStream&&, beast::flat_buffer&&);

}  // namespace parley
