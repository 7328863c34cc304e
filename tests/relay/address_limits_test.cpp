// Limits per client address (gateway/client_address.hpp) and per network (an IPv4 /24, an
// IPv6 /48): connections held at once, new ones per second and accounts registered per hour. The relay sits "behind a proxy" at 127.0.0.1, trusted, so
// the tests choose each connection's address with the X-Forwarded-For header a proxy adds.
// Loopback clients are not counted.
#include <QtTest>

#include <QTcpSocket>

#include <memory>
#include <vector>

#include "raw_http.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {

std::unique_ptr<TestClient> from(const QUrl& url, const QByteArray& address,
                                 const std::string& name = "nobody") {
  auto c = std::make_unique<TestClient>(name);
  if (!address.isEmpty()) c->setHeader("X-Forwarded-For", address);
  if (!c->connect(url)) return nullptr;
  return c;
}

// The relay's answer to a WebSocket upgrade from `address`, read off the wire once it is
// complete (a refusal's body ends with a newline).
QByteArray upgradeAnswer(const QUrl& url, const QByteArray& address) {
  QTcpSocket raw;
  raw.connectToHost(url.host(), static_cast<quint16>(url.port()));
  if (!raw.waitForConnected(5000)) return {};
  raw.write("GET / HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: parley.v1\r\nX-Forwarded-For: " + address + "\r\n\r\n");
  QByteArray answer;
  (void)QTest::qWaitFor([&] {  // a partial answer is returned as it is
    answer += raw.readAll();
    const auto end = answer.indexOf("\r\n\r\n");
    return end >= 0 && (answer.startsWith("HTTP/1.1 101") || answer.endsWith("\n"));
  }, 5000);
  return answer;
}

}  // namespace

class AddressLimitsTest : public QObject {
  Q_OBJECT
  RelayProcess relay_{{"--trusted-proxy", "127.0.0.1", "--max-connections-per-address", "3",
                       "--registrations-per-address-per-hour", "2",
                       "--registrations-per-network-per-hour", "3"}};

 private slots:
  void initTestCase() { QVERIFY(relay_.start()); }

  void anAddressHoldsAtMostItsConnections() {
    std::vector<std::unique_ptr<TestClient>> held;
    for (int i = 0; i < 3; ++i) {
      held.push_back(from(relay_.url(), "203.0.113.7"));
      QVERIFY(held.back());
    }
    QVERIFY(!from(relay_.url(), "203.0.113.7"));
    QCOMPARE(metric(relay_, "parley_connections_refused_by_address_total"), 1.0);
    // The client's own entries in front of the proxy's are not read: still 203.0.113.7.
    QVERIFY(!from(relay_.url(), "198.51.100.50, 203.0.113.7"));
    // Another address, and loopback clients (not counted), are not held back.
    QVERIFY(from(relay_.url(), "203.0.113.8"));
    std::vector<std::unique_ptr<TestClient>> local;
    for (int i = 0; i < 5; ++i) {
      local.push_back(from(relay_.url(), {}));
      QVERIFY(local.back());
    }
    // A connection that ends gives its place back.
    held.back()->disconnect();
    held.pop_back();
    std::unique_ptr<TestClient> again;
    QVERIFY(QTest::qWaitFor([&] { return (again = from(relay_.url(), "203.0.113.7")) != nullptr; },
                            5000));
    QVERIFY(!from(relay_.url(), "203.0.113.7"));
  }

  void anIpv6ClientIsCountedByItsSlash64() {
    std::vector<std::unique_ptr<TestClient>> held;
    for (const char* a : {"2001:db8:1:2::1", "2001:db8:1:2::2", "[2001:db8:1:2:ffff::9]:4711"}) {
      held.push_back(from(relay_.url(), a));
      QVERIFY(held.back());
    }
    QVERIFY(!from(relay_.url(), "2001:db8:1:2::77"));
    QVERIFY(from(relay_.url(), "2001:db8:1:3::1"));
  }

