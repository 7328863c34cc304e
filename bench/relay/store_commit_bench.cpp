// Relay microbenchmarks, store: the inbox operations of the 1:1 path on SqliteStore, opened
// the way the relay opens it (its own pragmas: WAL, durability full or normal) in a fresh
// temporary directory ($TMPDIR, else /tmp), and driven only through the Store interface
// (store/store.hpp) the StoreWorker uses: a transaction per batch, its jobs without
// savepoints (a transaction takes them only when it starts over, store_worker.hpp).
//   append_inbox  batches of 1, 16 or 256 appends in one transaction (a group commit)
//   read_inbox    one replay page (16 or 256 entries, 1 MiB budget) from a 10,000-entry inbox
//   read_group_inbox  the same from a group member's inbox of 10,000 group messages, shared
//                 from the log (copied=0, as the relay reads) or copied out (copied=1)
//   delete_acked  one cumulative ack deleting 1, 16 or 256 entries, in its own commit
//   message       the whole store work of one 1:1 message in the pairs benchmark (W=1): the
//                 send job's calls as session/send.cpp makes them, and its recipient's ack
//                 job (delete, delivery mark), for 500 pairs taking turns, 100 sends and the
//                 previous 100 messages' acks per commit (about what the relay gathers at
//                 saturation); CPU time per message with fsync 0
// The second argument, fsync, is 1 for the relay's default durability (--durability full:
// an fsync per commit) and 0 for --durability normal. Times are wall clock: the commit
// mostly waits for the disk, which CPU time does not see.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "scratch_store.hpp"
#include "store/sqlite_store.hpp"

namespace {

using namespace parley::store;
using parley::bench::ScratchStore;

constexpr std::size_t kCiphertextBytes = 200;
constexpr std::size_t kReplayPageBytes = 1u << 20;  // the relay's replay_page_bytes

// A store in a temporary directory that goes away with it, with a recipient (alice) and a
// sender (bob) whose device a receipt would go to.
class TempStore {
 public:
  explicit TempStore(bool fsync) : scratch_(fsync) {
    Store& s = scratch_.store();
    s.begin();
    alice_ = s.create_account("alice", std::string(32, 'a'), 1, 1)->pk;
    bob_ = s.create_account("bob", std::string(32, 'b'), 1, 1)->pk;
    s.commit();
    entry_.kind = EntryKind::Message;
    entry_.sender = "bob";
    entry_.sender_device = 1;
    entry_.sender_pk = bob_;
    entry_.client_msg_id.assign(16, '\0');
    entry_.ciphertext.assign(kCiphertextBytes, '\xa5');
  }
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;

  Store& store() { return scratch_.store(); }
  DevicePk alice() const { return alice_; }

  // One send job's append (a 200-byte message from bob); returns its inbox_seq.
  std::uint64_t append() {
    ++sent_;
    std::memcpy(entry_.client_msg_id.data(), &sent_, sizeof sent_);
    entry_.conv_seq = sent_;
    entry_.server_ts_ms = 1'790'000'000'000 + sent_;
    entry_.inbox_seq = 0;
    scratch_.store().append_inbox(alice_, entry_);
    return entry_.inbox_seq;
  }

  // `n` appends in one commit; returns the last inbox_seq.
  std::uint64_t append_batch(std::int64_t n) {
    scratch_.store().begin();
    std::uint64_t last = 0;
    for (std::int64_t i = 0; i < n; ++i) last = append();
    scratch_.store().commit();
    return last;
  }

