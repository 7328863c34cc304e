#include <spdlog/spdlog.h>

#include "gateway/gateway.hpp"

namespace parley {

Listener::Listener(net::io_context& ioc, std::vector<net::io_context*> connection_io,
                   GatewayContext& ctx, const tcp::endpoint& endpoint)
    : connection_io_(std::move(connection_io)),
      ctx_(ctx),
      acceptor_(net::make_strand(ioc)),
      retry_(acceptor_.get_executor()) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void Listener::start() { accept(); }

void Listener::stop() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
    self->retry_.cancel();
  });
}

void Listener::accept() {
  // Connections are dealt round-robin to the I/O threads' io_contexts. Each is run by one
  // thread, so a connection's handlers never run concurrently and need no strand.
  auto& io = *connection_io_[next_io_++ % connection_io_.size()];
  acceptor_.async_accept(io, [self = shared_from_this()](boost::system::error_code ec, Socket s) {
    if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (ec) {
      // Typically EMFILE: out of file descriptors. Back off instead of spinning.
      spdlog::warn("event=accept_failed error=\"{}\"", ec.message());
      self->retry_.expires_after(std::chrono::milliseconds(100));
      self->retry_.async_wait([self](boost::system::error_code e) {
        if (!e) self->accept();
      });
      return;
    }
    boost::system::error_code nodelay_ec;
    s.set_option(tcp::no_delay(true), nodelay_ec);
    serve_http(self->ctx_, std::move(s));
    self->accept();
  });
}

}  // namespace parley
