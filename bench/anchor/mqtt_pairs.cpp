// parley-mqtt-anchor: the reference broker measured on the machine at hand. The
// targets in docs/performance.md came from mosquitto on another machine; this runs the same
// shapes as parley-loadgen (`pairs` closed and open loop, `idle`) against a mosquitto on
// 127.0.0.1, so the two can be compared on one machine and one day (bench/run-anchor.sh).
//
// MQTT 3.1.1 over plain TCP (Debian's mosquitto is built without WebSockets), QoS 1 both
// ways: a sender PUBLISHes to its receiver's topic and gets a PUBACK; the broker PUBLISHes to
// the receiver, which PUBACKs. The payload carries the send time, latency is send to
// delivery, and a closed loop sends the pair's next message on delivery, as parley-loadgen
// does. One thread, one process: mosquitto itself is single-threaded.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "../loadgen/cpu_meter.hpp"
#include "../loadgen/endpoint.hpp"
#include "../loadgen/open_loop.hpp"
#include "../loadgen/pairs_window.hpp"
#include "../loadgen/proc_status.hpp"
#include "net/asio.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace parley::loadgen;  // the loadgen's schedule, window and /proc helpers

namespace {

// --- MQTT 3.1.1 encoding (only what this harness sends) ---------------------------------

void put_u16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

void put_str(std::string& out, std::string_view s) {
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

// Fixed header: type/flags byte, then the remaining length as a base-128 varint.
std::string packet(std::uint8_t first, const std::string& body) {
  std::string out(1, static_cast<char>(first));
  std::size_t n = body.size();
  do {
    auto byte = static_cast<std::uint8_t>(n % 128);
    n /= 128;
    if (n) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (n);
  return out + body;
}

std::string connect_packet(const std::string& client_id) {
  std::string b;
  put_str(b, "MQTT");
  b.push_back(4);     // protocol level 3.1.1
  b.push_back(0x02);  // clean session
  put_u16(b, 0);      // no keep-alive: the run is bounded
  put_str(b, client_id);
  return packet(0x10, b);
}

std::string subscribe_packet(std::uint16_t id, const std::string& topic) {
  std::string b;
  put_u16(b, id);
  put_str(b, topic);
  b.push_back(1);  // QoS 1
  return packet(0x82, b);
}

std::string publish_packet(std::uint16_t id, const std::string& topic, const std::string& payload) {
  std::string b;
  put_str(b, topic);
  put_u16(b, id);
  b += payload;
  return packet(0x32, b);  // PUBLISH, QoS 1
}

std::string puback_packet(std::uint16_t id) {
  std::string b;
  put_u16(b, id);
  return packet(0x40, b);
}

// --- one MQTT connection ------------------------------------------------------------------

struct Packet {
  std::uint8_t type;  // high nibble of the first byte
  std::uint8_t flags;
  std::string_view body;
};

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  using OnPacket = std::function<void(const Packet&)>;
  Conn(net::io_context& ioc) : socket_(ioc) {}

  void start(const tcp::endpoint& ep, std::string client_id, std::function<void(bool)> connected) {
    connected_ = std::move(connected);
    socket_.async_connect(ep, [self = shared_from_this(), id = std::move(client_id)](auto ec) {
      if (ec) return self->fail("connect: " + ec.message());
      self->socket_.set_option(tcp::no_delay(true));
      self->send(connect_packet(id));
      self->read();
    });
  }

  void on_packet(OnPacket f) { on_packet_ = std::move(f); }

  void send(std::string bytes) {
    if (writing_) {
      pending_ += bytes;
      return;
    }
    out_ = std::move(bytes);
    write();
  }

  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void write() {
    writing_ = true;
    net::async_write(socket_, net::buffer(out_), [self = shared_from_this()](auto ec, std::size_t) {
      self->writing_ = false;
      if (ec) return self->fail("write: " + ec.message());
      if (self->pending_.empty()) return;
      self->out_.swap(self->pending_);
      self->pending_.clear();
      self->write();
    });
  }

  // The buffer grows in small steps: 18,000 idle connections each holding 64 KiB would put
  // ~1.1 GiB of harness memory beside the broker being measured.
  void read() {
    if (in_.size() - used_ < 1024) in_.resize(used_ + 4096);
    socket_.async_read_some(net::buffer(in_.data() + used_, in_.size() - used_),
                            [self = shared_from_this()](auto ec, std::size_t n) {
                              if (ec) return self->fail("read: " + ec.message());
                              self->used_ += n;
                              self->parse();
                              self->read();
                            });
  }

  void parse() {
    std::size_t pos = 0;
    for (;;) {
      if (used_ - pos < 2) break;
      std::size_t len = 0, mult = 1, i = pos + 1;
      bool complete = false;
      while (i < used_ && i < pos + 5) {
        const auto byte = static_cast<std::uint8_t>(in_[i++]);
        len += (byte & 0x7f) * mult;
        mult *= 128;
        if (!(byte & 0x80)) {
          complete = true;
          break;
        }
      }
      // MQTT's remaining length takes at most 4 bytes; waiting for more would stall silently.
      if (!complete && i == pos + 5) return fail("the broker sent a malformed packet length");
      if (!complete || used_ - i < len) break;
      const auto first = static_cast<std::uint8_t>(in_[pos]);
      Packet p{static_cast<std::uint8_t>(first >> 4), static_cast<std::uint8_t>(first & 0x0f),
               std::string_view(in_.data() + i, len)};
      pos = i + len;
      if (p.type == 2) {  // CONNACK
        const bool ok = len == 2 && p.body[1] == 0;
        if (connected_) std::exchange(connected_, nullptr)(ok);
      } else if (on_packet_) {
        on_packet_(p);
      }
    }
    std::memmove(in_.data(), in_.data() + pos, used_ - pos);
    used_ -= pos;
  }

  void fail(const std::string& why) {
    if (failed_) return;
    failed_ = true;
    if (connected_) return std::exchange(connected_, nullptr)(false);
    std::fprintf(stderr, "parley-mqtt-anchor: connection lost: %s\n", why.c_str());
  }

  // The relay's and parley-loadgen's socket type (no type-erased executor), so neither
  // harness pays more per read and write than the other.
  parley::Socket socket_;
  std::string out_, pending_;
  bool writing_ = false, failed_ = false;
  std::vector<char> in_;
  std::size_t used_ = 0;
  OnPacket on_packet_;
  std::function<void(bool)> connected_;
};

std::uint16_t packet_id(std::string_view body, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(body[at]) << 8) |
                                    static_cast<std::uint8_t>(body[at + 1]));
}

