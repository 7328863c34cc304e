// Who a connection comes from (gateway/client_address.hpp): only a trusted proxy's word is
// taken, walking X-Forwarded-For from the right; whatever the client wrote further left is
// never read. Limits count IPv6 clients by their /64, and networks (/24, /48) together.
#include <QtTest>

#include "gateway/client_address.hpp"
#include "gateway/connections_by_address.hpp"

using namespace parley;

namespace {

net::ip::address ip(const char* text) { return net::ip::make_address(text); }

TrustedProxies trust(std::initializer_list<const char*> blocks) {
  std::vector<Cidr> out;
  for (const auto* b : blocks) out.push_back(*Cidr::parse(b));
  return TrustedProxies(std::move(out));
}

}  // namespace

class ClientAddressTest : public QObject {
  Q_OBJECT

 private slots:
  void blocksParseAndContain() {
    const auto lan = Cidr::parse("10.0.0.0/8");
    QVERIFY(lan);
    QVERIFY(lan->contains(ip("10.200.3.4")));
    QVERIFY(!lan->contains(ip("11.0.0.1")));
    QVERIFY(lan->contains(ip("::ffff:10.1.2.3")));  // an IPv4 client on a dual-stack socket
    QVERIFY(!lan->contains(ip("2001:db8::1")));
    const auto one = Cidr::parse(" 127.0.0.1 ");
    QVERIFY(one && one->prefix == 32 && one->contains(ip("127.0.0.1")) &&
            !one->contains(ip("127.0.0.2")));
    const auto v6 = Cidr::parse("2001:db8:aa00::/40");
    QVERIFY(v6 && v6->contains(ip("2001:db8:aaff::1")) && !v6->contains(ip("2001:db8:ab00::1")));
    QVERIFY(Cidr::parse("0.0.0.0/0")->contains(ip("203.0.113.9")));
    for (const char* bad : {"", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/8x", "host",
                            "10.0.0.0/-1", "10.0.0.0/ 8"})
      QVERIFY2(!Cidr::parse(bad), bad);
  }

  void anUntrustedPeerIsTheClientWhateverItSays() {
    const auto none = trust({});
    QCOMPARE(client_address(ip("203.0.113.7"), "198.51.100.1", none).address, ip("203.0.113.7"));
    const auto other = trust({"10.0.0.0/8"});
    QCOMPARE(client_address(ip("127.0.0.1"), "198.51.100.1", other).address, ip("127.0.0.1"));
    QCOMPARE(client_address(ip("::ffff:192.0.2.5"), "", other).address, ip("192.0.2.5"));
  }

  void aTrustedProxyNamesTheClient() {
    const auto proxies = trust({"127.0.0.1", "10.0.0.0/8"});
    QCOMPARE(client_address(ip("127.0.0.1"), "203.0.113.7", proxies).address, ip("203.0.113.7"));
    // A chain of trusted proxies: the rightmost address none of them is.
    QCOMPARE(client_address(ip("127.0.0.1"), "203.0.113.7, 10.0.0.2", proxies).address, ip("203.0.113.7"));
    // What the client put in front of it is not read.
    QCOMPARE(client_address(ip("127.0.0.1"), "1.2.3.4, 203.0.113.7", proxies).address, ip("203.0.113.7"));
    QCOMPARE(client_address(ip("127.0.0.1"), "10.9.9.9, 203.0.113.7, 10.0.0.2", proxies).address,
             ip("203.0.113.7"));
    // Ports, brackets and mapped addresses as proxies write them.
    QCOMPARE(client_address(ip("127.0.0.1"), "203.0.113.7:4711", proxies).address, ip("203.0.113.7"));
    QCOMPARE(client_address(ip("127.0.0.1"), "[2001:db8::5]:4711", proxies).address, ip("2001:db8::5"));
    QCOMPARE(client_address(ip("127.0.0.1"), "2001:db8::5", proxies).address, ip("2001:db8::5"));
    QCOMPARE(client_address(ip("127.0.0.1"), "::ffff:203.0.113.7", proxies).address, ip("203.0.113.7"));
    // No header, or one that does not parse where the walk needs it: the last address vouched for.
    QCOMPARE(client_address(ip("127.0.0.1"), "", proxies).address, ip("127.0.0.1"));
    QCOMPARE(client_address(ip("127.0.0.1"), "203.0.113.7, garbage", proxies).address, ip("127.0.0.1"));
    QCOMPARE(client_address(ip("127.0.0.1"), "garbage, 10.0.0.2", proxies).address, ip("10.0.0.2"));
    QCOMPARE(client_address(ip("127.0.0.1"), "203.0.113.7,", proxies).address, ip("127.0.0.1"));
    // A header naming only trusted proxies leaves the leftmost of them.
    QCOMPARE(client_address(ip("127.0.0.1"), "10.0.0.3, 10.0.0.2", proxies).address, ip("10.0.0.3"));
  }

