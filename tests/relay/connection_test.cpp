// How a connection reads: frames pipelined in one TCP segment are all answered (before and
// after login, across Beast's read buffer), a parked connection wakes for a client frame and
// for a push, a resting one (its WebSocket stream dropped) for WebSocket pings, fragments and
// a close, and liveness: a peer that answers pings stays, a silent one is dropped. Pings
// answered while queued frames go out in gathered writes come between frames.
#include <QtTest>

#include <set>
#include <utility>

#include "raw_login.hpp"
#include "raw_ws_client.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {

constexpr int kIdleTimeoutMs = 2000;

// A Ping request padded with an unknown field of `pad` bytes (protobuf skips it), so frames
// of any size can be pipelined and each still gets exactly one Pong.
QByteArray paddedPing(std::uint64_t request_id, int pad) {
  wire::ClientFrame f;
  f.set_request_id(request_id);
  f.mutable_ping();
  auto bytes = encodeClientFrame(f);
  if (pad > 0) {
    bytes.append(static_cast<char>(0xC2));  // field 1000, length-delimited
    bytes.append(static_cast<char>(0x3E));
    for (auto n = static_cast<unsigned>(pad); ; n >>= 7) {
      bytes.append(static_cast<char>((n & 0x7F) | (n >= 0x80 ? 0x80 : 0)));
      if (n < 0x80) break;
    }
    bytes.append(QByteArray(pad, 'p'));
  }
  return bytes;
}

// Reads messages until every id in `ids` has been answered (in any order) with `ok`.
bool allAnswered(RawWsClient& raw, std::set<std::uint64_t> ids,
                 const std::function<bool(const wire::ServerFrame&)>& ok) {
  while (!ids.empty()) {
    auto r = decodeServerFrame(raw.readMessage(5000));
    if (!r) {
      qWarning("%zu request(s) unanswered", ids.size());
      return false;
    }
    if (r->request_id() == 0) continue;  // a push
    if (ids.erase(r->request_id()) != 1 || !ok(*r)) return false;
  }
  return true;
}

bool isPong(const wire::ServerFrame& f) { return f.has_pong(); }

// A user registered as `name`, then logged in again over a raw WebSocket (its TestClient
// gone); nullptr if any step failed.
std::unique_ptr<RawWsClient> rawSession(const QUrl& url, const std::string& name) {
  auto owner = TestClient::registered(url, name);
  if (!owner) return nullptr;
  owner->disconnect();
  auto raw = std::make_unique<RawWsClient>();
  if (!raw->open(url) || !rawLogin(*raw, *owner)) return nullptr;
  return raw;
}

// Frames of mixed sizes in one write: some end inside Beast's 1,536-byte read buffer, some
// cross it, some span several reads.
QByteArray pingBurst(std::uint64_t first_id, std::set<std::uint64_t>& ids) {
  const int pads[] = {0, 10, 1500, 3, 700, 2000, 0, 1520, 5, 40000, 1};
  QByteArray burst;
  for (std::size_t i = 0; i < std::size(pads); ++i) {
    burst += RawWsClient::encodeFrame(paddedPing(first_id + i, pads[i]));
    ids.insert(first_id + i);
  }
  return burst;
}

}  // namespace

class ConnectionTest : public QObject {
  Q_OBJECT
  RelayProcess relay_{{"--idle-timeout", QString::number(kIdleTimeoutMs / 1000)}};

 private slots:
  void initTestCase() { QVERIFY(relay_.start()); }
  // Every park's wait (and every task's post) on the shared relay, including waits started
  // again from inside their handler when only pongs had arrived, fit the memory kept for it.
  void cleanupTestCase() { QCOMPARE(metric(relay_, "parley_handler_memory_fallbacks_total"), 0.0); }

  void pipelinedFramesBeforeLoginAreAllAnswered() {
    RawWsClient raw;
    QVERIFY(raw.open(relay_.url()));
    std::set<std::uint64_t> ids;
    QVERIFY(raw.sendInOneWrite(pingBurst(1, ids)));
    QVERIFY(allAnswered(raw, ids, isPong));
    // Two tiny frames in one segment: both fit Beast's buffer at once, so the second is
    // already read from the socket when the first is answered.
    ids.clear();
    QVERIFY(raw.sendInOneWrite(RawWsClient::encodeFrame(paddedPing(100, 0)) +
                               RawWsClient::encodeFrame(paddedPing(101, 0))));
    QVERIFY(allAnswered(raw, {100, 101}, isPong));
  }

  void pipelinedLoginAndFramesAreAllAnswered() {
    auto owner = TestClient::registered(relay_.url(), "pipe-login");
    QVERIFY(owner);
    owner->disconnect();
    RawWsClient raw;
    QVERIFY(raw.open(relay_.url()));
    const auto login = signedLogin(raw, *owner, 2);
    QVERIFY(login);
    // The login (answered after a store job) and pings behind it, in one segment.
    std::set<std::uint64_t> ids;
    QVERIFY(raw.sendInOneWrite(RawWsClient::encodeFrame(encodeClientFrame(*login)) +
                               pingBurst(10, ids)));
    bool logged_in = false;
    ids.insert(2);
    QVERIFY(allAnswered(raw, ids, [&](const wire::ServerFrame& r) {
      if (r.request_id() == 2) return logged_in = r.has_logged_in();
      return r.has_pong();
    }));
    QVERIFY(logged_in);
  }

