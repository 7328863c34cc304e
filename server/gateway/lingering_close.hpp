#pragma once
// A request refused from its header leaves its body unread. Closing at once would make this
// side's kernel answer the body still arriving with a reset, and a reset makes the client's
// kernel drop the answer unread. So the connection stays open for a while after the answer,
// reading and discarding what comes (bounded in bytes and time), as web servers do.
#include "gateway/streams.hpp"

namespace parley {

// Ends this side's sending (the answer must already be written), then reads and drops up to
// 16 MiB for up to 5 s; the stream is closed when that ends or the client closes.
void linger_and_close(PlainStream&& stream);
void linger_and_close(TlsStream&& stream);

}  // namespace parley
