// Relay microbenchmark, store: the store work of group messages to a large group, through the
// Store interface as the relay's jobs call it (store/store.hpp; synchronous=NORMAL, CPU time).
// Per iteration one member sends `per_fanout` messages (each its log append and sent record,
// as the GroupSend job makes them); the fan-out then writes them to every other member's
// inbox in steps of 256 appends (the relay's --fanout-chunk), each a job, so each member gets
// one range row of `per_fanout` entries; then every member acknowledges each entry with a job
// of its own (delete or trim its row, raise the sender's delivery mark), 256 jobs per commit
// (what the relay gathers when a thousand members answer at once). per_fanout 1: every ack
// deletes a one-entry row (the paced rows of bench/run); 4: three acks in four trim the head
// of a row (a relay under load, whose fan-out steps cover several messages). Counters, per
// member delivery: fanout_cpu_per_delivery_us and ack_cpu_per_delivery_us.
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
  explicit GroupStore(int members) : scratch_(false) {
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

  // Member 0 sends one message; false if the log gave it an unexpected seq.
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
    e.server_ts_ms = now_ms();
    e.payload.assign(kCiphertextBytes, '\xa5');
    s.begin();
    s.append_group_log(kGroup, e);
    s.remember_sent(sender.user, e.client_msg_id, {e.seq, e.server_ts_ms});
    s.commit();
    return e.seq == sent_;
  }

  // The fan-out of everything sent, one job per step, one commit; the number of deliveries.
  std::size_t fan_out() {
    auto& s = store();
    std::size_t delivered = 0;
    s.begin();
    for (bool more = true; more;) {
      auto step = s.fan_out_group(kGroup, kFanoutChunk);
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

  // Every member but the sender acknowledges its oldest entry, one job each; the number of
  // marks raised (one per ack).
  std::size_t ack() {
    auto& s = store();
    std::size_t jobs = 0, raised = 0;
    for (auto& m : members_) {
      if (m.seqs.empty()) continue;
      const auto up_to = m.seqs.front();
      m.seqs.pop_front();
      if (jobs++ % kAcksPerCommit == 0) {
        if (jobs > 1) s.commit();
        s.begin();
      }
      for (const auto& a : s.delete_acked(m.pk, up_to))
        if (s.raise_delivery_mark(a.sender_pk, m.pk, a.group_id, a.from, a.up_to, now_ms())) ++raised;
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

  std::uint64_t now_ms() { return 1'790'000'000'000 + ++clock_ms_; }

  ScratchStore scratch_;
  std::vector<Member> members_;
  std::uint64_t clock_ms_ = 0;
  std::uint64_t sent_ = 0;
};

void BM_StoreGroupDelivery(benchmark::State& state) {
  const auto members = static_cast<int>(state.range(0));
  const auto per_fanout = static_cast<int>(state.range(1));
  GroupStore g(members);
  const auto round = [&](double* fanout_us, double* ack_us) -> std::size_t {
    for (int i = 0; i < per_fanout; ++i)
      if (!g.send()) {
        state.SkipWithError("the log gave a message an unexpected seq");
        return 0;
      }
    const auto t0 = thread_cpu_us();
    const auto n = g.fan_out();
    const auto t1 = thread_cpu_us();
    std::size_t raised = 0;
    for (int i = 0; i < per_fanout; ++i) raised += g.ack();
    *ack_us += thread_cpu_us() - t1;
    *fanout_us += t1 - t0;
    if (n != static_cast<std::size_t>(per_fanout) * static_cast<std::size_t>(members - 1) || raised != n) {
      state.SkipWithError("a member missed a delivery, or an ack raised no mark");
      return 0;
    }
    return n;
  };
  double fanout_us = 0, ack_us = 0;
  for (int i = 0; i < 2; ++i) round(&fanout_us, &ack_us);  // warm
  fanout_us = ack_us = 0;
  std::size_t delivered = 0;
  for (auto _ : state) {
    const auto n = round(&fanout_us, &ack_us);
    if (n == 0) break;
    delivered += n;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(delivered));
  const auto per = [&](double us) { return delivered ? us / static_cast<double>(delivered) : 0; };
  state.counters["fanout_cpu_per_delivery_us"] = per(fanout_us);
  state.counters["ack_cpu_per_delivery_us"] = per(ack_us);
}
BENCHMARK(BM_StoreGroupDelivery)
    ->ArgNames({"members", "per_fanout"})
    ->ArgsProduct({{1000}, {1, 4}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
