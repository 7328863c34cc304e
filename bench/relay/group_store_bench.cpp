// Relay microbenchmark, store: the store work of one group message to a large group, through
// the Store interface as the relay's jobs call it (store/store.hpp; fsync off, CPU time). Per
// iteration one member sends a message: its GroupSend job appends it to the group log; the
// fan-out writes it to every other member's inbox in steps of 256 appends (the relay's
// --fanout-chunk), each a job; then every member's ack job deletes what it acknowledged and
// raises the sender's delivery mark, 256 jobs per commit (what the relay gathers when a
// thousand members answer at once). `behind` is how many messages each member leaves
// unacknowledged (0: it has acknowledged everything before this message, the paced rows of
// bench/run; 4: its range row keeps growing and each ack trims its head, as under load).
// Counters, per member delivery: fanout_us and ack_us, CPU time of the fan-out and the acks.
#include <benchmark/benchmark.h>
#include <time.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "scratch_store.hpp"
#include "store/sqlite_store.hpp"

namespace {

using namespace parley::store;
using parley::bench::ScratchStore;

constexpr std::size_t kCiphertextBytes = 200;
constexpr std::size_t kFanoutChunk = 256;
constexpr std::size_t kAcksPerCommit = 256;
const std::string kGroup(16, 'g');

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

class GroupStore {
 public:
  GroupStore(int members, int behind) : scratch_(false), behind_(behind) {
    auto& s = scratch_.store();
    s.begin();
    for (int i = 0; i < members; ++i) {
      const auto name = "member" + std::to_string(i);
      const auto d = s.create_account(name, std::string(32, 'k'), 1, 1);
      members_.push_back({name, d->user_id, d->pk, {}});
    }
    s.create_group(kGroup, 1);
    for (const auto& m : members_) s.add_group_member(kGroup, m.user, m.user == members_[0].user, 1);
    s.commit();
  }

  Store& store() { return scratch_.store(); }

  // Member 0 sends; returns false if the store answered something the relay would not.
  bool send() {
    auto& s = store();
    const auto& sender = members_[0];
    GroupLogEntry e;
    e.sender = sender.name;
    e.sender_device = 1;
    e.sender_pk = sender.pk;
    e.client_msg_id.assign(16, '\0');
    ++sent_;
    e.client_msg_id.replace(0, sizeof sent_, reinterpret_cast<const char*>(&sent_), sizeof sent_);
    e.server_ts_ms = 1'790'000'000'000 + sent_;
    e.payload.assign(kCiphertextBytes, '\xa5');
    s.begin();
    s.savepoint();
    s.append_group_log(kGroup, e);
    s.remember_sent(sender.user, e.client_msg_id, {e.seq, e.server_ts_ms});
    s.release_savepoint();
    s.commit();
    return e.seq == sent_;
  }

  // The fan-out of everything sent, one job per step, one commit; the number of deliveries.
  std::size_t fan_out() {
    auto& s = store();
    std::size_t delivered = 0;
    s.begin();
    for (bool more = true; more;) {
      s.savepoint();
      auto step = s.fan_out_group(kGroup, kFanoutChunk);
      s.release_savepoint();
      for (const auto& run : step.runs) {
        auto& m = member(run.username);
        for (std::size_t i = 0; i < run.entries.size(); ++i) m.seqs.push_back(run.first_seq + i);
        delivered += run.entries.size();
      }
      more = step.more;
    }
    s.commit();
    return delivered;
  }

  // Every member but the sender acknowledges all but its last `behind` entries, one job each.
  // The number of marks raised (one per ack that acknowledged something).
  std::size_t ack() {
    auto& s = store();
    std::size_t jobs = 0, raised = 0;
    for (auto& m : members_) {
      if (m.seqs.size() <= static_cast<std::size_t>(behind_)) continue;
      const auto up_to = m.seqs[m.seqs.size() - 1 - behind_];
      while (!m.seqs.empty() && m.seqs.front() <= up_to) m.seqs.pop_front();
      if (jobs++ % kAcksPerCommit == 0) {
        if (jobs > 1) s.commit();
        s.begin();
      }
      s.savepoint();
      for (const auto& a : s.delete_acked(m.pk, up_to))
        if (s.raise_delivery_mark(a.sender_pk, m.pk, a.group_id, a.from, a.up_to, sent_)) ++raised;
      s.release_savepoint();
    }
    if (jobs > 0) s.commit();
    return raised;
  }

 private:
  struct Member {
    std::string name;
    UserId user;
    DevicePk pk;
    std::deque<std::uint64_t> seqs;  // inbox_seqs delivered and not yet acknowledged
  };
  Member& member(const std::string& name) {
    // Names are "member<i>", made in order.
    return members_[std::stoul(name.substr(6))];
  }

  ScratchStore scratch_;
  const int behind_;
  std::vector<Member> members_;
  std::uint64_t sent_ = 0;
};

void BM_StoreGroupDelivery(benchmark::State& state) {
  const auto members = static_cast<int>(state.range(0));
  const auto behind = static_cast<int>(state.range(1));
  GroupStore g(members, behind);
  for (int i = 0; i < behind + 2; ++i) {  // warm: every member's range row in its steady state
    g.send();
    g.fan_out();
    g.ack();
  }
  double fanout_us = 0, ack_us = 0;
  std::size_t delivered = 0;
  for (auto _ : state) {
    if (!g.send()) {
      state.SkipWithError("the log gave the message an unexpected seq");
      break;
    }
    const auto t0 = thread_cpu_us();
    const auto n = g.fan_out();
    const auto t1 = thread_cpu_us();
    const auto raised = g.ack();
    ack_us += thread_cpu_us() - t1;
    fanout_us += t1 - t0;
    if (n != static_cast<std::size_t>(members - 1) || raised != n) {
      state.SkipWithError("a member missed its delivery or its ack raised no mark");
      break;
    }
    delivered += n;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(delivered));
  const auto per = [&](double us) { return delivered ? us / static_cast<double>(delivered) : 0; };
  state.counters["fanout_us"] = per(fanout_us);
  state.counters["ack_us"] = per(ack_us);
}
BENCHMARK(BM_StoreGroupDelivery)
    ->ArgNames({"members", "behind"})
    ->ArgsProduct({{1000}, {0, 4}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
