#pragma once
// A stand-in relay for client tests that need to choose what the relay says and when: it
// speaks just enough parley.v1 for a Messenger to log in (no signature is checked), numbers
// Sends like the relay, can hold their SendAcks back, records what the client sent and pushes
// any frame the test builds. Everything the real relay decides (inboxes, marks) is the test's.
//
// Thread: the test's (main) thread; one client connection at a time.
#include <QList>
#include <QObject>
#include <QPointer>
#include <QUrl>
#include <QWebSocket>
#include <QWebSocketServer>
#include <functional>
#include <map>
#include <optional>

#include "parley.pb.h"

namespace parley::test {

class FakeRelay : public QObject {
  Q_OBJECT
 public:
  struct Sent {
    std::uint64_t request_id = 0;
    QByteArray client_msg_id;
    QString conversation;       // the recipient, or "#" + hex of the group
    std::uint64_t conv_seq = 0;  // the number this relay gave it
    bool answered = false;
  };

  FakeRelay();
  bool listen();  // on 127.0.0.1, any free port
  QUrl url() const;
  bool connected() const { return client_ != nullptr; }

  // Every Login received, in order (its resume points).
  QList<wire::Login> logins;
  // Every cumulative Ack received.
  QList<std::uint64_t> acks;
  // Every Send and GroupSend, in order.
  QList<Sent> sends;
  // True: Sends are numbered but not answered until answerSend().
  bool hold_send_acks = false;
  // The SendAcks' server_ts_ms; 0: the current time.
  std::uint64_t send_ack_ts_ms = 0;
  // When set and it returns a frame, that answers any request but GetChallenge and Login
  // (group changes, prekey uploads, ...); otherwise the built-in answer, or UNAVAILABLE.
  std::function<std::optional<wire::ServerFrame>(const wire::ClientFrame&)> answer;
  // When set and it returns true, the request is recorded nowhere and never answered, like
  // one a relay is still working on.
  std::function<bool(const wire::ClientFrame&)> hold;
  // The same for Login: when it returns a frame, that is the answer instead of LoggedIn.
  std::function<std::optional<wire::ServerFrame>(const wire::Login&)> answer_login;
  int connections = 0;  // accepted so far

  // Answers sends[index] with its SendAck (`duplicate`: as the answer to a retry).
  void answerSend(int index, bool duplicate);
  // Sends a frame with request_id 0 to the connected client.
  void push(wire::ServerFrame frame);
  // Drops the client's connection (it reconnects by itself).
  void dropClient();

 private:
  void onConnection();
  void onFrame(const QByteArray& bytes);
  void reply(std::uint64_t request_id, wire::ServerFrame frame);

  QWebSocketServer server_;
  QPointer<QWebSocket> client_;
  std::map<QString, std::uint64_t> last_seq_;  // per conversation
};

}  // namespace parley::test