  // Only a client on the relay's own host is local (not limited, shown /metrics): an address
  // a proxy forwarded never is, even loopback, which a proxy passing the client's own
  // header through would forward.
  void onlyAnUnforwardedLoopbackPeerIsLocal() {
    const auto proxies = trust({"127.0.0.1"});
    QVERIFY(client_address(ip("127.0.0.1"), "", proxies).local());
    QVERIFY(client_address(ip("::1"), "", trust({})).local());
    QVERIFY(client_address(ip("127.0.0.1"), "127.0.0.1", trust({})).local());  // not trusted
    QVERIFY(!client_address(ip("127.0.0.1"), "127.0.0.1", proxies).local());
    QVERIFY(!client_address(ip("127.0.0.1"), "garbage", proxies).local());
    QVERIFY(!client_address(ip("127.0.0.1"), "203.0.113.7", proxies).local());
    QVERIFY(!client_address(ip("203.0.113.7"), "", proxies).local());
  }

  void limitsCountAnIpv6ClientByItsSlash64() {
    QCOMPARE(address_key(ip("2001:db8:1:2::1")), address_key(ip("2001:db8:1:2:ffff::9")));
    QVERIFY(!(address_key(ip("2001:db8:1:2::1")) == address_key(ip("2001:db8:1:3::1"))));
    QCOMPARE(address_key(ip("203.0.113.7")), address_key(ip("::ffff:203.0.113.7")));
    QVERIFY(!(address_key(ip("203.0.113.7")) == address_key(ip("203.0.113.8"))));
    // An IPv4 address and the IPv6 /64 with the same leading bytes are not one client.
    QVERIFY(!(address_key(ip("203.0.113.7")) == address_key(ip("cb00:7107::"))));
  }

  // Both caps, or either alone: what is admitted is released exactly, nothing is left held.
  void connectionCapsCountAndReleaseTogether() {
    using Admission = ConnectionsByAddress::Admission;
    const auto a = address_key(ip("203.0.113.7")), b = address_key(ip("203.0.113.8"));
    const auto net = network_of(a);
    ConnectionsByAddress both(2, 3);
    QVERIFY(both.admit(a) == Admission::Admitted);
    QVERIFY(both.admit(a) == Admission::Admitted);
    QVERIFY(both.admit(a) == Admission::AddressFull);
    QVERIFY(both.admit(b) == Admission::Admitted);
    QVERIFY(both.admit(b) == Admission::NetworkFull);
    QCOMPARE(both.held_for_test(a), 2u);
    QCOMPARE(both.held_for_test(net), 3u);
    for (const auto& k : {a, a, b}) both.release(k);
    QCOMPARE(both.held_for_test(a), 0u);
    QCOMPARE(both.held_for_test(net), 0u);

    ConnectionsByAddress address_only(1, 0);
    QVERIFY(address_only.admit(a) == Admission::Admitted);
    QVERIFY(address_only.admit(b) == Admission::Admitted);  // no network cap
    QVERIFY(address_only.admit(a) == Admission::AddressFull);
    QCOMPARE(address_only.held_for_test(net), 0u);
    address_only.release(a);
    QCOMPARE(address_only.held_for_test(a), 0u);
    QCOMPARE(address_only.held_for_test(b), 1u);

    ConnectionsByAddress network_only(0, 2);
    QVERIFY(network_only.admit(a) == Admission::Admitted);
    QVERIFY(network_only.admit(a) == Admission::Admitted);  // no address cap
    QVERIFY(network_only.admit(b) == Admission::NetworkFull);
    QCOMPARE(network_only.held_for_test(a), 0u);
    network_only.release(a);
    QVERIFY(network_only.admit(b) == Admission::Admitted);
    QCOMPARE(network_only.held_for_test(net), 2u);
  }
};

QTEST_GUILESS_MAIN(ClientAddressTest)
#include "client_address_test.moc"