 private:
  ScratchStore scratch_;
  DevicePk alice_ = 0, bob_ = 0;
  InboxEntry entry_;
  std::uint64_t sent_ = 0;
};

void BM_StoreAppendInbox(benchmark::State& state) {
  TempStore t(state.range(1) != 0);
  for (auto _ : state) t.append_batch(state.range(0));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_StoreAppendInbox)
    ->ArgNames({"entries", "fsync"})
    ->ArgsProduct({{1, 16, 256}, {1, 0}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_StoreReadInbox(benchmark::State& state) {
  TempStore t(true);
  constexpr std::int64_t kStored = 10'000;
  std::uint64_t last = 0;
  for (std::int64_t i = 0; i < kStored; i += 256) last = t.append_batch(std::min<std::int64_t>(256, kStored - i));
  const auto limit = static_cast<std::size_t>(state.range(0));
  std::uint64_t after = 0;
  for (auto _ : state) {
    t.store().begin();
    const auto page = t.store().read_inbox_page(t.alice(), after, limit, kReplayPageBytes);
    t.store().commit();
    if (page.size() != std::min<std::size_t>(limit, last - after)) {
      state.SkipWithError("read_inbox_page returned a short page");
      break;
    }
    after = page.back().inbox_seq;
    if (after + limit > last) after = 0;  // start over: every page is full
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_StoreReadInbox)->ArgNames({"page"})->Arg(16)->Arg(256)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The same for a group member's inbox of 10,000 group messages (range rows naming the log's
// entries), as the relay reads it (read_inbox_page: the log's entries shared), and with
// copied=1 as plain values (read_inbox: each entry copied, as replay pages were made before).
void BM_StoreReadGroupInbox(benchmark::State& state) {
  TempStore t(true);
  Store& s = t.store();
  const std::string group(16, 'g');
  s.begin();
  const auto sender = s.create_account("carol", std::string(32, 'c'), 1, 1);
  const auto member = s.find_device("alice", 1);
  if (!sender || !member) {
    state.SkipWithError("accounts");
    return;
  }
  s.create_group(group, 1);
  s.add_group_member(group, sender->user_id, true, 1);
  s.add_group_member(group, member->user_id, false, 1);
  s.commit();
  constexpr int kStored = 10'000;
  GroupLogEntry e;
  e.kind = EntryKind::GroupMessage;
  e.sender = "carol";
  e.sender_device = 1;
  e.sender_pk = sender->pk;
  e.client_msg_id.assign(16, '\0');
  e.payload.assign(kCiphertextBytes, '\xa5');
  for (int i = 0; i < kStored; i += 256) {
    s.begin();
    for (int k = i; k < std::min(kStored, i + 256); ++k) {
      std::memcpy(e.client_msg_id.data(), &k, sizeof k);
      e.server_ts_ms = 1'790'000'000'000 + static_cast<std::uint64_t>(k);
      s.append_group_log(group, e);
    }
    while (s.fan_out_group(group, 4096).more) {
    }
    s.commit();
  }
  const auto last = static_cast<std::uint64_t>(kStored);
  const auto limit = static_cast<std::size_t>(state.range(0));
  const bool copied = state.range(1) != 0;
  std::uint64_t after = 0;
  for (auto _ : state) {
    s.begin();
    std::size_t got = 0;
    std::uint64_t end = 0;
    if (copied) {
      const auto page = s.read_inbox(member->pk, after, limit, kReplayPageBytes);
      got = page.size();
      end = got ? page.back().inbox_seq : 0;
    } else {
      const auto page = s.read_inbox_page(member->pk, after, limit, kReplayPageBytes);
      got = page.size();
      end = got ? page.back().inbox_seq : 0;
    }
    s.commit();
    if (got != std::min<std::size_t>(limit, last - after)) {
      state.SkipWithError("a short page");
      break;
    }
    after = end;
    if (after + limit > last) after = 0;
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_StoreReadGroupInbox)
    ->ArgNames({"page", "copied"})
    ->ArgsProduct({{16, 256}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_StoreDeleteAcked(benchmark::State& state) {
  TempStore t(state.range(1) != 0);
  const auto n = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    const auto up_to = t.append_batch(n);
    state.ResumeTiming();
    t.store().begin();
    benchmark::DoNotOptimize(t.store().delete_acked(t.alice(), up_to));
    t.store().commit();
    // delete_acked returns one run per sender for the delivery marks, not one per entry.
    if (t.store().inbox_depth() != 0) {
      state.SkipWithError("delete_acked did not delete every acknowledged entry");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_StoreDeleteAcked)
    ->ArgNames({"entries", "fsync"})
    ->ArgsProduct({{1, 16, 256}, {1, 0}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// 500 senders and their 500 recipients, each with one device, in a fresh store.
class PairsStore {
 public:
  static constexpr int kPairs = 500;
  static constexpr int kPerCommit = 100;  // sends, and as many acks

  explicit PairsStore(bool fsync) : scratch_(fsync) {
    scratch_.store().begin();
    for (int i = 0; i < 2 * kPairs; ++i) {
      const auto name = "user" + std::to_string(i);
      users_.push_back({name, *scratch_.store().create_account(name, std::string(32, 'k'), 1, 1)});
    }
    scratch_.store().commit();
  }
  PairsStore(const PairsStore&) = delete;
  PairsStore& operator=(const PairsStore&) = delete;

  // One commit: the next kPerCommit sends, and the acks of the previous commit's. False if
  // the store answered something a relay would not have.
  bool batch() {
    scratch_.store().begin();
    for (const auto& [device, up_to] : to_ack_) {
      for (const auto& a : scratch_.store().delete_acked(device, up_to))
        scratch_.store().raise_delivery_mark(a.sender_pk, device, a.group_id, a.from, a.up_to, 1);
    }
    to_ack_.clear();
    for (int i = 0; i < kPerCommit; ++i) {
      const auto& from = users_[2 * (next_pair_ % kPairs)];
      const auto& to = users_[2 * (next_pair_ % kPairs) + 1];
      ++next_pair_;
      std::string msg_id(16, '\0');
      std::memcpy(msg_id.data(), &next_pair_, sizeof next_pair_);
      const auto account = scratch_.store().find_account(to.name);
      if (scratch_.store().find_sent(from.record.user_id, msg_id) || !account ||
          account->devices.size() != 1) {
        scratch_.store().rollback();
        return false;
      }
      InboxEntry e;
      e.kind = EntryKind::Message;
      e.sender = from.name;
      e.sender_device = 1;
      e.sender_pk = from.record.pk;
      e.client_msg_id = msg_id;
      e.conv_seq = scratch_.store().next_conv_seq("d:" + std::to_string(from.record.user_id) + ":" +
                                         std::to_string(account->user_id));
      e.server_ts_ms = 1'790'000'000'000 + next_pair_;
      e.ciphertext.assign(kCiphertextBytes, '\xa5');
      scratch_.store().append_inbox(account->devices[0].pk, e);
      scratch_.store().remember_sent(from.record.user_id, msg_id, {e.conv_seq, e.server_ts_ms});
      to_ack_.emplace_back(account->devices[0].pk, e.inbox_seq);
    }
    scratch_.store().commit();
    return true;
  }

 private:
  struct User {
    std::string name;
    DeviceRecord record;
  };
  ScratchStore scratch_;
  std::vector<User> users_;
  std::vector<std::pair<DevicePk, std::uint64_t>> to_ack_;
  std::uint64_t next_pair_ = 0;
};

void BM_StoreMessage(benchmark::State& state) {
  PairsStore t(state.range(0) != 0);
  for (int i = 0; i < 2 * PairsStore::kPairs / PairsStore::kPerCommit; ++i) t.batch();  // warm
  for (auto _ : state) {
    if (!t.batch()) {
      state.SkipWithError("the store answered a send or an ack wrongly");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * PairsStore::kPerCommit);
}
BENCHMARK(BM_StoreMessage)->ArgNames({"fsync"})->Arg(0)->Unit(benchmark::kMicrosecond);

}  // namespace
