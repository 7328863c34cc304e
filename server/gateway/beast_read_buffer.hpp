#pragma once
// How many bytes a Beast WebSocket stream has read from its socket but not yet parsed.
//
// A connection parks on socket readability only when this is zero: Beast reads as much as
// its 1,536-byte buffer holds, so a client that pipelines frames can leave the next one
// there, and the socket would never turn readable for it. Beast 1.81 has no public
// accessor; its stream befriends its own test classes, and this borrows one of those names
// (no Beast test is linked into the relay). Re-check `impl_type::rd_buf` when upgrading.
#include <boost/beast/websocket/stream.hpp>
#include <boost/version.hpp>

static_assert(BOOST_VERSION / 100 == 1081,
              "beast_read_buffer.hpp reads Beast 1.81's websocket internals: re-check rd_buf");

namespace boost::beast::websocket {

class read2_test {
 public:
  template <class NextLayer, bool Deflate>
  static std::size_t unparsed_bytes(const stream<NextLayer, Deflate>& ws) {
    return ws.impl_->rd_buf.size();
  }
};

}  // namespace boost::beast::websocket

namespace parley {

template <class NextLayer, bool Deflate>
std::size_t websocket_unparsed_bytes(const boost::beast::websocket::stream<NextLayer, Deflate>& ws) {
  return boost::beast::websocket::read2_test::unparsed_bytes(ws);
}

}  // namespace parley
