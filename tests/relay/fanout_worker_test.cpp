// The fan-out worker in-process, with the real store and no sockets: every group behind its
// log is fanned out completely and in order, whether a group chains its steps alone or more
// groups than slots take turns, and entries appended while a group's chain runs are fanned out
// too (the "appended again" flag is not lost when a chain clears it).
#include <QtTest>

#include <chrono>
#include <future>
#include <map>

#include "groups/fanout_worker.hpp"
#include "net/asio.hpp"
#include "observability/metrics.hpp"
#include "presence/local_presence.hpp"
#include "session/deliver_bodies.hpp"
#include "store/sqlite_store.hpp"
#include "store/store_worker.hpp"

using namespace parley;
using namespace parley::store;

namespace {

constexpr int kGroups = 5;
constexpr int kMembers = 6;
constexpr std::uint64_t kEntries = 150;       // per group, sent by member 0
constexpr std::uint64_t kBigEntries = 2000;    // group 0's: it is fanned out alone at the end
constexpr std::uint64_t kLateEntries = 10;     // appended to group 0 while its steps chain
constexpr std::uint64_t kTotal = kBigEntries + (kGroups - 1) * kEntries;

std::uint64_t entries_of(int g) { return g == 0 ? kBigEntries + kLateEntries : kEntries; }

std::string group_id(int g) { return std::string(15, 'g') + static_cast<char>('0' + g); }

void post(Store& s, int g, const DeviceRecord& sender, std::uint64_t n) {
  for (std::uint64_t k = 0; k < n; ++k) {
    GroupLogEntry e;
    e.kind = EntryKind::GroupMessage;
    e.sender = "u0";
    e.sender_device = 1;
    e.sender_pk = sender.pk;
    e.client_msg_id = std::string(16, 'm');
    e.server_ts_ms = 1000;
    e.payload = "body";
    s.append_group_log(group_id(g), e);
  }
}

// Runs `work` as a store job and waits for its commit.
void run_job(StoreWorker& worker, StoreWorker::Work work) {
  std::promise<JobStatus> done;
  auto status = done.get_future();
  worker.submit(std::move(work), [&done](JobStatus st) { done.set_value(st); });
  QCOMPARE(status.get(), JobStatus::Committed);
}

}  // namespace

class FanoutWorkerTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void everyGroupIsFannedOutCompletelyAndInOrder() {
    QVERIFY(dir_.isValid());
    std::vector<DeviceRecord> users;
    {
      SqliteStore s(dir_.path().toStdString(), Durability::Normal);
      s.begin();
      for (int i = 0; i < kMembers; ++i)
        users.push_back(*s.create_account("u" + std::to_string(i), std::string(32, 'k'), 1, 1));
      for (int g = 0; g < kGroups; ++g) {
        s.create_group(group_id(g), 1);
        for (const auto& u : users) s.add_group_member(group_id(g), u.user_id, false, 1);
        post(s, g, users[0], g == 0 ? kBigEntries : kEntries);
      }
      s.commit();
    }

    Metrics metrics;
    StoreWorker worker(std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Normal),
                       metrics, 100000);
    LocalPresence presence;
    net::io_context ioc;
    auto guard = net::make_work_guard(ioc);
    // Two slots for five groups: they take turns, and group 0, the big one, ends up alone,
    // chaining its steps.
    DeliverBodies bodies;
    groups::FanoutWorker fanout(worker, presence, metrics, bodies, ioc.get_executor(), 2, 16);
    fanout.recover();
    QCOMPARE(metrics.group_fanout_backlog.load(), static_cast<std::int64_t>(kTotal));

    const auto run_until = [&](auto done) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!done() && std::chrono::steady_clock::now() < deadline)
        ioc.run_for(std::chrono::milliseconds(1));
      return done();
    };
    // Part-way, with hundreds of group 0's entries still to go, it gets more, announced as a
    // GroupSend's commit would.
    QVERIFY(run_until([&] { return metrics.group_fanout_backlog.load() < 1500; }));
    QVERIFY(metrics.group_fanout_backlog.load() > 300);
    run_job(worker, [&](Store& s) { post(s, 0, users[0], kLateEntries); });
    for (std::uint64_t k = 0; k < kLateEntries; ++k) fanout.appended(group_id(0));
    QVERIFY(run_until([&] { return metrics.group_fanout_backlog.load() == 0; }));

    std::vector<std::string> behind;
    std::map<DevicePk, std::map<std::string, std::vector<std::uint64_t>>> got;
    run_job(worker, [&](Store& s) {
      behind = s.groups_behind(nullptr);
      for (const auto& u : users)
        for (const auto& e : s.read_inbox(u.pk, 0, 100000, 1u << 30))
          got[u.pk][e.group_id].push_back(e.conv_seq);
    });
    QVERIFY(behind.empty());
    QVERIFY(got[users[0].pk].empty());  // it sent everything
    for (int i = 1; i < kMembers; ++i) {
      for (int g = 0; g < kGroups; ++g) {
        const auto& seqs = got[users[static_cast<std::size_t>(i)].pk][group_id(g)];
        const auto n = entries_of(g);
        QCOMPARE(seqs.size(), n);
        for (std::uint64_t k = 0; k < n; ++k) QCOMPARE(seqs[k], k + 1);
      }
    }
    // The store thread drains (a last step may still be queued) before what its
    // completions post to goes away.
    worker.stop();
    guard.reset();
    ioc.run_for(std::chrono::milliseconds(50));
  }
};

QTEST_GUILESS_MAIN(FanoutWorkerTest)
#include "fanout_worker_test.moc"