  void pipelinedFramesAfterLoginAreAllAnswered() {
    auto session = rawSession(relay_.url(), "pipe-after");
    QVERIFY(session);
    auto& raw = *session;
    QTest::qWait(300);  // parked by now
    std::set<std::uint64_t> ids;
    QVERIFY(raw.sendInOneWrite(pingBurst(20, ids)));
    QVERIFY(allAnswered(raw, ids, isPong));
    QTest::qWait(300);
    QVERIFY(raw.sendInOneWrite(RawWsClient::encodeFrame(paddedPing(50, 0)) +
                               RawWsClient::encodeFrame(paddedPing(51, 0)) +
                               RawWsClient::encodeFrame(paddedPing(52, 3))));
    QVERIFY(allAnswered(raw, {50, 51, 52}, isPong));
  }

  void parkedConnectionWakesForAClientFrame() {
    auto c = TestClient::registered(relay_.url(), "wake-frame");
    QVERIFY(c);
    QTest::qWait(500);
    wire::ClientFrame f;
    f.mutable_ping();
    auto r = c->request(f);
    QVERIFY(r && r->has_pong());
  }

  void parkedConnectionWakesForAPush() {
    auto alice = TestClient::registered(relay_.url(), "wake-alice");
    auto bob = TestClient::registered(relay_.url(), "wake-bob");
    QVERIFY(alice && bob);
    QTest::qWait(500);  // both parked
    auto ack = alice->send("wake-bob", "while you were parked");
    QVERIFY(ack && ack->has_send_ack());
    auto d = bob->waitDeliver();
    QVERIFY(d);
    QCOMPARE(d->ciphertext(), std::string("while you were parked"));
    bob->ack(d->inbox_seq());
    // And the push did not disturb bob's own reading.
    wire::ClientFrame f;
    f.mutable_ping();
    auto r = bob->request(f);
    QVERIFY(r && r->has_pong());
  }

  // Parked with nothing to write, a connection rests: it drops its WebSocket stream and makes
  // a new one for whatever comes next. A ping, a message in fragments and a close each
  // arrive at a resting connection (on a relay of its own, so the gauge counts only it).
  // None of its parks allocated its wait.
  void restingConnectionAnswersPingsFragmentsAndClose() {
    RelayProcess relay;
    QVERIFY(relay.start());
    auto session = rawSession(relay.url(), "resting");
    QVERIFY(session);
    auto& raw = *session;
    auto resting = [&relay] { return metric(relay, "parley_resting_connections"); };
    auto restsAgain = [&] { return spinUntil([&] { return resting() == 1; }, 3000); };
    auto nextControl = [&raw]() -> std::optional<RawWsClient::Frame> {
      for (;;) {
        auto f = raw.readFrame(3000);
        if (!f || f->opcode != 2) return f;  // skips SyncComplete and other pushes
      }
    };
    auto request = [](std::uint64_t id) {
      wire::ClientFrame f;
      f.set_request_id(id);
      f.mutable_ping();
      return encodeClientFrame(f);
    };

    QVERIFY(restsAgain());
    raw.sendFrame("are you there?", 9);
    auto pong = nextControl();
    QVERIFY(pong);
    QCOMPARE(pong->opcode, 10);
    QCOMPARE(pong->payload, QByteArray("are you there?"));
    // Beast answered inside a read that waits for a message: give it one.
    raw.sendFrame(request(69));
    QVERIFY(allAnswered(raw, {69}, isPong));

    // A message in fragments with a pause inside: awake (mid-message) until the last one.
    QVERIFY(restsAgain());
    const auto bytes = request(70);
    raw.sendFrame(bytes.left(2), 2, false);
    QVERIFY(spinUntil([&] { return resting() == 0; }, 3000));
    QTest::qWait(200);
    QCOMPARE(resting(), 0.0);
    raw.sendFrame(bytes.mid(2), 0, true);
    QVERIFY(allAnswered(raw, {70}, isPong));

    QVERIFY(restsAgain());
    raw.sendFrame(QByteArray("\x03\xe8" "bye", 5), 8);  // close, 1000 (normal)
    auto close = nextControl();
    QVERIFY(close);
    QCOMPARE(close->opcode, 8);
    QCOMPARE(close->payload.left(2), QByteArray("\x03\xe8", 2));
    QVERIFY(raw.waitDisconnected(3000));
    QVERIFY(spinUntil([&] { return resting() == 0; }, 3000));
    // Every park's wait (and every task's post) was built in the memory kept for it.
    QCOMPARE(metric(relay, "parley_handler_memory_fallbacks_total"), 0.0);
  }

