#include "test_client.hpp"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QNetworkProxy>
#include <QNetworkRequest>
#include <QEventLoop>
#include <QTimer>
#include <QWebSocketHandshakeOptions>
#include <sodium.h>

#include "parley/auth_transcript.hpp"

namespace parley::test {

Identity Identity::generate() {
  if (sodium_init() < 0) qFatal("sodium_init failed");
  Identity id;
  id.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  id.secret_key.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(id.public_key.data()),
                      reinterpret_cast<unsigned char*>(id.secret_key.data()));
  return id;
}

std::string Identity::sign(const std::string& message) const {
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       reinterpret_cast<const unsigned char*>(secret_key.data()));
  return sig;
}

bool spinUntil(const std::function<bool()>& done, int timeout_ms) {
  if (done()) return true;
  // Block in the event dispatcher (so socket notifiers fire), checking every millisecond.
  // `done` may consume what it finds, so it is never called again after it said yes.
  bool finished = false;
  QEventLoop loop;
  QTimer poll;
  QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
    if (!finished && done()) {
      finished = true;
      loop.quit();
    }
  });
  QTimer deadline;
  deadline.setSingleShot(true);
  QObject::connect(&deadline, &QTimer::timeout, &loop, &QEventLoop::quit);
  poll.start(1);
  deadline.start(timeout_ms);
  loop.exec();
  return finished || done();
}

TestClient::TestClient(std::string username, std::uint32_t device, Identity identity)
    : username_(std::move(username)), device_(device), identity_(std::move(identity)) {}

TestClient::~TestClient() { disconnect(); }

bool TestClient::connect(const QUrl& url, const QString& subprotocol) {
  socket_ = std::make_unique<QWebSocket>();
  socket_->setProxy(QNetworkProxy::NoProxy);
  socket_->setMaxAllowedIncomingMessageSize(16 << 20);
  if (ssl_) socket_->setSslConfiguration(*ssl_);
  closed_ = false;
  close_code_ = -1;
  responses_.clear();
  pushes_.clear();
  QObject::connect(socket_.get(), &QWebSocket::binaryMessageReceived, [this](const QByteArray& b) {
    wire::ServerFrame f;
    if (!f.ParseFromArray(b.constData(), static_cast<int>(b.size()))) {
      qWarning("unparseable frame from relay");
      return;
    }
    (f.request_id() != 0 ? responses_ : pushes_).push_back(std::move(f));
  });
  QObject::connect(socket_.get(), &QWebSocket::disconnected, [this] {
    closed_ = true;
    close_code_ = socket_->closeCode();
  });
  QWebSocketHandshakeOptions options;
  if (!subprotocol.isEmpty()) options.setSubprotocols({subprotocol});
  QNetworkRequest request(url);
  for (const auto& [name, value] : headers_) request.setRawHeader(name, value);
  socket_->open(request, options);
  return spinUntil([&] { return socket_->state() == QAbstractSocket::ConnectedState || closed_; },
                   5000) &&
         socket_->state() == QAbstractSocket::ConnectedState;
}

void TestClient::disconnect() {
  if (!socket_) return;
  if (socket_->state() == QAbstractSocket::ConnectedState) {
    socket_->close();
    spinUntil([&] { return closed_; }, 2000);
  }
  socket_->disconnect();
  socket_.reset();
}

bool TestClient::connected() const {
  return socket_ && socket_->state() == QAbstractSocket::ConnectedState && !closed_;
}

int TestClient::waitClosed(int timeout_ms) {
  if (!socket_) return -1;
  if (!spinUntil([&] { return closed_; }, timeout_ms)) return -1;
  return close_code_;
}

std::uint64_t TestClient::post(wire::ClientFrame frame) {
  if (frame.request_id() == 0 && !frame.has_ack() && !frame.has_typing())
    frame.set_request_id(next_id_++);
  const auto bytes = frame.SerializeAsString();
  socket_->sendBinaryMessage(QByteArray(bytes.data(), static_cast<qsizetype>(bytes.size())));
  return frame.request_id();
}

void TestClient::sendRaw(const QByteArray& bytes) { socket_->sendBinaryMessage(bytes); }
void TestClient::sendText(const QString& text) { socket_->sendTextMessage(text); }

std::optional<wire::ServerFrame> TestClient::request(wire::ClientFrame frame, int timeout_ms) {
  frame.set_request_id(next_id_++);
  return waitResponse(post(std::move(frame)), timeout_ms);
}

std::optional<wire::ServerFrame> TestClient::waitResponse(std::uint64_t id, int timeout_ms) {
  std::optional<wire::ServerFrame> found;
  spinUntil(
      [&] {
        for (auto it = responses_.begin(); it != responses_.end(); ++it) {
          if (it->request_id() == id) {
            found = std::move(*it);
            responses_.erase(it);
            return true;
          }
        }
        return closed_;
      },
      timeout_ms);
  return found;
}

