// Every kind of bad input gets its typed error, close code or HTTP status, and the relay
// keeps serving everyone else. Also: slow readers, idle and half-open connections, rate
// limits.
#include <QtTest>

#include "raw_http.hpp"
#include "raw_login.hpp"
#include "raw_ws_client.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {

std::unique_ptr<TestClient> online(RelayProcess& relay, const std::string& name) {
  return TestClient::registered(relay.url(), name);
}

bool stillServes(RelayProcess& relay) {
  TestClient probe("probe");
  if (!probe.connect(relay.url())) return false;
  wire::ClientFrame f;
  f.mutable_ping();
  auto r = probe.request(f);
  return r && r->has_pong();
}

}  // namespace

class BadInputTest : public QObject {
  Q_OBJECT
  RelayProcess relay_{{"--idle-timeout", "2", "--auth-timeout", "3"}};

 private slots:
  void initTestCase() { QVERIFY(relay_.start()); }

  void oversizedFrameClosesWith1009() {
    auto c = online(relay_, "big-sender");
    QVERIFY(c);
    c->sendRaw(QByteArray(300 * 1024, 'x'));
    QCOMPARE(c->waitClosed(), 1009);
    QVERIFY(stillServes(relay_));
  }

  void malformedProtobufGetsBadRequest() {
    TestClient c("garbage");
    QVERIFY(c.connect(relay_.url()));
    c.sendRaw(QByteArray("\xff\xff\xff\xff\x0f garbage", 14));
    auto e = c.waitError();
    QVERIFY(e);
    QCOMPARE(e->code(), wire::BAD_REQUEST);
    QVERIFY(c.connected());  // a bad frame is answered, not fatal
    wire::ClientFrame empty;
    auto r = c.request(empty);
    QCOMPARE(r->error().code(), wire::BAD_REQUEST);
  }

  void textFrameClosesWith1003() {
    TestClient c("texter");
    QVERIFY(c.connect(relay_.url()));
    c.sendText("hello");
    QCOMPARE(c.waitClosed(), 1003);
    QVERIFY(stillServes(relay_));
  }

  void badSendFieldsAreNamed() {
    auto alice = online(relay_, "f-alice");
    online(relay_, "f-bob");
    wire::ClientFrame f;
    auto* s = f.mutable_send();
    s->set_client_msg_id("short");
    s->set_recipient("f-bob");
    s->add_messages()->set_ciphertext("x");
    auto r = alice->request(f);
    QCOMPARE(r->error().code(), wire::BAD_REQUEST);
    QVERIFY(r->error().reason().find("client_msg_id") != std::string::npos);

    s->set_client_msg_id(TestClient::randomId());
    s->mutable_messages(0)->set_device_id(1);
    s->mutable_messages(0)->set_ciphertext(std::string(201 * 1024, 'c'));
    QCOMPARE(alice->request(f)->error().code(), wire::TOO_LARGE);

    s->mutable_messages(0)->set_ciphertext("");
    QCOMPARE(alice->request(f)->error().code(), wire::BAD_REQUEST);

    s->mutable_messages(0)->set_ciphertext("ok");
    s->add_messages()->set_device_id(1);
    s->mutable_messages(1)->set_ciphertext("dup");
    r = alice->request(f);
    QCOMPARE(r->error().code(), wire::BAD_REQUEST);
    QVERIFY(r->error().reason().find("twice") != std::string::npos);

    // The first fault in message order is the one named.
    auto* big = s->add_messages();
    big->set_device_id(2);
    big->set_ciphertext(std::string(201 * 1024, 'c'));
    r = alice->request(f);
    QCOMPARE(r->error().code(), wire::BAD_REQUEST);
    QVERIFY(r->error().reason().find("twice") != std::string::npos);
    s->mutable_messages(1)->set_device_id(3);
    QCOMPARE(alice->request(f)->error().code(), wire::TOO_LARGE);
  }

  // An invalid name is echoed in the error, cut to 64 bytes on a character boundary: half a
  // character would make the reply a frame the client cannot parse.
  void invalidNameIsEchoedWholeCharactersOnly() {
    auto alice = online(relay_, "u-alice");
    std::string name = "a";
    for (int i = 0; i < 40; ++i) name += "\xC3\xA4";  // ä: byte 64 falls inside one
    wire::ClientFrame f;
    f.mutable_subscribe_presence()->add_usernames(name);
    auto r = alice->request(f);
    QVERIFY2(r && r->has_error(), "no parseable answer");
    QCOMPARE(r->error().code(), wire::INVALID_USERNAME);
    QCOMPARE(r->error().reason(), "invalid username: " + name.substr(0, 63));
  }

  void ackBeyondDeliveredIsRefused() {
    auto alice = online(relay_, "ack-alice");
    auto bob = online(relay_, "ack-bob");
    alice->send("ack-bob", "1");
    QVERIFY(bob->waitDeliver());
    wire::ClientFrame f;
    f.set_request_id(99);
    f.mutable_ack()->set_up_to_inbox_seq(1000);
    auto r = bob->request(f);
    QCOMPARE(r->error().code(), wire::INVALID_ACK);
    // Nothing was deleted: the entry comes again on the next login.
    bob->disconnect();
    QVERIFY(bob->connect(relay_.url()));
    QVERIFY(bob->login()->has_logged_in());
    QCOMPARE(bob->waitDeliver()->inbox_seq(), 1u);
    // Login may not claim more than the inbox ever held either.
    bob->disconnect();
    QVERIFY(bob->connect(relay_.url()));
    QCOMPARE(bob->login(5000)->error().code(), wire::INVALID_ACK);
  }

