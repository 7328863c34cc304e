#include "groups/fanout_worker.hpp"

#include <spdlog/spdlog.h>

#include "net/post_task.hpp"
#include "observability/metrics.hpp"
#include "presence/presence_registry.hpp"
#include "routing/device_router.hpp"
#include "session/deliver_bodies.hpp"
#include "session/session.hpp"

namespace parley::groups {
namespace {
constexpr auto kRetryAfter = std::chrono::seconds(1);
}  // namespace

FanoutWorker::FanoutWorker(store::StoreWorker& store, PresenceRegistry& presence,
                           Metrics& metrics, DeliverBodies& bodies,
                           net::io_context::executor_type executor, std::size_t max_groups,
                           std::size_t chunk)
    : store_(store),
      presence_(presence),
      metrics_(metrics),
      bodies_(bodies),
      executor_(executor),
      max_groups_(max_groups),
      chunk_(chunk) {}

void FanoutWorker::recover() {
  // Waits for the one query, so the backlog gauge is right before the first client connects.
  std::vector<std::string> behind;
  std::uint64_t entries = 0;
  if (store_.run_and_wait([&](store::Store& s) { behind = s.groups_behind(&entries); }) !=
      store::JobStatus::Committed) {
    spdlog::error("event=fanout_recovery_failed");
    return;
  }
  metrics_.group_fanout_backlog.fetch_add(static_cast<std::int64_t>(entries),
                                          std::memory_order_relaxed);
  if (!behind.empty())
    spdlog::info("event=fanout_resume groups={} entries={}", behind.size(), entries);
  for (const auto& g : behind) kick(g);
}

void FanoutWorker::take_over_stalled() {
  auto behind = std::make_shared<std::vector<std::string>>();
  store_.submit([behind](store::Store& s) { *behind = s.groups_behind(nullptr); },
                [this, behind](store::JobStatus st) {
                  if (st != store::JobStatus::Committed) return;
                  std::vector<std::string> stalled;
                  {
                    std::lock_guard lock(mutex_);
                    std::unordered_set<std::string> now(behind->begin(), behind->end());
                    for (const auto& g : now)
                      if (behind_before_.contains(g) && !active_.contains(g) &&
                          !waiting_set_.contains(g))
                        stalled.push_back(g);
                    behind_before_ = std::move(now);
                  }
                  if (!stalled.empty())
                    spdlog::info("event=fanout_take_over groups={}", stalled.size());
                  for (const auto& g : stalled) kick(g);
                },
                {}, store::Urgency::ReadOnly);
}

void FanoutWorker::appended(const std::string& group_id) {
  metrics_.group_fanout_backlog.fetch_add(1, std::memory_order_relaxed);
  kick(group_id);
}

void FanoutWorker::kick(const std::string& group_id) {
  std::lock_guard lock(mutex_);
  if (auto it = active_.find(group_id); it != active_.end()) {
    it->second = true;  // the running job may have missed it: run once more after it
    return;
  }
  if (active_.size() >= max_groups_) {
    if (waiting_set_.insert(group_id).second) waiting_.push_back(group_id);
    return;
  }
  start_locked(group_id);
}

void FanoutWorker::start_locked(const std::string& group_id) {
  active_[group_id] = false;
  net::post(executor_, [this, group_id] { step(group_id); });
}

void FanoutWorker::step(std::string group_id) {
  auto result = std::make_shared<store::FanoutStep>();
  store_.submit(
      [result, group_id, chunk = chunk_](store::Store& s) {
        *result = s.fan_out_group(group_id, chunk);
      },
      [this, result, group_id](store::JobStatus status) {
        // On the store thread, right after the commit and before the next batch is taken:
        // a group still behind, with no other group waiting its turn, queues its next step
        // now, so that step goes into the very next batch with the acks that arrived
        // meanwhile (or the one after, when a sender's job steps it aside: store_worker.hpp).
        // Queued from the completion instead, the step missed that batch, and the acks
        // alone made a commit of their own (half of all commits, each an fsync).
        const bool chained =
            status == store::JobStatus::Committed && result->more && may_chain(group_id);
        if (chained) step(group_id);
        // Through post_task: it joins this commit's chain to the I/O thread, behind the live
        // pushes committed with it (net/post_task.hpp), so a member's 1:1 push of the same
        // commit still reaches it first.
        auto tell = [this, result, group_id, status, chained] {
          if (status != store::JobStatus::Committed) {
            // Nothing was written; the cursor is unchanged. The group keeps its slot and
            // tries again in a second (a stopped io_context simply never runs the retry;
            // the next start-up resumes from the cursor).
            spdlog::warn("event=fanout_step_failed status={}", static_cast<int>(status));
            auto timer = std::make_shared<net::steady_timer>(executor_, kRetryAfter);
            timer->async_wait([this, timer, group_id](boost::system::error_code ec) {
              if (!ec) step(group_id);
            });
            return;
          }
          metrics_.group_fanout_backlog.fetch_sub(
              static_cast<std::int64_t>(result->entries_completed), std::memory_order_relaxed);
          // Each entry is encoded for the first member online (deliver_bodies.hpp) and held
          // here until the last has it: the members' own frames can be written and gone (on
          // their threads) before this loop reaches the next member, and the next would
          // encode it again.
          std::unordered_map<const store::InboxEntry*, SharedBytes> held;
          for (auto& run : result->runs) {
            metrics_.group_fanout_appends.fetch_add(run.entries.size(), std::memory_order_relaxed);
            auto s = presence_.find(run.username, run.device_id);
            if (!s) {
              // The range's last seq: the device's gateway reads the range from the store. Not
              // carried: each member's notice would carry its own copy of an entry the store
              // keeps once, through Redis's one thread.
              if (router_ && !run.entries.empty())
                router_->appended(run.username, run.device_id,
                                  run.first_seq + run.entries.size() - 1, nullptr);
              continue;
            }
            std::vector<PushedEntry> pushed;
            pushed.reserve(run.entries.size());
            for (auto& e : run.entries) {
              auto& body = held[e.get()];
              if (!body) body = bodies_.get(*e);
              pushed.push_back({std::move(e), body});
            }
            Session::notify_appended(std::move(s), run.first_seq, std::move(pushed));
          }
          if (!chained) finished(group_id, result->more);
        };
        post_task(executor_, strand_call(std::move(tell)));
      },
      {}, store::Urgency::Background);
}

bool FanoutWorker::may_chain(const std::string& group_id) {
  std::lock_guard lock(mutex_);
  if (!waiting_.empty()) return false;
  // The chained step reads the log as committed now, so an append flagged before this
  // needs no extra step at the end of the chain.
  active_[group_id] = false;
  return true;
}

void FanoutWorker::finished(const std::string& group_id, bool more) {
  std::lock_guard lock(mutex_);
  auto it = active_.find(group_id);
  if (it == active_.end()) return;
  if (more || it->second) {
    // Round-robin: a big group goes to the back of the line when others are waiting.
    if (!waiting_.empty()) {
      active_.erase(it);
      if (waiting_set_.insert(group_id).second) waiting_.push_back(group_id);
    } else {
      it->second = false;
      net::post(executor_, [this, group_id] { step(group_id); });
      return;
    }
  } else {
    active_.erase(it);
  }
  while (active_.size() < max_groups_ && !waiting_.empty()) {
    auto next = std::move(waiting_.front());
    waiting_.pop_front();
    waiting_set_.erase(next);
    start_locked(next);
  }
}

}  // namespace parley::groups
