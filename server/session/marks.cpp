// Delivery marks (docs/protocol.md 6.6): an ack raises, for each sending device and
// conversation it covers, the mark "this device has everything from conv_seq f up to n",
// and the sending device is told. A mark replaces the per-message receipt entry: one row updated in
// place instead of an inbox entry inserted, pushed, acknowledged and deleted per message.
#include <algorithm>
#include <functional>
#include <tuple>
#include <utility>

#include <spdlog/spdlog.h>

#include "parley.pb.h"
#include "observability/metrics.hpp"
#include "routing/device_router.hpp"
#include "session/marks.hpp"
#include "session/session.hpp"
#include "store/store.hpp"
#include "util/clock.hpp"

namespace parley {
namespace {

// Marks read per store job when a device logs in. A frame carries at most this many too.
constexpr std::size_t kMarkPage = 256;

}  // namespace

// A pushed frame per page: a connection that logs in with thousands of marks waiting gets
// them in frames of a page each.
void Session::send_marks(std::span<const store::DeliveryMarkRecord> marks) {
  for (std::size_t i = 0; i < marks.size(); i += kMarkPage)
    send_bytes(delivery_marks_frame(marks.subspan(i, std::min(kMarkPage, marks.size() - i))));
}

void raise_delivery_marks(MarkNotices& notices, store::Store& s,
                          std::span<const store::AckedMessages> acked, store::DevicePk reader_pk,
                          const std::string& reader, std::uint32_t reader_device,
                          std::uint64_t now) {
  notices.clear();
  // Each notice's `raised` is set by the commit: none may move meanwhile.
  notices.reserve(acked.size());
  for (const auto& a : acked) {
    auto& n = notices.emplace_back(MarkNotice{
        a.sender, a.sender_device,
        store::DeliveryMarkRecord{reader, reader_device, a.group_id, 0, a.up_to, now, 0}, {}});
    s.raise_delivery_mark_by_commit(a.sender_pk, reader_pk, a.group_id, a.from, a.up_to, now,
                                    n.raised);
  }
}

void notify_marks(PresenceRegistry& presence, routing::DeviceRouter* router,
                  std::span<MarkNotice> notices) {
  for (auto& n : notices) {
    if (!n.raised) continue;  // already that high: a redelivery acknowledged again
    n.mark.from = n.raised->from;
    n.mark.version = n.raised->version;
    if (auto s = presence.find(n.owner, n.owner_device))
      Session::notify_mark(std::move(s), std::move(n.mark), n.raised->follows);
    else if (router)
      router->mark_raised(n.owner, n.owner_device, n.mark, n.raised->follows);
  }
}

// A raised mark on its way to its owner's connection. The first to arrive while none is held
// stays with the session (Session::held_marks_) and gathers the marks that follow until the
// connection's next write: a lone mark so costs one task, and a burst (every member of a
// group acknowledging one message) a frame for the marks of the first commit, which go at
// once, and one for those the linger then gathers.
class MarkTask final : public StrandTask {
 public:
  MarkTask(std::shared_ptr<Session> session, store::DeliveryMarkRecord mark,
           std::optional<std::uint64_t> follows = {})
      : session_(std::move(session)), follows_(follows) {
    marks_.push_back(std::move(mark));
  }
  void on_strand(std::unique_ptr<StrandTask>& self) override { session_->on_mark(*this, self); }

