// The PostgreSQL store as several gateways use it: two stores (two relays' connections) on
// one database at once, each from its own thread as each relay's store worker would. What
// SQLite got from being the only writer has to hold under row locks: one inbox's seqs are
// given and committed in order (a reader following it never sees a later seq before an
// earlier one), a conversation's seqs never repeat, one owner's mark versions commit in
// order, a group's fan-out goes on from where another relay left it, and the relay id is one.
// The relay-level behaviour on this store is covered by the *_postgres variants of the
// integration tests (tests/CMakeLists.txt).
#include <QtTest>

#include <atomic>
#include <chrono>
#include <functional>
#include <latch>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "observability/metrics.hpp"
#include "store/postgres/pg_connection.hpp"
#include "store/postgres/pg_schema.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/store_worker.hpp"

using namespace parley::store;

namespace {

// A store job made of functions, for tests that need its every hook; a hook not given does
// nothing.
struct FunctionJob final : Job {
  std::function<void(Store&)> ahead, work;
  std::function<void(JobStatus)> finish;
  void read_ahead(Store& st) override {
    if (ahead) ahead(st);
  }
  void run(Store& st) override {
    if (work) work(st);
  }
  void done(JobStatus status, std::unique_ptr<Job>&) override {
    if (finish) finish(status);
  }
};

InboxEntry message(const std::string& body, DevicePk sender_pk) {
  InboxEntry e;
  e.kind = EntryKind::Message;
  e.sender = "s" + std::to_string(sender_pk);
  e.sender_device = 1;
  e.sender_pk = sender_pk;
  e.client_msg_id = std::string(16, 'm');
  e.conv_seq = 1;
  e.server_ts_ms = 1000;
  e.ciphertext = body;
  return e;
}

GroupLogEntry group_message(const std::string& body, DevicePk sender_pk) {
  GroupLogEntry e;
  e.kind = EntryKind::GroupMessage;
  e.sender = "s" + std::to_string(sender_pk);
  e.sender_device = 1;
  e.sender_pk = sender_pk;
  e.client_msg_id = std::string(16, 'g');
  e.server_ts_ms = 1000;
  e.payload = body;
  return e;
}

// Holds a worker in a batch of its own until release(), so that the jobs submitted meanwhile
// are taken together in its next batch. Released when it goes, if not before, so that a test
// that fails early does not leave the worker waiting.
class HeldWorker {
 public:
  HeldWorker(StoreWorker& worker, std::function<void(JobStatus)> done) {
    worker.submit([this](Store&) { entered_.count_down(); release_.wait(); }, std::move(done));
    entered_.wait();
  }
  HeldWorker(const HeldWorker&) = delete;
  HeldWorker& operator=(const HeldWorker&) = delete;
  ~HeldWorker() { release(); }
  void release() {
    if (!std::exchange(released_, true)) release_.count_down();
  }

 private:
  std::latch entered_{1}, release_{1};
  bool released_ = false;
};

// Tries to lock the inbox rows `where` names from `db`, at once, in a transaction of its
// own: the SQLSTATE it met, empty when they were free (55P03, lock_not_available, when
// another transaction holds one).
std::string try_locking_inbox(pg::Connection& db, const std::string& where) {
  db.exec("BEGIN");
  std::string state;
  try {
    db.exec(("SELECT 1 FROM inbox WHERE " + where + " FOR UPDATE NOWAIT").c_str());
  } catch (const pg::Error& e) {
    state = e.sqlstate();
  }
  db.exec("ROLLBACK");
  return state;
}

// Runs f(store) in one transaction and commits it.
template <class F>
auto in_tx(PostgresStore& s, F&& f) {
  s.begin();
  if constexpr (std::is_void_v<decltype(f(s))>) {
    f(s);
    s.commit();
  } else {
    auto r = f(s);
    s.commit();
    return r;
  }
}

}  // namespace

class PostgresStoreTest : public QObject {
  Q_OBJECT
  std::string cluster_;
  std::string db_;  // this case's database
  int made_ = 0;

  std::unique_ptr<PostgresStore> open() { return std::make_unique<PostgresStore>(db_); }

  // A database as a relay of schema 2 left it, as far as step 3 cares: its version (step 3
  // only makes the triggers again, so it may run over its own result).
  void schema_back_to_2() {
    open();
    pg::Connection(db_).exec("UPDATE parley_schema SET version = 2");
  }

  int schema_version() {
    const auto r = pg::Connection(db_).query("SELECT version FROM parley_schema");
    return static_cast<int>(r.i64(0, 0));
  }

  DeviceRecord account(PostgresStore& s, const std::string& name) {
    return *in_tx(s, [&](Store& st) { return st.create_account(name, std::string(32, 'k'), 1, 1); });
  }

 private slots:
  void initTestCase() {
    cluster_ = qEnvironmentVariable("PARLEY_TEST_POSTGRES").toStdString();
    if (cluster_.empty())
      QFAIL("PARLEY_TEST_POSTGRES is not set: run this through ctest, which starts the test "
            "cluster (scripts/test-postgres)");
  }

  void init() {
    const auto name = "store_" + std::to_string(QCoreApplication::applicationPid()) + "_" +
                      std::to_string(++made_);
    pg::Connection(cluster_).exec(("CREATE DATABASE " + name).c_str());
    db_ = cluster_ + " dbname=" + name;
  }

  // Both relays sign logins with the one id the database holds, whichever started first.
  void twoRelaysShareOneId() {
    auto a = open();
    auto b = open();
    const auto id = a->relay_id();
    QCOMPARE(id.size(), std::size_t{16});
    QCOMPARE(b->relay_id(), id);
    QCOMPARE(open()->relay_id(), id);
  }

  // The gateways' routing key, too: one per database, made by whichever asked first, 32
  // random bytes, and not the relay id (which every client sees).
  void twoRelaysShareOneRoutingKey() {
    auto a = open();
    auto b = open();
    const auto key = b->routing_key();
    QCOMPARE(key.size(), std::size_t{32});
    QVERIFY(key != std::string(32, '\0'));
    QCOMPARE(a->routing_key(), key);
    QVERIFY(a->relay_id().find(key.substr(0, 16)) == std::string::npos);
    QCOMPARE(open()->routing_key(), key);
  }

  // Two relays append to one inbox at once, several entries per transaction, while a third
  // connection reads it as a device would, from its cursor: it must never see a seq before
  // every earlier one is there (it would move its cursor past the missing one for good).
  void oneInboxTakesAppendsFromTwoRelaysInOrder() {
    auto setup = open();
    const auto bob = account(*setup, "bob");
    constexpr int kPerRelay = 300, kPerTx = 3;
    std::atomic<bool> writing{true};
    auto writer = [&](DevicePk sender) {
      auto s = open();
      for (int i = 0; i < kPerRelay; i += kPerTx) {
        s->begin();
        for (int j = 0; j < kPerTx; ++j) {
          auto e = message(std::to_string(sender) + ":" + std::to_string(i + j), sender);
          s->append_inbox(bob.pk, e);
        }
        s->commit();
      }
    };
    std::uint64_t cursor = 0;
    std::vector<std::string> seen;
    bool out_of_order = false;
    std::thread reader([&] {
      auto s = open();
      auto read = [&] {
        for (const auto& e : in_tx(*s, [&](Store& st) { return st.read_inbox(bob.pk, cursor, 1000, 1 << 30); })) {
          if (e.inbox_seq != cursor + 1) out_of_order = true;
          cursor = e.inbox_seq;
          seen.push_back(e.ciphertext);
        }
      };
      while (writing) read();
      read();
    });
    std::thread a(writer, 1001), b(writer, 1002);
    a.join();
    b.join();
    writing = false;
    reader.join();
    QVERIFY2(!out_of_order, "the reader saw an inbox seq before an earlier one");
    QCOMPARE(cursor, std::uint64_t{2 * kPerRelay});
    QCOMPARE(seen.size(), std::size_t{2 * kPerRelay});
    // Each relay's entries in the order it appended them.
    std::map<std::string, int> next;
    for (const auto& body : seen) {
      const auto colon = body.find(':');
      QCOMPARE(std::stoi(body.substr(colon + 1)), next[body.substr(0, colon)]++);
    }
    QCOMPARE(in_tx(*setup, [&](Store& st) { return st.inbox_tail(bob.pk); }), std::uint64_t{2 * kPerRelay});
    // The weights the triggers keep: every entry, by sender.
    const auto weight = in_tx(*setup, [&](Store& st) { return st.inbox_bytes_from(bob.pk, 1001); });
    std::uint64_t expected = 0;
    for (const auto& body : seen)
      if (body.starts_with("1001:")) expected += body.size() + Store::kInboxRowBytes;
    QCOMPARE(weight, expected);
  }

