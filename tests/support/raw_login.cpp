#include "raw_login.hpp"

#include "parley/auth_transcript.hpp"

namespace parley::test {

QByteArray encodeClientFrame(const wire::ClientFrame& f) {
  const auto s = f.SerializeAsString();
  return QByteArray(s.data(), static_cast<qsizetype>(s.size()));
}

std::optional<wire::ServerFrame> decodeServerFrame(const std::optional<QByteArray>& bytes) {
  if (!bytes) return std::nullopt;
  wire::ServerFrame f;
  if (!f.ParseFromArray(bytes->constData(), static_cast<int>(bytes->size()))) return std::nullopt;
  return f;
}

std::optional<wire::ClientFrame> signedLogin(RawWsClient& raw, const TestClient& who,
                                             std::uint64_t request_id) {
  wire::ClientFrame g;
  g.set_request_id(request_id - 1);
  g.mutable_get_challenge();
  raw.sendFrame(encodeClientFrame(g));
  auto c = decodeServerFrame(raw.readMessage());
  if (!c || !c->has_challenge()) return std::nullopt;
  const auto& ch = c->challenge();
  wire::ClientFrame f;
  f.set_request_id(request_id);
  auto* l = f.mutable_login();
  l->set_username(who.username());
  l->set_device_id(who.device());
  l->set_challenge_nonce(ch.nonce());
  l->set_signature(who.identity().sign(auth_transcript(AuthPurpose::Login, ch.relay_id(),
                                                       ch.nonce(), ch.server_time_ms(),
                                                       who.device(), who.username())));
  return f;
}

bool rawLogin(RawWsClient& raw, const TestClient& who) {
  const auto login = signedLogin(raw, who, 2);
  if (!login) return false;
  raw.sendFrame(encodeClientFrame(*login));
  auto r = decodeServerFrame(raw.readMessage());
  return r && r->has_logged_in();
}

}  // namespace parley::test
