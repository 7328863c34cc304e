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
