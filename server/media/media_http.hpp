#pragma once
// The HTTP media endpoints on the gateway port (docs/protocol.md, "Media"):
//   HEAD  /media/upload/<id>   how many bytes of our upload the relay has (Upload-Offset)
//   PATCH /media/upload/<id>   append ciphertext at Upload-Offset; the last piece finishes it
//   GET   /media/<id>          the finished ciphertext, with Range; HEAD for its size
// Every request carries "Authorization: Bearer <token>" from the WebSocket (media.cpp).
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include "gateway/streams.hpp"

namespace parley {

using RequestHeaderParser = http::request_parser<http::empty_body>;

// Takes over a connection whose request header (target /media/...) has been read, answers
// that request and hands the connection back to the gateway's HTTP loop if it stays open.
template <class Stream>
void serve_media(GatewayContext& ctx, Stream&& stream, beast::flat_buffer&& buffer,
                 RequestHeaderParser&& parser);

extern template void serve_media<PlainStream>(GatewayContext&, PlainStream&&, beast::flat_buffer&&,
                                              RequestHeaderParser&&);
extern template void serve_media<TlsStream>(GatewayContext&, TlsStream&&, beast::flat_buffer&&,
                                            RequestHeaderParser&&);

}  // namespace parley
