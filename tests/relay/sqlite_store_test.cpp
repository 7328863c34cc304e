// The embedded store and its worker, without sockets.
#include <QtTest>

#include <SQLiteCpp/Database.h>

#include <array>
#include <atomic>
#include <future>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include "observability/metrics.hpp"
#include "net/asio.hpp"
#include "net/post_task.hpp"
#include "schema_undo.hpp"
#include "store/inbox_weights.hpp"
#include "store/sqlite_row_statement.hpp"
#include "store/sqlite_small_blocks.hpp"
#include "store/sqlite_store.hpp"
#include "store/store_worker.hpp"
#include "store/wal_write_batching.hpp"

using namespace parley;
using namespace parley::store;

namespace {

InboxEntry message(const std::string& body, std::uint64_t ts = 1000) {
  InboxEntry e;
  e.kind = EntryKind::Message;
  e.sender = "alice";
  e.sender_device = 1;
  e.sender_pk = 1;
  e.client_msg_id = std::string(16, 'i');
  e.conv_seq = 1;
  e.server_ts_ms = ts;
  e.ciphertext = body;
  return e;
}

// The value of one un-labelled counter in the worker's metrics.
unsigned long counter(const Metrics& metrics, const std::string& name) {
  const auto text = metrics.render();
  const auto key = "\n" + name + " ";
  return std::stoul(text.substr(text.find(key) + key.size()));
}

// Group commits the worker has made so far.
unsigned long commits(const Metrics& metrics) {
  return counter(metrics, "parley_store_commit_seconds_count");
}

// A store worker, the jobs a test queues on it, and the order in which they ran and
// completed. The worker is the last member, so it stops (running what is left) while the
// log still exists.
class JobLog {
 public:
  JobLog(std::unique_ptr<Store> store, Metrics& metrics) : worker_(std::move(store), metrics, 100) {}

  // Queues a job that notes when it runs (writing, unless read-only) and completes; `also`
  // runs inside it.
  void job(std::string name, Urgency urgency, std::function<void()> also = {}) {
    ++left_;
    worker_.submit(
        [this, name, urgency, also](Store& s) {
          if (urgency != Urgency::ReadOnly) s.next_conv_seq(name);
          note("run " + name);
          if (also) also();
        },
        [this, name](JobStatus st) {
          note("done " + name + (st == JobStatus::Committed ? "" : " failed"));
          if (--left_ == 0) all_done_.set_value();
        },
        {}, urgency);
  }
  // Runs `queue` while a prompt job "gate" holds the store thread, so all it queues is taken
  // together, then lets it go: true once every job completed.
  bool round(const std::function<void()>& queue) {
    std::promise<void> open;
    auto entered = std::make_shared<std::promise<void>>();  // outlives a round that timed out
    auto gate = open.get_future().share();
    all_done_ = {};
    auto done = all_done_.get_future();
    job("gate", Urgency::Prompt, [entered, gate] {
      entered->set_value();
      gate.wait();
    });
    if (entered->get_future().wait_for(std::chrono::seconds(10)) != std::future_status::ready)
      return false;
    queue();
    open.set_value();
    return done.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  }
  std::vector<std::string> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  void note(std::string e) {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(e));
  }

  mutable std::mutex mutex_;
  std::vector<std::string> events_;
  std::atomic<int> left_ = 0;
  std::promise<void> all_done_;
  StoreWorker worker_;
};

// Holds a worker's store thread in a prompt job until opened (or destroyed), so what is queued
// meanwhile is taken in one batch. Made after the worker, so it opens before the worker stops.
// `writes`: the job writes, and so makes a commit of its own.
class StoreThreadGate {
 public:
  explicit StoreThreadGate(StoreWorker& worker, bool writes = false) {
    auto entered = std::make_shared<std::promise<void>>();  // outlives a gate that timed out
    auto in = entered->get_future();
    worker.submit(
        [shut = open_.get_future().share(), entered, writes](Store& s) {
          if (writes) s.next_conv_seq("gate");
          entered->set_value();
          shut.wait();
        },
        [](JobStatus) {});
    holding_ = in.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  }
  ~StoreThreadGate() { open(); }
  StoreThreadGate(const StoreThreadGate&) = delete;
  StoreThreadGate& operator=(const StoreThreadGate&) = delete;

  bool holding() const { return holding_; }  // the job runs: later submits queue behind it
  void open() {
    if (!opened_) open_.set_value();
    opened_ = true;
  }

 private:
  std::promise<void> open_;
  bool holding_ = false;
  bool opened_ = false;
};

}  // namespace

class SqliteStoreTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::unique_ptr<SqliteStore> s_;

  // Opens the store (again) on the test's directory, a transaction begun: a new run of it.
  void openStore() {
    s_ = std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Normal);
    s_->begin();
  }
  // The test's store, committed and closed, opened again for a worker to own.
  std::unique_ptr<SqliteStore> handOverStore() {
    s_->commit();
    s_.reset();
    return std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Normal);
  }

 private slots:
  void init() {
    QVERIFY(dir_.isValid());
    QFile::remove(dir_.filePath("relay.db"));
    openStore();
  }
  void cleanup() {
    if (!s_) return;  // a failed test that had closed the store: report it, do not crash
    s_->commit();
    s_.reset();
  }

  void relayIdIsStableAcrossReopen() {
    const auto id = s_->relay_id();
    QCOMPARE(id.size(), std::size_t{16});
    s_->commit();
    openStore();
    QCOMPARE(s_->relay_id(), id);
  }

  void accountsAreUnique() {
    auto a = s_->create_account("alice", std::string(32, 'k'), 1, 5);
    QVERIFY(a);
    QVERIFY(!s_->create_account("alice", std::string(32, 'j'), 1, 6));
    auto found = s_->find_device("alice", 1);
    QVERIFY(found);
    QCOMPARE(found->pk, a->pk);
    QCOMPARE(found->identity_key, std::string(32, 'k'));
    QVERIFY(!s_->find_device("alice", 2));
    auto account = s_->find_account("alice");
    QVERIFY(account);
    QCOMPARE(account->user_id, a->user_id);
    QCOMPARE(account->devices.size(), std::size_t{1});
    QCOMPARE(account->devices[0].pk, a->pk);
    QCOMPARE(account->devices[0].device_id, 1u);
    QVERIFY(!s_->find_account("nobody"));
  }

  // Accounts are answered from memory once found. An account a rolled-back job made (a job
  // or a whole batch) must not be found after the rollback, though a lookup inside the job
  // remembered it; and a name looked up before it was registered is found once it is.
  void accountLookupsForgetWhatARollbackUndid() {
    QVERIFY(!s_->find_account("carol"));
    s_->savepoint();
    QVERIFY(s_->create_account("carol", std::string(32, 'c'), 3, 0));
    QVERIFY(s_->find_account("carol"));
    QVERIFY(s_->find_user("carol"));
    s_->rollback_to_savepoint();
    QVERIFY(!s_->find_account("carol"));
    QVERIFY(!s_->find_user("carol"));

    QVERIFY(s_->create_account("dave", std::string(32, 'd'), 4, 0));
    QCOMPARE(s_->find_account("dave")->devices.size(), std::size_t{1});
    s_->rollback();
    s_->begin();
    QVERIFY(!s_->find_account("dave"));
    QVERIFY(!s_->find_user("dave"));

    const auto carol = s_->create_account("carol", std::string(32, 'c'), 7, 0);
    QVERIFY(carol);
    const auto found = s_->find_account("carol");
    QVERIFY(found);
    QCOMPARE(found->user_id, carol->user_id);
    QCOMPARE(found->devices[0].device_id, 7u);
  }

  void inboxAssignsSequencePerDeviceAndDeletesOnAck() {
    auto a = s_->create_account("alice", std::string(32, 'k'), 1, 0);
    auto b = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    for (int i = 0; i < 5; ++i) {
      auto e = message("to bob " + std::to_string(i));
      e.conv_seq = static_cast<std::uint64_t>(i + 1);
      s_->append_inbox(b->pk, e);
      QCOMPARE(e.inbox_seq, static_cast<std::uint64_t>(i + 1));
    }
    auto e = message("to alice");
    s_->append_inbox(a->pk, e);
    QCOMPARE(e.inbox_seq, 1u);  // its own counter
    QCOMPARE(s_->inbox_depth(), 6u);

    auto page = s_->read_inbox(b->pk, 1, 2, 1 << 20);
    QCOMPARE(page.size(), std::size_t{2});
    QCOMPARE(page[0].inbox_seq, 2u);
    QCOMPARE(page[1].ciphertext, std::string("to bob 2"));

    // One run per sending device and conversation: what raises its delivery mark.
    auto acked = s_->delete_acked(b->pk, 3);
    QCOMPARE(acked.size(), std::size_t{1});
    QCOMPARE(acked[0].sender, std::string("alice"));
    QVERIFY(acked[0].group_id.empty());
    QCOMPARE(acked[0].from, 1u);
    QCOMPARE(acked[0].up_to, 3u);
    QCOMPARE(s_->read_inbox(b->pk, 0, 100, 1 << 20).size(), std::size_t{2});
    QCOMPARE(s_->inbox_depth(), 3u);
    QCOMPARE(s_->inbox_tail(b->pk), 5u);  // the counter never goes back
  }

  // Opening the store gave SQLite the relay's small blocks (store/sqlite_small_blocks.hpp):
  // what its statements allocate comes from the lists, not from malloc.
  void sqliteAllocatesFromTheStoresSmallBlocks() {
    auto b = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    const auto before = parley::store::sqlite_blocks::thread_counts();
    for (int i = 0; i < 100; ++i) {
      auto e = message("to bob " + std::to_string(i));
      s_->append_inbox(b->pk, e);
      s_->delete_acked(b->pk, e.inbox_seq);
    }
    const auto after = parley::store::sqlite_blocks::thread_counts();
    QVERIFY2(after.reused - before.reused >= 200,
             qPrintable(QString::number(after.reused - before.reused)));
  }

  // An ack may be deleted in parts (a Login's can cover a whole inbox): each part takes the
  // oldest rows, at most max_rows, and says how far it got.
  void anAckIsDeletedInPartsOfAtMostMaxRows() {
    auto b = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    for (int i = 0; i < 10; ++i) {
      auto e = message("m" + std::to_string(i));
      e.conv_seq = static_cast<std::uint64_t>(i + 1);
      s_->append_inbox(b->pk, e);
    }
    std::uint64_t reached = 0;
    auto acked = s_->delete_acked(b->pk, 8, 3, reached);
    QCOMPARE(reached, 3u);
    QCOMPARE(acked.size(), std::size_t{1});
    QCOMPARE(acked[0].from, 1u);
    QCOMPARE(acked[0].up_to, 3u);
    QCOMPARE(s_->inbox_depth(), 7u);
    QCOMPARE(s_->read_inbox(b->pk, 0, 100, 1 << 20).front().inbox_seq, 4u);
    acked = s_->delete_acked(b->pk, 8, 5, reached);  // exactly what is left of the ack
    QCOMPARE(reached, 8u);
    QCOMPARE(acked[0].from, 4u);
    QCOMPARE(acked[0].up_to, 8u);
    acked = s_->delete_acked(b->pk, 10, 5, reached);  // fewer rows than the limit
    QCOMPARE(reached, 10u);
    QCOMPARE(acked[0].up_to, 10u);
    QCOMPARE(s_->inbox_depth(), 0u);
    QCOMPARE(s_->inbox_tail(b->pk), 10u);
  }

  // The tail lives in memory between deletes (sqlite_store.cpp): a number once given is
  // never given again, across acks that empty the inbox, retention, restarts and rollbacks.
  // A restart is a new run, which starts 2^32 above the last (run_floor.hpp).
  void inboxTailNeverGoesBack() {
    auto b = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    const auto append = [&](std::uint64_t ts = 1000) {
      auto e = message("m", ts);
      s_->append_inbox(b->pk, e);
      return e.inbox_seq;
    };
    const auto reopen = [&] {
      s_->commit();
      openStore();
    };
    for (int i = 0; i < 3; ++i) append();
    QCOMPARE(s_->delete_acked(b->pk, 3).size(), std::size_t{1});
    QCOMPARE(s_->inbox_depth(), 0u);
    QCOMPARE(s_->inbox_tail(b->pk), 3u);  // the first run starts at 0
    reopen();
    constexpr auto kGap = std::uint64_t{1} << 32;
    const auto run = s_->inbox_tail(b->pk);  // where this run starts
    QCOMPARE(run, kGap);
    QCOMPARE(s_->find_device("bob", 1)->inbox_tail, run);
    QCOMPARE(append(), run + 1);
    s_->commit();
    s_->begin();

    // A failed job's appends are undone with it; the next append follows what was kept.
    // (Nothing of an uncommitted job has reached a client.)
    s_->savepoint();
    QCOMPARE(append(), run + 2);
    s_->rollback_to_savepoint();
    QCOMPARE(append(), run + 2);
    s_->rollback();  // and a whole batch: back to the committed run + 1
    s_->begin();
    QCOMPARE(s_->inbox_tail(b->pk), run + 1);
    QCOMPARE(append(100), run + 2);

    // Retention removes entries without an ack; their numbers stay used.
    QCOMPARE(s_->purge(1001, 0), 2u);
    reopen();
    QCOMPARE(s_->inbox_depth(), 0u);
    QCOMPARE(append(), 2 * kGap + 1);
    QCOMPARE(s_->inbox_tail(12345), 0u);  // no such device
  }

  // An ack does not write the device's tail; its transaction's commit does, once per device.
  // Until then the tail is held in memory from the delete on, so a later job's rollback does
  // not take back a number an earlier job of the same transaction gave and another
  // acknowledged (the client has it once the batch commits).
  void anAcknowledgedTailOutlivesRollbacksAndIsStoredByTheCommit() {
    auto b = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    const auto append = [&] {
      auto e = message("m");
      s_->append_inbox(b->pk, e);
      return e.inbox_seq;
    };
    s_->commit();
    s_->begin();
    s_->savepoint();
    const auto first = append();
    s_->release_savepoint();
    s_->savepoint();
    s_->delete_acked(b->pk, first);
    s_->release_savepoint();
    QCOMPARE(s_->inbox_depth(), 0u);
    s_->savepoint();
    QCOMPARE(append(), first + 1);
    s_->rollback_to_savepoint();
    s_->savepoint();
    QCOMPARE(append(), first + 1);
    s_->delete_acked(b->pk, first + 1);
    s_->release_savepoint();
    s_->commit();
    // Nothing of bob's is left in the inbox, and an empty batch's rollback drops every
    // cached tail: the next number comes from his device's row, which the commit raised.
    s_->begin();
    s_->rollback();
    s_->begin();
    QCOMPARE(s_->inbox_tail(b->pk), first + 1);
    QCOMPARE(append(), first + 2);

    // A tail not in memory when its entries are deleted is read before they go.
    s_->commit();
    s_->begin();
    s_->rollback();
    s_->begin();
    s_->savepoint();
    s_->delete_acked(b->pk, first + 2);
    s_->release_savepoint();
    s_->commit();
    s_->begin();
    s_->rollback();
    s_->begin();
    QCOMPARE(append(), first + 3);

    // A rolled-back job's deletes are undone: the commit saves no tail for them, not even of
    // a device the job made (which is gone with it).
    s_->savepoint();
    const auto carol = s_->create_account("carol", std::string(32, 'c'), 1, 0);
    QVERIFY(carol);
    auto e = message("to carol");
    s_->append_inbox(carol->pk, e);
    s_->delete_acked(carol->pk, e.inbox_seq);
    s_->rollback_to_savepoint();
    QVERIFY_THROWS_NO_EXCEPTION(s_->commit());
    s_->begin();
    QVERIFY(!s_->find_account("carol"));
  }

  // A power cut under --durability normal can take back commits whose entries a device
  // already has and acknowledged (a rollback stands for that here). The run's start was
  // stored when it opened, so the next run's seqs are above all of the lost ones: none is
  // given to a different entry, which the device's cursor would skip.
  void inboxSeqsOfALostRunAreNotGivenAgain() {
    auto b = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    s_->commit();
    openStore();
    std::uint64_t lost = 0;
    for (int i = 0; i < 3; ++i) {
      auto e = message("lost");
      s_->append_inbox(b->pk, e);
      lost = e.inbox_seq;
    }
    s_->rollback();
    openStore();
    QVERIFY(s_->inbox_tail(b->pk) >= lost);  // a Login naming `lost` is accepted
    auto e = message("after");
    s_->append_inbox(b->pk, e);
    QVERIFY(e.inbox_seq > lost);
  }

  // A relay that kept no floor yet (one from before it existed) starts above the highest seq
  // it still knows: its last run may have lost commits too.
  void upgradedRelayStartsAboveItsHighestSeq() {
    auto b = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    for (int i = 0; i < 7; ++i) {
      auto e = message("m");
      s_->append_inbox(b->pk, e);
    }
    s_->commit();
    s_.reset();
    {
      SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READWRITE);
      db.exec("DELETE FROM meta WHERE key = 'inbox_seq_floor'");
    }
    openStore();
    QCOMPARE(s_->inbox_tail(b->pk), 7 + (std::uint64_t{1} << 32));
    QCOMPARE(s_->read_inbox(b->pk, 0, 10, 1 << 20).size(), std::size_t{7});  // all still there
  }

  void bundlesNeverRepeatAOneTimePrekey() {
    auto a = s_->create_account("alice", std::string(32, 'k'), 1, 0);
    std::vector<OneTimePrekeyRecord> keys;
    for (std::uint32_t i = 1; i <= 5; ++i) keys.push_back({i, std::string(32, char('a' + i))});
    keys.push_back({3, std::string(32, 'z')});  // a repeated id is ignored
    QCOMPARE(s_->add_one_time_prekeys(a->pk, keys, 4), 4u);  // capped
    s_->set_signed_prekey(a->pk, {7, std::string(32, 's'), std::string(64, 'g')});
    std::set<std::uint32_t> seen;
    for (int i = 0; i < 4; ++i) {
      auto b = s_->take_bundles(a->user_id, true);
      QCOMPARE(b.size(), std::size_t{1});
      QVERIFY(b[0].one_time_prekey);
      QVERIFY(seen.insert(b[0].one_time_prekey->id).second);
      QCOMPARE(b[0].one_time_left, static_cast<std::uint32_t>(3 - i));
      QCOMPARE(b[0].signed_prekey->id, 7u);
    }
    auto empty = s_->take_bundles(a->user_id, true);
    QVERIFY(!empty[0].one_time_prekey);
    QVERIFY(empty[0].signed_prekey);
  }

  void conversationSequenceIsMonotonic() {
    QCOMPARE(s_->next_conv_seq("d:1:2"), 1u);
    QCOMPARE(s_->next_conv_seq("d:1:2"), 2u);
    QCOMPARE(s_->next_conv_seq("d:1:3"), 1u);
    QCOMPARE(s_->next_conv_seq("d:1:2"), 3u);
    // The sequence is cached in memory: a rolled-back job's number is given again (nothing
    // of it was stored), and what was committed is where a reopened store continues.
    s_->savepoint();
    QCOMPARE(s_->next_conv_seq("d:1:2"), 4u);
    QCOMPARE(s_->next_conv_seq("d:1:4"), 1u);
    s_->rollback_to_savepoint();
    QCOMPARE(s_->next_conv_seq("d:1:2"), 4u);
    QCOMPARE(s_->next_conv_seq("d:1:4"), 1u);
    s_->commit();
    openStore();
    QCOMPARE(s_->next_conv_seq("d:1:2"), 5u);
    QCOMPARE(s_->next_conv_seq("d:1:4"), 2u);
    QCOMPARE(s_->next_conv_seq("d:1:3"), 2u);
  }

  void dedupAndRetention() {
    auto b = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    s_->remember_sent(1, std::string(16, 'x'), {4, 100});
    auto seen = s_->find_sent(1, std::string(16, 'x'));
    QVERIFY(seen);
    QCOMPARE(seen->conv_seq, 4u);
    QVERIFY(!s_->find_sent(2, std::string(16, 'x')));  // per sender
    auto old = message("old", 100);
    auto fresh = message("fresh", 5000);
    s_->append_inbox(b->pk, old);
    s_->append_inbox(b->pk, fresh);
    QCOMPARE(s_->purge(1000, 1000), 1u);
    QVERIFY(!s_->find_sent(1, std::string(16, 'x')));
    auto left = s_->read_inbox(b->pk, 0, 10, 1 << 20);
    QCOMPARE(left.size(), std::size_t{1});
    QCOMPARE(left[0].ciphertext, std::string("fresh"));
  }

  // inbox_bytes is kept in memory (sqlite_store.cpp); summed again from the table it must
  // agree, after appends, acks, a job rolled back, retention and a restart.
  void inboxBytesFollowEveryChangeToTheInbox() {
    constexpr std::uint64_t row = Store::kInboxRowBytes;
    auto a = s_->create_account("alice", std::string(32, 'k'), 1, 0);
    auto b = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    QCOMPARE(s_->inbox_bytes(b->pk), 0u);  // now cached: the appends below keep it
    const auto append = [&](DevicePk device, std::size_t size, std::uint64_t ts) {
      auto e = message(std::string(size, 'c'), ts);
      s_->append_inbox(device, e);
    };
    append(b->pk, 100, 100);  // old: retention takes it
    append(b->pk, 200, 5000);
    append(b->pk, 300, 5000);
    append(a->pk, 7, 5000);
    QCOMPARE(s_->inbox_bytes(b->pk), 600 + 3 * row);
    QCOMPARE(s_->inbox_bytes(a->pk), 7 + row);  // summed from the table

    QCOMPARE(s_->purge(1000, 0), 1u);
    QCOMPARE(s_->inbox_bytes(b->pk), 500 + 2 * row);

    s_->delete_acked(b->pk, 2);
    QCOMPARE(s_->inbox_bytes(b->pk), 300 + row);

    // A job's rollback takes back its changes to the cached weights, and only those: no
    // weight is summed from the table again (each sum reads a whole inbox).
    const auto weighed = s_->inbox_weighings();
    s_->savepoint();
    append(b->pk, 1000, 5000);
    QCOMPARE(s_->inbox_bytes(b->pk), 1300 + 2 * row);
    s_->rollback_to_savepoint();
    QCOMPARE(s_->inbox_bytes(b->pk), 300 + row);
    QCOMPARE(s_->inbox_weighings(), weighed);
    // A weight first summed inside a job counted the job's rows: it goes with them.
    auto c = s_->create_account("carol", std::string(32, 'k'), 1, 0);
    s_->savepoint();
    append(c->pk, 50, 5000);
    QCOMPARE(s_->inbox_bytes(c->pk), 50 + row);
    QCOMPARE(s_->inbox_weighings(), weighed + 1);
    s_->rollback_to_savepoint();
    QCOMPARE(s_->inbox_bytes(c->pk), 0u);
    QCOMPARE(s_->inbox_weighings(), weighed + 2);

    s_->commit();
    openStore();
    QCOMPARE(s_->inbox_bytes(b->pk), 300 + row);
    s_->delete_acked(b->pk, s_->inbox_tail(b->pk));
    QCOMPARE(s_->inbox_bytes(b->pk), 0u);
    s_->rollback();  // the ack with it
    s_->begin();
    QCOMPARE(s_->inbox_bytes(b->pk), 300 + row);
    QCOMPARE(s_->inbox_bytes(a->pk), 7 + row);
  }

  // inbox_bytes_from (the share one sender may hold) is kept by the same changes as the
  // total, and a sum from the table gives the same figures.
  void inboxBytesAreKeptBySender() {
    constexpr std::uint64_t row = Store::kInboxRowBytes;
    constexpr DevicePk alice = 11, carol = 13, dave = 14;  // sending devices
    auto b = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    QCOMPARE(s_->inbox_bytes(b->pk), 0u);  // cached from here on
    const auto append = [&](DevicePk sender, std::size_t size, std::uint64_t ts) {
      auto e = message(std::string(size, 'c'), ts);
      e.sender_pk = sender;
      s_->append_inbox(b->pk, e);
    };
    append(alice, 100, 100);  // old: retention takes it
    append(carol, 40, 5000);
    append(alice, 200, 5000);
    append(carol, 60, 5000);
    const auto expect = [&](std::uint64_t from_alice, std::uint64_t from_carol) {
      QCOMPARE(s_->inbox_bytes_from(b->pk, alice), from_alice);
      QCOMPARE(s_->inbox_bytes_from(b->pk, carol), from_carol);
      QCOMPARE(s_->inbox_bytes_from(b->pk, dave), 0u);
      QCOMPARE(s_->inbox_bytes(b->pk), from_alice + from_carol);
    };
    expect(300 + 2 * row, 100 + 2 * row);

    QCOMPARE(s_->purge(1000, 0), 1u);
    expect(200 + row, 100 + 2 * row);
    s_->delete_acked(b->pk, 2);  // carol's first
    expect(200 + row, 60 + row);

    const auto weighed = s_->inbox_weighings();
    s_->savepoint();
    append(dave, 10, 5000);
    append(alice, 30, 5000);
    s_->delete_acked(b->pk, 4);  // alice's and carol's older rows
    QCOMPARE(s_->inbox_bytes_from(b->pk, dave), 10 + row);
    QCOMPARE(s_->inbox_bytes_from(b->pk, alice), 30 + row);
    QCOMPARE(s_->inbox_bytes_from(b->pk, carol), 0u);
    s_->rollback_to_savepoint();
    expect(200 + row, 60 + row);
    QCOMPARE(s_->inbox_weighings(), weighed);

    s_->commit();
    openStore();  // summed again from the table
    expect(200 + row, 60 + row);
    s_->delete_acked(b->pk, s_->inbox_tail(b->pk));
    expect(0, 0);

    // A group entry stored in the inbox itself (as before schema step 4) weighs nothing
    // against the 1:1 quota, as range rows do not (group_store_test), beside a 1:1 one that
    // does; retention taking an old one takes nothing off either.
    const auto append_group_row = [&](DevicePk sender, std::uint64_t ts) {
      auto e = message(std::string(50, 'g'), ts);
      e.sender_pk = sender;
      e.kind = EntryKind::GroupMessage;
      e.group_id = std::string(16, 'G');
      s_->append_inbox(b->pk, e);
      return e.inbox_seq;
    };
    append_group_row(carol, 100);
    append(carol, 10, 5000);
    expect(0, 10 + row);
    QCOMPARE(s_->purge(1000, 0), 1u);
    expect(0, 10 + row);
    s_->delete_acked(b->pk, s_->inbox_tail(b->pk));
    expect(0, 0);
    const auto group_seq = append_group_row(alice, 5000);
    append(carol, 70, 5000);
    expect(0, 70 + row);
    s_->commit();
    openStore();
    expect(0, 70 + row);
    s_->delete_acked(b->pk, group_seq);  // its going takes nothing off either
    expect(0, 70 + row);
    s_->delete_acked(b->pk, s_->inbox_tail(b->pk));
    expect(0, 0);
  }

  // Past its bounds the cache sheds first the devices cheapest to sum again (fewest rows
  // read by their last sum): a long inbox stays, whether its rows are 1:1 messages or group
  // rows that weigh nothing, however many short ones someone makes the relay weigh.
  void theWeightCacheShedsTheCheapestToSumFirst() {
    InboxWeights weights;
    const auto summed = [](std::uint64_t rows, std::uint64_t bytes) {
      InboxWeights::Weight w;
      w.rows_read = rows;
      if (bytes > 0) w.add_row(7, bytes);
      return w;
    };
    // A device that heard from one sender more than the bound allows, 128 bytes each.
    const auto heard_from_past_the_bound = [] {
      InboxWeights::Weight w;
      for (DevicePk s = 1; s <= static_cast<DevicePk>(InboxWeights::kMaxSenders) + 1; ++s)
        w.add_row(s, 128);
      w.rows_read = InboxWeights::kMaxSenders + 1;
      return w;
    };
    weights.add_summed(1, summed(1'300'000, 256u << 20));  // a full inbox
    weights.add_summed(2, summed(2'000'000, 0));           // group rows only
    for (DevicePk d = 3; d <= static_cast<DevicePk>(InboxWeights::kMaxDevices); ++d)
      weights.add_summed(d, summed(1, 200));
    weights.keep();
    weights.shed_if_over();  // at the bound, not past it
    QCOMPARE(weights.devices(), InboxWeights::kMaxDevices);
    weights.add_summed(0x10000000, summed(2, 300));
    weights.shed_if_over();
    QCOMPARE(weights.devices(), InboxWeights::kMaxDevices / 2);
    QVERIFY(weights.find(1));
    QCOMPARE(weights.find(1)->from(7), std::uint64_t{256} << 20);
    QVERIFY(weights.find(2));
    QVERIFY(weights.find(0x10000000));  // dearer than the ones that went

    // Senders count too: one device that heard from more than the bound goes, if cheapest.
    weights.clear();
    weights.add_summed(1, summed(1'300'000, 256u << 20));
    weights.add_summed(2, heard_from_past_the_bound());
    weights.shed_if_over();
    QCOMPARE(weights.devices(), std::size_t{1});
    QVERIFY(weights.find(1));

    // A sender whose rows have all gone keeps its entry, at 0, for its next message; past the
    // bound those entries go, and no device goes with them when that is enough, however
    // many are cached.
    weights.clear();
    weights.add_summed(1, summed(1'300'000, 256u << 20));
    constexpr DevicePk kShort = 3;  // the first of many short inboxes
    const auto shorts = static_cast<DevicePk>(InboxWeights::kMaxDevices / 2);
    for (DevicePk d = kShort; d < kShort + shorts; ++d) weights.add_summed(d, summed(1, 0));
    weights.add_summed(2, heard_from_past_the_bound());
    weights.keep();
    for (DevicePk s = 1; s <= static_cast<DevicePk>(InboxWeights::kMaxSenders); ++s)
      weights.adjust(2, s, -128);
    weights.keep();
    QCOMPARE(weights.senders(), InboxWeights::kMaxSenders + 2);
    QCOMPARE(weights.find(2)->total, std::uint64_t{128});
    weights.shed_if_over();
    QCOMPARE(weights.devices(), std::size_t{2} + shorts);
    QCOMPARE(weights.senders(), std::size_t{2});
    const auto last = static_cast<DevicePk>(InboxWeights::kMaxSenders) + 1;
    QCOMPARE(weights.find(2)->from(last), std::uint64_t{128});
    QCOMPARE(weights.find(2)->from(1), std::uint64_t{0});
  }

  // Retention walks rowids (insertion order), not a server_ts index: an old row written
  // after a newer one (a group entry fanned out late) goes once the rows before it are old.
  void retentionFollowsInsertionOrder() {
    auto b = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    for (const std::uint64_t ts : {100, 5000, 200}) {
      auto e = message("m", ts);
      s_->append_inbox(b->pk, e);
    }
    QCOMPARE(s_->purge(1000, 0), 1u);
    auto left = s_->read_inbox(b->pk, 0, 10, 1 << 20);
    QCOMPARE(left.size(), std::size_t{2});
    QCOMPARE(left[0].server_ts_ms, 5000u);
    QCOMPARE(s_->purge(6000, 0), 2u);
    QCOMPARE(s_->inbox_depth(), 0u);
    QCOMPARE(s_->purge(6000, 0), 0u);  // nothing left: no bound row at all
  }

  // Step 5 re-keys the dedup window; what a version-4 relay remembered is still a duplicate.
  void schemaStep5KeepsTheDedupWindow() {
    s_->commit();
    s_.reset();
    {
      SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READWRITE);
      db.exec(std::string(kUndoStep12) + kUndoStep11 + kUndoStep10 + kUndoStep9 + R"sql(
        DROP TABLE sent;
        CREATE TABLE sent(sender INTEGER NOT NULL, client_msg_id BLOB NOT NULL,
          conv_seq INTEGER NOT NULL, server_ts INTEGER NOT NULL,
          PRIMARY KEY(sender, client_msg_id)) WITHOUT ROWID;
        CREATE INDEX sent_by_time ON sent(server_ts);
        INSERT INTO sent VALUES(7, zeroblob(16), 41, 900), (8, zeroblob(16), 3, 5000);
        DROP TABLE delivery_marks;
        DELETE FROM meta WHERE key = 'mark_version';
        PRAGMA user_version = 4;
      )sql");
    }
    openStore();
    const std::string id(16, '\0');
    QCOMPARE(s_->find_sent(7, id)->conv_seq, 41u);
    QCOMPARE(s_->find_sent(8, id)->server_ts_ms, 5000u);
    QVERIFY(!s_->find_sent(9, id));
    s_->purge(0, 1000);  // the time index came along
    QVERIFY(!s_->find_sent(7, id));
    QVERIFY(s_->find_sent(8, id));
  }

  // A mark rises in place (never down), every raise takes the next version, and the counter
  // outlives a reopen while a rolled-back raise leaves no row behind.
  void deliveryMarksRiseInPlaceWithVersions() {
    auto a = s_->create_account("alice", std::string(32, 'k'), 1, 0);
    auto b = s_->create_account("bob", std::string(32, 'k'), 2, 0);
    const std::string group(16, 'g');
    const auto v1 = s_->raise_delivery_mark(a->pk, b->pk, "", 1, 3, 100);
    QVERIFY(v1);
    QVERIFY(!s_->raise_delivery_mark(a->pk, b->pk, "", 1, 3, 101));
    QVERIFY(!s_->raise_delivery_mark(a->pk, b->pk, "", 1, 2, 102));
    const auto v2 = s_->raise_delivery_mark(a->pk, b->pk, "", 4, 5, 103);
    const auto v3 = s_->raise_delivery_mark(a->pk, b->pk, group, 1, 1, 104);
    QVERIFY(v2 && v3 && v1->version < v2->version && v2->version < v3->version);
    QCOMPARE(v2->from, 1u);  // the mark was made at 1; a raise does not move its start
    auto marks = s_->delivery_marks_after(a->pk, 0, 10);
    QCOMPARE(marks.size(), std::size_t{2});
    QCOMPARE(marks[0].reader, std::string("bob"));
    QCOMPARE(marks[0].reader_device, 2u);
    QVERIFY(marks[0].group_id.empty());
    QCOMPARE(marks[0].up_to, 5u);
    QCOMPARE(marks[0].acked_ms, 103u);
    QCOMPARE(marks[0].version, v2->version);
    QCOMPARE(marks[0].from, 1u);
    QCOMPARE(marks[1].group_id, group);
    QCOMPARE(s_->delivery_marks_after(a->pk, v2->version, 10).size(), std::size_t{1});
    QCOMPARE(s_->delivery_marks_after(a->pk, 0, 1).size(), std::size_t{1});
    QVERIFY(s_->delivery_marks_after(b->pk, 0, 10).empty());

    s_->commit();
    // Each run starts 2^32 above the stored counter, which holds the previous run's start
    // (versions a lost commit gave out stay below the next start).
    constexpr auto kGap = std::uint64_t{1} << 32;
    const auto first_start = v1->version - 1;
    openStore();
    const auto run_start = first_start + kGap;
    QCOMPARE(s_->delivery_mark_version(), run_start);
    const auto v4 = s_->raise_delivery_mark(b->pk, a->pk, "", 1, 1, 105);
    QVERIFY(v4 && v4->version == run_start + 1);
    s_->rollback();
    openStore();
    QVERIFY(s_->delivery_marks_after(b->pk, 0, 10).empty());  // the raise was rolled back
    QCOMPARE(s_->delivery_mark_version(), run_start + kGap);
    QVERIFY(s_->raise_delivery_mark(b->pk, a->pk, "", 1, 1, 106)->version > v4->version);
  }

  // A power cut under --durability normal can take back every commit of a run after their
  // marks were pushed (a rollback stands for that here). The run's start was stored when it
  // opened, so the next run still starts above every version the lost one gave out.
  void runStartIsStoredBeforeAnyVersionIsGivenOut() {
    auto a = s_->create_account("alice", std::string(32, 'k'), 1, 0);
    auto b = s_->create_account("bob", std::string(32, 'k'), 2, 0);
    s_->commit();
    openStore();
    std::uint64_t lost = 0;
    for (std::uint64_t n = 1; n <= 3; ++n)
      lost = s_->raise_delivery_mark(a->pk, b->pk, "", n, n, 100 + n)->version;
    s_->rollback();
    openStore();
    QVERIFY(s_->delivery_mark_version() > lost);
    QVERIFY(s_->raise_delivery_mark(a->pk, b->pk, "", 1, 1, 200)->version > lost);
  }

  // The stored counter is written when a run starts, not by every commit that raises a mark,
  // and the next run still starts above every version this one gave out.
  void markVersionIsStoredOncePerRunAndTheNextRunStartsAboveIt() {
    auto a = s_->create_account("alice", std::string(32, 'k'), 1, 0);
    auto b = s_->create_account("bob", std::string(32, 'k'), 2, 0);
    s_->commit();
    const auto stored = [&] {
      SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READONLY);
      return static_cast<std::uint64_t>(
          db.execAndGet("SELECT value FROM meta WHERE key = 'mark_version'").getInt64());
    };
    const auto first_save = stored();  // written when this run started
    std::uint64_t last = 0;
    for (std::uint64_t n = 1; n <= 50; ++n) {
      s_->begin();
      last = s_->raise_delivery_mark(a->pk, b->pk, "", n, n, 100 + n)->version;
      s_->commit();
      QCOMPARE(stored(), first_save);
    }
    QVERIFY(last > first_save);
    openStore();
    QVERIFY(s_->delivery_mark_version() > last);
    QVERIFY(s_->raise_delivery_mark(a->pk, b->pk, "", 51, 51, 200)->version > last);
  }

  // Step 6 on a version-5 file: the receipt entries waiting in inboxes become one mark per
  // (owner, reader, conversation) at the highest conv_seq, and leave the inbox without
  // taking its tail back.
  void schemaStep6TurnsWaitingReceiptsIntoMarks() {
    auto a = s_->create_account("alice", std::string(32, 'k'), 1, 0);
    auto b = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    auto m = message("kept");
    s_->append_inbox(a->pk, m);
    s_->commit();
    s_.reset();
    {
      SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READWRITE);
      db.exec("DROP TABLE delivery_marks; DELETE FROM meta WHERE key = 'mark_version'");
      SQLite::Statement receipt(db,
                                "INSERT INTO inbox(device, seq, kind, sender, sender_device, "
                                "sender_pk, client_msg_id, conv_seq, server_ts, content_hint, "
                                "group_id) VALUES(?, ?, 2, 'bob', 1, ?, zeroblob(16), ?, ?, 0, ?)");
      const std::string group(16, 'g');
      int seq = 2;
      for (auto [conv_seq, in_group] : {std::pair{1, false}, {2, false}, {7, true}, {4, true}}) {
        receipt.reset();
        receipt.bind(1, a->pk);
        receipt.bind(2, seq++);
        receipt.bind(3, b->pk);
        receipt.bind(4, conv_seq);
        receipt.bind(5, 1000 + conv_seq);
        if (in_group) {
          receipt.bind(6, group.data(), static_cast<int>(group.size()));
        } else {
          receipt.bind(6);
        }
        receipt.exec();
      }
      db.exec(std::string(kUndoStep12) + kUndoStep11 + kUndoStep10 + kUndoStep9 + "PRAGMA user_version = 5");
    }
    openStore();
    const auto marks = s_->delivery_marks_after(a->pk, 0, 10);
    QCOMPARE(marks.size(), std::size_t{2});
    QVERIFY(marks[0].group_id.empty());
    QCOMPARE(marks[0].up_to, 2u);
    QCOMPARE(marks[0].acked_ms, 1002u);
    QCOMPARE(marks[1].group_id, std::string(16, 'g'));
    QCOMPARE(marks[1].up_to, 7u);
    QCOMPARE(marks[0].reader, std::string("bob"));
    QCOMPARE(marks[0].from, 1u);  // unknown for a converted receipt: from the start
    QCOMPARE(s_->delivery_mark_version(), (std::uint64_t{1} << 32) + 2);  // 2 stored
    const auto left = s_->read_inbox(a->pk, 0, 10, 1u << 20);
    QCOMPARE(left.size(), std::size_t{1});
    QCOMPARE(left[0].ciphertext, std::string("kept"));
    // The receipts' seqs stay used: step 6 saved the tail before deleting them. (The tail
    // the store gives is above it anyway: this is a new run, run_floor.hpp.)
    s_->commit();
    {
      SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READONLY);
      QCOMPARE(db.execAndGet("SELECT inbox_tail FROM devices WHERE id = " + std::to_string(a->pk))
                   .getInt64(),
               std::int64_t{5});
    }
    s_->begin();
    QCOMPARE(s_->raise_delivery_mark(a->pk, b->pk, "", 3, 3, 2000)->version, (std::uint64_t{1} << 32) + 3);
  }

  void newerSchemaIsRefusedClearly() {
    s_->commit();
    s_.reset();
    {
      SQLite::Database db(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READWRITE);
      db.exec("PRAGMA user_version = 99");
    }
    try {
      SqliteStore again(dir_.path().toStdString(), Durability::Normal);
      QFAIL("opened a database from the future");
    } catch (const std::exception& e) {
      QVERIFY(std::string(e.what()).find("newer") != std::string::npos);
    }
    QFile::remove(dir_.filePath("relay.db"));
    openStore();
  }

  // "Keeps nothing after delivery": once an entry is acknowledged and the store closed,
  // none of its bytes are left in relay.db (secure_delete), not even in free space.
  void deliveredEntryLeavesNoBytesInTheDatabaseFile() {
    auto bob = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    const std::string marker = "parley-secure-delete-marker-0123456789";
    auto e = message(marker + std::string(200, 'z'));
    s_->append_inbox(bob->pk, e);
    s_->commit();
    s_->begin();
    s_->delete_acked(bob->pk, e.inbox_seq);
    s_->commit();
    s_.reset();  // the last connection checkpoints the WAL into relay.db and removes it
    QFile db(dir_.filePath("relay.db"));
    QVERIFY(db.open(QIODevice::ReadOnly));
    QVERIFY(!db.readAll().contains(QByteArray::fromStdString(marker)));
    QVERIFY(!QFileInfo::exists(dir_.filePath("relay.db-wal")));
    openStore();
  }

  // Under Durability::Normal no commit syncs the WAL, so a checkpoint syncs all of it
  // written since the last: the store checkpoints every kNormalCheckpointPages, and the WAL
  // file (reused from its start after each checkpoint) never grows much past that, where
  // SQLite's default would let it reach ~4 MB.
  void normalDurabilityCheckpointsOftenEnoughToKeepTheWalSmall() {
    auto bob = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    s_->commit();
    constexpr qint64 kFrame = 4096 + 24;  // a page and its WAL frame header
    qint64 largest = 0;
    for (int i = 0; i < 400; ++i) {
      s_->begin();
      auto e = message(std::string(8000, static_cast<char>('a' + i % 26)));
      s_->append_inbox(bob->pk, e);
      s_->commit();
      // Each commit writes an entry's two overflow pages and its B-tree pages: 400 of them
      // write well over SQLite's default of 1,000 pages between checkpoints.
      largest = std::max(largest, QFileInfo(dir_.filePath("relay.db-wal")).size());
    }
    s_->begin();  // as cleanup() expects, whatever the verdict
    // A checkpoint runs after the commit that crossed the threshold: one commit's frames
    // (a few pages) past it at most.
    const qint64 bound = (SqliteStore::kNormalCheckpointPages + 16) * kFrame + 32;
    QVERIFY2(largest <= bound, qPrintable(QString("WAL reached %1 bytes, bound %2")
                                              .arg(largest)
                                              .arg(bound)));
  }

  // Under Durability::Full the store checkpoints itself, after the commit's WAL sync (SQLite's
  // automatic checkpoint would run inside COMMIT, before it): the WAL still never grows much
  // past SQLite's 1,000 pages, whether the commits are synced or not.
  void fullDurabilityCheckpointsAfterItsCommitsToo() {
    s_->commit();
    s_.reset();
    constexpr qint64 kFrame = 4096 + 24;  // a page and its WAL frame header
    qint64 largest_synced = 0, largest_unsynced = 0;
    {
      SqliteStore full(dir_.path().toStdString(), Durability::Full);
      full.begin();
      auto bob = full.create_account("bob", std::string(32, 'k'), 1, 0);
      full.commit();
      // Each commit writes an entry's two overflow pages and its B-tree pages: 400 of them
      // write well over 1,000 pages, first all synced, then all left unsynced.
      for (int i = 0; i < 800; ++i) {
        full.begin();
        auto e = message(std::string(8000, static_cast<char>('a' + i % 26)));
        full.append_inbox(bob->pk, e);
        const bool synced = i < 400;
        if (synced) {
          full.commit();
        } else {
          QVERIFY(full.commit_unsynced());  // it wrote, so there was a sync to leave out
        }
        auto& largest = synced ? largest_synced : largest_unsynced;
        largest = std::max(largest, QFileInfo(dir_.filePath("relay.db-wal")).size());
      }
    }
    const qint64 bound = (SqliteStore::kFullCheckpointPages + 16) * kFrame + 32;
    for (const auto largest : {largest_synced, largest_unsynced}) {
      QVERIFY2(largest <= bound, qPrintable(QString("WAL reached %1 bytes, bound %2")
                                                .arg(largest)
                                                .arg(bound)));
    }
    QVERIFY(largest_synced > 500 * kFrame);  // not checkpointed at Normal's 250 pages either
    openStore();
  }

  // The raw statement behind replay pages and acks: values as stored (a BLOB with a NUL
  // byte, NULL, a negative integer), and errors raised as SQLite::Exception with SQLite's
  // message, the statement usable again after a failed step.
  void rowStatementReadsValuesAndReportsErrors() {
    SQLite::Database db(":memory:", SQLite::OPEN_READWRITE);
    try {
      RowStatement bad(db, "SELEC 1");
      QFAIL("prepared a statement that does not parse");
    } catch (const SQLite::Exception& e) {
      QVERIFY2(std::string(e.what()).find("syntax error") != std::string::npos, e.what());
    }
    RowStatement values(db, "SELECT ?1, NULL, x'00ff41', 'text'");
    values.fresh().bind(1, -5);
    QVERIFY(values.step());
    QCOMPARE(values.i64(0), std::int64_t{-5});
    QVERIFY(values.is_null(1));
    QVERIFY(!values.is_null(2));
    QCOMPARE(values.bytes(1), std::string());
    QCOMPARE(values.bytes(2), std::string("\0\xff" "A", 3));
    QCOMPARE(values.bytes(3), std::string("text"));
    QVERIFY(!values.step());

    RowStatement abs(db, "SELECT abs(?1)");
    abs.fresh().bind(1, std::numeric_limits<std::int64_t>::min());
    try {
      abs.step();
      QFAIL("abs() of the smallest integer did not fail");
    } catch (const SQLite::Exception& e) {
      QVERIFY2(std::string(e.what()).find("integer overflow") != std::string::npos, e.what());
    }
    abs.fresh().bind(1, -3);
    QVERIFY(abs.step());
    QCOMPARE(abs.u64(0), std::uint64_t{3});
  }

  // Lookups leave their statement on its first row (find_user, find_device); that must not
  // hold the connection's read snapshot past COMMIT, or SQLite never checkpoints and the
  // WAL grows with every byte ever written.
  void walStaysBoundedAcrossManyCommits() {
    auto b = s_->create_account("bob", std::string(32, 'k'), 1, 0);
    s_->commit();
    const std::string body(4096, 'c');
    for (int round = 0; round < 400; ++round) {  // 400 x 10 x 4 KiB = 16 MiB written
      s_->begin();
      QVERIFY(s_->find_user("bob"));
      QVERIFY(s_->find_device("bob", 1));
      std::uint64_t last = 0;
      for (int i = 0; i < 10; ++i) {
        auto e = message(body);
        s_->append_inbox(b->pk, e);
        last = e.inbox_seq;
      }
      s_->delete_acked(b->pk, last);
      s_->commit();
    }
    const auto wal = QFileInfo(dir_.filePath("relay.db-wal")).size();
    qInfo("WAL after 16 MiB of appends: %lld bytes", static_cast<long long>(wal));
    QVERIFY2(wal < 8 * 1024 * 1024, "the WAL was never checkpointed");
    s_->begin();
  }

  void workerGroupsConcurrentJobsAndIsolatesFailures() {
    s_->commit();
    s_.reset();
    Metrics metrics;
    StoreWorker worker(std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Full),
                       metrics, 10000);
    std::atomic<int> committed{0}, failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 250; ++i) {
          const bool bad = (i == 17);
          worker.submit(
              [t, i, bad](Store& s) {
                s.next_conv_seq("k" + std::to_string(t));
                if (bad) throw std::runtime_error("boom");
                (void)i;
              },
              [&](JobStatus st) {
                (st == JobStatus::Committed ? committed : failed).fetch_add(1);
              });
        }
      });
    }
    for (auto& th : threads) th.join();
    worker.stop();
    QCOMPARE(committed.load(), 996);
    QCOMPARE(failed.load(), 4);
    const auto made = commits(metrics);
    qInfo("1000 jobs in %lu commits", made);
    QVERIFY(made < 1000);  // group commit: many jobs per transaction
    // A rejected job after stop runs its completion at once.
    bool rejected = false;
    worker.submit([](Store&) {}, [&](JobStatus st) { rejected = st == JobStatus::Rejected; });
    QVERIFY(rejected);
    // The failing jobs' writes were rolled back: each counter saw 249 increments.
    SqliteStore check(dir_.path().toStdString(), Durability::Normal);
    check.begin();
    for (int t = 0; t < 4; ++t) QCOMPARE(check.next_conv_seq("k" + std::to_string(t)), 250u);
    check.rollback();
    openStore();
  }

  // A Job (store/job.hpp) whose completion keeps itself, as a connection's job does to post
  // itself back: it must outlive the worker's hands in every path (committed, read-only and
  // completed before the commit, rejected at submit), and be released once, where it went.
  void jobsThatTakeThemselvesLiveOnAfterTheirCompletion() {
    s_->commit();
    s_.reset();
    struct Kept : Job {
      Kept(std::vector<std::unique_ptr<Job>>& keep, std::vector<JobStatus>& statuses,
           std::atomic<int>& alive)
          : keep(keep), statuses(statuses), alive(alive) {
        ++alive;
      }
      ~Kept() override { --alive; }
      void run(Store& s) override { s.next_conv_seq("kept"); }
      void done(JobStatus status, std::unique_ptr<Job>& self) override {
        statuses.push_back(status);
        keep.push_back(std::move(self));
      }
      std::vector<std::unique_ptr<Job>>& keep;
      std::vector<JobStatus>& statuses;
      std::atomic<int>& alive;
    };
    Metrics metrics;
    std::vector<std::unique_ptr<Job>> keep;  // written on the store thread, read after stop()
    std::vector<JobStatus> statuses;
    std::atomic<int> alive{0};
    {
      StoreWorker worker(
          std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Normal), metrics, 100);
      QVERIFY(worker.submit(std::make_unique<Kept>(keep, statuses, alive)));
      QVERIFY(worker.submit(std::make_unique<Kept>(keep, statuses, alive), Urgency::ReadOnly));
      QVERIFY(worker.submit(std::make_unique<Kept>(keep, statuses, alive), Urgency::Unhurried));
      worker.stop();
      QCOMPARE(keep.size(), 3u);
      QCOMPARE(alive.load(), 3);
      QVERIFY(std::ranges::all_of(statuses, [](auto st) { return st == JobStatus::Committed; }));
      QVERIFY(!worker.submit(std::make_unique<Kept>(keep, statuses, alive)));  // rejected: stopped
      QCOMPARE(keep.size(), 4u);
      QCOMPARE(statuses.back(), JobStatus::Rejected);
      QCOMPARE(alive.load(), 4);
    }
    keep.clear();
    QCOMPARE(alive.load(), 0);
    openStore();
  }

  // What a commit releases for other connections (live pushes, delivery marks: on_commit) is
  // handed over before any completion of the same batch, and only for jobs that committed.
  void workerRunsEveryOnCommitBeforeAnyDone() {
    Metrics metrics;
    StoreWorker worker(handOverStore(), metrics, 100);
    std::mutex mutex;
    std::vector<std::string> events;
    auto note = [&](std::string e) {
      std::lock_guard lock(mutex);
      events.push_back(std::move(e));
    };
    // The first job holds the store thread, so the next five queue up into one batch.
    StoreThreadGate gate(worker);
    QVERIFY(gate.holding());
    for (int i = 0; i < 5; ++i) {
      const auto id = std::to_string(i);
      worker.submit(
          [i](Store& s) {
            s.next_conv_seq("order");
            if (i == 2) throw std::runtime_error("boom");
          },
          [&, id](JobStatus st) {
            note("done " + id + (st == JobStatus::Committed ? "" : " failed"));
          },
          [&, id] { note("commit " + id); });
    }
    gate.open();
    worker.stop();
    worker.submit([](Store&) {}, [&](JobStatus) { note("done rejected"); },
                  [&] { note("commit rejected"); });
    QStringList seen;
    for (const auto& e : events) seen << QString::fromStdString(e);
    QCOMPARE(seen.join(", "), QStringLiteral("commit 0, commit 1, commit 3, commit 4, done 0, done 1, "
                                             "done 2 failed, done 3, done 4, done rejected"));
    openStore();
  }

  // A transaction runs its jobs without savepoints; when one throws, it is rolled back and
  // runs again from its first job, each in a savepoint: the jobs before the failing one run
  // twice, the failing one fails alone, those after it run once, all in one commit.
  void aFailingJobStartsItsTransactionOverWithSavepoints() {
    // Declared before the worker, so that its thread never outlives what it touches, even
    // when a failed check returns early.
    Metrics metrics;
    // Memory beside the store hears of the rollback before the jobs run again.
    struct Memory final : TransactionMemory {
      std::atomic<int> commits{0}, rollbacks{0};
      void committed() override { ++commits; }
      void rolled_back() override { ++rollbacks; }
    } memory;
    std::array<std::atomic<int>, 5> runs{};
    std::array<std::atomic<int>, 5> committed{};
    std::atomic<int> completed{0};
    StoreWorker worker(handOverStore(), metrics, 100);
    worker.follow(memory);
    auto submit_all = [&](int failing) {
      for (int i = 0; i < 5; ++i) {
        worker.submit(
            [&, i, failing](Store& s) {
              ++runs[i];
              s.next_conv_seq("again" + std::to_string(i));
              if (i == failing) throw std::runtime_error("boom");
            },
            [&, i](JobStatus st) {
              if (st == JobStatus::Committed) ++committed[i];
              ++completed;
            });
      }
    };
    const auto before = commits(metrics);
    {
      StoreThreadGate gate(worker);  // the five are queued behind it: one batch
      QVERIFY(gate.holding());
      submit_all(2);
    }
    QTRY_COMPARE_WITH_TIMEOUT(completed.load(), 5, 10000);
    QCOMPARE(commits(metrics), before + 2);  // the gate's, the five jobs'
    const std::array<int, 5> expected_runs{2, 2, 2, 1, 1};
    for (int i = 0; i < 5; ++i) QCOMPARE(runs[i].load(), expected_runs[i]);
    QCOMPARE(committed[2].load(), 0);
    QCOMPARE(metrics.store_batches_started_over.load(), 1u);
    QCOMPARE(memory.rollbacks.load(), 1);
    QCOMPARE(memory.commits.load(), 2);

    for (auto& r : runs) r = 0;
    submit_all(-1);  // nothing throws: each job runs once, nothing starts over
    worker.stop();
    for (auto& r : runs) QCOMPARE(r.load(), 1);
    QCOMPARE(metrics.store_batches_started_over.load(), 1u);
    QCOMPARE(memory.rollbacks.load(), 1);
    for (int i = 0; i < 5; ++i) QCOMPARE(committed[i].load(), i == 2 ? 1 : 2);
    SqliteStore check(dir_.path().toStdString(), Durability::Normal);
    check.begin();
    // Each committed run advanced its sequence once, however often it ran: the first run of
    // a job that ran twice was rolled back.
    for (int i = 0; i < 5; ++i)
      QCOMPARE(check.next_conv_seq("again" + std::to_string(i)), i == 2 ? 2u : 3u);
    check.rollback();
    openStore();
  }

  // Under Durability::Full a commit is on disk before any of its jobs completes, but for a
  // fan-out step's alone (a background job), which the next synced commit or checkpoint puts
  // there (store_worker.cpp, finish). A transaction that wrote nothing has nothing to sync,
  // and under Normal no commit is synced.
  void onlyAFanOutStepAloneCommitsWithoutASync() {
    s_->commit();
    s_.reset();
    Metrics metrics;
    // The WAL syncs from submitting one job until it completed, or -1 if it did not commit.
    auto syncs_for = [](StoreWorker& w, Urgency urgency, bool writes) -> int {
      // Shared: a job that completes after the wait gave up must not reach a dead promise.
      auto done = std::make_shared<std::promise<JobStatus>>();
      auto status = done->get_future();
      const auto before = wal_syncs_passed_down();
      w.submit([writes](Store& s) {
                 if (writes) s.next_conv_seq("k");
               },
               [done](JobStatus st) { done->set_value(st); }, {}, urgency);
      if (status.wait_for(std::chrono::seconds(10)) != std::future_status::ready ||
          status.get() != JobStatus::Committed)
        return -1;
      return static_cast<int>(wal_syncs_passed_down() - before);
    };
    {
      StoreWorker worker(std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Full),
                         metrics, 100);
      QCOMPARE(syncs_for(worker, Urgency::Prompt, true), 1);
      QCOMPARE(syncs_for(worker, Urgency::Background, true), 0);
      QCOMPARE(syncs_for(worker, Urgency::Unhurried, true), 1);
      QCOMPARE(syncs_for(worker, Urgency::Prompt, false), 0);
      QCOMPARE(counter(metrics, "parley_store_commits_unsynced_total"), 1ul);

      // A step that shares its commit with a job it does not step aside for is synced with it.
      const auto before = wal_syncs_passed_down();
      std::promise<void> both;
      std::atomic<int> left{2};
      {
        StoreThreadGate gate(worker);
        QVERIFY(gate.holding());
        for (auto urgency : {Urgency::Background, Urgency::Unhurried})
          worker.submit([](Store& s) { s.next_conv_seq("shared"); },
                        [&](JobStatus) {
                          if (--left == 0) both.set_value();
                        },
                        {}, urgency);
      }
      QCOMPARE(both.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
      QCOMPARE(wal_syncs_passed_down() - before, std::uint64_t{1});
    }
    {
      StoreWorker worker(
          std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Normal), metrics, 100);
      QCOMPARE(syncs_for(worker, Urgency::Prompt, true), 0);
      // Nothing to leave out, so not counted as left out.
      QCOMPARE(syncs_for(worker, Urgency::Background, true), 0);
      QCOMPARE(counter(metrics, "parley_store_commits_unsynced_total"), 1ul);
    }
    openStore();
  }

  // An unhurried job (a delete after an ack) does not get a commit of its own while a prompt
  // job may come along to share one; alone, it commits once its delay is out; stop() does not
  // wait the delay out.
  void unhurriedJobsShareTheNextPromptCommit() {
    s_->commit();
    s_.reset();
    using namespace std::chrono;
    Metrics metrics;
    // Completes with the time it committed at, or the epoch when it did not; `ran`, when
    // given, is set as its work runs.
    auto unhurried = [](StoreWorker& w, std::promise<steady_clock::time_point>& done,
                        std::promise<void>* ran = nullptr) {
      w.submit(
          [ran](Store& s) {
            s.next_conv_seq("lazy");
            if (ran) ran->set_value();
          },
          [&done](JobStatus st) {
            done.set_value(st == JobStatus::Committed ? steady_clock::now()
                                                      : steady_clock::time_point{});
          },
          {}, Urgency::Unhurried);
    };
    {
      // Declared before the worker, which may still complete into them as it is destroyed.
      std::promise<steady_clock::time_point> lazy_done, next_done, last_done;
      std::promise<JobStatus> prompt_done;
      std::promise<void> lazy_ran;
      // A delay far longer than the waits below: only a prompt job or stop() releases it.
      StoreWorker worker(std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Full),
                         metrics, 100, 1024, seconds(60));
      auto lazy = lazy_done.get_future();
      unhurried(worker, lazy_done, &lazy_ran);
      // It runs at once, so that the prompt job's commit need not run it; it does not commit.
      QCOMPARE(lazy_ran.get_future().wait_for(seconds(10)), std::future_status::ready);
      QCOMPARE(lazy.wait_for(milliseconds(200)), std::future_status::timeout);
      QCOMPARE(commits(metrics), 0ul);
      worker.submit([](Store& s) { s.next_conv_seq("prompt"); },
                    [&](JobStatus st) { prompt_done.set_value(st); });
      QCOMPARE(lazy.wait_for(seconds(10)), std::future_status::ready);
      QVERIFY(lazy.get() != steady_clock::time_point{});
      QCOMPARE(prompt_done.get_future().get(), JobStatus::Committed);
      QCOMPARE(commits(metrics), 1ul);  // both in one commit

      // After that commit, the next unhurried job waits again.
      auto next = next_done.get_future();
      unhurried(worker, next_done);
      QCOMPARE(next.wait_for(milliseconds(200)), std::future_status::timeout);
      auto last = last_done.get_future();
      unhurried(worker, last_done);
      const auto stopping = steady_clock::now();
      worker.stop();
      QCOMPARE(next.wait_for(seconds(0)), std::future_status::ready);
      QCOMPARE(last.wait_for(seconds(0)), std::future_status::ready);
      QVERIFY(next.get() != steady_clock::time_point{});
      const auto last_at = last.get();
      QVERIFY(last_at != steady_clock::time_point{});
      QVERIFY(last_at - stopping < seconds(10));  // not the 60 s delay
      QCOMPARE(commits(metrics), 2ul);
    }
    {
      std::promise<steady_clock::time_point> lazy_done;
      StoreWorker worker(std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Full),
                         metrics, 100, 1024, milliseconds(100));
      auto lazy = lazy_done.get_future();
      const auto submitted = steady_clock::now();
      unhurried(worker, lazy_done);
      QCOMPARE(lazy.wait_for(seconds(10)), std::future_status::ready);
      QVERIFY(lazy.get() - submitted >= milliseconds(100));
    }
    {
      // A full batch commits without waiting; a failing unhurried job fails alone.
      std::promise<JobStatus> bad_done, good_done;
      StoreWorker worker(std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Full),
                         metrics, 100, 2, seconds(60));
      const auto before = commits(metrics);
      worker.submit([](Store& s) {
                      s.next_conv_seq("lazy");
                      throw std::runtime_error("boom");
                    },
                    [&](JobStatus st) { bad_done.set_value(st); }, {}, Urgency::Unhurried);
      worker.submit([](Store& s) { s.next_conv_seq("lazy"); },
                    [&](JobStatus st) { good_done.set_value(st); }, {}, Urgency::Unhurried);
      auto bad = bad_done.get_future(), good = good_done.get_future();
      QCOMPARE(good.wait_for(seconds(10)), std::future_status::ready);
      QCOMPARE(bad.get(), JobStatus::Failed);
      QCOMPARE(good.get(), JobStatus::Committed);
      QCOMPARE(commits(metrics), before + 1);
    }
    SqliteStore check(dir_.path().toStdString(), Durability::Normal);
    check.begin();
    QCOMPARE(check.next_conv_seq("lazy"), 6u);  // five unhurried jobs committed before
    check.rollback();
    openStore();
  }

  // A background job (a fan-out step) queued with a prompt one is left for the next
  // transaction, so the prompt job commits without waiting for its statements; but only
  // once: a prompt job queued after it no longer overtakes it.
  void backgroundJobsStepAsideOnceForAPromptJob() {
    Metrics metrics;
    JobLog log(handOverStore(), metrics);
    QVERIFY(log.round([&] {
      log.job("step1", Urgency::Background);
      log.job("send1", Urgency::Prompt, [&] {
        // Queued while send1's transaction runs: step1, passed over once, goes first now.
        log.job("send2", Urgency::Prompt);
      });
      log.job("step2", Urgency::Background);
    }));
    const std::vector<std::string> expected{
        "run gate",   "done gate",  "run send1", "done send1", "run step1",
        "run step2",  "run send2",  "done step1", "done step2", "done send2"};
    QCOMPARE(log.events(), expected);
  }

  // An unhurried job (an ack's delete) queued with a job someone waits on is left for the
  // next transaction as well, once: a prompt job commits without its statements, and a read
  // completes before it runs.
  void unhurriedJobsStepAsideOnceForAWaitedOnJob() {
    Metrics metrics;
    JobLog log(handOverStore(), metrics);
    QVERIFY(log.round([&] {
      log.job("ack1", Urgency::Unhurried);
      log.job("send1", Urgency::Prompt, [&] {
        // Queued while send1's transaction runs: ack1, passed over once, goes first now.
        log.job("send2", Urgency::Prompt);
      });
    }));
    QVERIFY(log.round([&] {
      log.job("ack2", Urgency::Unhurried);
      log.job("read2", Urgency::ReadOnly);
    }));
    const std::vector<std::string> expected{
        "run gate",  "done gate", "run send1", "done send1", "run ack1",  "run send2",
        "done ack1", "done send2", "run gate", "done gate",  "run read2", "done read2",
        "run ack2",  "done ack2"};
    QCOMPARE(log.events(), expected);
  }

  // Left out of a commit, an unhurried job's delay starts again: one whose delay ran out
  // while it was queued waits for the next prompt job instead of committing (an fsync) alone.
  void aSteppedAsideUnhurriedJobWaitsForTheNextPromptCommit() {
    using namespace std::chrono;
    Metrics metrics;
    std::promise<JobStatus> ack_done, send1_done, send2_done;
    auto ack = ack_done.get_future();
    StoreWorker worker(handOverStore(), metrics, 100, 1024, milliseconds(1000));
    StoreThreadGate gate(worker, true);
    QVERIFY(gate.holding());
    worker.submit([](Store& s) { s.next_conv_seq("ack"); },
                  [&](JobStatus st) { ack_done.set_value(st); }, {}, Urgency::Unhurried);
    worker.submit([](Store& s) { s.next_conv_seq("send1"); },
                  [&](JobStatus st) { send1_done.set_value(st); });
    std::this_thread::sleep_for(milliseconds(1100));  // the ack's delay runs out in the queue
    gate.open();
    QCOMPARE(send1_done.get_future().get(), JobStatus::Committed);
    QCOMPARE(commits(metrics), 2ul);  // the gate's, then send1's without the ack
    QCOMPARE(ack.wait_for(milliseconds(300)), std::future_status::timeout);
    QCOMPARE(commits(metrics), 2ul);
    worker.submit([](Store& s) { s.next_conv_seq("send2"); },
                  [&](JobStatus st) { send2_done.set_value(st); });
    QCOMPARE(send2_done.get_future().get(), JobStatus::Committed);
    QCOMPARE(ack.get(), JobStatus::Committed);
    QCOMPARE(commits(metrics), 3ul);  // the ack shared send2's commit
  }

  // What one commit's completions post to an io_context arrives there as one chain: a single
  // poll_one runs them all, in order (net/post_task.hpp, PostBatch).
  void aCommitsPostsReachAnIoContextAsOneChain() {
    Metrics metrics;
    net::io_context io(1);
    std::vector<int> ran;
    std::promise<void> all_done;
    std::atomic<int> left{3};
    {
      StoreWorker worker(handOverStore(), metrics, 100);
      // The gate holds the store thread before the three are queued, so one take gets them.
      StoreThreadGate gate(worker);
      QVERIFY(gate.holding());
      for (int i = 1; i <= 3; ++i) {
        worker.submit([i](Store& s) { s.next_conv_seq("c" + std::to_string(i)); },
                      [&, i](JobStatus) {
                        auto f = [&ran, i] { ran.push_back(i); };
                        post_task(io.get_executor(), strand_call(std::move(f)));
                        if (--left == 0) all_done.set_value();
                      });
      }
      gate.open();  // the three are queued behind the gate: one transaction, one commit
      QVERIFY(all_done.get_future().wait_for(std::chrono::seconds(10)) ==
              std::future_status::ready);
    }
    QCOMPARE(io.poll_one(), std::size_t{1});
    QCOMPARE(ran, (std::vector<int>{1, 2, 3}));
  }

  // A read-only job (a replay page) steps a background job aside too, and completes at once;
  // but one that runs after a background job in its transaction may have read the job's new
  // entries, so it waits for that commit, as after a prompt job.
  void aReadAfterABackgroundJobWaitsForItsCommit() {
    Metrics metrics;
    JobLog log(handOverStore(), metrics);
    QVERIFY(log.round([&] {
      log.job("step1", Urgency::Background);
      log.job("send1", Urgency::Prompt, [&] { log.job("read1", Urgency::ReadOnly); });
    }));
    QVERIFY(log.round([&] {
      log.job("step2", Urgency::Background);
      log.job("read2", Urgency::ReadOnly);
    }));
    const std::vector<std::string> expected{
        "run gate",  "done gate",  "run send1", "done send1", "run step1",  "run read1",
        "done step1", "done read1", "run gate", "done gate",  "run read2",  "done read2",
        "run step2", "done step2"};
    QCOMPARE(log.events(), expected);
  }

  // A read-only job (a replay page) completes once it ran, without a commit, even in a
  // transaction an unhurried job keeps open; but after a prompt job in its transaction it
  // waits for that commit, since it may have read writes that are not durable yet. A
  // transaction left with only completed reads is ended, so it holds no lock.
  void readOnlyJobsWaitOnlyForPromptWritesBeforeThem() {
    s_->commit();
    s_.reset();
    using namespace std::chrono;
    Metrics metrics;
    std::mutex mutex;
    std::vector<std::string> events;
    auto note = [&](std::string e) {
      std::lock_guard lock(mutex);
      events.push_back(std::move(e));
    };
    {
      std::promise<JobStatus> lazy_done, read_done;
      std::promise<void> lazy_ran;
      StoreWorker worker(std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Full),
                         metrics, 100, 1024, seconds(60));
      worker.submit(
          [&](Store& s) {
            s.next_conv_seq("lazy");
            lazy_ran.set_value();
          },
          [&](JobStatus st) { lazy_done.set_value(st); }, {}, Urgency::Unhurried);
      QCOMPARE(lazy_ran.get_future().wait_for(seconds(10)), std::future_status::ready);
      worker.submit([](Store& s) { s.find_user("nobody"); },
                    [&](JobStatus st) { read_done.set_value(st); }, {}, Urgency::ReadOnly);
      auto read = read_done.get_future();
      QCOMPARE(read.wait_for(seconds(10)), std::future_status::ready);
      QCOMPARE(read.get(), JobStatus::Committed);
      auto lazy = lazy_done.get_future();
      QCOMPARE(lazy.wait_for(milliseconds(100)), std::future_status::timeout);
      QCOMPARE(commits(metrics), 0ul);
      worker.stop();
      QCOMPARE(lazy.get(), JobStatus::Committed);
      QCOMPARE(commits(metrics), 1ul);
    }
    {
      StoreWorker worker(std::make_unique<SqliteStore>(dir_.path().toStdString(), Durability::Full),
                         metrics, 100, 1024, seconds(60));
      const auto before = commits(metrics);
      std::promise<JobStatus> alone_done;
      worker.submit([](Store& s) { s.find_user("nobody"); },
                    [&](JobStatus st) { alone_done.set_value(st); }, {}, Urgency::ReadOnly);
      QCOMPARE(alone_done.get_future().get(), JobStatus::Committed);
      // The worker ends that transaction right after the read's completion: another
      // connection gets the write lock (BEGIN IMMEDIATE) once it has, within its timeout.
      SQLite::Database other(dir_.filePath("relay.db").toStdString(), SQLite::OPEN_READWRITE,
                             10000);
      other.exec("BEGIN IMMEDIATE");
      other.exec("COMMIT");
      QCOMPARE(commits(metrics), before);

      // The first job holds the store thread, so the next three queue up into one batch:
      // a read before the prompt write completes at once, the read after it with its commit.
      // They are submitted only once it runs, so none of them shares its batch (it is a
      // prompt job: a read after it would wait for its commit).
      StoreThreadGate gate(worker);
      QVERIFY(gate.holding());
      worker.submit([](Store& s) { s.find_user("nobody"); },
                    [&](JobStatus) { note("done read before"); }, {}, Urgency::ReadOnly);
      worker.submit([](Store& s) { s.next_conv_seq("prompt"); },
                    [&](JobStatus) { note("done write"); }, [&] { note("commit write"); });
      worker.submit([](Store& s) { s.find_user("nobody"); },
                    [&](JobStatus) { note("done read after"); }, {}, Urgency::ReadOnly);
      gate.open();
      worker.stop();
    }
    QStringList seen;
    for (const auto& e : events) seen << QString::fromStdString(e);
    QCOMPARE(seen.join(", "),
             QStringLiteral("done read before, commit write, done write, done read after"));
    openStore();
  }
};

QTEST_GUILESS_MAIN(SqliteStoreTest)
#include "sqlite_store_test.moc"