// Opens n connections, kConnectsInFlight at a time; calls done once all have a CONNACK, or
// exits with a message if any failed.
constexpr std::size_t kConnectsInFlight = 200;

struct Connector : std::enable_shared_from_this<Connector> {
  net::io_context& ioc;
  tcp::endpoint ep;
  std::string prefix;
  std::vector<std::shared_ptr<Conn>>& out;
  std::function<void()> done;
  std::size_t next = 0, ok = 0, failed = 0;

  Connector(net::io_context& i, tcp::endpoint e, std::string p,
            std::vector<std::shared_ptr<Conn>>& o, std::function<void()> d)
      : ioc(i), ep(e), prefix(std::move(p)), out(o), done(std::move(d)) {}

  void launch() {
    if (next >= out.size()) return;
    const auto i = next++;
    out[i] = std::make_shared<Conn>(ioc);
    out[i]->start(ep, prefix + std::to_string(i), [self = shared_from_this()](bool good) {
      good ? ++self->ok : ++self->failed;
      if (self->ok + self->failed < self->out.size()) return self->launch();
      if (self->failed) {
        std::fprintf(stderr, "parley-mqtt-anchor: %zu of %zu connections failed\n", self->failed,
                     self->out.size());
        std::exit(1);
      }
      self->done();
    });
  }
};

void connect_all(net::io_context& ioc, const tcp::endpoint& ep, std::size_t n,
                 const std::string& prefix, std::vector<std::shared_ptr<Conn>>& out,
                 std::function<void()> done) {
  out.resize(n);
  auto c = std::make_shared<Connector>(ioc, ep, prefix, out, std::move(done));
  for (std::size_t k = 0; k < std::min(n, kConnectsInFlight); ++k) c->launch();
}

struct Options {
  std::string broker = "127.0.0.1:1883";
  int broker_pid = 0;
  std::string scenario = "pairs";
  unsigned pairs = 500, connections = 1000, payload_bytes = 200;
  double rate = 0, warmup = 2, duration = 10, settle = 3;
};

