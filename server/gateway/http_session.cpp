// Plain HTTP on the gateway port: health and metrics for operators, the WebSocket upgrade,
// and /media/ requests, handed to media/media_http.cpp once their header is read.
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include "gateway/client_address.hpp"
#include "gateway/connections_by_address.hpp"
#include "gateway/gateway.hpp"
#include "gateway/lingering_close.hpp"
#include "gateway/streams.hpp"
#include "media/media_http.hpp"
#include "observability/metrics.hpp"

namespace parley {
namespace {

namespace websocket = boost::beast::websocket;

constexpr auto kRequestTimeout = std::chrono::seconds(30);

std::atomic<bool> warned_untrusted_proxy{false};  // said once per process

// True when the comma-separated Sec-WebSocket-Protocol offer contains parley.v1.
bool offers_parley(std::string_view offer) {
  while (!offer.empty()) {
    const auto comma = offer.find(',');
    auto token = offer.substr(0, comma);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token == "parley.v1") return true;
    if (comma == std::string_view::npos) break;
    offer.remove_prefix(comma + 1);
  }
  return false;
}

template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(GatewayContext& ctx, Stream&& stream, beast::flat_buffer buffer = {})
      : ctx_(ctx), stream_(std::move(stream)), buffer_(std::move(buffer)) {}

  // The next request on a connection that already served one.
  void run_next() { read(); }