  // Two relays give a conversation's next seq at once: every number once, none skipped.
  void aConversationsSeqsNeverRepeat() {
    constexpr int kPerRelay = 200;
    std::vector<std::uint64_t> got[2];
    auto taker = [&](int which) {
      auto s = open();
      for (int i = 0; i < kPerRelay; ++i)
        got[which].push_back(in_tx(*s, [](Store& st) { return st.next_conv_seq("alice|bob"); }));
    };
    std::thread a(taker, 0), b(taker, 1);
    a.join();
    b.join();
    std::set<std::uint64_t> all(got[0].begin(), got[0].end());
    all.insert(got[1].begin(), got[1].end());
    QCOMPARE(all.size(), std::size_t{2 * kPerRelay});
    QCOMPARE(*all.begin(), std::uint64_t{1});
    QCOMPARE(*all.rbegin(), std::uint64_t{2 * kPerRelay});
    QVERIFY(std::is_sorted(got[0].begin(), got[0].end()));
  }

  // A send's reads (its sent record, each device's load) are taken in one round trip and its
  // seqs (the conversation's, each device's inbox seq) server-side, read with the commit:
  // they are what the calls they stand for, made one by one (Store's own check_send and
  // append_message), give.
  void aSendsReadsAndSeqsTogetherAreWhatTheyAreOneByOne() {
    auto s = open();
    const auto alice = account(*s, "alice");
    const auto bob = account(*s, "bob");
    const auto carol = account(*s, "carol");
    const std::vector<DeviceAddress> to{{bob.pk, 1}, {carol.pk, 1}};
    in_tx(*s, [&](Store& st) {
      for (const auto& [device, from, bytes] : {std::tuple{bob.pk, alice.pk, 100},
                                                 {bob.pk, carol.pk, 30}, {carol.pk, alice.pk, 7}}) {
        auto e = message(std::string(bytes, 'x'), from);
        st.append_inbox(device, e);
      }
    });
    const std::string id(16, 'i');
    in_tx(*s, [&](Store& st) {
      Store::InboxLoad together[2], one_by_one[2];
      QVERIFY(!st.check_send(alice.user_id, id, alice.pk, to, together));
      QVERIFY(!st.Store::check_send(alice.user_id, id, alice.pk, to, one_by_one));
      QCOMPARE(together[0].total, 100 + 30 + 2 * Store::kInboxRowBytes);
      QCOMPARE(together[0].from_sender, 100 + Store::kInboxRowBytes);
      QCOMPARE(together[1].from_sender, 7 + Store::kInboxRowBytes);
      for (int i = 0; i < 2; ++i) {
        QCOMPARE(together[i].total, one_by_one[i].total);
        QCOMPARE(together[i].from_sender, one_by_one[i].from_sender);
      }
    });

    // Two messages each way, the second one by one; then the first is a retry.
    InboxEntry entries[4];
    const auto append = [&](bool one_by_one, InboxEntry* e) {
      const Store::Append appends[] = {{bob.pk, &e[0]}, {carol.pk, &e[1]}};
      SentRecord ack{0, 5000};
      in_tx(*s, [&](Store& st) {
        if (one_by_one) ack.conv_seq = st.Store::append_message("alice|bob+carol", appends);
        else st.append_message_by_commit("alice|bob+carol", appends, alice.user_id, std::string(16, 't'), ack);
      });
      return ack.conv_seq;
    };
    for (auto& e : entries) e = message("m", alice.pk);
    QCOMPARE(append(false, entries), std::uint64_t{1});
    QCOMPARE(append(true, entries + 2), std::uint64_t{2});
    const std::uint64_t want[][2] = {{1, 3}, {1, 2}, {2, 4}, {2, 3}};  // conv_seq, inbox_seq
    for (int i = 0; i < 4; ++i) {
      QCOMPARE(entries[i].conv_seq, want[i][0]);
      QCOMPARE(entries[i].inbox_seq, want[i][1]);
    }
    const auto stored = in_tx(*s, [&](Store& st) { return st.read_inbox(bob.pk, 2, 10, 1 << 20); });
    QCOMPARE(stored.size(), std::size_t{2});
    QCOMPARE(stored[0].conv_seq, std::uint64_t{1});
    QCOMPARE(stored[1].inbox_seq, std::uint64_t{4});

    in_tx(*s, [&](Store& st) { st.remember_sent(alice.user_id, id, {41, 5000}); });
    in_tx(*s, [&](Store& st) {
      Store::InboxLoad untouched[2] = {{1, 2}, {3, 4}};
      const auto seen = st.check_send(alice.user_id, id, alice.pk, to, untouched);
      QVERIFY(seen);
      QCOMPARE(seen->conv_seq, std::uint64_t{41});
      QCOMPARE(seen->server_ts_ms, std::uint64_t{5000});
      QCOMPARE(untouched[1].from_sender, std::uint64_t{4});
      // Without devices (a recipient unknown or addressed wrongly), the record alone.
      QVERIFY(st.check_send(alice.user_id, id, alice.pk, {}, {}));
      QVERIFY(!st.check_send(bob.user_id, id, bob.pk, {}, {}));
    });

    // A device that is not there fails the message, as append_inbox would.
    s->begin();
    auto lost = message("lost", alice.pk);
    const Store::Append nowhere[] = {{bob.pk, &entries[0]}, {carol.pk + 100, &lost}};
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, s->append_message("alice|bob+carol", nowhere));
    s->rollback();
    QCOMPARE(in_tx(*s, [&](Store& st) { return st.inbox_tail(bob.pk); }), std::uint64_t{4});
  }

  // A send's job reads its seqs only after its commit (append_message_by_commit): the same
  // seqs and sent record as append_message and remember_sent, taken server-side with no
  // round trip of their own; a device that is not there fails the transaction.
  void aMessageAppendedByTheCommitIsTheMessageAppendedAtOnce() {
    auto s = open();
    const auto alice = account(*s, "alice");
    const auto bob = account(*s, "bob");
    const auto carol = account(*s, "carol");
    const std::string conv = "alice|bob+carol";
    InboxEntry at_once[2], by_commit[4];
    for (auto& e : at_once) e = message("now", alice.pk);
    for (auto& e : by_commit) e = message("later", alice.pk);
    const Store::Append now[] = {{bob.pk, &at_once[0]}, {carol.pk, &at_once[1]}};
    QCOMPARE(in_tx(*s, [&](Store& st) { return st.append_message(conv, now); }), std::uint64_t{1});
    // Two messages in one transaction, then a third alone; before the commit nothing is read.
    SentRecord acks[3] = {{0, 5001}, {0, 5002}, {0, 5003}};
    const std::string ids[3] = {std::string(16, 'x'), std::string(16, 'y'), std::string(16, 'z')};
    const Store::Append first[] = {{bob.pk, &by_commit[0]}, {carol.pk, &by_commit[1]}};
    const Store::Append second[] = {{bob.pk, &by_commit[2]}};
    const Store::Append third[] = {{carol.pk, &by_commit[3]}};
    s->begin();
    s->append_message_by_commit(conv, first, alice.user_id, ids[0], acks[0]);
    s->append_message_by_commit(conv, second, alice.user_id, ids[1], acks[1]);
    QCOMPARE(acks[1].conv_seq, std::uint64_t{0});
    s->commit();
    in_tx(*s, [&](Store& st) { st.append_message_by_commit(conv, third, alice.user_id, ids[2], acks[2]); });
    const std::uint64_t want[][2] = {{2, 2}, {2, 2}, {3, 3}, {4, 3}};  // conv_seq, inbox_seq
    for (int i = 0; i < 4; ++i) {
      QCOMPARE(by_commit[i].conv_seq, want[i][0]);
      QCOMPARE(by_commit[i].inbox_seq, want[i][1]);
    }
    for (int i = 0; i < 3; ++i) QCOMPARE(acks[i].conv_seq, std::uint64_t(i + 2));
    in_tx(*s, [&](Store& st) {
      for (int i = 0; i < 3; ++i) {
        const auto seen = st.find_sent(alice.user_id, ids[i]);
        QVERIFY(seen);
        QCOMPARE(seen->conv_seq, acks[i].conv_seq);
        QCOMPARE(seen->server_ts_ms, acks[i].server_ts_ms);
      }
      const auto stored = st.read_inbox(carol.pk, 0, 10, 1 << 20);
      QCOMPARE(stored.size(), std::size_t{3});
      QCOMPARE(stored[1].conv_seq, std::uint64_t{2});
      QCOMPARE(stored[2].conv_seq, std::uint64_t{4});
      QCOMPARE(stored[2].inbox_seq, std::uint64_t{3});
      QCOMPARE(stored[2].ciphertext, std::string("later"));
      QCOMPARE(stored[2].client_msg_id, by_commit[3].client_msg_id);
    });

    // A device that is not there fails the message, as append_message would.
    auto lost = message("lost", alice.pk);
    SentRecord lost_ack{0, 1};
    const Store::Append nowhere[] = {{bob.pk, &by_commit[0]}, {carol.pk + 100, &lost}};
    s->begin();
    s->append_message_by_commit(conv, nowhere, alice.user_id, std::string(16, 'w'), lost_ack);
    QVERIFY_THROWS_EXCEPTION(pg::Error, s->commit());
    s->rollback();
    in_tx(*s, [&](Store& st) {
      QCOMPARE(st.inbox_tail(bob.pk), std::uint64_t{3});
      QVERIFY(!st.find_sent(alice.user_id, std::string(16, 'w')));
    });
  }

  // Since schema step 3 a relay weighs the 1:1 rows it writes and deletes itself, summed over
  // its transaction and written at the commit. A relay of an earlier version on the same
  // database (the gateways upgraded one by one) does not say so on its connections, and the
  // triggers go on weighing its rows, and only its.
  void anEarlierRelaysRowsAreStillWeighedByTheTriggers() {
    auto s = open();
    const auto alice = account(*s, "alice");
    const auto bob = account(*s, "bob");
    const auto weight = [&] {
      return in_tx(*s, [&](Store& st) { return st.inbox_bytes_from(bob.pk, alice.pk); });
    };
    in_tx(*s, [&](Store& st) {
      auto e = message(std::string(10, 'n'), alice.pk);
      st.append_inbox(bob.pk, e);
      QCOMPARE(st.inbox_bytes_from(bob.pk, alice.pk), 10 + Store::kInboxRowBytes);  // unwritten
    });
    QCOMPARE(weight(), 10 + Store::kInboxRowBytes);
    pg::Connection earlier(db_);
    const auto bob_row = " device = " + std::to_string(bob.pk) + " AND seq = ";
    earlier.exec(("INSERT INTO inbox(device, seq, kind, sender, sender_device, sender_pk, "
                  "client_msg_id, conv_seq, server_ts, content_hint, ciphertext) SELECT device, "
                  "2, kind, sender, sender_device, sender_pk, client_msg_id, 2, server_ts, "
                  "content_hint, ciphertext || ciphertext FROM inbox WHERE" + bob_row + "1")
                     .c_str());
    QCOMPARE(weight(), 10 + 20 + 2 * Store::kInboxRowBytes);
    earlier.exec(("DELETE FROM inbox WHERE" + bob_row + "1").c_str());
    QCOMPARE(weight(), 20 + Store::kInboxRowBytes);
    in_tx(*s, [&](Store& st) { st.delete_acked(bob.pk, 2); });
    QCOMPARE(weight(), std::uint64_t{0});
    // Each row once in, once out, whoever wrote it.
    const auto sums = earlier.query(
        ("SELECT (SELECT bytes FROM inbox_weights WHERE device = " + std::to_string(bob.pk) +
         "), (SELECT bytes FROM inbox_weights_out WHERE device = " + std::to_string(bob.pk) + ")")
            .c_str());
    QCOMPARE(sums.u64(0, 0), 10 + 20 + 2 * Store::kInboxRowBytes);
    QCOMPARE(sums.u64(0, 1), 10 + 20 + 2 * Store::kInboxRowBytes);
  }

  // A batch's sends read ahead together (one round trip): check_send answers from what was
  // read then, with what this transaction moved in and out of the inboxes since (written at
  // its commit, so no read shows it), unless it stored the send's own sent record since,
  // where it reads again.
  void aSendReadAheadAnswersUnlessThisTransactionWroteSince() {
    auto s = open();
    auto other = open();  // another gateway
    const auto alice = account(*s, "alice");
    const auto bob = account(*s, "bob");
    const auto carol = account(*s, "carol");
    const std::vector<DeviceAddress> to_bob{{bob.pk, 1}}, to_carol{{carol.pk, 1}};
    const std::string retried(16, 'r'), fresh(16, 'f'), again(16, 'a');
    in_tx(*s, [&](Store& st) { st.remember_sent(alice.user_id, retried, {7, 700}); });
    const auto load = [&](Store& st, DevicePk device) {
      return st.inbox_load(device, alice.pk).total;
    };
    in_tx(*s, [&](Store& st) {
      st.read_send_ahead(alice.user_id, retried, alice.pk, to_bob);
      st.read_send_ahead(alice.user_id, fresh, alice.pk, to_bob);
      st.read_send_ahead(alice.user_id, again, alice.pk, to_carol);
      st.read_ahead();
      // Committed by another gateway after the reads: what was read ahead does not show it,
      // as a read of the send's own a moment earlier would not have.
      in_tx(*other, [&](Store& o) {
        auto e = message(std::string(50, 'o'), alice.pk);
        o.append_inbox(bob.pk, e);
      });
      Store::InboxLoad loads[1] = {{1, 2}};
      const auto seen = st.check_send(alice.user_id, retried, alice.pk, to_bob, loads);
      QVERIFY(seen);
      QCOMPARE(seen->conv_seq, std::uint64_t{7});
      QCOMPARE(loads[0].total, std::uint64_t{1});  // a retry leaves them as they were
      QVERIFY(!st.check_send(alice.user_id, fresh, alice.pk, to_bob, loads));
      QCOMPARE(loads[0].total, std::uint64_t{0});  // as read ahead, before the other's entry
      QCOMPARE(load(st, bob.pk), 50 + Store::kInboxRowBytes);

      // This transaction's own append to carol's inbox, after the reads: counted with them.
      auto mine = message(std::string(20, 'm'), alice.pk);
      st.append_inbox(carol.pk, mine);
      QVERIFY(!st.check_send(alice.user_id, again, alice.pk, to_carol, loads));
      QCOMPARE(loads[0].total, 20 + Store::kInboxRowBytes);
    });
    in_tx(*s, [&](Store& st) {
      // Its own sent record, stored after the reads: the send is a retry now.
      st.read_send_ahead(alice.user_id, again, alice.pk, to_carol);
      st.read_send_ahead(bob.user_id, fresh, bob.pk, to_carol);
      st.read_ahead();
      st.remember_sent(alice.user_id, again, {9, 900});
      Store::InboxLoad loads[1];
      const auto seen = st.check_send(alice.user_id, again, alice.pk, to_carol, loads);
      QVERIFY(seen);
      QCOMPARE(seen->conv_seq, std::uint64_t{9});
      // Asked with other devices than were read ahead (the account changed meanwhile): read.
      QVERIFY(!st.check_send(bob.user_id, fresh, bob.pk, to_bob, loads));
      QCOMPARE(loads[0].total, 50 + Store::kInboxRowBytes);
    });
    in_tx(*s, [&](Store& st) {
      // Read ahead and not used by the commit: gone with it.
      st.read_send_ahead(carol.user_id, fresh, carol.pk, to_bob);
      st.read_ahead();
    });
    in_tx(*other, [&](Store& o) {
      auto e = message(std::string(10, 'o'), carol.pk);
      o.append_inbox(bob.pk, e);
    });
    in_tx(*s, [&](Store& st) {
      Store::InboxLoad loads[1];
      QVERIFY(!st.check_send(carol.user_id, fresh, carol.pk, to_bob, loads));
      QCOMPARE(loads[0].total, 50 + 10 + 2 * Store::kInboxRowBytes);
    });
    in_tx(*s, [&](Store& st) {
      // An ack emptying part of bob's inbox after the reads: taken from them.
      st.read_send_ahead(carol.user_id, again, carol.pk, to_bob);
      st.read_ahead();
      st.delete_acked(bob.pk, 1);
      Store::InboxLoad loads[1];
      QVERIFY(!st.check_send(carol.user_id, again, carol.pk, to_bob, loads));
      QCOMPARE(loads[0].total, 10 + Store::kInboxRowBytes);
    });
    in_tx(*s, [&](Store& st) {
      // A purge after the reads, here of every sent record: the retry is no longer one.
      st.read_send_ahead(alice.user_id, retried, alice.pk, to_bob);
      st.read_ahead();
      st.purge(0, std::numeric_limits<std::uint64_t>::max() / 2);
      Store::InboxLoad loads[1];
      QVERIFY(!st.check_send(alice.user_id, retried, alice.pk, to_bob, loads));
    });
  }

  // An ack read ahead with the batch's other reads is read inside the transaction: its rows
  // are locked from then on, as delete_acked's own read locks them. The device's next
  // delete_acked takes it, and answers from it if asked what it answers (past the rows this
  // transaction appended since, which an ack never reaches); asked anything else, or after
  // another delete of the device took it, or after a purge, it reads for itself.
  void anAckReadAheadHoldsItsRowsAndAnswersTheDevicesNextDelete() {
    auto s = open();
    const auto alice = account(*s, "alice");
    const auto bob = account(*s, "bob");
    const auto carol = account(*s, "carol");
    const auto append = [&](Store& st, const DeviceRecord& from, std::uint64_t conv_seq) {
      auto e = message("m" + std::to_string(conv_seq), from.pk);
      e.conv_seq = conv_seq;
      st.append_inbox(bob.pk, e);
    };
    in_tx(*s, [&](Store& st) {
      for (std::uint64_t i = 1; i <= 4; ++i) append(st, alice, i);
    });
    pg::Connection other(db_);  // another gateway
    // A delete asking what the reads ahead below ask (a part of 1,024 rows), for a copy.
    const auto acked_by = [&](Store& st, std::uint64_t up_to) {
      std::uint64_t reached = 0;
      const auto acked = st.delete_acked(bob.pk, up_to, 1024, reached);
      return std::vector<AckedMessages>(acked.begin(), acked.end());
    };
    const auto bob_row = [&](const std::string& sql, int seq) {
      other.exec((sql + " device = " + std::to_string(bob.pk) + " AND seq = " +
                  std::to_string(seq)).c_str());
    };
    bob_row("DELETE FROM inbox WHERE", 3);
    // Whether a transaction other than `other`'s holds bob's first row.
    const auto first_row_locked = [&] {
      return try_locking_inbox(other, "device = " + std::to_string(bob.pk) + " AND seq = 1");
    };
    QCOMPARE(first_row_locked(), std::string());
    in_tx(*s, [&](Store& st) {
      st.read_acked_ahead(bob.pk, 4, 1024);
      st.read_ahead();
      QCOMPARE(first_row_locked(), std::string("55P03"));  // lock_not_available
      // A row below the ack committed by another writer after the reads (which no relay
      // does: an inbox's seqs are given in order) shows where the answer comes from: the
      // reads, which did not see it.
      bob_row(
          "INSERT INTO inbox(device, seq, kind, sender, sender_device, sender_pk, client_msg_id, "
          "conv_seq, server_ts, content_hint, ciphertext) SELECT device, 3, kind, 'carol', 1, " +
              std::to_string(carol.pk) +
              ", client_msg_id, 1, server_ts, content_hint, ciphertext FROM inbox WHERE",
          4);
      append(st, alice, 5);  // this transaction's own, after the reads
      const auto acked = acked_by(st, 4);
      QCOMPARE(acked.size(), std::size_t{1});
      QCOMPARE(acked[0].sender_pk, alice.pk);
      QCOMPARE(acked[0].from, std::uint64_t{1});
      QCOMPARE(acked[0].up_to, std::uint64_t{4});
    });
    QCOMPARE(first_row_locked(), std::string());  // the commit let them go
    in_tx(*s, [&](Store& st) {
      for (std::uint64_t i = 6; i <= 8; ++i) append(st, alice, i);  // seqs 6 to 8
    });
    in_tx(*s, [&](Store& st) {
      // Read ahead for one ack, asked another: read again. The delete asking what was read
      // ahead comes second, and finds it taken.
      st.read_acked_ahead(bob.pk, 7, 1024);
      st.read_ahead();
      auto acked = acked_by(st, 6);
      QCOMPARE(acked.size(), std::size_t{1});
      QCOMPARE(acked[0].from, std::uint64_t{5});
      QCOMPARE(acked[0].up_to, std::uint64_t{6});
      acked = acked_by(st, 7);
      QCOMPARE(acked.size(), std::size_t{1});
      QCOMPARE(acked[0].from, std::uint64_t{7});
      QCOMPARE(acked[0].up_to, std::uint64_t{7});
    });
    in_tx(*s, [&](Store& st) {
      // A purge after the reads deletes rows anywhere: read again, and nothing is left.
      st.read_acked_ahead(bob.pk, 8, 1024);
      st.read_ahead();
      st.purge(std::numeric_limits<std::uint64_t>::max() / 2, 0);
      QCOMPARE(acked_by(st, 8).size(), std::size_t{0});
    });
    QCOMPARE(s->inbox_depth(), std::uint64_t{0});
    // Carol's row, slipped in below the ack after the reads, went with the ack's DELETE
    // without being weighed out: the relay weighs what it read, and no relay writes below an
    // ack. Her weight there stays, which is how this test's made-up row shows.
    QCOMPARE(in_tx(*s, [&](Store& st) { return st.inbox_bytes_from(bob.pk, carol.pk); }),
             2 + Store::kInboxRowBytes);
    // What the purge deleted left alice's weight there (the weights of the rows it and the
    // acks deleted, written at their commits).
    QCOMPARE(in_tx(*s, [&](Store& st) { return st.inbox_bytes_from(bob.pk, alice.pk); }),
             std::uint64_t{0});
  }

  // A mark raised for a job that reads the outcome after its commit (an ack's) does what
  // raise_delivery_mark does, in one statement read with a later round trip: made at `from`
  // where there is none, raised where it is lower, left (no version taken) where it is not.
  // Each raise says which of the owner's versions it follows: the owner's newest before it.
  void aMarkRaisedByTheCommitIsTheMarkRaisedAtOnce() {
    auto s = open();
    const auto alice = account(*s, "alice");
    const auto bob = account(*s, "bob");
    const auto carol = account(*s, "carol");
    const auto by_commit = [&](DevicePk reader, std::uint64_t from, std::uint64_t up_to) {
      std::optional<MarkRaised> raised;
      in_tx(*s, [&](Store& st) {
        st.raise_delivery_mark_by_commit(alice.pk, reader, "", from, up_to, 7, raised);
      });
      return raised;
    };
    const auto made = by_commit(bob.pk, 3, 5);
    QVERIFY(made);
    QCOMPARE(made->from, std::uint64_t{3});
    QCOMPARE(made->follows, std::optional<std::uint64_t>{0});  // alice's first
    // Another owner's mark takes a version in between, which alice's next does not follow.
    QVERIFY(in_tx(*s, [&](Store& st) { return st.raise_delivery_mark(bob.pk, carol.pk, "", 1, 1, 7); }));
    const auto higher = by_commit(bob.pk, 1, 9);
    QVERIFY(higher);
    QCOMPARE(higher->from, std::uint64_t{3});  // a mark keeps where it started
    QVERIFY(higher->version > made->version + 1);
    QCOMPARE(higher->follows, std::optional<std::uint64_t>{made->version});
    QVERIFY(!by_commit(bob.pk, 1, 9));  // a redelivery acknowledged again
    QVERIFY(!by_commit(bob.pk, 1, 4));
    // The next version is the one after: neither of those took one.
    const auto at_once = in_tx(*s, [&](Store& st) {
      return st.raise_delivery_mark(alice.pk, carol.pk, "", 2, 2, 7);
    });
    QVERIFY(at_once);
    QCOMPARE(at_once->version, higher->version + 1);
    QCOMPARE(at_once->follows, std::optional<std::uint64_t>{higher->version});
    const auto marks = in_tx(*s, [&](Store& st) { return st.delivery_marks_after(alice.pk, 0, 10); });
    QCOMPARE(marks.size(), std::size_t{2});
    QCOMPARE(marks[0].reader, std::string("bob"));
    QCOMPARE(marks[0].up_to, std::uint64_t{9});
    QCOMPARE(marks[0].version, higher->version);
    // The newest of alice's marks, not the one raised.
    const auto again = by_commit(bob.pk, 1, 12);
    QVERIFY(again);
    QCOMPARE(again->follows, std::optional<std::uint64_t>{at_once->version});
    // Two raises in one transaction (a batch's two acks): the second follows the first.
    std::optional<MarkRaised> first, second;
    in_tx(*s, [&](Store& st) {
      st.raise_delivery_mark_by_commit(alice.pk, carol.pk, "", 1, 5, 7, first);
      st.raise_delivery_mark_by_commit(alice.pk, bob.pk, "", 1, 15, 7, second);
    });
    QVERIFY(first && second);
    QCOMPARE(first->follows, std::optional<std::uint64_t>{again->version});
    QCOMPARE(second->follows, std::optional<std::uint64_t>{first->version});
  }

  // Marks of one owner raised on two relays at once (two readers' acks) while the owner's
  // device follows them by version. Relay a's raise takes a version and has not committed
  // when relay b's would take the next: had b's committed first, the device would move its
  // resume point past a's version before a's mark was there, and never get it. So b's raise
  // waits for a's commit.
  void oneOwnersMarksCommitInVersionOrder() {
    auto setup = open();
    const auto alice = account(*setup, "alice");
    const auto r1 = account(*setup, "reader1");
    const auto r2 = account(*setup, "reader2");
    auto a = open();
    auto b = open();
    auto device = open();
    std::uint64_t version = 0;
    std::map<std::string, std::uint64_t> known;  // reader -> up_to, as the device learnt it
    auto follow = [&] {
      for (const auto& m : in_tx(*device, [&](Store& st) { return st.delivery_marks_after(alice.pk, version, 50); })) {
        QVERIFY(m.version > version);
        version = m.version;
        known[m.reader] = m.up_to;
      }
    };
    a->begin();
    const auto a_raised = a->raise_delivery_mark(alice.pk, r1.pk, "", 1, 3, 1);
    QVERIFY(a_raised);
    std::optional<MarkRaised> b_raised;
    std::atomic<bool> b_done{false};
    std::atomic<int> b_gave_up{0};
    std::thread other([&] {
      // As b's store worker would: a wait given up (lock_timeout) is rolled back and tried
      // again.
      for (;;) {
        try {
          b->begin();
          b_raised = b->raise_delivery_mark(alice.pk, r2.pk, "", 1, 4, 1);
          b->commit();
          break;
        } catch (const std::exception& e) {
          b->rollback();
          if (!b->conflicted(e)) return;
          ++b_gave_up;
        }
      }
      b_done = true;
    });
    // Time enough for b to commit, had it not waited.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    QVERIFY(!b_done);
    follow();
    a->commit();
    other.join();
    QVERIFY(b_done);
    QVERIFY(b_gave_up >= 1);  // 300 ms is past the lock wait a gateway allows
    // b's raise, run after a's commit, says it follows a's: a device that has a's has all.
    QVERIFY(b_raised);
    QCOMPARE(b_raised->follows, std::optional<std::uint64_t>{a_raised->version});
    follow();
    QCOMPARE(known["reader1"], std::uint64_t{3});
    QCOMPARE(known["reader2"], std::uint64_t{4});
    QCOMPARE(in_tx(*setup, [](Store& st) { return st.delivery_mark_version(); }), std::uint64_t{2});
    // Raised again to the same point (a redelivery acknowledged again): nothing changes.
    QVERIFY(!in_tx(*setup, [&](Store& st) { return st.raise_delivery_mark(alice.pk, r1.pk, "", 1, 3, 1); }));
    // Raised further: the mark keeps where it started and gets a new version.
    const auto raised = in_tx(*setup, [&](Store& st) { return st.raise_delivery_mark(alice.pk, r1.pk, "", 9, 5, 1); });
    QVERIFY(raised);
    QCOMPARE(raised->from, std::uint64_t{1});
    QCOMPARE(raised->version, std::uint64_t{3});
  }

  // A group's fan-out moved by one relay a step at a time and finished by another: every
  // member device gets every entry once, in order, as one inbox row per range; an ack from
  // the other relay releases the log.
  void aFanOutGoesOnFromWhereAnotherRelayLeftIt() {
    auto a = open();
    auto b = open();
    std::vector<DeviceRecord> members;
    for (int i = 0; i < 12; ++i) members.push_back(account(*a, "m" + std::to_string(i)));
    const std::string gid(16, 'G');
    in_tx(*a, [&](Store& st) {
      st.create_group(gid, 1);
      for (const auto& m : members) st.add_group_member(gid, m.user_id, false, 1);
      for (int i = 0; i < 5; ++i) {
        auto e = group_message("body" + std::to_string(i), members.back().pk);
        st.append_group_log(gid, e);
      }
    });
    QCOMPARE(in_tx(*a, [&](Store& st) { return st.group_load_of(members.back().pk).pending; }), std::uint64_t{5});
    // Two devices' worth on relay a (the sender's device, last by pk, gets none), the rest
    // on relay b.
    auto first = in_tx(*a, [&](Store& st) { return st.fan_out_group(gid, 10); });
    QVERIFY(first.more);
    QCOMPARE(first.runs.size(), std::size_t{2});
    std::size_t runs = first.runs.size();
    for (int steps = 0;; ++steps) {
      QVERIFY(steps < 10);
      const auto rest = in_tx(*b, [&](Store& st) { return st.fan_out_group(gid, 10); });
      runs += rest.runs.size();
      if (!rest.more) break;
    }
    QCOMPARE(runs, members.size() - 1);  // the sender has its own
    QCOMPARE(in_tx(*b, [&](Store& st) { return st.group_load_of(members.back().pk).pending; }), std::uint64_t{0});
    for (std::size_t i = 0; i + 1 < members.size(); ++i) {
      const auto got = in_tx(*(i % 2 ? a : b), [&](Store& st) { return st.read_inbox(members[i].pk, 0, 100, 1 << 20); });
      QCOMPARE(got.size(), std::size_t{5});
      for (std::size_t k = 0; k < got.size(); ++k) {
        QCOMPARE(got[k].inbox_seq, k + 1);
        QCOMPARE(got[k].ciphertext, "body" + std::to_string(k));
        QCOMPARE(got[k].group_id, gid);
      }
    }
    // Every member acknowledges, half on each relay, the first in two parts (an ack ending
    // inside the range row): the entries leave the log with the last ack.
    for (std::size_t i = 0; i + 1 < members.size(); ++i) {
      auto& s = *(i % 2 ? b : a);
      if (i == 0) {
        const auto acked = in_tx(s, [&](Store& st) {
          const auto marks = st.delete_acked(members[i].pk, 2);
          return std::vector<AckedMessages>(marks.begin(), marks.end());
        });
        QCOMPARE(acked.size(), std::size_t{1});
        QCOMPARE(acked[0].from, std::uint64_t{1});
        QCOMPARE(acked[0].up_to, std::uint64_t{2});
        const auto left = in_tx(s, [&](Store& st) { return st.read_inbox(members[i].pk, 2, 100, 1 << 20); });
        QCOMPARE(left.size(), std::size_t{3});
        QCOMPARE(left.front().ciphertext, std::string("body2"));
      }
      in_tx(s, [&](Store& st) { st.delete_acked(members[i].pk, 5); });
    }
    QCOMPARE(in_tx(*a, [&](Store& st) { return st.group_load_of(members.back().pk); }), SenderGroupLoad{});
    pg::Connection check(db_);
    QCOMPARE(check.query("SELECT COUNT(*) FROM group_log").i64(0, 0), std::int64_t{0});
    QCOMPARE(check.query("SELECT COUNT(*) FROM inbox").i64(0, 0), std::int64_t{0});
  }

  // A job that fails takes back only its own writes; the transaction goes on and commits the
  // others. A duplicate send record is such a failure (another relay remembered it first).
  // Its INSERT waits in the pipeline, so it fails with the savepoint's release, which the
  // store worker calls inside the job's own try.
  void aFailedJobRollsBackAlone() {
    auto s = open();
    const auto bob = account(*s, "bob");
    s->begin();
    s->savepoint();
    auto kept = message("kept", 7);
    s->append_inbox(bob.pk, kept);
    s->remember_sent(7, "id-1", {1, 1});
    s->release_savepoint();
    s->savepoint();
    auto lost = message("lost", 7);
    s->append_inbox(bob.pk, lost);
    s->remember_sent(7, "id-1", {2, 2});
    QVERIFY_THROWS_EXCEPTION(pg::Error, s->release_savepoint());
    s->rollback_to_savepoint();
    s->commit();
    const auto got = in_tx(*s, [&](Store& st) { return st.read_inbox(bob.pk, 0, 10, 1 << 20); });
    QCOMPARE(got.size(), std::size_t{1});
    QCOMPARE(got[0].ciphertext, std::string("kept"));
    QCOMPARE(got[0].inbox_seq, std::uint64_t{1});
    QCOMPARE(s->inbox_depth(), std::uint64_t{1});
    // Its weight went with it (the relay's own, written at the commit).
    QCOMPARE(in_tx(*s, [&](Store& st) { return st.inbox_bytes_from(bob.pk, 7); }),
             4 + Store::kInboxRowBytes);
    // The seq the rolled-back job took is given again: nothing saw it.
    auto next = message("next", 7);
    in_tx(*s, [&](Store& st) { st.append_inbox(bob.pk, next); });
    QCOMPARE(next.inbox_seq, std::uint64_t{2});
  }

  // Writes whose outcome no job reads go with the next round trip, for the last job of a
  // batch its COMMIT: a job's own failure then fails the commit. The batch runs again, each
  // job in a savepoint, and only the job that failed fails; the others commit, once.
  void aJobFailingAtTheCommitFailsAlone() {
    using namespace std::chrono_literals;
    auto setup = open();
    const auto bob = account(*setup, "bob");
    in_tx(*setup, [&](Store& st) { st.remember_sent(9, "taken", {1, 1}); });
    parley::Metrics metrics;
    StoreWorker worker(open(), metrics, 100, 64, 10ms);
    std::atomic<int> committed{0}, failed{0}, kept_runs{0};
    const auto done = [&](JobStatus s) { ++(s == JobStatus::Committed ? committed : failed); };
    // Held in a first batch until the two jobs of the second are queued.
    HeldWorker held(worker, done);
    worker.submit(
        [&](Store& st) {
          ++kept_runs;
          auto e = message("kept", 9);
          st.append_inbox(bob.pk, e);
        },
        done);
    // Another relay remembered this id first: the INSERT fails, but only at the COMMIT.
    worker.submit([&](Store& st) { st.remember_sent(9, "taken", {2, 2}); }, done);
    held.release();
    QTRY_COMPARE_WITH_TIMEOUT(committed + failed, 3, 10000);
    QCOMPARE(failed.load(), 1);
    QCOMPARE(kept_runs.load(), 2);
    QCOMPARE(metrics.store_batches_started_over.load(), std::uint64_t{1});
    const auto got = in_tx(*setup, [&](Store& st) { return st.read_inbox(bob.pk, 0, 10, 1 << 20); });
    QCOMPARE(got.size(), std::size_t{1});
    QCOMPARE(got[0].ciphertext, std::string("kept"));
    QCOMPARE(got[0].inbox_seq, std::uint64_t{1});
  }

  // A mark raised by the commit, in a batch whose COMMIT fails (another job's queued
  // insert) and which runs again with each job in a savepoint: what the job's commit hook
  // reads is the raise that committed, never the rolled-back one's.
  void aMarkRaisedByTheCommitSurvivesABatchRunAgain() {
    using namespace std::chrono_literals;
    auto setup = open();
    const auto alice = account(*setup, "alice");
    const auto bob = account(*setup, "bob");
    in_tx(*setup, [&](Store& st) { st.remember_sent(9, "taken", {1, 1}); });
    parley::Metrics metrics;
    StoreWorker worker(open(), metrics, 100, 64, 10ms);
    std::atomic<int> finished{0};
    std::optional<MarkRaised> raised;
    std::atomic<std::uint64_t> seen_version{0}, seen_from{0};
    HeldWorker held(worker, [&](JobStatus) { ++finished; });
    worker.submit(
        [&](Store& st) {
          st.raise_delivery_mark_by_commit(alice.pk, bob.pk, "", 4, 6, 1, raised);
        },
        [&](JobStatus) { ++finished; },
        [&] {
          if (!raised) return;
          seen_version = raised->version;
          seen_from = raised->from;
        });
    worker.submit([&](Store& st) { st.remember_sent(9, "taken", {2, 2}); },
                  [&](JobStatus) { ++finished; });
    held.release();
    QTRY_COMPARE_WITH_TIMEOUT(finished.load(), 3, 10000);
    QCOMPARE(metrics.store_batches_started_over.load(), std::uint64_t{1});
    const auto marks = in_tx(*setup, [&](Store& st) { return st.delivery_marks_after(alice.pk, 0, 10); });
    QCOMPARE(marks.size(), std::size_t{1});
    QVERIFY(seen_version.load() != 0);
    QCOMPARE(seen_version.load(), marks[0].version);
    QCOMPARE(seen_from.load(), std::uint64_t{4});
    QCOMPARE(marks[0].up_to, std::uint64_t{6});
  }

  // A worker that takes several jobs at once reads what they will read ahead, before the
  // first runs: the second send here weighs bob's inbox as it was then, not after the entry
  // another gateway committed while the first ran (as it would, reading for itself).
  void aWorkerReadsItsBatchsSendsAheadBeforeRunningThem() {
    using namespace std::chrono_literals;
    auto setup = open();
    auto other = open();  // another gateway, used by the first job only
    const auto alice = account(*setup, "alice");
    const auto bob = account(*setup, "bob");
    const std::vector<DeviceAddress> to_bob{{bob.pk, 1}};
    parley::Metrics metrics;
    StoreWorker worker(open(), metrics, 100, 64, 10ms);
    std::atomic<int> finished{0};
    HeldWorker held(worker, [&](JobStatus) { ++finished; });
    const std::string first(16, '1'), second(16, '2');
    std::uint64_t weighed = 1;
    auto a = std::make_unique<FunctionJob>();
    a->finish = [&](JobStatus) { ++finished; };
    a->ahead = [&](Store& st) { st.read_send_ahead(alice.user_id, first, alice.pk, to_bob); };
    a->work = [&](Store&) {
      in_tx(*other, [&](Store& o) {
        auto e = message(std::string(50, 'o'), alice.pk);
        o.append_inbox(bob.pk, e);
      });
    };
    auto b = std::make_unique<FunctionJob>();
    b->finish = [&](JobStatus) { ++finished; };
    b->ahead = [&](Store& st) { st.read_send_ahead(alice.user_id, second, alice.pk, to_bob); };
    b->work = [&](Store& st) {
      Store::InboxLoad loads[1];
      if (!st.check_send(alice.user_id, second, alice.pk, to_bob, loads)) weighed = loads[0].total;
    };
    worker.submit(std::move(a));
    worker.submit(std::move(b));
    held.release();
    QTRY_COMPARE_WITH_TIMEOUT(finished.load(), 3, 10000);
    QCOMPARE(weighed, std::uint64_t{0});
    QCOMPARE(in_tx(*setup, [&](Store& st) { return st.inbox_load(bob.pk, alice.pk).total; }),
             50 + Store::kInboxRowBytes);
  }

  // A worker reads its batch's acks ahead inside the transaction, which it begins first: the
  // rows are locked from the read on, before the batch's first job runs, and held to the
  // commit, as a delete's own read would hold them.
  void aWorkerHoldsItsBatchsAckedRowsFromReadingAhead() {
    using namespace std::chrono_literals;
    auto setup = open();
    const auto alice = account(*setup, "alice");
    const auto bob = account(*setup, "bob");
    in_tx(*setup, [&](Store& st) {
      for (int i = 0; i < 2; ++i) {
        auto e = message("to bob", alice.pk);
        st.append_inbox(bob.pk, e);
      }
    });
    parley::Metrics metrics;
    StoreWorker worker(open(), metrics, 100, 64, 10ms);
    std::atomic<int> finished{0}, failed{0};
    const auto done = [&](JobStatus st) {
      if (st != JobStatus::Committed) ++failed;
      ++finished;
    };
    HeldWorker held(worker, done);
    pg::Connection other(db_);
    std::string seen = "not run";
    auto first = std::make_unique<FunctionJob>();
    first->finish = done;
    first->work = [&](Store&) {
      seen = try_locking_inbox(other, "device = " + std::to_string(bob.pk));
    };
    std::size_t acked = 0;
    auto ack = std::make_unique<FunctionJob>();
    ack->finish = done;
    ack->ahead = [&](Store& st) { st.read_acked_ahead(bob.pk, 2, 1024); };
    ack->work = [&](Store& st) {
      std::uint64_t reached = 0;
      acked = st.delete_acked(bob.pk, 2, 1024, reached).size();  // as read ahead
    };
    worker.submit(std::move(first));
    worker.submit(std::move(ack));
    held.release();
    QTRY_COMPARE_WITH_TIMEOUT(finished.load(), 3, 10000);
    QCOMPARE(failed.load(), 0);
    QCOMPARE(QString::fromStdString(seen), QString("55P03"));  // lock_not_available: held by the worker's reads
    QCOMPARE(acked, std::size_t{1});
    QCOMPARE(in_tx(*setup, [&](Store& st) { return st.read_inbox(bob.pk, 0, 10, 1 << 20).size(); }),
             std::size_t{0});
  }

  // Reading ahead meets another writer's lock before any job of the batch ran: what the reads
  // began is rolled back, and each job reads for itself in a transaction begun again, each
  // in a savepoint, the ack meeting the lock in its own run and alone waiting its turn until
  // the way is clear. Nothing fails.
  void aReadAheadMeetingALockBeforeAnyJobRanLetsEachJobReadForItself() {
    using namespace std::chrono_literals;
    auto setup = open();
    const auto alice = account(*setup, "alice");
    const auto bob = account(*setup, "bob");
    in_tx(*setup, [&](Store& st) {
      auto e = message("to bob", alice.pk);
      st.append_inbox(bob.pk, e);
    });
    pg::Connection other(db_);
    other.exec("BEGIN");
    other.exec(("SELECT 1 FROM inbox WHERE device = " + std::to_string(bob.pk) + " FOR UPDATE").c_str());
    parley::Metrics metrics;
    StoreWorker worker(open(), metrics, 100, 64, 10ms);
    std::atomic<int> committed{0}, failed{0};
    const auto done = [&](JobStatus st) { ++(st == JobStatus::Committed ? committed : failed); };
    HeldWorker held(worker, done);
    std::atomic<std::uint64_t> conflicts_at_first{99};
    worker.submit([&](Store& st) { st.remember_sent(alice.user_id, std::string(16, 'x'), {1, 1}); },
                  [&](JobStatus st) {
                    conflicts_at_first = metrics.store_conflicts_retried.load();
                    done(st);
                  });
    std::atomic<std::size_t> acked{99};
    auto ack = std::make_unique<FunctionJob>();
    ack->finish = done;
    ack->ahead = [&](Store& st) { st.read_acked_ahead(bob.pk, 1, 1024); };
    ack->work = [&](Store& st) { acked = st.delete_acked(bob.pk, 1).size(); };
    worker.submit(std::move(ack));
    held.release();
    // The job before the ack commits while the lock is still held, in the first batch, where
    // only the ack met it (unguarded, both would have gone back, and met it again).
    QTRY_COMPARE_WITH_TIMEOUT(committed.load(), 2, 10000);
    QCOMPARE(conflicts_at_first.load(), std::uint64_t{1});
    other.exec("ROLLBACK");
    QTRY_COMPARE_WITH_TIMEOUT(committed + failed, 3, 10000);
    QCOMPARE(failed.load(), 0);
    QCOMPARE(acked.load(), std::size_t{1});
    QCOMPARE(metrics.store_batches_started_over.load(), std::uint64_t{0});
  }

  // The round trip that reads a batch's sends ahead also carries what its earlier jobs
  // queued; when one of those fails there, the transaction runs again from its first job,
  // each in a savepoint, as when a job throws: the failing job fails alone, and no COMMIT
  // is sent for a transaction the server already ended (which PostgreSQL would answer with
  // a ROLLBACK, not an error).
  void aReadAheadCarryingAnEarlierJobsFailureRunsTheTransactionAgain() {
    using namespace std::chrono_literals;
    auto setup = open();
    const auto alice = account(*setup, "alice");
    const auto bob = account(*setup, "bob");
    in_tx(*setup, [&](Store& st) { st.remember_sent(9, "taken", {1, 1}); });
    const std::vector<DeviceAddress> to_bob{{bob.pk, 1}};
    parley::Metrics metrics;
    // A long unhurried delay: the first job's transaction stays open for the sends it queues.
    StoreWorker worker(open(), metrics, 100, 64, 5000ms);
    std::mutex mutex;
    std::vector<std::pair<std::string, JobStatus>> outcomes;
    const auto step = [&](std::string name) {
      auto job = std::make_unique<FunctionJob>();
      job->finish = [&, name](JobStatus status) {
        std::lock_guard lock(mutex);
        outcomes.emplace_back(name, status);
      };
      return job;
    };
    bool submitted = false;  // store thread only
    auto first = step("taken");
    first->work = [&](Store& st) {
      st.remember_sent(9, "taken", {2, 2});  // queued; fails at the next round trip
      if (std::exchange(submitted, true)) return;
      for (const char* id : {"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"}) {
        auto send = step(id);
        send->ahead = [&, id = std::string(id)](Store& s) {
          s.read_send_ahead(alice.user_id, id, alice.pk, to_bob);
        };
        worker.submit(std::move(send));
      }
    };
    worker.submit(std::move(first), Urgency::Unhurried);
    QTRY_COMPARE_WITH_TIMEOUT(([&] {
                                std::lock_guard lock(mutex);
                                return outcomes.size();
                              }()),
                              std::size_t{3}, 10000);
    std::lock_guard lock(mutex);
    for (const auto& [name, status] : outcomes)
      QCOMPARE(status, name == "taken" ? JobStatus::Failed : JobStatus::Committed);
    QCOMPARE(metrics.store_batches_started_over.load(), std::uint64_t{1});
  }

  // Two gateways' store workers each take a batch that appends to bob's inbox and then to
  // carol's, in opposite orders: each holds the row the other waits for. PostgreSQL would
  // stall both until it found the deadlock (a second), then fail a job. Each worker instead
  // gives up the wait (lock_timeout), commits what ran before it and runs the job again
  // first in its next transaction: every job commits, and each inbox has both entries once.
  void aDeadlockBetweenTwoGatewaysIsRunAgain() {
    using namespace std::chrono_literals;
    auto setup = open();
    const auto bob = account(*setup, "bob"), carol = account(*setup, "carol");
    parley::Metrics metrics_a, metrics_b;
    StoreWorker a(open(), metrics_a, 100, 64, 10ms), b(open(), metrics_b, 100, 64, 10ms);
    std::atomic<int> committed{0}, failed{0};
    const auto done = [&](JobStatus s) { ++(s == JobStatus::Committed ? committed : failed); };
    // Each worker is held in a first batch until both jobs of its second are queued, so
    // they run in one transaction, one after the other.
    std::latch entered(2), release(1), first_locks(2);
    std::atomic<bool> a_first{false}, b_first{false};
    for (auto* w : {&a, &b})
      w->submit([&](Store&) { entered.count_down(); release.wait(); }, done);
    entered.wait();
    const auto append = [&](DevicePk to, DevicePk sender, std::atomic<bool>* first) {
      return [&, to, sender, first](Store& s) {
        auto e = message("from " + std::to_string(sender), sender);
        s.append_inbox(to, e);
        // Both first jobs hold their row before either second job asks for the other's.
        if (first != nullptr && !first->exchange(true)) {
          first_locks.count_down();
          first_locks.wait();
        }
      };
    };
    a.submit(append(bob.pk, 7001, &a_first), done);
    a.submit(append(carol.pk, 7001, nullptr), done);
    b.submit(append(carol.pk, 7002, &b_first), done);
    b.submit(append(bob.pk, 7002, nullptr), done);
    release.count_down();
    QTRY_COMPARE_WITH_TIMEOUT(committed + failed, 6, 20000);
    QCOMPARE(failed.load(), 0);
    QVERIFY(metrics_a.store_conflicts_retried + metrics_b.store_conflicts_retried >= 1);
    for (const auto& who : {bob, carol}) {
      const auto entries = in_tx(*setup, [&](Store& st) { return st.read_inbox(who.pk, 0, 10, 1 << 20); });
      QCOMPARE(entries.size(), std::size_t{2});
      QCOMPARE(entries[0].inbox_seq, std::uint64_t{1});
      QCOMPARE(entries[1].inbox_seq, std::uint64_t{2});
      QVERIFY(entries[0].sender_pk != entries[1].sender_pk);
    }
  }

  // A send's statements are read by a later round trip (append_message_by_commit), so a lock
  // another writer holds on its inbox is met in the next job's round trip. The transaction
  // then goes back to the queue with every job in it guarded (each in a savepoint, whose
  // RELEASE is a round trip), so the send meets the lock in its own run from then on, and
  // is put back alone until the way is clear: every job commits, none fails with the batch.
  void aLockMetByAnEarlierJobsQueuedWritesIsRunAgain() {
    using namespace std::chrono_literals;
    auto setup = open();
    const auto alice = account(*setup, "alice"), bob = account(*setup, "bob"),
               carol = account(*setup, "carol");
    pg::Connection other(db_);
    other.exec("BEGIN");
    other.exec(("SELECT 1 FROM devices WHERE id = " + std::to_string(bob.pk) + " FOR UPDATE").c_str());
    parley::Metrics metrics;
    StoreWorker worker(open(), metrics, 100, 64, 10ms);
    std::atomic<int> committed{0}, failed{0};
    const auto done = [&](JobStatus st) { ++(st == JobStatus::Committed ? committed : failed); };
    HeldWorker held(worker, done);
    auto entry = std::make_shared<InboxEntry>();
    SentRecord ack{0, 1};
    std::atomic<int> send_runs{0};
    worker.submit(
        [&](Store& st) {
          ++send_runs;
          *entry = message("to bob", alice.pk);
          ack = {0, 1};
          const Store::Append to_bob[] = {{bob.pk, entry.get()}};
          st.append_message_by_commit("alice|bob", to_bob, alice.user_id, std::string(16, 's'), ack);
        },
        done);
    // A job whose round trip carries the send's statements.
    worker.submit([&](Store& st) { (void)st.inbox_tail(carol.pk); }, done);
    held.release();
    // Held through two rounds: the first meets it in the second job, the next in the send.
    QTRY_VERIFY_WITH_TIMEOUT(metrics.store_conflicts_retried >= 2, 10000);
    other.exec("ROLLBACK");
    QTRY_COMPARE_WITH_TIMEOUT(committed + failed, 3, 10000);
    QCOMPARE(failed.load(), 0);
    QVERIFY(send_runs >= 3);
    QCOMPARE(ack.conv_seq, std::uint64_t{1});
    QCOMPARE(entry->inbox_seq, std::uint64_t{1});
    QCOMPARE(in_tx(*setup, [&](Store& st) { return st.inbox_tail(bob.pk); }), std::uint64_t{1});
  }

  // A batch whose commit meets another writer's lock (its deferred sums) runs again. A job
  // that then fails for its own reasons fails: its first run's work was rolled back with
  // the commit, so it must not be reported committed (a send would be acknowledged, and its
  // entry pushed with a seq the next message takes again).
  void aJobFailingWhenRunAgainAfterACommitConflictFails() {
    using namespace std::chrono_literals;
    auto setup = open();
    const auto sender = account(*setup, "sender"), member = account(*setup, "member"),
               other_member = account(*setup, "other-member");
    const std::string gid(16, 'C');
    in_tx(*setup, [&](Store& st) {
      st.create_group(gid, 1);
      for (const auto& m : {sender, member, other_member})
        st.add_group_member(gid, m.user_id, false, 1);
      auto e = group_message("to the group", sender.pk);
      st.append_group_log(gid, e);
    });
    // A fan-out step to two members adds to the entry's reference count, which is written
    // at the commit (deferred_sums.hpp). Another writer holds the entry's row: that write waits, and
    // gives up.
    pg::Connection other(db_);
    other.exec("BEGIN");
    other.exec("SELECT 1 FROM group_log FOR UPDATE");
    parley::Metrics metrics;
    StoreWorker worker(open(), metrics, 100, 64, 10ms);
    std::atomic<int> runs{0}, status{-1};
    std::atomic<std::size_t> fanned{0};
    worker.submit(
        [&](Store& st) {
          if (runs.fetch_add(1) > 0) {
            other.exec("ROLLBACK");  // the way is clear now, but this run fails on its own
            throw std::runtime_error("refused the second time");
          }
          fanned = st.fan_out_group(gid, 10).runs.size();
        },
        [&](JobStatus s) { status = static_cast<int>(s); });
    QTRY_VERIFY_WITH_TIMEOUT(status.load() >= 0, 10000);
    QCOMPARE(fanned.load(), std::size_t{2});  // the members' devices: the sender's gets none
    QCOMPARE(runs.load(), 2);
    QVERIFY(metrics.store_conflicts_retried >= 1);
    QCOMPARE(status.load(), static_cast<int>(JobStatus::Failed));
    // Nothing of either run stayed: the member's inbox is empty.
    QCOMPARE(in_tx(*setup, [&](Store& st) { return st.inbox_tail(member.pk); }), std::uint64_t{0});
  }

  // A transaction begins with its first statement that writes or locks rows: one that only
  // read holds nothing open on the server (no round trip to end it), while one that wrote
  // is one transaction, its reads after the write seeing it, until it commits or rolls back.
  void aTransactionBeginsWithItsFirstWrite() {
    pg::Connection c(db_), admin(db_);
    c.exec("CREATE TABLE counter(n bigint); INSERT INTO counter VALUES (0)");
    const pg::Statement kPid{"pid", "SELECT pg_backend_pid()::bigint", ""};
    const pg::Statement kRead{"read_n", "SELECT n FROM counter", ""};
    const pg::Statement kBump{"bump_n", "UPDATE counter SET n = n + 1", ""};
    const pg::Statement kLock{"lock_n", "SELECT n FROM counter FOR UPDATE", ""};
    const pg::Statement kState{"state", "SELECT state FROM pg_stat_activity WHERE pid = $1", "i"};
    const auto pid = c.run(kPid).i64(0, 0);
    const auto state = [&] { return admin.run(kState, pg::Params().i64(pid)).bytes(0, 0); };
    const auto n = [&] { return c.run(kRead).i64(0, 0); };

    c.begin();
    QCOMPARE(n(), 0);
    QCOMPARE(state(), std::string("idle"));
    c.queue(kBump, {});
    QCOMPARE(n(), 1);  // the read carries the queued write, inside the transaction
    QCOMPARE(state(), std::string("idle in transaction"));
    c.rollback();
    QCOMPARE(state(), std::string("idle"));
    QCOMPARE(n(), 0);

    c.begin();
    c.run(kLock);  // a lock is taken inside the transaction, to be held to its end
    QCOMPARE(state(), std::string("idle in transaction"));
    c.commit();
    QCOMPARE(state(), std::string("idle"));

    c.begin();
    c.defer("SAVEPOINT s");  // a transaction not begun begins with it
    c.queue(kBump, {});
    c.exec("ROLLBACK TO s");
    c.queue(kBump, {});
    c.commit();
    QCOMPARE(n(), 1);
    QCOMPARE(state(), std::string("idle"));
  }

  // A transaction an error ended cannot be committed: PostgreSQL answers the COMMIT with a
  // ROLLBACK, which commit() reports as the failure it is.
  void aCommitOfAFailedTransactionIsAnError() {
    pg::Connection c(db_);
    c.exec("CREATE TABLE once(k bigint PRIMARY KEY)");
    const pg::Statement kPut{"put_once", "INSERT INTO once VALUES ($1)", "i"};
    const pg::Statement kCount{"count_once", "SELECT count(*)::bigint FROM once", ""};
    c.begin();
    c.queue(kPut, pg::Params().i64(1));
    c.queue(kPut, pg::Params().i64(1));
    try {
      c.run(kCount);
      QFAIL("a duplicate key went through");
    } catch (const pg::Error& e) {
      QCOMPARE(e.sqlstate(), std::string("23505"));
    }
    try {
      c.commit();
      QFAIL("a failed transaction was committed");
    } catch (const pg::Error& e) {
      QCOMPARE(e.sqlstate(), std::string("25P02"));
    }
    c.rollback();
    QCOMPARE(c.run(kCount).i64(0, 0), 0);
  }

  // The server ends the relay's connection (a restart, a failover): the next transaction
  // connects again, prepared statements and all.
  void aLostConnectionIsMadeAgain() {
    auto s = open();
    const auto bob = account(*s, "bob");
    pg::Connection admin(db_);
    admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> "
               "pg_backend_pid() AND datname = current_database()");
    // The first use finds it gone and fails, as a job would, with the transaction.
    QVERIFY_THROWS_EXCEPTION(std::exception, in_tx(*s, [&](Store& st) { return st.inbox_tail(bob.pk); }));
    try {
      s->rollback();
    } catch (const std::exception&) {
    }
    auto e = message("after", 3);
    in_tx(*s, [&](Store& st) { st.append_inbox(bob.pk, e); });
    QCOMPARE(e.inbox_seq, std::uint64_t{1});
    // With its session settings: the row is weighed once, by the relay, not by the trigger too.
    QCOMPARE(in_tx(*s, [&](Store& st) { return st.inbox_bytes_from(bob.pk, 3); }),
             5 + Store::kInboxRowBytes);
  }

  // Upgrading the schema while other gateways run: step 3 drops and makes the inbox's
  // triggers, which takes the inbox's strongest lock. Behind a long transaction of another
  // gateway, its wait would queue every later statement on the inbox behind it (the whole
  // tier stalled); it waits briefly at a time instead, and is done once that transaction ends.
  void anUpgradeWaitingForALockDoesNotHoldUpTheOtherGateways() {
    schema_back_to_2();
    pg::Connection holder(db_);
    holder.exec("BEGIN; SELECT count(*) FROM inbox");  // a long reader of another gateway
    std::atomic<bool> done{false};
    std::string failed;  // written before done
    std::thread upgrade([&] {
      try {
        pg::Connection c(db_);
        pg::migrate_schema(c, {pg::MigrationWaits{}.lock_wait, std::chrono::seconds(30)});
      } catch (const std::exception& e) {
        failed = e.what();
      }
      done = true;
    });
    auto end_both = qScopeGuard([&] {
      if (!upgrade.joinable()) return;
      try {
        holder.exec("COMMIT");
      } catch (const std::exception&) {
      }
      upgrade.join();
    });
    pg::Connection other(db_);
    // The upgrade's lock request is queued behind the reader before the reads start.
    const auto queued = [&] {
      return other.query("SELECT count(*) FROM pg_locks WHERE relation = 'inbox'::regclass "
                         "AND NOT granted").i64(0, 0) > 0;
    };
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!queued() && !done && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    QVERIFY(!done);
    // Another gateway's reads of the inbox go on meanwhile. Behind an unbounded wait they would
    // fail at their lock_timeout; behind a try, they wait at most its lock_wait (shorter than
    // the relays' own wait: pg_schema.hpp checks that), here with room for a loaded machine.
    other.exec("SET lock_timeout = '1s'");
    for (int i = 0; i < 10; ++i) {
      const auto start = std::chrono::steady_clock::now();
      try {
        QCOMPARE(other.query("SELECT count(*) FROM inbox").i64(0, 0), 0);
      } catch (const std::exception& e) {
        const std::string why = "another gateway's read waited behind the upgrade: ";
        QFAIL((why + e.what()).c_str());
      }
      QVERIFY(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(900));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const bool finished = done;
    QVERIFY2(!finished, finished ? failed.c_str() : "");
    holder.exec("COMMIT");  // the reader ends, and the upgrade goes through
    upgrade.join();
    QVERIFY2(failed.empty(), failed.c_str());
    QCOMPARE(schema_version(), 3);
  }

  // A step that cannot take its locks at all gives up with a reason, having changed nothing.
  void anUpgradeThatCannotLockItsTablesSaysWhy() {
    schema_back_to_2();
    pg::Connection holder(db_);
    holder.exec("BEGIN; SELECT count(*) FROM inbox");
    try {
      pg::Connection c(db_);
      pg::migrate_schema(c, {std::chrono::milliseconds(50), std::chrono::milliseconds(400)});
      QFAIL("the step ran under another transaction's lock");
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      QVERIFY2(what.find("schema step 3 could not lock its tables") != std::string::npos,
               what.c_str());
      QVERIFY2(what.find("pg_stat_activity") != std::string::npos, what.c_str());
    }
    QCOMPARE(schema_version(), 2);
    holder.exec("COMMIT");
    open();
    QCOMPARE(schema_version(), 3);
  }

  // Bad configuration says why, without the password.
  void aBadConnectionStringSaysWhy() {
    try {
      PostgresStore s(cluster_ + " dbname=no_such_database password=hunter2");
      QFAIL("connected to a database that does not exist");
    } catch (const std::exception& e) {
      const std::string what = e.what();
      QVERIFY2(what.find("no_such_database") != std::string::npos, what.c_str());
      QVERIFY(what.find("hunter2") == std::string::npos);
    }
    // libpq would quote the token it stopped at: here, the password.
    try {
      PostgresStore s(cluster_ + " password=hunter2%zz nonsense");
      QFAIL("a connection string that does not parse was taken");
    } catch (const std::exception& e) {
      const std::string what = e.what();
      QVERIFY2(what.find("does not parse") != std::string::npos, what.c_str());
      QVERIFY2(what.find("hunter2") == std::string::npos, what.c_str());
    }
  }
};

QTEST_GUILESS_MAIN(PostgresStoreTest)
#include "postgres_store_test.moc"