  // Queued frames leave in gathered socket writes the connection frames itself; a pong
  // Beast answers from inside a read must wait for such a write, not cut into it. A reader
  // with a small receive buffer keeps the writes half done while it pings.
  void pingsDuringAGatheredReplayAreAnsweredBetweenFrames() {
    auto alice = TestClient::registered(relay_.url(), "gather-alice");
    auto bob = TestClient::registered(relay_.url(), "gather-bob");
    QVERIFY(alice && bob);
    bob->disconnect();
    // More than the relay's socket send buffer can take (up to 4 MiB), so writes stay
    // half done while the reader drains its 8 KiB.
    constexpr int kEntries = 100;
    const std::string filler(100000, 'g');
    for (int i = 0; i < kEntries; ++i) {
      auto ack = alice->send("gather-bob", std::to_string(i) + ":" + filler);
      QVERIFY(ack && ack->has_send_ack());
    }
    RawWsClient raw;
    QVERIFY(raw.open(relay_.url(), "parley.v1", 8192));
    QVERIFY(rawLogin(raw, *bob));

    int delivered = 0, pongs = 0, pings = 0;
    QByteArray message;  // Beast's own writes split a big message into frames
    QElapsedTimer t;
    t.start();
    while ((delivered < kEntries || pongs < pings) && t.elapsed() < 20000) {
      if (pings < 40 && delivered >= pings * 2) {  // pings spread over the replay
        raw.sendFrame(QByteArray("p") + QByteArray::number(pings), 9);
        ++pings;
      }
      auto frame = raw.readFrame(5000);
      QVERIFY2(frame, qPrintable(QString("stalled: %1 delivered, %2 of %3 pongs")
                                     .arg(delivered).arg(pongs).arg(pings)));
      if (frame->opcode == 10) {
        QCOMPARE(frame->payload, QByteArray("p") + QByteArray::number(pongs));
        ++pongs;
        continue;
      }
      if (frame->opcode == 9) {  // the relay's liveness ping, on a slow run
        raw.sendFrame(frame->payload, 10);
        continue;
      }
      QCOMPARE(frame->opcode, message.isEmpty() ? 2 : 0);
      message += frame->payload;
      if (!frame->fin) continue;
      auto f = decodeServerFrame(std::exchange(message, {}));
      QVERIFY(f);
      if (!f->has_deliver()) continue;  // SyncComplete
      const auto& body = f->deliver().ciphertext();
      QCOMPARE(body.substr(0, body.find(':')), std::to_string(delivered));
      ++delivered;
      if (delivered % 20 == 0) {
        wire::ClientFrame ack;
        ack.mutable_ack()->set_up_to_inbox_seq(f->deliver().inbox_seq());
        raw.sendFrame(encodeClientFrame(ack));
      }
    }
    QCOMPARE(delivered, kEntries);
    QCOMPARE(pings, 40);
    QCOMPARE(pongs, pings);
  }

  void peerAnsweringPingsOutlastsTheIdleTimeout() {
    // QWebSocket answers pings by itself while the event loop runs.
    auto c = TestClient::registered(relay_.url(), "live-qt");
    QVERIFY(c);
    QTest::qWait(2 * kIdleTimeoutMs + 500);
    QVERIFY(c->connected());
    wire::ClientFrame f;
    f.mutable_ping();
    auto r = c->request(f);
    QVERIFY(r && r->has_pong());
  }

  void rawPongsKeepAParkedConnectionInStep() {
    // Pongs sent while parked are taken off the socket without a WebSocket read; the
    // connection must stay open and keep parsing what comes after them.
    auto session = rawSession(relay_.url(), "live-raw");
    QVERIFY(session);
    auto& raw = *session;
    QElapsedTimer t;
    t.start();
    int pings = 0;
    while (t.elapsed() < 2 * kIdleTimeoutMs + 500) {
      auto frame = raw.readFrame(200);
      if (!frame || frame->opcode == 2) continue;  // SyncComplete after the login
      QCOMPARE(frame->opcode, 9);
      ++pings;
      raw.sendFrame(frame->payload, 10);
    }
    QVERIFY(pings >= 2);
    std::set<std::uint64_t> ids;
    QVERIFY(raw.sendInOneWrite(pingBurst(60, ids)));
    QVERIFY(allAnswered(raw, ids, isPong));
  }

  void silentPeerIsDroppedAfterTheIdleTimeout() {
    auto session = rawSession(relay_.url(), "silent");
    QVERIFY(session);
    auto& raw = *session;
    QElapsedTimer t;
    t.start();
    bool pinged = false;
    while (raw.socket().state() == QAbstractSocket::ConnectedState && t.elapsed() < 8000) {
      auto frame = raw.readFrame(100);
      if (frame && frame->opcode == 9) pinged = true;  // and never answered
    }
    QVERIFY(raw.waitDisconnected(100));
    QVERIFY(pinged);
    // Dropped for silence, not before: the idle timeout runs from the last frame received.
    QVERIFY2(t.elapsed() >= kIdleTimeoutMs - 100, qPrintable(QString::number(t.elapsed())));
  }
};

QTEST_GUILESS_MAIN(ConnectionTest)
#include "connection_test.moc"