  void run() {
    beast::get_lowest_layer(stream_).expires_after(kRequestTimeout);
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return;  // scanners and bad clients: nothing to say
                                self->read();
                              });
    } else {
      read();
    }
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    // Only a media upload has a body: its limit is set (and an over-size one answered 413)
    // once the upload is known. Any other request with a body is answered from its header.
    parser_->body_limit(boost::none);
    beast::get_lowest_layer(stream_).expires_after(kRequestTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    if (ec) return refuse_unparsed(ec);
    if (parser_->get().target().starts_with("/media/"))
      return serve_media(ctx_, std::move(stream_), std::move(buffer_), std::move(*parser_));
    if (parser_->is_done()) return on_request();
    // Only a media upload takes a body. Anything else with one is answered from its header,
    // the body never read whatever its size (the answer's lingering close drops it).
    const auto& req = parser_->get();
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return respond(req, http::status::method_not_allowed, "only GET\n");
    return respond(req, http::status::bad_request, "a request here has no body\n");
  }

  // A header that did not parse gets its error, as web servers answer, unless the client
  // went away or stalled: a client speaking some other protocol, or over the limit, learns why.
  void refuse_unparsed(beast::error_code ec) {
    if (ec.category() != http::make_error_code(http::error::bad_method).category() ||
        ec == http::error::end_of_stream || ec == http::error::partial_message)
      return;
    UpgradeRequest req{http::verb::get, "/", 11};
    req.keep_alive(false);
    if (ec == http::error::header_limit)
      return respond(req, http::status::request_header_fields_too_large,
                     "the request line and headers may take 8 KiB\n");
    respond(req, http::status::bad_request, "malformed HTTP request: " + ec.message() + "\n");
  }

  void on_request() {
    auto req = parser_->release();
    if (websocket::is_upgrade(req)) {
      if (ctx_.draining.load())
        return respond(req, http::status::service_unavailable, "relay is shutting down\n");
      if (!offers_parley(req[http::field::sec_websocket_protocol]))
        return respond(req, http::status::bad_request,
                       "WebSocket clients must offer the subprotocol parley.v1\n");
      const auto from = client(req);
      if (!from) return;  // the peer is gone
      ClientOrigin origin;
      if (!from->local()) origin.key = address_key(from->address);
      std::chrono::milliseconds wait{0};
      // Opening and closing connections within the cap still costs a handshake each, and a
      // login an Ed25519 verification.
      const auto too_many_new = [&](const char* whose) {
        const auto seconds =
            std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(wait).count());
        refuse_by_address(req, std::string("too many new connections from your ") + whose +
                                   "; retry in " + std::to_string(seconds) + " s\n",
                          seconds);
      };
      // In this order so that a refused upgrade spends only its own address's budget: an
      // address retrying at its cap must not use up its network's new connections.
      if (origin.key && ctx_.upgrades_by_address &&
          !ctx_.upgrades_by_address->take(*origin.key, &wait))
        return too_many_new("address");
      if (origin.key && ctx_.connections_by_address) {
        using Admission = ConnectionsByAddress::Admission;
        switch (ctx_.connections_by_address->admit(*origin.key)) {
          case Admission::AddressFull:
            return refuse_by_address(req,
                                     "too many connections from your address; close some of "
                                     "them, or retry once they have ended\n");
          case Admission::NetworkFull:
            return refuse_by_address(req,
                                     "too many connections from your network; retry once some "
                                     "of them have ended\n");
          case Admission::Admitted: break;
        }
        origin.counted = true;
      }
      if (origin.key && ctx_.upgrades_by_network &&
          !ctx_.upgrades_by_network->take(network_of(*origin.key), &wait)) {
        if (origin.counted) ctx_.connections_by_address->release(*origin.key);
        return too_many_new("network");
      }
      return start_websocket(ctx_, std::move(stream_), std::move(req), origin);
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return respond(req, http::status::method_not_allowed, "only GET\n");
    if (req.target() == "/healthz") {
      if (ctx_.draining.load())
        return respond(req, http::status::service_unavailable, "draining\n");
      return respond(req, http::status::ok, "ok\n");
    }
    if (req.target() == "/metrics") {
      // Traffic figures are for the operator: loopback clients only unless --public-metrics.
      // Through a trusted proxy the client is whoever the proxy says, not the proxy.
      const auto from = client(req);
      if (!ctx_.options.public_metrics && (!from || !from->local()))
        return respond(req, http::status::forbidden, "metrics are served to loopback only\n");
      return respond(req, http::status::ok, ctx_.relay.metrics.render(),
                     "text/plain; version=0.0.4");
    }
    return respond(req, http::status::not_found, "not found\n");
  }

  // 429 for an upgrade over a per-address or per-network limit.
  void refuse_by_address(const UpgradeRequest& req, std::string body, std::int64_t retry_after_s = 0) {
    ctx_.relay.metrics.connections_refused_by_address.fetch_add(1, std::memory_order_relaxed);
    respond(req, http::status::too_many_requests, std::move(body), "text/plain; charset=utf-8",
            retry_after_s);
  }

  // The client's address (client_address.hpp); none when the peer is gone.
  std::optional<ClientAddress> client(const UpgradeRequest& req) {
    beast::error_code ec;
    const auto peer = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (ec) return std::nullopt;
    std::string forwarded;
    const auto [first, last] = req.equal_range("X-Forwarded-For");
    for (auto it = first; it != last; ++it) {
      if (!forwarded.empty()) forwarded += ',';
      forwarded += it->value();
    }
    if (!forwarded.empty() && ctx_.options.trusted_proxies.empty() &&
        unmapped(peer.address()).is_loopback() && !warned_untrusted_proxy.exchange(true)) {
      // Most likely a reverse proxy on this host nobody named: every client then looks local.
      spdlog::warn("event=forwarded_header_ignored reason=\"a loopback peer sent X-Forwarded-For; "
                   "name the proxy with --trusted-proxy or every client it forwards counts as "
                   "local\"");
    }
    return client_address(peer.address(), forwarded, ctx_.options.trusted_proxies);
  }

  void respond(const UpgradeRequest& req, http::status status, std::string body,
               const char* type = "text/plain; charset=utf-8", std::int64_t retry_after_s = 0) {
    auto res = std::make_shared<http::response<http::string_body>>(status, req.version());
    res->set(http::field::server, "parley-relay");
    if (retry_after_s > 0) res->set(http::field::retry_after, std::to_string(retry_after_s));
    res->set(http::field::content_type, type);
    res->set(http::field::cache_control, "no-store");
    res->keep_alive(req.keep_alive() && status == http::status::ok && parser_->is_done());
    if (status == http::status::method_not_allowed) res->set(http::field::allow, "GET, HEAD");
    if (req.method() != http::verb::head) res->body() = std::move(body);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (res->keep_alive()) return self->read();
                        // A body left unread: lingering_close.hpp.
                        if (!self->parser_->is_done()) return linger_and_close(std::move(self->stream_));
                        self->shutdown();
                      });
  }

  void shutdown() {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(Socket::shutdown_send, ec);
  }

  GatewayContext& ctx_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
};

}  // namespace

template <class Stream>
void resume_http(GatewayContext& ctx, Stream&& stream, beast::flat_buffer&& buffer) {
  std::make_shared<HttpSession<Stream>>(ctx, std::move(stream), std::move(buffer))->run_next();
}
template void resume_http<PlainStream>(GatewayContext&, PlainStream&&, beast::flat_buffer&&);
template void resume_http<TlsStream>(GatewayContext&, TlsStream&&, beast::flat_buffer&&);

void serve_http(GatewayContext& ctx, Socket socket) {
  if (ctx.tls) {
    std::make_shared<HttpSession<TlsStream>>(ctx, TlsStream(std::move(socket), *ctx.tls))->run();
  } else {
    std::make_shared<HttpSession<PlainStream>>(ctx, PlainStream(std::move(socket)))->run();
  }
}

}  // namespace parley
