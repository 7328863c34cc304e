#include "fake_relay.hpp"

#include <QDateTime>
#include <QHostAddress>

namespace parley::test {

FakeRelay::FakeRelay() : server_(QStringLiteral("fake-relay"), QWebSocketServer::NonSecureMode) {
  server_.setSupportedSubprotocols({QStringLiteral("parley.v1")});
  connect(&server_, &QWebSocketServer::newConnection, this, &FakeRelay::onConnection);
}

bool FakeRelay::listen() { return server_.listen(QHostAddress::LocalHost, 0); }

QUrl FakeRelay::url() const {
  return QUrl(QStringLiteral("ws://127.0.0.1:%1").arg(server_.serverPort()));
}

void FakeRelay::onConnection() {
  while (auto* socket = server_.nextPendingConnection()) {
    ++connections;
    if (client_) client_->abort();  // a new connection displaces the old one, as on the relay
    client_ = socket;
    socket->setParent(this);
    connect(socket, &QWebSocket::binaryMessageReceived, this, &FakeRelay::onFrame);
    connect(socket, &QWebSocket::disconnected, socket, &QObject::deleteLater);
  }
}

void FakeRelay::onFrame(const QByteArray& bytes) {
  wire::ClientFrame f;
  if (!f.ParseFromArray(bytes.constData(), static_cast<int>(bytes.size()))) return;
  if (hold && !f.has_get_challenge() && !f.has_login() && hold(f)) return;
  if (answer && !f.has_get_challenge() && !f.has_login()) {
    if (auto answered = answer(f)) return reply(f.request_id(), std::move(*answered));
  }
  wire::ServerFrame r;
  if (f.has_get_challenge()) {
    auto* c = r.mutable_challenge();
    c->set_nonce(std::string(32, 'n'));
    c->set_relay_id(std::string(16, 'r'));
    c->set_server_time_ms(static_cast<std::uint64_t>(QDateTime::currentMSecsSinceEpoch()));
    c->set_expires_in_ms(30000);
  } else if (f.has_login()) {
    logins << f.login();
    if (answer_login)
      if (auto answered = answer_login(f.login())) return reply(f.request_id(), std::move(*answered));
    auto* in = r.mutable_logged_in();
    in->set_username(f.login().username());
    in->set_inbox_tail_seq(f.login().last_acked_inbox_seq());
    in->set_one_time_prekeys_left(100);
    in->set_has_signed_prekey(true);
    reply(f.request_id(), r);
    wire::ServerFrame sync;
    sync.mutable_sync_complete()->set_inbox_seq(f.login().last_acked_inbox_seq());
    return push(sync);
  } else if (f.has_upload_prekeys()) {
    r.mutable_prekeys_stored()->set_one_time_prekeys_left(100);
  } else if (f.has_ping()) {
    r.mutable_pong();
  } else if (f.has_ack()) {
    acks << f.ack().up_to_inbox_seq();
    return;
  } else if (f.has_send() || f.has_group_send()) {
    Sent s;
    s.request_id = f.request_id();
    if (f.has_send()) {
      s.client_msg_id = QByteArray::fromStdString(f.send().client_msg_id());
      s.conversation = QString::fromStdString(f.send().recipient());
    } else {
      s.client_msg_id = QByteArray::fromStdString(f.group_send().client_msg_id());
      s.conversation = QLatin1Char('#') +
                       QString::fromLatin1(QByteArray::fromStdString(f.group_send().group_id()).toHex());
    }
    // A retry of something already numbered keeps its number, as on the relay.
    for (const auto& earlier : sends)
      if (earlier.client_msg_id == s.client_msg_id) s.conv_seq = earlier.conv_seq;
    if (s.conv_seq == 0) s.conv_seq = ++last_seq_[s.conversation];
    sends << s;
    if (!hold_send_acks) answerSend(static_cast<int>(sends.size()) - 1, false);
    return;
  } else {
    r.mutable_error()->set_code(wire::UNAVAILABLE);
    r.mutable_error()->set_reason("not offered by the fake relay");
  }
  reply(f.request_id(), r);
}

void FakeRelay::answerSend(int index, bool duplicate) {
  auto& s = sends[index];
  s.answered = true;
  wire::ServerFrame r;
  auto* a = r.mutable_send_ack();
  a->set_client_msg_id(s.client_msg_id.toStdString());
  a->set_conv_seq(s.conv_seq);
  a->set_server_ts_ms(send_ack_ts_ms != 0 ? send_ack_ts_ms
                                          : static_cast<std::uint64_t>(QDateTime::currentMSecsSinceEpoch()));
  a->set_duplicate(duplicate);
  reply(s.request_id, r);
}

void FakeRelay::push(wire::ServerFrame frame) { reply(0, std::move(frame)); }

void FakeRelay::dropClient() {
  if (client_) client_->abort();
}

void FakeRelay::reply(std::uint64_t request_id, wire::ServerFrame frame) {
  if (!client_) return;
  frame.set_request_id(request_id);
  const auto bytes = frame.SerializeAsString();
  client_->sendBinaryMessage(QByteArray(bytes.data(), static_cast<qsizetype>(bytes.size())));
}

}  // namespace parley::test
