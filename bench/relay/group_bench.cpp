// Relay group benchmark: sender ack latency (GroupSend -> SendAck) for groups of 2, 100 and
// 1,000 members, and fan-out rate (member-inbox deliveries per second) for one message to a
// 1,000-member group. A plain Qt program (it needs an event loop, so not Google Benchmark):
// it starts the real parley-relay on 127.0.0.1 with a fresh data directory, registers the
// members offline (one short connection each, so it never holds more than two sockets), and
// prints a table. Run it through bench/run-relay-groups.sh.
//
// Usage: parley_relay_group_bench [--durability full|normal]... [--sends N] [--fanout-reps N]
// Environment: PARLEY_RELAY_BIN (defaults to the parley-relay built alongside).
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QStringList>
#include <QThread>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "group_helpers.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {

struct Stats {
  double median = 0, p90 = 0, min = 0, max = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const auto at = [&](double q) {
    // Nearest rank.
    auto i = static_cast<std::size_t>(q * static_cast<double>(v.size()) + 0.999999);
    i = std::clamp<std::size_t>(i, 1, v.size());
    return v[i - 1];
  };
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  s.p90 = at(0.9);
  s.min = v.front();
  s.max = v.back();
  return s;
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "group_bench: %s\n", what);
  std::fflush(stderr);
  std::exit(1);
}

// Polls /metrics every ~2 ms until the fan-out backlog is 0; false after timeout_ms.
bool waitBacklogZero(RelayProcess& relay, int timeout_ms) {
  QElapsedTimer t;
  t.start();
  while (t.elapsed() < timeout_ms) {
    if (metric(relay, "parley_group_fanout_backlog") == 0) return true;
    QThread::usleep(2000);
  }
  return false;
}

// Records when each response arrives, straight from the socket signal, so latencies are not
// rounded up to spinUntil's 1 ms poll.
class ArrivalClock {
 public:
  explicit ArrivalClock(TestClient& c) {
    clock_.start();
    QObject::connect(&c.socket(), &QWebSocket::binaryMessageReceived, &c.socket(),
                     [this](const QByteArray& bytes) {
                       const auto now = clock_.nsecsElapsed();
                       wire::ServerFrame f;
                       if (f.ParseFromArray(bytes.constData(), static_cast<int>(bytes.size())) &&
                           f.request_id() != 0) {
                         last_id_ = f.request_id();
                         last_ns_ = now;
                       }
                     });
  }
  qint64 now() const { return clock_.nsecsElapsed(); }
  // Arrival time of the response to `id` (valid after waitResponse returned it).
  qint64 arrival(std::uint64_t id) const { return last_id_ == id ? last_ns_ : -1; }

 private:
  QElapsedTimer clock_;
  std::uint64_t last_id_ = 0;
  qint64 last_ns_ = -1;
};

struct GroupResult {
  int members;
  Stats idle;      // fan-out of the previous message finished before each send
  Stats busy;      // sent right after the previous ack, fan-out still running
};

struct RunResult {
  QString durability;
  std::vector<GroupResult> groups;
  Stats fanout_ms;     // SendAck -> backlog 0
  Stats fanout_rate;   // deliveries / s
  double deliveries_per_msg = 0;
  double sustained_rate = 0;  // 20 messages pipelined
  double register_s = 0;
};

// One GroupSend, waits for its SendAck; returns send->ack in ms.
double timedSend(TestClient& sender, ArrivalClock& clock, const std::string& gid, int i) {
  const auto t0 = clock.now();
  const auto rid = sender.post(groupSendFrame(gid, "bench message " + std::to_string(i)));
  sender.socket().flush();
  auto a = sender.waitResponse(rid, 20000);
  if (!a || !a->has_send_ack()) fail("GroupSend not acked");
  const auto t1 = clock.arrival(rid);
  if (t1 < 0) fail("ack arrival not seen");
  return static_cast<double>(t1 - t0) / 1e6;
}