  void loggedOutConnectionIsClosedAfterAuthTimeout() {
    TestClient c("lurker");
    QVERIFY(c.connect(relay_.url()));
    QCOMPARE(c.waitClosed(6000), 4003);
  }

  void halfOpenConnectionIsReaped() {
    auto owner = online(relay_, "half-open");
    owner->disconnect();
    RawWsClient raw;
    QVERIFY(raw.open(relay_.url()));
    QVERIFY(rawLogin(raw, *owner));
    // It never answers the relay's pings: gone within the 2 s idle timeout (plus slack).
    QVERIFY(raw.waitDisconnected(6000));
  }

  void slowReaderIsCutOffWithoutLosingMessages() {
    // Idle pings are slower than the stall timeout here, so it is the full send queue that
    // cuts the reader off.
    RelayProcess relay({"--send-queue-bytes", "1048576", "--write-stall-timeout", "2"});
    QVERIFY(relay.start());
    auto alice = online(relay, "slow-alice");
    auto bob = online(relay, "slow-bob");
    bob->disconnect();
    RawWsClient raw;
    QVERIFY(raw.open(relay.url(), "parley.v1", 8192));
    QVERIFY(rawLogin(raw, *bob));
    raw.socket().setReadBufferSize(4096);  // and never read again

    QElapsedTimer timer;
    timer.start();
    const int kCount = 100;
    const std::string payload(100 * 1024, 'p');
    for (int i = 0; i < kCount; ++i) {
      auto ack = alice->send("slow-bob", std::to_string(i) + ":" + payload);
      QVERIFY(ack && ack->has_send_ack());
    }
    qInfo("%d sends of 100 KiB took %lld ms", kCount, timer.elapsed());
    QTRY_VERIFY_WITH_TIMEOUT(relay.httpGet("/metrics").contains(
                                 "parley_slow_consumers_dropped_total 1"),
                             10000);
    QVERIFY(raw.waitDisconnected(5000));

    // Reconnected with a reader that keeps up: every message, in order.
    QVERIFY(bob->connect(relay.url()));
    QVERIFY(bob->login()->has_logged_in());
    for (int i = 0; i < kCount; ++i) {
      auto d = bob->waitDeliver();
      QVERIFY2(d, qPrintable(QString("message %1 missing").arg(i)));
      QCOMPARE(d->ciphertext().substr(0, d->ciphertext().find(':')), std::to_string(i));
      if ((i + 1) % 100 == 0) bob->ack(d->inbox_seq());
    }
  }

  void rateLimitAnswersWithRetryAfter() {
    RelayProcess strict({"--rate", "5", "--rate-burst", "5"});
    QVERIFY(strict.start());
    TestClient c("rate");
    QVERIFY(c.connect(strict.url()));
    wire::ClientFrame ping;
    ping.mutable_ping();
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(c.post(ping));
    int pongs = 0, limited = 0;
    for (auto id : ids) {
      auto r = c.waitResponse(id);  // every request is answered, one way or the other
      QVERIFY(r);
      if (r->has_pong()) ++pongs;
      if (r->has_error()) {
        QCOMPARE(r->error().code(), wire::RATE_LIMITED);
        QVERIFY(r->error().retry_after_ms() > 0);
        ++limited;
      }
    }
    QVERIFY(pongs >= 5 && limited >= 10);
    QVERIFY(c.connected());
    QTest::qWait(1200);  // tokens come back
    QVERIFY(c.request(ping)->has_pong());
  }

  // HTTP the relay cannot serve is answered, not dropped: a body where none is taken (from
  // the header alone, the body drained after the answer so a client still sending it reads
  // it), a header over the limit, bytes that are not HTTP.
  void unservableHttpIsAnswered() {
    const QByteArray big(4 << 20, 'b');
    auto r = httpRequest(relay_.url(), {"POST", "/healthz", {}, big});
    QCOMPARE(r.status, 405);
    QCOMPARE(r.header("Allow"), QByteArray("GET, HEAD"));
    r = httpRequest(relay_.url(), {"GET", "/metrics", {}, big});
    QCOMPARE(r.status, 400);
    QVERIFY(r.body.contains("no body"));
    r = httpRequest(relay_.url(), {"GET", "/healthz", {{"X-Pad", QByteArray(9000, 'p')}}, {}});
    QCOMPARE(r.status, 431);
    r = httpRequest(relay_.url(), {"GE\x01T", "/healthz", {}, {}});
    QCOMPARE(r.status, 400);
    QVERIFY(r.body.startsWith("malformed HTTP request"));
    QVERIFY(stillServes(relay_));
  }
};

QTEST_GUILESS_MAIN(BadInputTest)
#include "bad_input_test.moc"
