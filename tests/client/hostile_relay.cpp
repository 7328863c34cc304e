#include "hostile_relay.hpp"

#include <QHostAddress>
#include <QNetworkProxy>
#include <QWebSocketHandshakeOptions>

namespace parley::test {

namespace {

// The response and push bodies of ServerFrame's oneof (common/proto/parley.proto).
const std::vector<std::uint32_t> kServerBodyTags{10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                                                 21, 22, 23, 24, 25, 26, 27, 30, 31};

}  // namespace

HostileRelay::HostileRelay(QUrl relay, std::uint64_t seed)
    : relay_(std::move(relay)),
      mutator_(seed),
      server_(QStringLiteral("hostile-relay"), QWebSocketServer::NonSecureMode) {
  server_.setSupportedSubprotocols({QStringLiteral("parley.v1")});
  connect(&server_, &QWebSocketServer::newConnection, this, &HostileRelay::onConnection);
}

HostileRelay::~HostileRelay() {
  // close() takes each from the list: an abort reports the disconnection at once.
  while (!pipes_.isEmpty()) close(pipes_.front());
}

bool HostileRelay::listen() { return server_.listen(QHostAddress::LocalHost, 0); }

QUrl HostileRelay::url() const {
  return QUrl(QStringLiteral("ws://127.0.0.1:%1").arg(server_.serverPort()));
}

void HostileRelay::onConnection() {
  while (auto* client = server_.nextPendingConnection()) {
    auto* pipe = new Pipe;
    pipes_ << pipe;
    pipe->client = client;
    client->setParent(this);
    auto* relay = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    relay->setProxy(QNetworkProxy::NoProxy);
    pipe->relay = relay;
    connect(client, &QWebSocket::binaryMessageReceived, this, [pipe](const QByteArray& bytes) {
      if (pipe->relay && pipe->relay->state() == QAbstractSocket::ConnectedState)
        pipe->relay->sendBinaryMessage(bytes);
      else
        pipe->waiting << bytes;
    });
    connect(relay, &QWebSocket::connected, this, [pipe] {
      for (const auto& bytes : pipe->waiting) pipe->relay->sendBinaryMessage(bytes);
      pipe->waiting.clear();
    });
    connect(relay, &QWebSocket::binaryMessageReceived, this,
            [this, pipe](const QByteArray& bytes) { fromRelay(pipe, bytes); });
    connect(client, &QWebSocket::disconnected, this, [this, pipe] { close(pipe); });
    connect(relay, &QWebSocket::disconnected, this, [this, pipe] { close(pipe); });
    QWebSocketHandshakeOptions options;
    options.setSubprotocols({QStringLiteral("parley.v1")});
    relay->open(QNetworkRequest(relay_), options);
  }
}

void HostileRelay::fromRelay(Pipe* pipe, const QByteArray& bytes) {
  if (!pipe->client) return;
  if (swallow && swallow(bytes)) {
    ++swallowed;
    return;
  }
  const auto roll = static_cast<int>(mutator_.rng()() % 100);
  if (roll < mutate_percent) {
    ++mutated;
    const auto out = mutator_.mutate(bytes.toStdString(), kServerBodyTags);
    pipe->client->sendBinaryMessage(QByteArray(out.data(), static_cast<qsizetype>(out.size())));
    return;
  }
  ++passed;
  pipe->client->sendBinaryMessage(bytes);
  if (roll < mutate_percent + duplicate_percent) {
    ++duplicated;
    pipe->client->sendBinaryMessage(bytes);
  }
}

// Either side gone: the other goes too, as a relay's connection would.
void HostileRelay::close(Pipe* pipe) {
  if (!pipes_.contains(pipe)) return;
  pipes_.removeOne(pipe);
  if (pipe->client) {
    pipe->client->disconnect(this);
    pipe->client->abort();
    pipe->client->deleteLater();
  }
  if (pipe->relay) {
    pipe->relay->disconnect(this);
    pipe->relay->abort();
    pipe->relay->deleteLater();
  }
  delete pipe;
}

}  // namespace parley::test
