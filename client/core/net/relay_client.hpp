#pragma once
// One authenticated WebSocket to the relay, kept alive: login, heartbeat, reconnect with
// exponential backoff and jitter, and a state the UI can show.
//
// Thread: all methods on the thread that owns the object (the socket lives there).
#include <QNetworkProxy>
#include <QObject>
#include <QTimer>
#include <QUrl>
#include <QWebSocket>
#include <functional>
#include <unordered_map>

#include "crypto/keys.hpp"
#include "parley.pb.h"

namespace parley::client {

class RelayClient : public QObject {
  Q_OBJECT
 public:
  enum class State { Offline, Connecting, Syncing, Online };
  Q_ENUM(State)

  struct Account {
    QString username;                       // folded
    std::uint32_t device = 1;
    const crypto::IdentityKeyPair* identity = nullptr;  // outlives the client
  };
  using Response = std::function<void(const wire::ServerFrame&)>;

  explicit RelayClient(QUrl url, QObject* parent = nullptr);
  ~RelayClient() override;

  void setProxy(const QNetworkProxy& proxy) { proxy_ = proxy; }
  State state() const { return state_; }

  // Where a login resumes: replay after the last inbox entry processed, and every delivery
  // mark raised after the last one processed (0: from the start).
  struct Resume {
    std::uint64_t last_acked_inbox_seq = 0;
    std::uint64_t last_mark_version = 0;
  };

  // Opens a connection and registers `account`; `done` gets Registered or an Error frame.
  // The connection then stays up as a logged-in one.
  void registerAccount(const Account& account, Response done);
  // Connects and logs in, and keeps doing so after every drop until stop().
  // `resume` is asked at each login, with the relay's id from its challenge.
  void start(const Account& account, std::function<Resume(const std::string& relay_id)> resume);
  void stop();

  // Sends a request; `done` gets the response, or a synthetic Error{UNAVAILABLE} if the
  // connection drops or nothing comes back in time.
  void request(wire::ClientFrame frame, Response done);
  void ack(std::uint64_t up_to);
  void typing(const QString& peer, bool active);

  // Pushes (request_id 0): Deliver, DeliveryMarks, SyncComplete, PresenceUpdate, TypingEvent,
  // PrekeysLow...
  std::function<void(const wire::ServerFrame&)> onPush;
  // Called after every successful login (LoggedIn or Registered).
  std::function<void(const wire::ServerFrame&)> onLoggedIn;
  // Called when a login is refused (bad signature etc.): reconnecting would not help.
  std::function<void(const wire::Error&)> onAuthFailed;
  // Called when the relay refuses the login's last_acked_inbox_seq as beyond this device's
  // inbox: its data went back (a restored backup) past where this device had got. The
  // cursor means nothing there any more, so the owner forgets it; the login is made again
  // from the start of what the relay has (entries already processed come again and are
  // dropped by message id).
  std::function<void()> onResumePastInbox;
  // Called before every frame goes out (the messenger commits its receive batch there);
  // false drops the frame, since it may name or depend on state that was not saved.
  std::function<bool()> beforeSend;

 signals:
  void stateChanged(parley::client::RelayClient::State state);

 private:
  void open();
  void onConnected();
  void onDisconnected();
  void onBinary(const QByteArray& bytes);
  void authenticate();
  void setState(State s);
  void scheduleReconnect();
  void failPending();
  void send(const wire::ClientFrame& frame);

  QUrl url_;
  QNetworkProxy proxy_{QNetworkProxy::DefaultProxy};
  QWebSocket socket_;
  State state_ = State::Offline;
  Account account_;
  std::function<Resume(const std::string& relay_id)> resume_;
  Response register_done_;
  bool running_ = false;
  bool registering_ = false;
  // The relay refused our inbox cursor: the next login sends 0, whatever resume_ says.
  bool resume_from_start_ = false;
  std::uint64_t next_id_ = 1;
  struct Pending {
    Response done;
    qint64 deadline_ms;
  };
  std::unordered_map<std::uint64_t, Pending> pending_;
  QTimer heartbeat_;
  QTimer reconnect_;
  QTimer timeouts_;
  // Opening (TCP, TLS, the WebSocket handshake) has this long: a listener that accepts and
  // never answers (another service on the port, a stuck proxy) would otherwise leave the
  // client connecting, and a registration waiting, for ever.
  QTimer connect_deadline_;
  bool connect_timed_out_ = false;
  int attempt_ = 0;
  qint64 logged_in_ms_ = 0;    // when this connection logged in (0: it did not)
  qint64 wait_at_least_ms_ = 0;  // the relay's retry_after for the next reconnect
  qint64 last_heard_ms_ = 0;
};

}  // namespace parley::client
