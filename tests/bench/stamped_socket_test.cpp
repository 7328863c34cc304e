// The load generator's StampedSocket on loopback: a read says when its bytes reached the
// machine, not when the reader got to them; before stamp_arrivals() it reads as a plain
// socket; and a Beast WebSocket runs over it to the close handshake (its teardown).
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <QtTest>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include "stamped_socket.hpp"

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using parley::loadgen::StampedSocket;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

struct Loopback {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  StampedSocket client{ioc};
  tcp::socket server{ioc};

  Loopback() {
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }

  // One read of whatever the server wrote; `got` is resized to what came.
  boost::system::error_code read(std::string& got, std::size_t room) {
    got.assign(room, '\0');
    boost::system::error_code ec;
    std::size_t n = 0;
    client.async_read_some(asio::buffer(got), [&](boost::system::error_code e, std::size_t k) {
      ec = e;
      n = k;
    });
    ioc.restart();
    ioc.run();
    got.resize(n);
    return ec;
  }

  // Turns stamping on; false if it cannot be, or no read comes stamped. The first socket on
  // the machine to ask has the kernel turn stamping on in a deferred work item, so segments
  // may come unstamped for a moment: it probes until one is stamped.
  bool stamp() {
    boost::system::error_code ec;
    client.stamp_arrivals(ec);
    if (ec) return false;
    server.set_option(tcp::no_delay(true));
    std::string got;
    for (int i = 0; i < 200; ++i) {
      asio::write(server, asio::buffer(std::string("p")));
      if (read(got, 16)) return false;
      if (client.last_read_stamped()) return true;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }
};

}  // namespace

class StampedSocketTest : public QObject {
  Q_OBJECT

 private slots:
  // Written, left 80 ms, then read: the stamp is the write's moment (the write delivers to
  // the socket on loopback), not the read's. The upper bound leaves room for a descheduled
  // test thread and still falls far short of the 80 ms.
  void aReadIsStampedWhenItsBytesArrived() {
    Loopback l;
    QVERIFY(l.stamp());
    const std::string sent(300, 'x');
    const auto before_write = Clock::now();
    asio::write(l.server, asio::buffer(sent));
    const auto after_write = Clock::now();
    std::this_thread::sleep_for(milliseconds(80));
    std::string got;
    QVERIFY(!l.read(got, 1000));
    const auto completed = Clock::now();
    QCOMPARE(got, sent);
    QVERIFY(l.client.last_read_stamped());
    QVERIFY(l.client.last_read_drained());  // room for 1000, 300 came: nothing left queued
    const auto arrival = l.client.last_arrival();
    QVERIFY(arrival >= before_write - milliseconds(1));
    QVERIFY(arrival <= after_write + milliseconds(20));
    QVERIFY(completed - arrival >= milliseconds(55));
  }

  // Two writes 40 ms apart, queued together before the read: the read carries the later one's
  // stamp (the kernel also gives it to the earlier bytes when it coalesces them), so no frame
  // in it is dated before it was all there.
  void aReadOfTwoSegmentsTakesTheLaterStamp() {
    Loopback l;
    QVERIFY(l.stamp());
    asio::write(l.server, asio::buffer(std::string(10, 'a')));
    std::this_thread::sleep_for(milliseconds(40));
    const auto second = Clock::now();
    asio::write(l.server, asio::buffer(std::string(10, 'b')));
    std::string got;
    QVERIFY(!l.read(got, 100));
    QCOMPARE(got, std::string(10, 'a') + std::string(10, 'b'));
    QVERIFY(l.client.last_arrival() >= second - milliseconds(1));
  }

  // A read that fills its buffer may have left bytes queued, whose stamp could be newer than
  // its own: not drained. The next, taking the rest with room to spare, is.
  void aReadThatFillsItsBufferIsNotDrained() {
    Loopback l;
    QVERIFY(l.stamp());
    asio::write(l.server, asio::buffer(std::string(50, 'z')));
    std::string got;
    QVERIFY(!l.read(got, 20));
    QCOMPARE(got.size(), std::size_t{20});
    QVERIFY(!l.client.last_read_drained());
    QVERIFY(!l.read(got, 100));
    QCOMPARE(got.size(), std::size_t{30});
    QVERIFY(l.client.last_read_drained());
  }

  void withoutStampingItReadsAsAPlainSocket() {
    Loopback l;
    asio::write(l.server, asio::buffer(std::string("plain")));
    std::string got(5, '\0');
    boost::system::error_code ec;
    asio::async_read(l.client, asio::buffer(got), [&](boost::system::error_code e, std::size_t) { ec = e; });
    l.ioc.run();
    QVERIFY(!ec);
    QCOMPARE(got, std::string("plain"));
    QVERIFY(l.client.last_arrival() == Clock::time_point{});
  }

  void thePeersCloseIsEndOfFile() {
    Loopback l;
    QVERIFY(l.stamp());
    l.server.close();
    std::string got;
    QCOMPARE(l.read(got, 1), boost::system::error_code(asio::error::eof));
    QCOMPARE(got.size(), std::size_t{0});
  }

  // The way the loadgen uses it: a WebSocket client over a stamping socket reads the
  // server's messages, then the server closes and the client's read ends with `closed` once
  // Beast's teardown (ours, forwarding to Asio's socket) has run.
  void aWebSocketRunsOverItToTheClose() {
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
    websocket::stream<tcp::socket> server{ioc};
    websocket::stream<StampedSocket> client{ioc};
    boost::system::error_code server_ec, client_ec;
    std::vector<std::string> received;
    boost::beast::flat_buffer buffer;

    acceptor.async_accept(server.next_layer(), [&](boost::system::error_code e) {
      if (e) return void(server_ec = e);
      server.async_accept([&](boost::system::error_code a) {
        if (a) return void(server_ec = a);
        server.binary(true);
        server.async_write(asio::buffer(std::string("one")), [&](boost::system::error_code w, std::size_t) {
          if (w) return void(server_ec = w);
          server.async_write(asio::buffer(std::string("two")), [&](boost::system::error_code w2, std::size_t) {
            if (w2) return void(server_ec = w2);
            server.async_close(websocket::close_code::normal, [&](boost::system::error_code c) {
              server_ec = c;
            });
          });
        });
      });
    });
    std::function<void()> read = [&] {
      client.async_read(buffer, [&](boost::system::error_code e, std::size_t) {
        if (e) return void(client_ec = e);
        received.push_back(boost::beast::buffers_to_string(buffer.data()));
        buffer.consume(buffer.size());
        read();
      });
    };
    client.next_layer().async_connect(acceptor.local_endpoint(), [&](boost::system::error_code e) {
      if (e) return void(client_ec = e);
      client.async_handshake("127.0.0.1", "/", [&](boost::system::error_code h) {
        if (h) return void(client_ec = h);
        boost::system::error_code s;
        client.next_layer().stamp_arrivals(s);
        if (s) return void(client_ec = s);
        read();
      });
    });
    ioc.run_for(std::chrono::seconds(10));
    QVERIFY2(!server_ec, server_ec.message().c_str());
    QCOMPARE(client_ec, boost::system::error_code(websocket::error::closed));
    QCOMPARE(received, (std::vector<std::string>{"one", "two"}));
    QVERIFY(client.next_layer().last_arrival() != Clock::time_point{});
    QVERIFY(!client.next_layer().is_open());
  }
};

QTEST_GUILESS_MAIN(StampedSocketTest)
#include "stamped_socket_test.moc"
