#include "connection.hpp"

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>

#include "gateway/beast_internals.hpp"  // how much Beast has read but not parsed

namespace parley::loadgen {

namespace websocket = beast::websocket;

namespace {
constexpr std::uint64_t kChallengeRequest = 0x7fff0001;
constexpr std::uint64_t kAuthRequest = 0x7fff0002;
}  // namespace

Connection::Connection(net::io_context& ioc, tcp::endpoint relay) : ws_(ioc), relay_(relay) {}

void Connection::open(Done done) {
  ws_.next_layer().async_connect(relay_, [self = shared_from_this(), done = std::move(done)](
                                             beast::error_code ec) mutable {
    if (ec) return done("connect: " + ec.message());
    {
      beast::error_code ignored;
      self->ws_.next_layer().set_option(tcp::no_delay(true), ignored);
    }
    self->ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(beast::http::field::sec_websocket_protocol, "parley.v1");
    }));
    self->ws_.binary(true);
    self->ws_.read_message_max(1u << 20);
    const auto host = self->relay_.address().to_string() + ":" + std::to_string(self->relay_.port());
    self->ws_.async_handshake(host, "/", [self, done = std::move(done)](beast::error_code e) {
      if (e) return done("handshake: " + e.message());
      self->open_ = true;
      self->read();
      done({});
    });
  });
}

void Connection::authenticate(const Identity& who, bool register_first, std::uint64_t last_acked,
                              Done done) {
  auth_done_ = std::move(done);
  auth_who_ = &who;
  auth_register_ = register_first;
  auth_last_acked_ = last_acked;
  wire::ClientFrame get;
  get.set_request_id(kChallengeRequest);
  get.mutable_get_challenge();
  send(get);
}

// True when `f` was an answer in the authentication exchange (consumed here).
bool Connection::handle_auth(wire::ServerFrame& f) {
  const auto& who = *auth_who_;
  if (f.request_id() == kChallengeRequest && f.has_challenge()) {
    const auto& c = f.challenge();
    wire::ClientFrame out;
    out.set_request_id(kAuthRequest);
    if (auth_register_) {
      auto* r = out.mutable_register_();
      r->set_username(who.username());
      r->set_identity_key(std::string(who.public_key()));
      r->set_device_id(kDevice);
      r->set_challenge_nonce(c.nonce());
      r->set_signature(who.sign(AuthPurpose::Register, c.relay_id(), c.nonce(), c.server_time_ms()));
    } else {
      auto* l = out.mutable_login();
      l->set_username(who.username());
      l->set_device_id(kDevice);
      l->set_challenge_nonce(c.nonce());
      l->set_signature(who.sign(AuthPurpose::Login, c.relay_id(), c.nonce(), c.server_time_ms()));
      l->set_last_acked_inbox_seq(auth_last_acked_);
    }
    send(out);
    return true;
  }
  if (f.request_id() != kChallengeRequest && f.request_id() != kAuthRequest) return false;
  auto done = std::move(auth_done_);
  auth_done_ = nullptr;
  if (f.has_registered() || f.has_logged_in()) {
    done({});
  } else {
    done(who.username() + ": " +
         (f.has_error() ? wire::ErrorCode_Name(f.error().code()) + ": " + f.error().reason()
                        : std::string("unexpected answer to authentication")));
  }
  return true;
}

boost::system::error_code Connection::stamp_arrivals() {
  beast::error_code ec;
  ws_.next_layer().stamp_arrivals(ec);
  return ec;
}

bool Connection::arrival_exact() const {
  const auto& socket = ws_.next_layer();
  return socket.last_read_stamped() && socket.last_read_drained() &&
         websocket_unparsed_bytes(ws_) == 0;
}

void Connection::send(const wire::ClientFrame& frame) {
  if (!open_) return;
  queue_.push_back(frame.SerializeAsString());
  if (!writing_) write();
}

void Connection::write() {
  writing_ = true;
  ws_.async_write(net::buffer(queue_.front()),
                  [self = shared_from_this()](beast::error_code ec, std::size_t) {
                    self->writing_ = false;
                    if (ec) return self->closed("write: " + ec.message());
                    self->queue_.pop_front();
                    if (!self->queue_.empty() && self->open_) self->write();
                  });
}

void Connection::read() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->closed(ec == websocket::error::closed
                                    ? "closed by relay: " + std::string(self->ws_.reason().reason.data(), self->ws_.reason().reason.size())
                                    : "read: " + ec.message());
    wire::ServerFrame f;
    const auto data = self->buffer_.cdata();
    const bool ok = f.ParseFromArray(data.data(), static_cast<int>(data.size()));
    self->buffer_.consume(self->buffer_.size());
    if (!ok) return self->closed("relay sent an unparsable frame");
    if (!(self->auth_done_ && self->handle_auth(f)) && self->frame_handler_) self->frame_handler_(f);
    if (self->burst_end_handler_ && websocket_unparsed_bytes(self->ws_) == 0)
      self->burst_end_handler_();
    if (self->open_) self->read();
  });
}

void Connection::close() {
  if (!open_) return;
  open_ = false;
  beast::error_code ignored;
  ws_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  ws_.next_layer().close(ignored);
}

void Connection::closed(const std::string& why) {
  if (!open_) return;
  open_ = false;
  beast::error_code ignored;
  ws_.next_layer().close(ignored);
  if (auth_done_) {
    auto done = std::move(auth_done_);
    auth_done_ = nullptr;
    done(why);
  }
  if (closed_handler_) closed_handler_(why);
}

}  // namespace parley::loadgen
