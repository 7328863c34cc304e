#pragma once
// parley.v1 over a RawWsClient: encoding, decoding, and a login as an existing test user.
#include <QByteArray>
#include <optional>

#include "parley.pb.h"
#include "raw_ws_client.hpp"
#include "test_client.hpp"

namespace parley::test {

QByteArray encodeClientFrame(const wire::ClientFrame& f);
std::optional<wire::ServerFrame> decodeServerFrame(const std::optional<QByteArray>& bytes);
// Asks `raw`'s relay for a challenge and returns `who`'s signed Login for it (as request
// `request_id`), not yet sent; nullopt when no challenge came.
std::optional<wire::ClientFrame> signedLogin(RawWsClient& raw, const TestClient& who,
                                             std::uint64_t request_id);
// Logs `who` in over `raw` (its identity, name and device); true on LoggedIn.
bool rawLogin(RawWsClient& raw, const TestClient& who);

}  // namespace parley::test