 private:
  friend class Session;
  std::shared_ptr<Session> session_;  // let go of once the session holds the task
  boost::container::small_vector<store::DeliveryMarkRecord, 1> marks_;
  std::optional<std::uint64_t> follows_;  // the first mark's MarkRaised::follows
};

namespace {

// Only the newest mark of each (reader, device, conversation) says anything, and one the
// login's read already sent (at or below `replayed_to`) says nothing new: what is left, by
// version.
template <class Marks>
void keep_news(Marks& p, std::uint64_t replayed_to) {
  const auto key = [](const store::DeliveryMarkRecord& m) {
    return std::tie(m.reader, m.reader_device, m.group_id);
  };
  if (p.size() > 1) {
    std::sort(p.begin(), p.end(), [&](const auto& a, const auto& b) {
      return key(a) < key(b) || (key(a) == key(b) && a.version > b.version);
    });
    p.erase(std::unique(p.begin(), p.end(),
                        [&](const auto& a, const auto& b) { return key(a) == key(b); }),
            p.end());
  }
  p.erase(std::remove_if(p.begin(), p.end(), [&](const auto& m) { return m.version <= replayed_to; }),
          p.end());
  std::sort(p.begin(), p.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
}

}  // namespace

void Session::notify_mark(std::shared_ptr<Session> self, store::DeliveryMarkRecord mark,
                          std::optional<std::uint64_t> follows) {
  auto& session = *self;
  session.post_task(std::make_unique<MarkTask>(std::move(self), std::move(mark), follows));
}

void Session::on_mark(MarkTask& task, std::unique_ptr<StrandTask>& self) {
  if (closed_ || !authenticated_) return;
  if (!marks_replayed_) {
    if (marks_from_store()) {
      marks_rescan_ = true;  // the login's read goes on until it has this one
      return;
    }
    // Sent after the login's read of stored marks (flush_marks).
    for (auto& m : task.marks_) pending_marks_.push_back(std::move(m));
    return;
  }
  if (marks_from_store()) {
    const auto version = task.marks_.front().version;
    // Read already (a read's last version is at or past it, and the owner's older marks
    // committed before it), or given by a raise that came after it.
    if (version <= marks_replayed_to_) return;
    // The owner's next mark: it follows the last one this device has, so none is missing
    // in between. While a read runs, its answer may or may not hold this one: read again.
    if (task.follows_ != marks_replayed_to_ || mark_read_running_) {
      ctx_.metrics.marks_out_of_order.fetch_add(1, std::memory_order_relaxed);
      return read_new_marks();
    }
    marks_replayed_to_ = version;
  }
  hold_marks(task, self);
}

void Session::read_new_marks() {
  if (mark_read_running_) {
    mark_read_again_ = true;
    return;
  }
  mark_read_running_ = true;
  auto page = std::make_shared<std::vector<store::DeliveryMarkRecord>>();
  submit(
      [page, pk = device_pk_, after = marks_replayed_to_](store::Store& s) {
        *page = s.delivery_marks_after(pk, after, kMarkPage);
      },
      [this, page](store::JobStatus status) {
        mark_read_running_ = false;
        if (closed_) return;
        if (status != store::JobStatus::Committed) {
          // The marks stay stored; the next login reads them.
          spdlog::warn("event=mark_read_failed user={} device={}", username_, device_id_);
          close(1011, "relay busy or storage error; reconnect");
          return;
        }
        if (!page->empty()) {
          marks_replayed_to_ = page->back().version;
          std::unique_ptr<StrandTask> task = std::make_unique<MarkTask>(nullptr, page->front());
          auto& marks = static_cast<MarkTask&>(*task).marks_;
          marks.insert(marks.end(), page->begin() + 1, page->end());
          hold_marks(static_cast<MarkTask&>(*task), task);
        }
        if (std::exchange(mark_read_again_, false) || page->size() == kMarkPage) read_new_marks();
      },
      0, {}, store::Urgency::Prompt, store::Lane::Own);
}

void Session::hold_marks(MarkTask& task, std::unique_ptr<StrandTask>& self) {
  // Modulo 2^32 ms (~49.7 days): the difference stays right across a wrap. One taken across
  // a multiple of that (or a first mark that early in the clock) makes a single mark wait its
  // linger needlessly: harmless.
  const auto now = static_cast<std::uint32_t>(steady_now_ms());
  const std::uint32_t since_last = now - last_mark_ms_;
  last_mark_ms_ = now;
  if (held_marks_) {
    auto& held = static_cast<MarkTask&>(*held_marks_).marks_;
    for (auto& m : task.marks_) held.push_back(std::move(m));
    return;
  }
  // The session holds the task now, so the task lets go of the session (no cycle); `keep`
  // holds it until this call returns.
  const auto keep = std::move(task.session_);
  held_marks_ = std::move(self);
  const auto linger = ctx_.limits.mark_linger;
  write_within(since_last < linger.count() ? linger : std::chrono::milliseconds{0});
}

void Session::before_write() {
  if (!held_marks_) return;
  const auto held = std::move(held_marks_);
  if (closed_) return;  // still stored: the next login reads them
  auto& marks = static_cast<MarkTask&>(*held).marks_;
  // Read from the store after the last read, they are all news, and the cursor is past them.
  keep_news(marks, marks_from_store() ? 0 : marks_replayed_to_);
  send_marks({marks.data(), marks.size()});
}

// The marks raised while the login's read of stored marks was going out.
void Session::flush_marks() {
  if (closed_ || !marks_replayed_ || pending_marks_.empty()) return;
  keep_news(pending_marks_, marks_replayed_to_);
  send_marks(pending_marks_);
  // A group's sender can have had a thousand waiting; an idle connection keeps none.
  std::vector<store::DeliveryMarkRecord>().swap(pending_marks_);
}

void Session::replay_marks(std::uint64_t after_version) {
  struct Page {
    std::vector<store::DeliveryMarkRecord> marks;
    std::uint64_t after = 0;  // where it was read from
  };
  auto read = std::make_shared<Page>();
  submit(
      [read, pk = device_pk_, after_version](store::Store& s) {
        // A resume point beyond every version was given by another relay (a data directory
        // started afresh): everything this relay has is new to the device.
        read->after = after_version > s.delivery_mark_version() ? 0 : after_version;
        read->marks = s.delivery_marks_after(pk, read->after, kMarkPage);
      },
      [this, read](store::JobStatus status) {
        if (closed_) return;
        if (status != store::JobStatus::Committed) {
          // The marks stay stored; the next login reads them again.
          spdlog::warn("event=mark_replay_failed user={} device={}", username_, device_id_);
          close(1011, "relay busy or storage error during replay; reconnect");
          return;
        }
        const auto& page = read->marks;
        send_marks(page);
        // The device has every mark up to where it asked from, too: a live mark that follows
        // that one needs no read (on_mark), after a login that found nothing new.
        marks_replayed_to_ = std::max(marks_replayed_to_, page.empty() ? read->after : page.back().version);
        if (page.size() == kMarkPage) {
          if (draining_) return;  // closing: the next login reads the rest
          // A device with many marks must not fill its send queue with them (a slow reader
          // would be cut off): the next page waits for the queue to drain, like entries.
          if (send_queue_has_room()) return replay_marks(marks_replayed_to_);
          marks_replay_waiting_ = true;
          return;
        }
        if (std::exchange(marks_rescan_, false)) return replay_marks(marks_replayed_to_);
        marks_replayed_ = true;
        flush_marks();
      },
      0, {}, store::Urgency::Prompt, store::Lane::Own);
}

void Session::on_writable() {
  if (marks_replay_waiting_ && !closed_ && !draining_) {
    marks_replay_waiting_ = false;
    replay_marks(marks_replayed_to_);
  }
  pump();
}

}  // namespace parley
