#pragma once
// Two things a parked connection needs from a Beast WebSocket stream that Beast 1.81 has no
// public API for. Its stream befriends its own test classes; this borrows one of those names
// (no Beast test is linked into the relay). Re-check both against `impl_type`
// (websocket/impl/stream_impl.hpp) when upgrading Boost.
//
// * How many bytes the stream has read from its socket but not yet parsed. A connection
//   parks on socket readability only when this is zero: Beast reads as much as its 1,536-byte
//   buffer holds, so a client that pipelines frames can leave the next one there, and the
//   socket would never turn readable for it.
// * Opening a new stream as if its server handshake had just completed. A parked connection
//   with nothing to write drops its stream (Beast allocates ~2.5 KB per stream, most of it
//   that read buffer) and makes a new one on the socket when there is work again. Between
//   messages, with no operation pending and the read buffer empty, a stream's state is
//   exactly what `open(role_type::server)` sets up, which is what a successful accept does.
// * Holding the stream's write lock while the connection writes frames itself. Beast writes
//   one message per write; the gateway gathers the frames queued for a connection into one
//   socket write (gateway/frame_header.hpp). Beast's own writes (a pong or a close frame it
//   sends from inside a read, a ping, a close) take the same lock, so they wait for the
//   gathered write instead of interleaving bytes with it, and are resumed when it ends, in
//   the order Beast's write operation resumes them.
#include <boost/beast/websocket/stream.hpp>
#include <boost/version.hpp>

static_assert(BOOST_VERSION / 100 == 1081,
              "beast_internals.hpp uses Beast 1.81's websocket internals: re-check impl_type");

namespace boost::beast::websocket {

class read2_test {
 public:
  template <class NextLayer, bool Deflate>
  static std::size_t unparsed_bytes(const stream<NextLayer, Deflate>& ws) {
    return ws.impl_->rd_buf.size();
  }
  template <class NextLayer, bool Deflate>
  static void open_as_server(stream<NextLayer, Deflate>& ws) {
    ws.impl_->open(role_type::server);
  }

  // Beast's own operations lock with ids 1-5 (read, write, ping, idle ping, close).
  struct raw_write {
    static constexpr int id = 6;
  };
  template <class NextLayer, bool Deflate>
  static bool try_lock_write(stream<NextLayer, Deflate>& ws) {
    auto& impl = *ws.impl_;
    if (impl.status_ != stream<NextLayer, Deflate>::status::open) return false;
    return impl.wr_block.try_lock(static_cast<raw_write*>(nullptr));
  }
  template <class NextLayer, bool Deflate>
  static void lock_write(stream<NextLayer, Deflate>& ws) {
    ws.impl_->wr_block.lock(static_cast<raw_write*>(nullptr));
  }
  template <class NextLayer, bool Deflate>
  static void unlock_write(stream<NextLayer, Deflate>& ws) {
    auto& impl = *ws.impl_;
    impl.wr_block.unlock(static_cast<raw_write*>(nullptr));
    impl.op_close.maybe_invoke() || impl.op_idle_ping.maybe_invoke() ||
        impl.op_rd.maybe_invoke() || impl.op_ping.maybe_invoke();
  }
};

}  // namespace boost::beast::websocket

namespace parley {

template <class NextLayer, bool Deflate>
std::size_t websocket_unparsed_bytes(const boost::beast::websocket::stream<NextLayer, Deflate>& ws) {
  return boost::beast::websocket::read2_test::unparsed_bytes(ws);
}

// Only on a stream that has never been used, over a socket whose WebSocket handshake has
// completed and that is between messages.
template <class NextLayer, bool Deflate>
void websocket_open_accepted(boost::beast::websocket::stream<NextLayer, Deflate>& ws) {
  boost::beast::websocket::read2_test::open_as_server(ws);
}

}  // namespace parley

namespace parley {

// The stream's write lock, for a write the connection makes on the next layer itself.
// try_lock fails while Beast writes (or the stream is not open): write through Beast then.
template <class NextLayer, bool Deflate>
bool websocket_try_lock_write(boost::beast::websocket::stream<NextLayer, Deflate>& ws) {
  return boost::beast::websocket::read2_test::try_lock_write(ws);
}
// On a stream made while such a write is in flight (its lock is free).
template <class NextLayer, bool Deflate>
void websocket_lock_write(boost::beast::websocket::stream<NextLayer, Deflate>& ws) {
  boost::beast::websocket::read2_test::lock_write(ws);
}
// Releases the lock and resumes a Beast operation that waited for it.
template <class NextLayer, bool Deflate>
void websocket_unlock_write(boost::beast::websocket::stream<NextLayer, Deflate>& ws) {
  boost::beast::websocket::read2_test::unlock_write(ws);
}

}  // namespace parley
