#include "observability/metrics.hpp"

#include <fmt/format.h>

#include "net/handler_memory.hpp"

namespace parley {

void Metrics::observe_commit(double seconds, std::size_t jobs, bool sync_left_out) {
  commit_.observe(seconds);
  commit_jobs_.fetch_add(jobs, std::memory_order_relaxed);
  if (sync_left_out) commits_unsynced_.fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::render() const {
  std::string out;
  auto line = [&](const char* name, const char* type, const char* help, const auto& value) {
    fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name,
                   help, type, value.load(std::memory_order_relaxed));
  };
  line("parley_connections", "gauge", "Open WebSocket connections.", connections);
  line("parley_authenticated_connections", "gauge", "Logged-in connections.", authenticated);
  line("parley_resting_connections", "gauge",
       "Connections parked with nothing to write, holding no WebSocket stream.", resting);
  line("parley_frames_in_total", "counter", "Frames received from clients.", frames_in);
  line("parley_frames_out_total", "counter", "Frames sent to clients.", frames_out);
  line("parley_messages_stored_total", "counter", "Messages written to inboxes.", messages_stored);
  line("parley_entries_delivered_total", "counter", "Inbox entries pushed to devices.",
       entries_delivered);
  line("parley_inbox_reads_total", "counter",
       "Inbox pages read from the store for a connection: at login, after a gap, and for "
       "entries announced without being handed over.",
       inbox_reads);
  line("parley_errors_sent_total", "counter", "Error frames sent.", errors_sent);
  line("parley_slow_consumers_dropped_total", "counter",
       "Connections cut off because their send queue overflowed or stalled.", slow_consumers_dropped);
  line("parley_writes_posted_total", "counter",
       "Socket writes posted behind the I/O thread's queue because the handler queuing their "
       "frame opened no scope (net/deferred_writes.hpp); 0 unless a path was missed.",
       writes_posted);
  line("parley_writes_whole_total", "counter",
       "Socket writes to ws:// clients the kernel took whole as they were made, with no "
       "completion to wait for.",
       writes_whole);
  line("parley_writes_waited_total", "counter",
       "Socket writes to ws:// clients that found the socket's buffer full (the client reads "
       "slower than it is sent to) and finished as it drained.",
       writes_waited);
  line("parley_handler_memory_fallbacks_total", "counter",
       "Asio operations that did not fit the memory their owner keeps for them and were "
       "allocated (net/handler_memory.hpp); 0 unless Asio's operations outgrew it.",
       net_alloc::handler_memory_fallbacks);
  line("parley_deliver_bodies_encoded_total", "counter",
       "Deliver bodies encoded for pushes: one per group entry while any member's frame holds "
       "it (session/deliver_bodies.hpp); 1:1 messages go out from their stored entry and "
       "encode none.",
       deliver_bodies_encoded);
  line("parley_marks_out_of_order_total", "counter",
       "Delivery marks that reached their device's connection not following the last one it "
       "has (with several store connections or gateways, before an older one's notice, or "
       "while a read of its marks ran), for which the device's stored marks after that one "
       "are read (one read at a time, shared by the marks that arrive meanwhile).",
       marks_out_of_order);
  line("parley_rate_limited_total", "counter", "Requests refused by the rate limit.", rate_limited);
  line("parley_inbox_full_total", "counter", "Sends refused by a recipient's inbox quota.", inbox_full);
  line("parley_inbox_share_full_total", "counter",
       "Sends refused because the sender's share of a recipient's inbox was full.",
       inbox_share_full);
  line("parley_group_share_full_total", "counter",
       "Group messages and membership changes refused because the sender's entries in group "
       "logs, not yet received by every member, were at its share.",
       group_share_full);
  line("parley_group_pending_full_total", "counter",
       "Group messages and membership changes asked to wait because as many of the sender's "
       "entries as --group-pending-max were not yet fanned out to every member.",
       group_pending_full);
  line("parley_connections_refused_by_address_total", "counter",
       "WebSocket upgrades refused by the per-address limits (connections held, new per second).",
       connections_refused_by_address);
  line("parley_registrations_refused_total", "counter",
       "Registrations refused: the client address had used its registrations for now.",
       registrations_refused);
  line("parley_store_rejected_total", "counter", "Store jobs refused (queue full or stopping).",
       store_rejected);
  line("parley_store_conflicts_retried_total", "counter",
       "Store jobs that met another gateway's row locks (a deadlock or a lock wait past the "
       "limit) and ran again in a later transaction.",
       store_conflicts_retried);
  line("parley_store_batches_started_over_total", "counter",
       "Store transactions rolled back and run again, each job in a savepoint, because a job "
       "threw or the commit failed (a relay bug or an I/O error).",
       store_batches_started_over);
  line("parley_inbox_depth", "gauge", "Entries waiting in all inboxes.", inbox_depth);
  line("parley_routing_commands_sent_total", "counter",
       "Routing commands Redis ran: presence entries, and notices to other gateways.",
       routing_commands_sent);
  line("parley_routed_notices_received_total", "counter",
       "Notices other gateways published to this one.", routed_notices_received);
  line("parley_routed_entries_received_total", "counter",
       "Of those, notices that carried their 1:1 entry, for a connection here to push without "
       "reading the store.",
       routed_entries_received);
  line("parley_routed_entries_refused_total", "counter",
       "Notices whose carried entry was refused (its MAC, its form, or its age), each then "
       "read from the store.",
       routed_entries_refused);
  line("parley_routing_commands_dropped_total", "counter",
       "Notices for other gateways given up (Redis unreachable or the queue full).",
       routing_commands_dropped);
  line("parley_group_messages_total", "counter", "Group messages stored (one per GroupSend).",
       group_messages);
  line("parley_group_fanout_backlog", "gauge",
       "Group log entries not yet copied to every member's inbox.", group_fanout_backlog);
  line("parley_group_fanout_deliveries_total", "counter",
       "Inbox entries written by group fan-out.", group_fanout_appends);

  out += "# HELP parley_store_commit_seconds Store-thread time per group commit: its jobs' "
         "statements and the COMMIT, not the wait of unhurried jobs for company.\n";
  out += "# TYPE parley_store_commit_seconds histogram\n";
  commit_.render(out, "parley_store_commit_seconds", "");
  out += "# HELP parley_send_ack_seconds From a Send or GroupSend read off its connection to its "
         "SendAck handed back to the connection: the store's queue and durable commit included.\n";
  out += "# TYPE parley_send_ack_seconds histogram\n";
  send_ack.render(out, "parley_send_ack_seconds", "request=\"send\"");
  group_send_ack.render(out, "parley_send_ack_seconds", "request=\"group_send\"");
  line("parley_store_commit_jobs_total", "counter", "Jobs committed in group commits.",
       commit_jobs_);
  line("parley_store_commits_unsynced_total", "counter",
       "Of those commits, the ones of group fan-out steps alone, left for the next synced "
       "commit or checkpoint to put on disk (SQLite with --durability full; with normal no "
       "commit is synced, and PostgreSQL syncs every one).",
       commits_unsynced_);
  return out;
}

}  // namespace parley