std::optional<wire::ServerFrame> TestClient::waitPush(
    const std::function<bool(const wire::ServerFrame&)>& pred, int timeout_ms) {
  std::optional<wire::ServerFrame> found;
  spinUntil(
      [&] {
        for (auto it = pushes_.begin(); it != pushes_.end(); ++it) {
          if (pred(*it)) {
            found = std::move(*it);
            pushes_.erase(it);
            return true;
          }
        }
        return closed_;
      },
      timeout_ms);
  return found;
}

std::optional<wire::Deliver> TestClient::waitDeliver(int timeout_ms) {
  auto f = waitPush([](const wire::ServerFrame& x) { return x.has_deliver(); }, timeout_ms);
  if (!f) return std::nullopt;
  return f->deliver();
}

std::vector<wire::DeliveryMark> TestClient::waitMarks(int timeout_ms) {
  auto f = waitPush([](const wire::ServerFrame& x) { return x.has_delivery_marks(); }, timeout_ms);
  if (!f) return {};
  const auto& m = f->delivery_marks().marks();
  return {m.begin(), m.end()};
}

std::optional<wire::Error> TestClient::waitError(int timeout_ms) {
  auto f = waitPush([](const wire::ServerFrame& x) { return x.has_error(); }, timeout_ms);
  if (!f) return std::nullopt;
  return f->error();
}

std::optional<wire::Challenge> TestClient::challenge() {
  wire::ClientFrame f;
  f.mutable_get_challenge();
  auto r = request(f);
  if (!r || !r->has_challenge()) return std::nullopt;
  return r->challenge();
}

std::optional<wire::ServerFrame> TestClient::registerAccount() {
  auto c = challenge();
  if (!c) return std::nullopt;
  std::string folded;
  for (char ch : username_) folded.push_back(static_cast<char>(std::tolower(ch)));
  const auto transcript = auth_transcript(AuthPurpose::Register, c->relay_id(), c->nonce(),
                                          c->server_time_ms(), device_, folded);
  wire::ClientFrame f;
  auto* r = f.mutable_register_();
  r->set_username(username_);
  r->set_identity_key(identity_.public_key);
  r->set_device_id(device_);
  r->set_challenge_nonce(c->nonce());
  r->set_signature(identity_.sign(transcript));
  return request(f);
}

std::optional<wire::ServerFrame> TestClient::login(std::uint64_t last_acked,
                                                   std::uint64_t last_mark_version) {
  auto c = challenge();
  if (!c) return std::nullopt;
  std::string folded;
  for (char ch : username_) folded.push_back(static_cast<char>(std::tolower(ch)));
  const auto transcript = auth_transcript(AuthPurpose::Login, c->relay_id(), c->nonce(),
                                          c->server_time_ms(), device_, folded);
  wire::ClientFrame f;
  auto* l = f.mutable_login();
  l->set_username(username_);
  l->set_device_id(device_);
  l->set_challenge_nonce(c->nonce());
  l->set_signature(identity_.sign(transcript));
  l->set_last_acked_inbox_seq(last_acked);
  l->set_last_mark_version(last_mark_version);
  return request(f);
}

wire::ClientFrame TestClient::prekeyUploadFrame(const std::string& signed_prekey,
                                                int one_time_count) const {
  wire::ClientFrame up;
  auto* u = up.mutable_upload_prekeys();
  u->mutable_signed_prekey()->set_id(9);
  u->mutable_signed_prekey()->set_public_key(signed_prekey);
  u->mutable_signed_prekey()->set_signature(identity_.sign(signed_prekey));
  for (int i = 1; i <= one_time_count; ++i) {
    auto* k = u->add_one_time_prekeys();
    k->set_id(static_cast<std::uint32_t>(i));
    k->set_public_key(std::string(32, static_cast<char>('a' + i)));
  }
  return up;
}

wire::ClientFrame TestClient::sendFrame(const std::string& to, const std::string& ciphertext,
                                        const std::string& client_msg_id,
                                        std::uint32_t to_device) {
  wire::ClientFrame f;
  auto* s = f.mutable_send();
  s->set_client_msg_id(client_msg_id.empty() ? randomId() : client_msg_id);
  s->set_recipient(to);
  auto* m = s->add_messages();
  m->set_device_id(to_device);
  m->set_ciphertext(ciphertext);
  return f;
}

std::unique_ptr<TestClient> TestClient::registered(const QUrl& url, const std::string& name) {
  auto c = std::make_unique<TestClient>(name);
  if (!c->connect(url)) return nullptr;
  auto r = c->registerAccount();
  if (!r || !r->has_registered()) return nullptr;
  return c;
}

std::optional<wire::ServerFrame> TestClient::send(const std::string& to,
                                                  const std::string& ciphertext,
                                                  const std::string& client_msg_id,
                                                  std::uint32_t to_device) {
  return request(sendFrame(to, ciphertext, client_msg_id, to_device));
}

void TestClient::ack(std::uint64_t up_to) {
  wire::ClientFrame f;
  f.mutable_ack()->set_up_to_inbox_seq(up_to);
  post(f);
}

std::string TestClient::randomId() {
  std::string id(16, '\0');
  randombytes_buf(id.data(), id.size());
  return id;
}

}  // namespace parley::test
