#pragma once
// A TCP socket that can say when the bytes it read reached this machine: the kernel's receive
// timestamp (SO_TIMESTAMPNS) of the last segment each read took, which does not move when the
// reading thread is late. Never early, but late when more bytes came before the read: frames
// that share a read all get its stamp, the latest of theirs, and the kernel gives a segment
// it appends to an unread one in its queue (coalescing) the newer stamp. A read that took
// less than it had room for left nothing queued (last_read_drained()): then the stamp is
// its last segment's own, and a frame that ends the read has its own arrival.
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
  // When the bytes of the last read arrived, on the steady clock ("now" if it had no stamp).
  Clock::time_point last_arrival() const { return last_arrival_; }
  // The last read carried the kernel's stamp (the kernel turns stamping on for the machine a
  // moment after the first socket asks).
  bool last_read_stamped() const { return last_stamped_; }
  // The last read took less than it had room for: nothing was left queued after it.
  bool last_read_drained() const { return last_drained_; }

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
  bool last_stamped_ = false;
  bool last_drained_ = false;
  Clock::time_point last_arrival_{};
};

// Beast closes a WebSocket's socket through these, found by argument-dependent lookup: for
// any other type its catch-all overload is chosen, which fails to compile.
void teardown(boost::beast::role_type role, StampedSocket& socket, boost::system::error_code& ec);

template <class Handler>
void async_teardown(boost::beast::role_type role, StampedSocket& socket, Handler&& handler) {
  boost::beast::websocket::async_teardown(role, static_cast<Socket&>(socket),
                                          std::forward<Handler>(handler));
}

}  // namespace parley::loadgen
