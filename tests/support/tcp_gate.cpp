#include "tcp_gate.hpp"

#include <QHostAddress>
#include <QPointer>
#include <QTcpSocket>

#include <algorithm>
#include <utility>

namespace parley::test {

// One client connection and its connection to the relay. Each socket deletes itself once
// closed; the pipe goes with the client's.
struct TcpGate::Pipe : QObject {
  QPointer<QTcpSocket> client;
  QPointer<QTcpSocket> relay;
  // The client's bytes are read request by request (HTTP/1.1 on a kept-alive connection: a
  // HEAD, then the PATCH that continues an upload) so that an upload is found wherever it
  // starts; a WebSocket's bytes, after its upgrade request, pass as they come.
  QByteArray pending;     // read, not yet passed on
  QByteArray head;        // the request's head so far
  bool raw = false;       // past an upgrade: no more requests to find
  qint64 body_left = 0;   // bytes of the current request's body still to come
  qint64 passes = -1;     // of them, passed before holding; -1: all
};

TcpGate::TcpGate(QUrl relay) : relay_(std::move(relay)) {
  connect(&server_, &QTcpServer::newConnection, this, &TcpGate::accept);
}

TcpGate::~TcpGate() {
  // The client sockets go with the server, after this object's members: their handlers
  // must not run into a half-destroyed gate.
  for (auto* client : server_.findChildren<QTcpSocket*>()) client->disconnect();
  held_ = nullptr;
}

bool TcpGate::listen() { return server_.listen(QHostAddress::LocalHost, 0); }

QUrl TcpGate::url() const {
  QUrl u = relay_;
  u.setPort(server_.serverPort());
  return u;
}

void TcpGate::holdNextUpload(qint64 bytes) { hold_at_ = bytes; }

void TcpGate::dropHeld() {
  auto* pipe = std::exchange(held_, nullptr);
  if (!pipe) return;
  if (pipe->relay) pipe->relay->disconnectFromHost();  // after the bytes passed
  if (pipe->client) pipe->client->abort();
}

void TcpGate::accept() {
  while (auto* client = server_.nextPendingConnection()) {
    auto* relay = new QTcpSocket(this);
    auto* pipe = new Pipe;
    pipe->setParent(client);
    pipe->client = client;
    pipe->relay = relay;
    // Bounded, so that bytes not read stay in the kernel and stall the client's writes.
    client->setReadBufferSize(64 * 1024);
    relay->connectToHost(QHostAddress::LocalHost, static_cast<quint16>(relay_.port()));
    // Each handler is tied to an object that outlives what it touches (the pipe goes with the
    // client socket) and reaches the other socket through a QPointer: either side may be gone.
    connect(client, &QTcpSocket::readyRead, pipe, [this, pipe] { fromClient(pipe); });
    connect(relay, &QTcpSocket::readyRead, pipe, [pipe] {
      if (pipe->client && pipe->relay) pipe->client->write(pipe->relay->readAll());
    });
    connect(client, &QTcpSocket::disconnected, pipe, [this, pipe] {
      if (held_ == pipe) held_ = nullptr;
      if (pipe->relay) pipe->relay->disconnectFromHost();  // after what was passed on
      pipe->client->deleteLater();
    });
    connect(relay, &QTcpSocket::disconnected, relay, [client = QPointer(client), relay] {
      if (client) client->disconnectFromHost();
      relay->deleteLater();
    });
    connect(relay, &QTcpSocket::errorOccurred, relay,
            [client = QPointer(client), relay](QAbstractSocket::SocketError) {
              if (relay->state() == QAbstractSocket::ConnectedState) return;
              // The relay is gone or refused us (killed, restarting): so is the client's
              // connection, as it would be without the gate.
              if (client) client->abort();
              relay->deleteLater();
            });
    fromClient(pipe);
  }
}

void TcpGate::fromClient(Pipe* pipe) {
  if (!pipe->relay || held_ == pipe) return;  // held: read no more, the client's writes stall
  pipe->pending += pipe->client->readAll();
  while (!pipe->pending.isEmpty()) {
    if (pipe->raw) {
      pipe->relay->write(std::exchange(pipe->pending, {}));
      return;
    }
    if (pipe->body_left == 0) {
      pipe->head += std::exchange(pipe->pending, {});
      const auto end = pipe->head.indexOf("\r\n\r\n");
      if (end < 0) return;
      pipe->pending = pipe->head.mid(end + 4);
      pipe->head.truncate(end + 4);
      const auto lower = pipe->head.toLower();
      constexpr QByteArrayView kLength("\r\ncontent-length:");
      const auto length_at = lower.indexOf(kLength);
      if (length_at >= 0) {
        const auto from = length_at + kLength.size();
        pipe->body_left = lower.mid(from, lower.indexOf("\r\n", from) - from).trimmed().toLongLong();
      }
      pipe->raw = lower.contains("\r\nupgrade:");
      if (hold_at_ >= 0 && pipe->head.startsWith("PATCH ") && pipe->body_left > 0)
        pipe->passes = std::exchange(hold_at_, -1);
      pipe->relay->write(std::exchange(pipe->head, {}));
      continue;
    }
    auto take = std::min<qint64>(pipe->pending.size(), pipe->body_left);
    if (pipe->passes >= 0) take = std::min(take, pipe->passes);
    pipe->relay->write(pipe->pending.left(take));
    pipe->pending.remove(0, take);
    pipe->body_left -= take;
    if (pipe->passes < 0) continue;
    pipe->passes -= take;
    if (pipe->body_left == 0) {
      pipe->passes = -1;  // the whole body fitted: nothing to hold
    } else if (pipe->passes == 0) {
      held_ = pipe;
      return;
    }
  }
}

}  // namespace parley::test