void row(const std::string& name, double value, const char* unit) {
  std::printf("| mosquitto %s | %.*f | %s |\n", name.c_str(), value < 100 ? 2 : 0, value, unit);
}

void run_idle(net::io_context& ioc, const tcp::endpoint& ep, const Options& o) {
  const long before = o.broker_pid ? rss_kib(o.broker_pid) : -1;
  std::vector<std::shared_ptr<Conn>> conns;
  connect_all(ioc, ep, o.connections, "idle", conns, [&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.settle));
    const long after = o.broker_pid ? rss_kib(o.broker_pid) : -1;
    if (before >= 0 && after >= 0)
      row("idle (" + std::to_string(o.connections) + " connections): broker RSS per connection",
          static_cast<double>(after - before) * 1024.0 / o.connections, "bytes");
    for (auto& c : conns) c->close();
    ioc.stop();
  });
  ioc.run();
}

void run_pairs(net::io_context& ioc, const tcp::endpoint& ep, const Options& o) {
  struct Pair {
    std::shared_ptr<Conn> tx, rx;
    std::string topic;
    std::uint16_t next_id = 0;
    unsigned in_flight = 0;
    Clock::time_point next_due;
  };
  std::vector<Pair> pairs(o.pairs);
  std::vector<std::shared_ptr<Conn>> conns;
  PairsWindow window;
  std::uint64_t sent = 0, pubacks = 0, skipped = 0;
  bool sending = false;
  std::string filler(std::max(o.payload_bytes, 16u), 'x');
  const bool open_loop = o.rate > 0;
  const auto interval =
      open_loop ? per_pair_interval(o.pairs, o.rate) : std::chrono::nanoseconds(0);

  auto send = [&](Pair& p, Clock::time_point stamp) {
    PairsWindow::stamp(filler, stamp);
    if (++p.next_id == 0) p.next_id = 1;
    p.tx->send(publish_packet(p.next_id, p.topic, filler));
    ++p.in_flight;
    ++sent;
  };

  // CPU read as the measured window opens and as it closes: the broker's, this harness's
  // (one process) and the machine's, as parley-loadgen reads the relay's and its own.
  CpuReading cpu_open, cpu_close;
  auto read_cpu = [&] {
    CpuReading r;
    if (o.broker_pid) r.server_us = process_cpu_us(o.broker_pid);
    r.client_us = process_cpu_us(::getpid());
    r.machine = machine_cpu();
    return r;
  };
  net::steady_timer tick_timer(ioc), stop_timer(ioc), cpu_timer(ioc);
  std::function<void()> tick = [&] {
    send_due(pairs, Clock::now(), interval, send, skipped);
    if (!sending) return;
    tick_timer.expires_after(std::chrono::microseconds(500));
    tick_timer.async_wait([&](auto ec) {
      if (!ec && sending) tick();
    });
  };

  auto start = [&] {
    const auto t0 = Clock::now();
    window.open(t0, o.warmup, o.duration);
    sending = true;
    if (open_loop) {
      stagger_schedules(pairs, t0, interval);
      tick();
    } else {
      for (auto& p : pairs) send(p, Clock::now());
    }
    cpu_timer.expires_at(window.opens());
    cpu_timer.async_wait([&](auto) { cpu_open = read_cpu(); });
    stop_timer.expires_at(window.closes());
    stop_timer.async_wait([&](auto) {
      cpu_close = read_cpu();
      sending = false;
      // Let what is in flight arrive (bounded), then stop.
      stop_timer.expires_after(std::chrono::seconds(2));
      stop_timer.async_wait([&](auto) { ioc.stop(); });
    });
  };

  connect_all(ioc, ep, 2 * o.pairs, "pair", conns, [&] {
    auto subscribed = std::make_shared<std::size_t>(0);
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      auto& p = pairs[i];
      p.tx = conns[2 * i];
      p.rx = conns[2 * i + 1];
      p.topic = "p/" + std::to_string(i);
      p.tx->on_packet([&](const Packet& pk) {
        if (pk.type == 4) ++pubacks;
      });
      p.rx->on_packet([&, subscribed, &p = p](const Packet& pk) {
        if (pk.type == 9) {  // SUBACK
          if (++*subscribed == pairs.size()) start();
          return;
        }
        if (pk.type != 3) return;
        const auto now = Clock::now();
        // PUBLISH: topic, then (QoS > 0) the packet id, then the payload (send time first).
        if (pk.body.size() < 2) return;
        const unsigned qos = (pk.flags >> 1) & 3;
        const std::size_t at = 2 + packet_id(pk.body, 0) + (qos > 0 ? 2 : 0);
        if (pk.body.size() < at) return;
        if (qos > 0) p.rx->send(puback_packet(packet_id(pk.body, at - 2)));
        if (pk.body.size() < at + 8) return;
        window.delivered(pk.body.data() + at, now);
        if (p.in_flight) --p.in_flight;
        if (sending && !open_loop) send(p, Clock::now());
      });
      p.rx->send(subscribe_packet(1, p.topic));
    }
  });
  ioc.run();

  std::string tag = "pairs (" + std::to_string(o.pairs) + " pairs, ";
  if (open_loop) tag += "open loop " + std::to_string(static_cast<long>(o.rate)) + "/s";
  else tag += "closed loop W=1";
  tag += ", QoS 1)";
  const auto& latency = window.latency();
  row(tag + ": delivered", static_cast<double>(window.delivered_in_window()) / o.duration,
      "msgs/s");
  row(tag + ": latency p50", latency.percentile(0.50) / 1000.0, "ms");
  row(tag + ": latency p99", latency.percentile(0.99) / 1000.0, "ms");
  row(tag + ": latency p99.9", latency.percentile(0.999) / 1000.0, "ms");
  if (skipped) row(tag + ": sends skipped (pair window full)", static_cast<double>(skipped), "msgs");
  row(tag + ": undelivered 2 s after the end",
      static_cast<double>(sent - window.delivered_total()), "msgs");
  const auto cost = cost_per_message(cpu_open, cpu_close, window.delivered_in_window());
  if (cost.server_us >= 0) row(tag + ": broker CPU per delivered message", cost.server_us, "µs");
  if (cost.client_us >= 0) row(tag + ": harness CPU per delivered message", cost.client_us, "µs");
  if (cost.busy_percent >= 0) row(tag + ": machine CPU busy (all cores)", cost.busy_percent, "%");
  std::fprintf(stderr, "parley-mqtt-anchor: sent %llu, delivered %llu, PUBACKs %llu\n",
               static_cast<unsigned long long>(sent),
               static_cast<unsigned long long>(window.delivered_total()),
               static_cast<unsigned long long>(pubacks));
  for (auto& c : conns) c->close();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"parley-mqtt-anchor: parley-loadgen's pairs and idle shapes against an MQTT broker (loopback only)"};
  app.add_option("--broker", o.broker, "Broker HOST:PORT (plain MQTT 3.1.1)")->capture_default_str();
  app.add_option("--broker-pid", o.broker_pid, "Broker process id, for its memory figure");
  app.add_option("--scenario", o.scenario, "pairs or idle")->check(CLI::IsMember({"pairs", "idle"}));
  app.add_option("--pairs", o.pairs, "pairs: sender/receiver pairs")->capture_default_str()->check(CLI::Range(1u, 9000u));
  app.add_option("--rate", o.rate, "pairs: offered msgs/s over all pairs; 0 = closed loop W=1")->check(CLI::NonNegativeNumber);
  app.add_option("--warmup", o.warmup, "pairs: seconds before measuring")->capture_default_str();
  app.add_option("--duration", o.duration, "pairs: seconds measured")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--payload-bytes", o.payload_bytes, "Payload size")->capture_default_str()->check(CLI::Range(16u, 200000u));
  app.add_option("--connections", o.connections, "idle: connections to hold")->capture_default_str()->check(CLI::Range(1u, 19000u));
  app.add_option("--settle", o.settle, "idle: seconds to wait before measuring")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  tcp::endpoint ep;
  try {
    ep = parse_loopback_endpoint(o.broker, "--broker");
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "parley-mqtt-anchor: %s\n", e.what());
    return 2;
  }
  net::io_context ioc(1);
  if (o.scenario == "idle") run_idle(ioc, ep, o);
  else run_pairs(ioc, ep, o);
  return 0;
}
