#pragma once
// Group fan-out, off every request path. A group send or membership change is one durable
// log append; this worker then copies each log entry into the inboxes of the members it is
// owed to, in store jobs of at most `chunk` inbox appends. Each job also advances the
// group's durable fan-out cursor (group_fanout) in the same transaction, so a crash resumes
// exactly where the last committed job stopped: no device misses an entry or has one stored
// twice. After each job it notifies the recipients that are online, like a Send does. A job
// alone in its commit is not synced first (store_worker.cpp, finish): a power cut can take
// back a job whose entries were pushed, and the next run stores them again under new seqs,
// which a member drops as duplicates.
//
// Bounded: at most `max_groups` groups have a job queued or running at once (one job per
// group at a time, which also keeps each group's entries in order); further groups wait in a
// FIFO. Jobs go through the ordinary store queue as background jobs (store_worker.hpp): they
// interleave with other sessions' jobs, and a sender's job queued with a step usually commits
// before it (a step steps aside once), so a step seldom holds up a sender's ack.
//
// Thread-safety: every public method may be called from any thread.
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "net/asio.hpp"
#include "store/records.hpp"
#include "store/store_worker.hpp"

namespace parley {
class DeliverBodies;
class Metrics;
class PresenceRegistry;
namespace routing {
class DeviceRouter;
}
}  // namespace parley

namespace parley::groups {

class FanoutWorker {
 public:
  FanoutWorker(store::StoreWorker& store, PresenceRegistry& presence, Metrics& metrics,
               DeliverBodies& bodies, net::io_context::executor_type executor,
               std::size_t max_groups = 4,
               std::size_t chunk = 256);

  // Gateways sharing a store: members connected elsewhere are told through it. Before
  // recover().
  void set_router(routing::DeviceRouter* router) { router_ = router; }

  // Crash recovery, at start-up (before clients connect; blocks for one store job): finds
  // every group whose fan-out is behind its log and resumes it.
  void recover();
  // A log entry was committed for `group_id`: fan it out.
  void appended(const std::string& group_id);
  // Among gateways, called every so often (any thread): groups whose fan-out was behind at
  // the last call and still is, and that this gateway is not fanning out, are taken over.
  // A gateway that died mid-way leaves such a group behind until someone sends to it again;
  // a live one's group is taken at worst in parallel, which the fan-out's row lock makes
  // one after the other. The backlog gauge is this gateway's view and can go below zero
  // for what it finishes of another's.
  void take_over_stalled();

 private:
  void kick(const std::string& group_id);
  void start_locked(const std::string& group_id);
  void step(std::string group_id);
  void finished(const std::string& group_id, bool more);
  bool may_chain(const std::string& group_id);

  store::StoreWorker& store_;
  PresenceRegistry& presence_;
  routing::DeviceRouter* router_ = nullptr;
  Metrics& metrics_;
  DeliverBodies& bodies_;
  net::io_context::executor_type executor_;
  const std::size_t max_groups_;
  const std::size_t chunk_;

  std::mutex mutex_;
  // Groups with a job queued or running; the flag says "appended again since it started".
  std::unordered_map<std::string, bool> active_;
  std::deque<std::string> waiting_;
  std::unordered_set<std::string> waiting_set_;
  std::unordered_set<std::string> behind_before_;  // at the last take_over_stalled()
};

}  // namespace parley::groups
