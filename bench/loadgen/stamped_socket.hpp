#pragma once
// A TCP socket that can say when the bytes it read reached this machine: the kernel's receive
// timestamp (SO_TIMESTAMPNS) of the last segment each read took. A latency measured to it
// leaves out the time the reading thread then waited for a core, which on a 2-core machine
// shared with the relay and hundreds of simulated clients is the load generator's cost, not
// the relay's. Frames that share a read all get that read's stamp, the latest of theirs: an
// arrival is never dated early.
//
// Until stamp_arrivals() it reads as the plain socket does. After, each read waits for the
// socket to be readable and takes the bytes with a recvmsg of its own (Asio passes no control
// messages through), which costs an extra system call per read: meant for a connection or
// two, not for every simulated client.
#include <sys/uio.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <utility>

#include <boost/asio/compose.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include "net/asio.hpp"

namespace parley::loadgen {

class StampedSocket : public Socket {
 public:
  using Clock = std::chrono::steady_clock;
  using Socket::Socket;

  // On an open socket.
  void stamp_arrivals(boost::system::error_code& ec);
  // When the bytes of the last read arrived, on the steady clock.
  Clock::time_point last_arrival() const { return last_arrival_; }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (!stamping_) return Socket::async_read_some(buffers, std::forward<Handler>(handler));
    // Wait first, then read: a read that completed at once would call the handler inside
    // this initiating call, which Beast's operations do not expect.
    boost::asio::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
        [this, buffers, waited = false](auto& self, boost::system::error_code ec = {}) mutable {
          if (!ec && waited) {
            std::size_t n = 0;
            if (!receive(buffers, n, ec)) return async_wait(wait_read, std::move(self));
            return self.complete(ec, n);
          }
          if (ec) return self.complete(ec, 0);
          waited = true;
          async_wait(wait_read, std::move(self));
        },
        handler, *this);
  }

 private:
  static constexpr std::size_t kMaxIovecs = 16;

  // False when nothing was waiting (the socket's wait fired early).
  template <class MutableBuffers>
  bool receive(const MutableBuffers& buffers, std::size_t& n, boost::system::error_code& ec) {
    std::array<iovec, kMaxIovecs> iov{};
    std::size_t count = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && count < iov.size(); ++it) {
      const boost::asio::mutable_buffer b = *it;
      if (b.size() > 0) iov[count++] = iovec{b.data(), b.size()};
    }
    return receive(iov.data(), count, n, ec);
  }
  bool receive(iovec* iov, std::size_t count, std::size_t& n, boost::system::error_code& ec);

  bool stamping_ = false;
  Clock::time_point last_arrival_{};
};

// Beast closes a WebSocket's socket through these, found by argument-dependent lookup; its
// own are for Asio's socket types and would take a StampedSocket only as a conversion.
void teardown(boost::beast::role_type role, StampedSocket& socket, boost::system::error_code& ec);

template <class Handler>
void async_teardown(boost::beast::role_type role, StampedSocket& socket, Handler&& handler) {
  boost::beast::websocket::async_teardown(role, static_cast<Socket&>(socket),
                                          std::forward<Handler>(handler));
}

}  // namespace parley::loadgen