  void anAddressRegistersAtMostItsAccountsPerHour() {
    std::vector<std::unique_ptr<TestClient>> registered;
    for (const char* name : {"reg-one", "reg-two"}) {
      registered.push_back(from(relay_.url(), "198.51.100.9", name));
      QVERIFY(registered.back());
      auto r = registered.back()->registerAccount();
      QVERIFY(r && r->has_registered());
    }
    auto third = from(relay_.url(), "198.51.100.9", "reg-three");
    QVERIFY(third);
    auto r = third->registerAccount();
    QVERIFY(r && r->has_error());
    QCOMPARE(r->error().code(), wire::RATE_LIMITED);
    QVERIFY2(r->error().reason().find("try again in 30 minutes") != std::string::npos,
             r->error().reason().c_str());
    QVERIFY(r->error().retry_after_ms() > 29 * 60 * 1000 &&
            r->error().retry_after_ms() <= 30 * 60 * 1000);
    QCOMPARE(metric(relay_, "parley_registrations_refused_total"), 1.0);
    // Nothing was created: the name is free for an address with registrations left.
    auto elsewhere = from(relay_.url(), "198.51.100.10", "reg-three");
    QVERIFY(elsewhere);
    r = elsewhere->registerAccount();
    QVERIFY(r && r->has_registered());
    // Logging in is not registering, and loopback clients are not counted.
    auto& first = *registered.front();
    first.disconnect();  // its address holds three: it may connect again once this one is gone
    QVERIFY(QTest::qWaitFor([&] { return first.connect(relay_.url()); }, 5000));
    auto l = first.login();
    QVERIFY(l && l->has_logged_in());
    for (const char* name : {"local-one", "local-two", "local-three"}) {
      auto c = from(relay_.url(), {}, name);
      QVERIFY(c);
      QVERIFY(c->registerAccount()->has_registered());
    }
  }

  // One holder of many addresses: a network (IPv4 /24, IPv6 /48) registers at most its own
  // budget, all its addresses together. 198.51.100.0/24 has used 3 of its 3 above.
  void aNetworkRegistersAtMostItsAccountsPerHour() {
    auto c = from(relay_.url(), "198.51.100.11", "net-four");
    QVERIFY(c);
    auto r = c->registerAccount();
    QVERIFY(r && r->has_error());
    QCOMPARE(r->error().code(), wire::RATE_LIMITED);
    // IPv6: three /64s of one /48 register one each; a fourth /64 of it is refused, another
    // /48 is not.
    for (const auto& [a, name] : {std::pair{"2001:db8:7:1::1", "v6-one"},
                                  std::pair{"2001:db8:7:2::1", "v6-two"},
                                  std::pair{"2001:db8:7:3::1", "v6-three"}}) {
      auto v6 = from(relay_.url(), a, name);
      QVERIFY(v6);
      QVERIFY2(v6->registerAccount()->has_registered(), a);
    }
    auto fourth = from(relay_.url(), "2001:db8:7:4::1", "v6-fourth");
    QVERIFY(fourth);
    QCOMPARE(fourth->registerAccount()->error().code(), wire::RATE_LIMITED);
    auto other = from(relay_.url(), "2001:db8:8:1::1", "v6-other");
    QVERIFY(other);
    QVERIFY(other->registerAccount()->has_registered());
  }

  void metricsThroughTheProxyAreTheClientsRequest() {
    HttpRequest req;
    req.path = "/metrics";
    QCOMPARE(httpRequest(relay_.url(), req).status, 200);
    req.headers = {{"X-Forwarded-For", "203.0.113.7"}};
    QCOMPARE(httpRequest(relay_.url(), req).status, 403);
    // A proxy that passed the client's own header through: "loopback" forwarded is not local.
    req.headers = {{"X-Forwarded-For", "127.0.0.1"}};
    QCOMPARE(httpRequest(relay_.url(), req).status, 403);
  }

  void aForwardedLoopbackAddressIsCounted() {
    std::vector<std::unique_ptr<TestClient>> held;
    for (int i = 0; i < 3; ++i) {
      held.push_back(from(relay_.url(), "127.0.0.1"));
      QVERIFY(held.back());
    }
    QVERIFY(!from(relay_.url(), "127.0.0.1"));
  }

