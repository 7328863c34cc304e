#pragma once
// Process-wide counters, rendered as Prometheus text at /metrics. Relaxed atomics: these are
// statistics, never used to make decisions.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "observability/histogram.hpp"

namespace parley {

class Metrics {
 public:
  std::atomic<std::int64_t> connections{0};
  std::atomic<std::int64_t> authenticated{0};
  std::atomic<std::int64_t> resting{0};  // ws:// connections holding no WebSocket stream
  std::atomic<std::uint64_t> frames_in{0};
  std::atomic<std::uint64_t> frames_out{0};
  std::atomic<std::uint64_t> messages_stored{0};
  std::atomic<std::uint64_t> entries_delivered{0};
  std::atomic<std::uint64_t> inbox_reads{0};
  std::atomic<std::uint64_t> errors_sent{0};
  std::atomic<std::uint64_t> slow_consumers_dropped{0};
  std::atomic<std::uint64_t> writes_posted{0};  // started without a handler's scope
  std::atomic<std::uint64_t> writes_whole{0};   // taken whole by the kernel as they were made
  std::atomic<std::uint64_t> writes_waited{0};  // found the socket full, finished as it drained
  std::atomic<std::uint64_t> rate_limited{0};
  std::atomic<std::uint64_t> inbox_full{0};
  std::atomic<std::uint64_t> inbox_share_full{0};
  std::atomic<std::uint64_t> group_share_full{0};
  std::atomic<std::uint64_t> group_pending_full{0};
  std::atomic<std::uint64_t> connections_refused_by_address{0};  // over a per-address limit
  std::atomic<std::uint64_t> registrations_refused{0};           // over the budget per address
  std::atomic<std::uint64_t> store_rejected{0};
  // Jobs that met another writer's locks (several gateways on one PostgreSQL) and were run
  // again in a later transaction.
  std::atomic<std::uint64_t> store_conflicts_retried{0};
  // Transactions rolled back and run again, each job in a savepoint, because a job threw
  // (not for another writer's locks: those are store_conflicts_retried).
  std::atomic<std::uint64_t> store_batches_started_over{0};
  std::atomic<std::uint64_t> inbox_depth{0};
  // Routing through Redis (routing/redis_router.hpp): commands run (presence entries and
  // notices to other gateways), notices received (and of those, how many carried their
  // entry, and how many carried one that was refused and read instead), and commands given
  // up (Redis unreachable or the queue full; the entries wait in the store all the same).
  std::atomic<std::uint64_t> routing_commands_sent{0};
  std::atomic<std::uint64_t> routed_notices_received{0};
  std::atomic<std::uint64_t> routed_entries_received{0};
  std::atomic<std::uint64_t> routed_entries_refused{0};
  std::atomic<std::uint64_t> routing_commands_dropped{0};
  // Group log entries committed but not yet in every member's inbox (briefly below zero
  // while a completion races the append's own count).
  std::atomic<std::int64_t> group_fanout_backlog{0};
  std::atomic<std::uint64_t> group_fanout_appends{0};  // inbox entries written by fan-out
  std::atomic<std::uint64_t> group_messages{0};        // GroupSends stored
  std::atomic<std::uint64_t> deliver_bodies_encoded{0};  // DeliverBodies::get's encodes
  std::atomic<std::uint64_t> marks_out_of_order{0};  // Session::on_mark's reads

  // Store thread only. `sync_left_out`: fan-out steps alone, committed without a sync
  // (store_worker.cpp, finish).
  void observe_commit(double seconds, std::size_t jobs, bool sync_left_out);

  // From a Send or GroupSend handed to its session (read off the connection, before the rate
  // limit and parsing) to its SendAck handed back to the connection (the store's queue and
  // commit, and the hops there and back), on the connection's thread. Refusals, store
  // failures and acks to a connection closed meanwhile are not timed.
  Histogram send_ack{kAckBuckets};
  Histogram group_send_ack{kAckBuckets};

  std::string render() const;

 private:
  static constexpr std::array<double, 12> kCommitBuckets{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                         0.05,   0.1,   0.2,   0.5,   1.0,  5.0};
  static constexpr std::array<double, 14> kAckBuckets{
      0.00025, 0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.01, 0.025, 0.1, 1.0, 5.0};
  Histogram commit_{kCommitBuckets};
  std::atomic<std::uint64_t> commit_jobs_{0};
  std::atomic<std::uint64_t> commits_unsynced_{0};
};

}  // namespace parley
