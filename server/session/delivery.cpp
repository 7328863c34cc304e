// Delivery of a device's inbox: live pushes and replay share one cursor, so entries always
// leave in inbox_seq order, and a window of unacknowledged entries bounds what is in flight
// (a device with 100,000 waiting entries costs the relay two pages of them at a time).
#include <algorithm>
#include <cassert>

#include <spdlog/spdlog.h>

#include "observability/metrics.hpp"
#include "parley.pb.h"
#include "session/deliver_bodies.hpp"
#include "session/frame.hpp"
#include "session/marks.hpp"
#include "session/session.hpp"
#include "util/clock.hpp"

namespace parley {
namespace {

// Inbox rows one delete job takes at most. An Ack covers at most the delivery window, but a
// Login's last_acked_inbox_seq may cover a device's whole inbox (some two million rows under
// the quota): deleted in one job, they would hold the single store thread, and every other
// connection's commit behind it, for seconds.
constexpr std::size_t kDeleteRowsPerJob = 1024;

}  // namespace

void Session::notify_appended(std::shared_ptr<Session> self, std::uint64_t inbox_seq,
                              std::shared_ptr<const store::InboxEntry> entry) {
  auto& session = *self;
  session.run_on_strand([self = std::move(self), inbox_seq, entry = std::move(entry)]() mutable {
    self->on_appended(inbox_seq, std::move(entry));
  });
}

void Session::notify_appended(std::shared_ptr<Session> self, std::uint64_t first_seq,
                              std::vector<PushedEntry> entries) {
  auto& session = *self;
  session.run_on_strand([self = std::move(self), first_seq, entries = std::move(entries)]() mutable {
    for (std::size_t i = 0; i < entries.size(); ++i)
      self->on_appended(first_seq + i, std::move(entries[i].entry), entries[i].deliver_body);
  });
}

void Session::notify_rescan(std::shared_ptr<Session> self) {
  auto& session = *self;
  session.run_on_strand([self = std::move(self)] { self->on_rescan(); });
}

void Session::on_rescan() {
  if (closed_ || !authenticated_) return;
  ++rescans_;
  tail_unknown_ = true;
  // Rescans come only among gateways, where marks are read from the store anyway
  // (marks_from_store): one more read, after the last.
  if (marks_replayed_)
    read_new_marks();
  else
    marks_rescan_ = true;
  resync_presence();
  pump();
}

void Session::on_appended(std::uint64_t inbox_seq, std::shared_ptr<const store::InboxEntry> entry,
                          const SharedBytes& deliver_body) {
  if (closed_ || !authenticated_) return;
  known_tail_ = std::max(known_tail_, inbox_seq);
  // The common live case: nothing older is pending, so send the entry we were handed
  // instead of reading it back from the store.
  if (entry && !fetching_ && !tail_unknown_ && inbox_seq == next_push_ &&
      page_pos_ == page_.size() && in_flight() < ctx_.limits.delivery_window &&
      send_queue_has_room()) {
    const auto& e = *entry;
    push_entry(e, inbox_seq, deliver_body, std::move(entry));
    return;
  }
  pump();
}

void Session::maybe_sync_complete() {
  if (sync_sent_ || !sync_target_ || next_push_ <= *sync_target_) return;
  sync_sent_ = true;
  wire::ServerFrame f;
  f.mutable_sync_complete()->set_inbox_seq(*sync_target_);
  reply(0, f);
}

void Session::pump() {
  if (closed_) return;
  // Entries already read from the store go first, as the window and the send queue allow.
  const auto window = ctx_.limits.delivery_window;
  while (page_pos_ < page_.size() && in_flight() < window && send_queue_has_room()) {
    auto& p = page_[page_pos_++];
    page_bytes_ -= p.entry->ciphertext.size();
    // The frame keeps the entry: a 1:1 entry's ciphertext, as read from the store, is what
    // the socket sends; a group entry's encoded body is shared by its members.
    const auto entry = std::move(p.entry);
    push_entry(*entry, p.inbox_seq, {}, entry);
  }
  if (page_pos_ == page_.size()) {
    page_ = {};  // its capacity too: an idle connection holds no page
    page_pos_ = 0;
  }
  maybe_sync_complete();
  read_ahead();
}

// The next page is read while this one is pushed, so the store thread and this connection's
// thread work side by side instead of taking turns. One read is in flight at most, and it
// starts only while less than a page (in entries and in bytes) is held, so at most two
// pages are held; and not while the window is full with entries still held, so a client
// that stops acking holds the relay to what it already has.
void Session::read_ahead() {
  if (fetching_ || draining_ || !send_queue_has_room()) return;
  const auto page = ctx_.limits.replay_page;
  const auto budget = ctx_.limits.replay_page_bytes;
  const auto held = page_.size() - page_pos_;
  if (held >= page || page_bytes_ >= budget) return;
  if (held > 0 && in_flight() >= ctx_.limits.delivery_window) return;
  const auto after = held ? page_.back().inbox_seq : next_push_ - 1;
  if (!tail_unknown_ && after >= known_tail_) return;  // all caught up

  fetching_ = true;
  ctx_.metrics.inbox_reads.fetch_add(1, std::memory_order_relaxed);
  const auto rescans = rescans_;
  // While the read is in flight known_tail_ holds only what is announced meanwhile. Every
  // entry is committed before it is announced, so the read finds what was announced before
  // it began; a higher tail announced then names nothing (a forged notice, an entry
  // retention removed) and would have the session read again for ever. One announced during
  // the read may have been committed after it began, so it stands. A read that stops short
  // of the end gives the earlier announcements back.
  const auto announced = std::exchange(known_tail_, 0);
  auto read = std::make_shared<std::vector<store::PagedEntry>>();
  submit(
      [read, pk = device_pk_, after, page, budget](store::Store& s) {
        *read = s.read_inbox_page(pk, after, page, budget);
      },
      [this, read, after, page, budget, rescans, announced](store::JobStatus status) {
        fetching_ = false;
        if (closed_) return;
        if (status != store::JobStatus::Committed) {
          // Nothing was lost; the entries stay in the inbox. Let the client reconnect.
          spdlog::warn("event=replay_read_failed user={} device={}", username_, device_id_);
          close(1011, "relay busy or storage error during replay; reconnect");
          return;
        }
        std::size_t bytes = 0;
        for (const auto& e : *read) bytes += e.entry->ciphertext.size();
        if (read->size() < page && bytes < budget && rescans == rescans_) {
          // Reached the end of what is stored: every later append notifies us.
          tail_unknown_ = false;
          const auto end = read->empty() ? after : read->back().inbox_seq;
          known_tail_ = std::max(known_tail_, end);
          if (!sync_target_) sync_target_ = end;  // the store's word, not an announcement's
        } else {
          known_tail_ = std::max(known_tail_, announced);
        }
        page_bytes_ += bytes;
        if (page_pos_ == page_.size()) {
          page_ = std::move(*read);
        } else {
          page_.erase(page_.begin(), page_.begin() + static_cast<std::ptrdiff_t>(page_pos_));
          page_.insert(page_.end(), std::make_move_iterator(read->begin()),
                       std::make_move_iterator(read->end()));
        }
        page_pos_ = 0;
        pump();
      },
      0, {},
      // Committed entries are all it can see but unhurried deletes (store_worker.hpp), so
      // it need not wait for their fsync, nor make one.
      store::Urgency::ReadOnly, store::Lane::Own);
}

void Session::push_entry(const store::InboxEntry& e, std::uint64_t inbox_seq,
                         SharedBytes deliver_body,
                         std::shared_ptr<const store::InboxEntry> shared) {
  assert(!shared || shared.get() == &e);
  Frame frame;
  if (deliver_body)
    frame = Frame::deliver(std::move(deliver_body), inbox_seq);
  else if (shared && Frame::can_carry(e))
    frame = Frame::message(std::move(shared), inbox_seq);
  else
    frame = Frame::deliver(ctx_.deliver_bodies.get(e), inbox_seq);
  if (e.kind == store::EntryKind::Message || e.kind == store::EntryKind::GroupMessage)
    last_message_pushed_ = inbox_seq;
  if (inbox_seq > last_pushed_ + 1) skipped_.push_back({last_pushed_ + 1, inbox_seq - 1});
  next_push_ = inbox_seq + 1;
  last_pushed_ = inbox_seq;
  ctx_.metrics.entries_delivered.fetch_add(1, std::memory_order_relaxed);
  send_bytes(std::move(frame));
}

void Session::on_ack(std::uint64_t request_id, std::uint64_t up_to, std::uint64_t limit) {
  if (up_to > limit)
    return reply_error(request_id, wire::INVALID_ACK,
                       "ack beyond the last delivered inbox_seq " + std::to_string(limit));
  if (up_to <= acked_) return;  // old news
  acked_ = up_to;               // the window opens now; the delete follows
  forget_skipped_through(up_to);
  if (last_message_pushed_ <= delete_wanted_ && up_to - delete_wanted_ < kDeferredAckLimit) {
    // Everything newly acknowledged is a group event: its delete raises no delivery mark and
    // nobody waits for it, and losing it (a crash, a failed job) only means the
    // entry is delivered again and the client drops the duplicate. So it waits to be folded
    // into the next delete that does matter, a bigger run, or the end of the connection:
    // one store job instead of one per ack for a device that mostly gets group events.
    deferred_ack_ = up_to;
  } else {
    run_delete(up_to);
  }
  pump();
}

std::uint64_t Session::in_flight() const {
  auto n = last_pushed_ - acked_;
  for (const auto& s : skipped_) n -= s.last - s.first + 1;
  return n;
}

void Session::forget_skipped_through(std::uint64_t seq) {
  std::size_t gone = 0;
  while (gone < skipped_.size() && skipped_[gone].last <= seq) ++gone;
  skipped_.erase(skipped_.begin(), skipped_.begin() + static_cast<std::ptrdiff_t>(gone));
  if (!skipped_.empty()) {
    skipped_.front().first = std::max(skipped_.front().first, seq + 1);
  } else if (gone > 0) {
    skipped_.shrink_to_fit();
  }
}

void Session::flush_deferred_ack() {
  if (deferred_ack_ > delete_wanted_) run_delete(deferred_ack_);
}

// Deletes the acknowledged entries and, in the same transaction, raises the delivery marks of
// their sending devices (marks.cpp). One delete runs at a time; acks that arrive meanwhile
// are folded into the next one.
void Session::run_delete(std::uint64_t up_to) {
  delete_wanted_ = std::max({delete_wanted_, up_to, deferred_ack_});
  if (delete_running_ || delete_wanted_ <= deleted_) return;
  delete_running_ = true;
  const auto target = delete_wanted_;
  // What the job deletes, and what it found: the marks to notify, and how far its share of
  // the rows reached.
  struct Delete {
    store::DevicePk device;
    std::uint64_t up_to;
    MarkNotices notices;
    std::uint64_t reached = 0;
    // With the batch's other jobs' reads (store/job.hpp).
    void read_ahead(store::Store& s) { s.read_acked_ahead(device, up_to, kDeleteRowsPerJob); }
  };
  submit_with(
      Delete{device_pk_, target, {}, 0},
      [me = username_, dev = device_id_](Delete& d, store::Store& s) {
        const auto delivered = s.delete_acked(d.device, d.up_to, kDeleteRowsPerJob, d.reached);
        raise_delivery_marks(d.notices, s, delivered, d.device, me, dev, now_ms());
      },
      [this](Delete& d, store::JobStatus status) {
        delete_running_ = false;
        if (status != store::JobStatus::Committed) {
          // The entries stay in the inbox. Reconnecting retries: the login's
          // last_acked_inbox_seq acknowledges them again.
          spdlog::warn("event=ack_failed user={} device={}", username_, device_id_);
          if (!closed_) close(1011, "storage error while acknowledging; reconnect");
          return;
        }
        deleted_ = d.reached;  // short of the target when the rows ran over a job's share
        run_delete(delete_wanted_);
      },
      0,
      // From the store thread, in commit order: a sending device must get its marks in
      // version order, and this connection's thread may lag another reader's.
      [&presence = ctx_.presence, router = ctx_.router](Delete& d) {
        notify_marks(presence, router, d.notices);
      },
      // Nobody waits on it (the window opened at the ack), and a crash before it commits
      // only means the entries come again and the client drops them: it may share the
      // commit of the next send instead of paying an fsync alone.
      store::Urgency::Unhurried, store::Lane::Own);
}

}  // namespace parley