  // Connections opened and closed within the cap still cost a handshake each: new ones per
  // address and second are limited too (a burst of ten seconds' worth).
  void anAddressOpensAtMostItsNewConnectionsPerSecond() {
    RelayProcess relay({"--trusted-proxy", "127.0.0.1", "--connections-per-address-per-second",
                        "0.5"});  // a burst of 5, then one every 2 s
    QVERIFY(relay.start());
    for (int i = 0; i < 5; ++i) {
      auto c = from(relay.url(), "203.0.113.20");
      QVERIFY(c);
      c->disconnect();
    }
    QVERIFY(!from(relay.url(), "203.0.113.20"));
    // What the refusal says, read off the wire.
    const auto answer = upgradeAnswer(relay.url(), "203.0.113.20");
    QVERIFY2(answer.startsWith("HTTP/1.1 429"), answer.constData());
    QVERIFY2(answer.contains("too many new connections from your address"), answer.constData());
    QVERIFY2(answer.contains("\r\nRetry-After: "), answer.constData());
    QVERIFY(from(relay.url(), "203.0.113.21"));  // another address
    QVERIFY(from(relay.url(), {}));               // a local one
    QVERIFY(QTest::qWaitFor([&] { return from(relay.url(), "203.0.113.20") != nullptr; }, 5000));
  }

  // The holder of a routed /48 has 65,536 /64s, each an address here; of a /24, 256
  // addresses: a network (its addresses together) has caps of its own.
  void aNetworkHoldsAtMostItsConnections() {
    RelayProcess relay({"--trusted-proxy", "127.0.0.1", "--max-connections-per-address", "3",
                        "--max-connections-per-network", "4"});
    QVERIFY(relay.start());
    std::vector<std::unique_ptr<TestClient>> held;
    for (const char* a : {"203.0.113.30", "203.0.113.30", "203.0.113.30", "203.0.113.31",
                          "2001:db8:5:1::1", "2001:db8:5:2::1", "2001:db8:5:3::1",
                          "2001:db8:5:ffff::1"}) {
      held.push_back(from(relay.url(), a));
      QVERIFY2(held.back(), a);
    }
    // Each network is full, whichever of its addresses asks.
    for (const char* a : {"203.0.113.32", "2001:db8:5:4::1"}) {
      const auto answer = upgradeAnswer(relay.url(), a);
      QVERIFY2(answer.startsWith("HTTP/1.1 429"), answer.constData());
      QVERIFY2(answer.contains("too many connections from your network"), answer.constData());
    }
    // The address cap still comes first where it is reached.
    QVERIFY(upgradeAnswer(relay.url(), "203.0.113.30").contains("from your address"));
    // Other networks are not held back: the next /24, the next /48.
    QVERIFY(from(relay.url(), "203.0.114.30"));
    QVERIFY(from(relay.url(), "2001:db8:6:1::1"));
    // A connection that ends gives its network's place back.
    held[3]->disconnect();
    std::unique_ptr<TestClient> again;
    QVERIFY(QTest::qWaitFor([&] { return (again = from(relay.url(), "203.0.113.99")) != nullptr; },
                            5000));
    QVERIFY(!from(relay.url(), "203.0.113.98"));
  }

  void aNetworkOpensAtMostItsNewConnectionsPerSecond() {
    RelayProcess relay({"--trusted-proxy", "127.0.0.1", "--connections-per-network-per-second",
                        "0.5",  // a burst of 5, then one every 2 s, for the whole /24
                        "--max-connections-per-address", "1"});
    QVERIFY(relay.start());
    auto held = from(relay.url(), "203.0.113.40");
    QVERIFY(held);
    // An address retrying at its own cap spends none of its network's budget.
    for (int i = 0; i < 10; ++i)
      QVERIFY(upgradeAnswer(relay.url(), "203.0.113.40").contains("too many connections from your address"));
    for (int i = 1; i < 5; ++i) {
      auto c = from(relay.url(), QByteArray("203.0.113.") + QByteArray::number(40 + i));
      QVERIFY(c);
      c->disconnect();
    }
    const auto answer = upgradeAnswer(relay.url(), "203.0.113.50");
    QVERIFY2(answer.startsWith("HTTP/1.1 429"), answer.constData());
    QVERIFY2(answer.contains("too many new connections from your network; retry in"),
             answer.constData());
    QVERIFY2(answer.contains("\r\nRetry-After: "), answer.constData());
    QVERIFY(from(relay.url(), "203.0.114.50"));  // another network
    QVERIFY(QTest::qWaitFor([&] { return from(relay.url(), "203.0.113.51") != nullptr; }, 5000));
  }

  void badProxyBlocksAreRefusedAtStart() {
    const auto r = runRelay({"--trusted-proxy", "10.0.0.0/33"});
    QCOMPARE(r.code, 2);
    QVERIFY(r.err.contains("--trusted-proxy"));
  }
};

QTEST_GUILESS_MAIN(AddressLimitsTest)
#include "address_limits_test.moc"