RunResult run(const QString& durability, int sends, int fanout_reps) {
  RunResult out;
  out.durability = durability;
  RelayProcess relay({"--durability", durability, "--rate", "100000", "--rate-burst", "100000",
                      "--group-rate", "100000", "--group-rate-burst", "100000"});
  if (!relay.start()) fail("relay did not start");

  auto sender = TestClient::registered(relay.url(), "gb-sender");
  if (!sender) fail("sender registration failed");
  ArrivalClock clock(*sender);

  // 999 offline members, registered one short connection at a time.
  QElapsedTimer reg;
  reg.start();
  std::vector<std::string> names;
  for (int i = 0; i < 999; ++i) {
    names.push_back("gb-m" + std::to_string(i));
    if (!registerOffline(relay, names.back())) fail("member registration failed");
  }
  out.register_s = static_cast<double>(reg.elapsed()) / 1000.0;

  for (int size : {2, 100, 1000}) {
    std::vector<std::string> members(names.begin(), names.begin() + (size - 1));
    auto r = sender->request(createGroupFrame(*sender, members), 30000);
    if (!r || !r->has_group_created()) fail("CreateGroup failed");
    const auto gid = r->group_created().group_id();
    if (!waitBacklogZero(relay, 60000)) fail("CREATED fan-out did not finish");

    GroupResult g{size, {}, {}};
    std::vector<double> idle, busy;
    for (int i = 0; i < sends; ++i) {
      if (!waitBacklogZero(relay, 60000)) fail("fan-out did not finish");
      idle.push_back(timedSend(*sender, clock, gid, i));
    }
    if (!waitBacklogZero(relay, 60000)) fail("fan-out did not finish");
    for (int i = 0; i < sends; ++i) busy.push_back(timedSend(*sender, clock, gid, i));
    if (!waitBacklogZero(relay, 120000)) fail("fan-out did not finish");
    g.idle = stats(idle);
    g.busy = stats(busy);
    out.groups.push_back(g);

    if (size != 1000) continue;
    // Fan-out of one message: SendAck -> backlog 0.
    std::vector<double> ms, rate;
    for (int rep = 0; rep < fanout_reps; ++rep) {
      if (!waitBacklogZero(relay, 60000)) fail("fan-out did not finish");
      const auto before = metric(relay, "parley_group_fanout_deliveries_total");
      const auto rid = sender->post(groupSendFrame(gid, "fan-out " + std::to_string(rep)));
      sender->socket().flush();
      auto a = sender->waitResponse(rid, 20000);
      if (!a || !a->has_send_ack()) fail("GroupSend not acked");
      const auto t_ack = clock.arrival(rid);
      if (!waitBacklogZero(relay, 60000)) fail("fan-out did not finish");
      const auto t_done = clock.now();
      const auto n = metric(relay, "parley_group_fanout_deliveries_total") - before;
      out.deliveries_per_msg = n;
      const double d_ms = static_cast<double>(t_done - t_ack) / 1e6;
      ms.push_back(d_ms);
      rate.push_back(n / (d_ms / 1000.0));
    }
    out.fanout_ms = stats(ms);
    out.fanout_rate = stats(rate);

    // Sustained: 20 messages pipelined, first post -> backlog 0.
    const int kPipelined = 20;
    const auto before = metric(relay, "parley_group_fanout_deliveries_total");
    const auto t0 = clock.now();
    std::vector<std::uint64_t> rids;
    for (int i = 0; i < kPipelined; ++i)
      rids.push_back(sender->post(groupSendFrame(gid, "sustained " + std::to_string(i))));
    for (auto rid : rids) {
      auto a = sender->waitResponse(rid, 20000);
      if (!a || !a->has_send_ack()) fail("GroupSend not acked");
    }
    if (!waitBacklogZero(relay, 120000)) fail("fan-out did not finish");
    const auto secs = static_cast<double>(clock.now() - t0) / 1e9;
    out.sustained_rate = (metric(relay, "parley_group_fanout_deliveries_total") - before) / secs;
  }
  if (relay.stderrLog().contains("fanout_step_failed")) fail("relay logged fanout_step_failed");
  sender->disconnect();
  relay.terminate();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  if (qEnvironmentVariableIsEmpty("PARLEY_RELAY_BIN")) {
#ifdef PARLEY_RELAY_BIN_DEFAULT
    qputenv("PARLEY_RELAY_BIN", PARLEY_RELAY_BIN_DEFAULT);
#endif
  }
  QStringList modes;
  int sends = 50, reps = 5;
  const auto args = app.arguments();
  for (int i = 1; i < args.size(); ++i) {
    if (args[i] == "--durability" && i + 1 < args.size()) modes << args[++i];
    else if (args[i] == "--sends" && i + 1 < args.size()) sends = std::clamp(args[++i].toInt(), 1, 1000);
    else if (args[i] == "--fanout-reps" && i + 1 < args.size()) reps = std::clamp(args[++i].toInt(), 1, 100);
    else {
      std::fprintf(stderr, "usage: %s [--durability full|normal]... [--sends N] [--fanout-reps N]\n",
                   argv[0]);
      return 2;
    }
  }
  if (modes.isEmpty()) modes << "full";

  std::vector<RunResult> results;
  for (const auto& m : modes) {
    std::fprintf(stderr, "group_bench: --durability %s ...\n", qPrintable(m));
    results.push_back(run(m, sends, reps));
  }

  std::printf("\nSender ack latency, GroupSend -> SendAck, %d sends one at a time (ms)\n", sends);
  std::printf("  idle = previous fan-out finished before each send; busy = next send right after the ack\n");
  std::printf("%-11s %8s | %8s %8s %8s | %8s %8s %8s\n", "durability", "members", "idle med",
              "idle p90", "idle max", "busy med", "busy p90", "busy max");
  for (const auto& r : results)
    for (const auto& g : r.groups)
      std::printf("%-11s %8d | %8.2f %8.2f %8.2f | %8.2f %8.2f %8.2f\n", qPrintable(r.durability),
                  g.members, g.idle.median, g.idle.p90, g.idle.max, g.busy.median, g.busy.p90,
                  g.busy.max);

  std::printf("\nFan-out of one message to 1,000 members (SendAck -> parley_group_fanout_backlog 0, %d reps)\n",
              reps);
  std::printf("%-11s %11s | %9s %9s %9s | %12s %12s | %14s\n", "durability", "deliveries",
              "ms med", "ms min", "ms max", "deliv/s med", "deliv/s max", "20 pipelined/s");
  for (const auto& r : results)
    std::printf("%-11s %11.0f | %9.2f %9.2f %9.2f | %12.0f %12.0f | %14.0f\n",
                qPrintable(r.durability), r.deliveries_per_msg, r.fanout_ms.median, r.fanout_ms.min,
                r.fanout_ms.max, r.fanout_rate.median, r.fanout_rate.max, r.sustained_rate);
  for (const auto& r : results)
    std::printf("(%s: registering 999 members took %.1f s)\n", qPrintable(r.durability), r.register_s);
  return 0;
}
