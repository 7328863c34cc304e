#include "net/relay_client.hpp"

#include <algorithm>
#include <QDateTime>
#include <QRandomGenerator>
#include <QWebSocketHandshakeOptions>

#include "parley/auth_transcript.hpp"

namespace parley::client {
namespace {
constexpr int kRequestTimeoutMs = 15000;
constexpr int kConnectTimeoutMs = 15000;
constexpr int kHeartbeatMs = 20000;
constexpr int kDeadAfterMs = 45000;  // nothing heard for this long: reconnect
constexpr int kMaxBackoffMs = 30000;
constexpr qint64 kStableAfterMs = 60000;  // a connection up this long resets the backoff

qint64 now_ms() { return QDateTime::currentMSecsSinceEpoch(); }

wire::ServerFrame unavailable(const char* why) {
  wire::ServerFrame f;
  f.mutable_error()->set_code(wire::UNAVAILABLE);
  f.mutable_error()->set_reason(why);
  return f;
}

}  // namespace

RelayClient::RelayClient(QUrl url, QObject* parent) : QObject(parent), url_(std::move(url)) {
  // The largest frame a relay sends is a Deliver of a 200 KiB ciphertext; 1 MiB leaves room
  // for any field and future growth without letting a relay make us buffer 16 MiB frames.
  socket_.setMaxAllowedIncomingMessageSize(1 << 20);
  connect(&socket_, &QWebSocket::connected, this, &RelayClient::onConnected);
  connect(&socket_, &QWebSocket::disconnected, this, &RelayClient::onDisconnected);
  connect(&socket_, &QWebSocket::binaryMessageReceived, this, &RelayClient::onBinary);
  heartbeat_.setInterval(kHeartbeatMs);
  connect(&heartbeat_, &QTimer::timeout, this, [this] {
    if (now_ms() - last_heard_ms_ > kDeadAfterMs) {
      socket_.abort();  // half-open: nothing heard, not even pongs
      return;
    }
    wire::ClientFrame ping;
    ping.mutable_ping();
    request(ping, [](const wire::ServerFrame&) {});
  });
  reconnect_.setSingleShot(true);
  connect(&reconnect_, &QTimer::timeout, this, &RelayClient::open);
  connect_deadline_.setSingleShot(true);
  connect_deadline_.setInterval(kConnectTimeoutMs);
  connect(&connect_deadline_, &QTimer::timeout, this, [this] {
    connect_timed_out_ = true;
    socket_.abort();
    // abort() reports the disconnection itself only when the socket had got somewhere.
    if (state_ == State::Connecting) onDisconnected();
  });
  timeouts_.setInterval(1000);
  connect(&timeouts_, &QTimer::timeout, this, [this] {
    const auto now = now_ms();
    std::vector<Response> expired;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline_ms < now) {
        expired.push_back(std::move(it->second.done));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& done : expired) done(unavailable("the relay did not answer in time"));
  });
}

RelayClient::~RelayClient() {
  running_ = false;
  socket_.disconnect(this);
  socket_.abort();
}

void RelayClient::registerAccount(const Account& account, Response done) {
  account_ = account;
  registering_ = true;
  register_done_ = std::move(done);
  running_ = false;
  open();
}

void RelayClient::start(const Account& account,
                        std::function<Resume(const std::string& relay_id)> resume) {
  account_ = account;
  resume_ = std::move(resume);
  running_ = true;
  registering_ = false;
  if (socket_.state() == QAbstractSocket::UnconnectedState) open();
}

void RelayClient::stop() {
  running_ = false;
  reconnect_.stop();
  connect_deadline_.stop();
  heartbeat_.stop();
  socket_.close();
  setState(State::Offline);
}

void RelayClient::open() {
  setState(State::Connecting);
  socket_.setProxy(proxy_);
  QWebSocketHandshakeOptions options;
  options.setSubprotocols({"parley.v1"});
  connect_timed_out_ = false;
  connect_deadline_.start();
  socket_.open(url_, options);
}

void RelayClient::onConnected() {
  connect_deadline_.stop();
  last_heard_ms_ = now_ms();
  heartbeat_.start();
  timeouts_.start();
  authenticate();
}

