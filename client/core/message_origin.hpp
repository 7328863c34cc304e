#pragma once
// Apart from messenger.hpp so a view that only passes it on (TransferTracker, Forwarder) need
// not pull in the whole messenger.

namespace parley::client {

// Whose words a message we send carries: our own, or another's sent on from elsewhere
// (Forward…), which receivers show as forwarded (Content.forwarded).
enum class Origin { Own, Forwarded };

}  // namespace parley::client
