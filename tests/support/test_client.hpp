#pragma once
// A real parley.v1 client for tests: a QWebSocket, an Ed25519 identity made with libsodium,
// and blocking helpers that spin the event loop until the expected frame arrives.
#include <QByteArray>
#include <QList>
#include <QPair>
#include <QUrl>
#include <QSslConfiguration>
#include <QWebSocket>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "parley.pb.h"

namespace parley::test {

struct Identity {
  std::string public_key;  // 32 bytes
  std::string secret_key;  // 64 bytes
  static Identity generate();
  std::string sign(const std::string& message) const;
};

class TestClient {
 public:
  explicit TestClient(std::string username, std::uint32_t device = 1,
                      Identity identity = Identity::generate());
  ~TestClient();

  // Used by the next connect() (wss:// URLs).
  void setSslConfiguration(const QSslConfiguration& c) { ssl_ = c; }
  // Sent with the next connect()'s upgrade request, e.g. the X-Forwarded-For a proxy adds.
  void setHeader(const QByteArray& name, const QByteArray& value) { headers_.append({name, value}); }
  // Opens the socket offering parley.v1 (or `subprotocol`); false on failure or timeout.
  bool connect(const QUrl& url, const QString& subprotocol = "parley.v1");
  void disconnect();
  bool connected() const;
  // Waits until the relay closes the socket; returns the close code (or -1 on timeout).
  int waitClosed(int timeout_ms = 5000);

  // Sends a frame with a fresh request id and waits for the response carrying it.
  std::optional<wire::ServerFrame> request(wire::ClientFrame frame, int timeout_ms = 5000);
  // Waits for the response to a request sent earlier with post().
  std::optional<wire::ServerFrame> waitResponse(std::uint64_t request_id, int timeout_ms = 5000);
  // Sends without waiting (Ack, Typing, or raw pipelining).
  std::uint64_t post(wire::ClientFrame frame);
  void sendRaw(const QByteArray& bytes);
  void sendText(const QString& text);

  // Waits for a pushed frame (request_id 0) matching `pred`; earlier non-matching pushes stay
  // queued for later waits.
  std::optional<wire::ServerFrame> waitPush(const std::function<bool(const wire::ServerFrame&)>& pred,
                                            int timeout_ms = 5000);
  std::optional<wire::Deliver> waitDeliver(int timeout_ms = 5000);
  // The marks of the next DeliveryMarks push; empty on timeout.
  std::vector<wire::DeliveryMark> waitMarks(int timeout_ms = 5000);
  std::optional<wire::Error> waitError(int timeout_ms = 5000);
  // Frames received but not yet consumed.
  std::size_t pending() const { return pushes_.size(); }

  // Protocol steps. Each returns the relay's response frame.
  std::optional<wire::ServerFrame> registerAccount();  // GetChallenge + Register
  std::optional<wire::ServerFrame> login(std::uint64_t last_acked = 0,
                                         std::uint64_t last_mark_version = 0);
  std::optional<wire::ServerFrame> send(const std::string& to, const std::string& ciphertext,
                                        const std::string& client_msg_id = {},
                                        std::uint32_t to_device = 1);
  void ack(std::uint64_t up_to);

  static std::string randomId();  // 16 random bytes
  // A Send of one ciphertext to one device, with a fresh client_msg_id unless given.
  static wire::ClientFrame sendFrame(const std::string& to, const std::string& ciphertext,
                                     const std::string& client_msg_id = {},
                                     std::uint32_t to_device = 1);
  // An UploadPrekeys of signed prekey `signed_prekey` (id 9, signed by this client's identity)
  // and one-time prekeys 1..`one_time_count`.
  wire::ClientFrame prekeyUploadFrame(const std::string& signed_prekey, int one_time_count) const;
  // Connects to `url` and registers `name`; null on any failure.
  static std::unique_ptr<TestClient> registered(const QUrl& url, const std::string& name);

  const std::string& username() const { return username_; }
  std::uint32_t device() const { return device_; }
  const Identity& identity() const { return identity_; }
  QWebSocket& socket() { return *socket_; }

 private:
  std::optional<wire::Challenge> challenge();

  std::string username_;
  std::uint32_t device_;
  Identity identity_;
  std::unique_ptr<QWebSocket> socket_;
  std::deque<wire::ServerFrame> responses_;
  std::deque<wire::ServerFrame> pushes_;
  std::uint64_t next_id_ = 1;
  std::optional<QSslConfiguration> ssl_;
  QList<QPair<QByteArray, QByteArray>> headers_;
  int close_code_ = -1;
  bool closed_ = false;
};

// Runs the event loop until `done` or the timeout; true if done.
bool spinUntil(const std::function<bool()>& done, int timeout_ms);

}  // namespace parley::test