void RelayClient::authenticate() {
  wire::ClientFrame get;
  get.mutable_get_challenge();
  request(get, [this](const wire::ServerFrame& r) {
    if (!r.has_challenge()) {
      // Refused (the relay busy or stopping) or timed out on a connection still open: it
      // would sit there "connecting" for good. Closing it makes the reconnect path retry.
      if (r.has_error()) wait_at_least_ms_ = r.error().retry_after_ms();
      socket_.close();
      return;
    }
    const auto& c = r.challenge();
    const auto name = account_.username.toStdString();
    const auto purpose = registering_ ? AuthPurpose::Register : AuthPurpose::Login;
    const auto transcript =
        auth_transcript(purpose, c.relay_id(), c.nonce(), c.server_time_ms(), account_.device, name);
    const auto sig = account_.identity->sign(crypto::ByteView(
        reinterpret_cast<const std::uint8_t*>(transcript.data()), transcript.size()));
    const std::string sig_bytes(reinterpret_cast<const char*>(sig.bytes.data()), sig.bytes.size());
    wire::ClientFrame f;
    if (registering_) {
      auto* reg = f.mutable_register_();
      reg->set_username(name);
      const auto& pk = account_.identity->public_key().bytes;
      reg->set_identity_key(std::string(reinterpret_cast<const char*>(pk.data()), pk.size()));
      reg->set_device_id(account_.device);
      reg->set_challenge_nonce(c.nonce());
      reg->set_signature(sig_bytes);
    } else {
      auto* login = f.mutable_login();
      login->set_username(name);
      login->set_device_id(account_.device);
      login->set_challenge_nonce(c.nonce());
      login->set_signature(sig_bytes);
      auto resume = resume_ ? resume_(c.relay_id()) : Resume{};
      if (resume_from_start_) resume.last_acked_inbox_seq = 0;
      login->set_last_acked_inbox_seq(resume.last_acked_inbox_seq);
      login->set_last_mark_version(resume.last_mark_version);
    }
    const bool sent_cursor = f.has_login() && f.login().last_acked_inbox_seq() > 0;
    request(f, [this, sent_cursor](const wire::ServerFrame& resp) {
      if (registering_) {
        registering_ = false;
        auto done = std::move(register_done_);
        if (resp.has_registered()) {
          logged_in_ms_ = now_ms();
          setState(State::Syncing);
          if (onLoggedIn) onLoggedIn(resp);
        }
        if (done) done(resp);
        return;
      }
      if (resp.has_logged_in()) {
        logged_in_ms_ = now_ms();
        resume_from_start_ = false;
        setState(State::Syncing);
        if (onLoggedIn) onLoggedIn(resp);
        return;
      }
      if (resp.has_error() && resp.error().code() == wire::INVALID_ACK && sent_cursor) {
        resume_from_start_ = true;
        if (onResumePastInbox) onResumePastInbox();
        return authenticate();
      }
      // A relay busy, stopping, rate limiting or failing to store, or a challenge that
      // expired on the way, is worth another try (after the backoff, and at least the
      // relay's retry_after); a refusal of these credentials is not.
      const auto code = resp.has_error() ? resp.error().code() : wire::UNAVAILABLE;
      const bool temporary = code == wire::UNAVAILABLE || code == wire::RATE_LIMITED ||
                             code == wire::INTERNAL || code == wire::CHALLENGE_INVALID;
      if (temporary) {
        if (resp.has_error()) wait_at_least_ms_ = resp.error().retry_after_ms();
      } else {
        running_ = false;
        if (onAuthFailed) onAuthFailed(resp.error());
      }
      socket_.close();
    });
  });
}

void RelayClient::onDisconnected() {
  connect_deadline_.stop();
  heartbeat_.stop();
  timeouts_.stop();
  failPending();
  if (registering_) {
    registering_ = false;
    if (auto done = std::move(register_done_)) {
      wire::ServerFrame f = unavailable("cannot reach the relay");
      const auto why = connect_timed_out_
                           ? QStringLiteral("no answer within %1 s").arg(kConnectTimeoutMs / 1000)
                           : socket_.errorString();
      f.mutable_error()->set_reason(
          ("cannot reach the relay at " + url_.toString() + ": " + why).toStdString());
      done(f);
    }
  }
  setState(State::Offline);
  // The backoff starts over only after a connection that lasted: a relay that logs us in
  // and drops us at once would otherwise be reconnected to every half second.
  if (logged_in_ms_ != 0 && now_ms() - logged_in_ms_ >= kStableAfterMs) attempt_ = 0;
  logged_in_ms_ = 0;
  if (running_) scheduleReconnect();
}

void RelayClient::scheduleReconnect() {
  // 0.5 s, 1 s, 2 s ... up to 30 s, each +-25 % so a restarted relay is not stampeded.
  const int base = std::min(kMaxBackoffMs, 500 << std::min(attempt_, 6));
  ++attempt_;
  const double jitter = 0.75 + QRandomGenerator::global()->generateDouble() * 0.5;
  const auto wait = std::max<qint64>(static_cast<qint64>(base * jitter),
                                     std::min<qint64>(wait_at_least_ms_, kMaxBackoffMs));
  wait_at_least_ms_ = 0;
  reconnect_.start(static_cast<int>(wait));
}

void RelayClient::failPending() {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) p.done(unavailable("connection to the relay was lost"));
}

void RelayClient::onBinary(const QByteArray& data) {
  last_heard_ms_ = now_ms();
  wire::ServerFrame f;
  if (!f.ParseFromArray(data.constData(), static_cast<int>(data.size()))) return;
  if (f.request_id() != 0) {
    auto it = pending_.find(f.request_id());
    if (it == pending_.end()) return;
    auto done = std::move(it->second.done);
    pending_.erase(it);
    done(f);
    return;
  }
  if (f.has_sync_complete()) setState(State::Online);
  if (onPush) onPush(f);
}

void RelayClient::request(wire::ClientFrame frame, Response done) {
  if (socket_.state() != QAbstractSocket::ConnectedState) {
    done(unavailable("not connected to the relay"));
    return;
  }
  const auto id = next_id_++;
  frame.set_request_id(id);
  pending_[id] = Pending{std::move(done), now_ms() + kRequestTimeoutMs};
  send(frame);
}

void RelayClient::ack(std::uint64_t up_to) {
  wire::ClientFrame f;
  f.mutable_ack()->set_up_to_inbox_seq(up_to);
  send(f);
}

void RelayClient::typing(const QString& peer, bool active) {
  wire::ClientFrame f;
  f.mutable_typing()->set_recipient(peer.toStdString());
  f.mutable_typing()->set_active(active);
  send(f);
}

void RelayClient::send(const wire::ClientFrame& frame) {
  if (socket_.state() != QAbstractSocket::ConnectedState) return;
  if (beforeSend && !beforeSend()) return;
  const auto s = frame.SerializeAsString();
  socket_.sendBinaryMessage(QByteArray(s.data(), static_cast<qsizetype>(s.size())));
}

void RelayClient::setState(State s) {
  if (s == state_) return;
  state_ = s;
  emit stateChanged(s);
}

}  // namespace parley::client
