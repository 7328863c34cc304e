#pragma once
// One load-generator client: a WebSocket connection to the relay speaking parley.v1, with
// one read always pending (so the relay's keep-alive pings are answered) and a write queue.
// Single-threaded: everything runs on the worker's one io_context thread, no strand.
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "identity.hpp"
#include "parley.pb.h"
#include "stamped_socket.hpp"

namespace parley::loadgen {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Done = std::function<void(const std::string& error)>;  // empty: success
  using FrameHandler = std::function<void(wire::ServerFrame& frame)>;
  using ClosedHandler = std::function<void(const std::string& why)>;

  Connection(net::io_context& ioc, tcp::endpoint relay);

  // TCP connect and WebSocket handshake offering parley.v1.
  void open(Done done);
  // GetChallenge, then Register (register_first) or Login, signed with `who`'s key.
  // Frames other than the answers are passed to the frame handler meanwhile. `who` must
  // outlive the exchange.
  void authenticate(const Identity& who, bool register_first, std::uint64_t last_acked, Done done);
  void send(const wire::ClientFrame& frame);
  void close();

  void on_frame(FrameHandler h) { frame_handler_ = std::move(h); }
  void on_closed(ClosedHandler h) { closed_handler_ = std::move(h); }
  // Called after a frame's handler when nothing more is buffered to parse: the end of what
  // one read brought, where a client's event loop would finish its turn.
  void on_burst_end(std::function<void()> h) { burst_end_handler_ = std::move(h); }
  // From now on last_arrival() says when the bytes of the frame being handled reached this
  // machine (stamped_socket.hpp), at the latest. On an open connection.
  boost::system::error_code stamp_arrivals();
  StampedSocket::Clock::time_point last_arrival() const { return ws_.next_layer().last_arrival(); }
  // In a frame handler: the frame ended a read that carried a stamp and left nothing queued,
  // so no later segment lent the read its stamp: last_arrival() is the frame's own.
  bool arrival_exact() const;
  // In a frame handler: the read that completed the frame carried the kernel's stamp.
  bool arrival_stamped() const { return ws_.next_layer().last_read_stamped(); }
  bool is_open() const { return open_; }
  Socket::executor_type get_executor() { return ws_.get_executor(); }
  std::size_t queued() const { return queue_.size(); }

 private:
  void read();
  void write();
  void closed(const std::string& why);
  bool handle_auth(wire::ServerFrame& f);

  // On the io_context's own executor type, as the relay's are: the default any_io_executor
  // was ~10 % of the loadgen's CPU per delivered message.
  beast::websocket::stream<StampedSocket> ws_;
  tcp::endpoint relay_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool open_ = false;
  FrameHandler frame_handler_;
  ClosedHandler closed_handler_;
  std::function<void()> burst_end_handler_;
  Done auth_done_;  // set while authenticating
  const Identity* auth_who_ = nullptr;
  bool auth_register_ = false;
  std::uint64_t auth_last_acked_ = 0;
};

}  // namespace parley::loadgen
