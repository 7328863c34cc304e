#pragma once
// The protocol side of one client connection: authentication, requests, and delivery of the
// device's inbox. It knows nothing about sockets; a transport (gateway/ws_connection.hpp)
// derives from it, feeds it frames and carries out the virtual calls below.
//
// Threading: every member is touched only on the connection's strand. The public methods
// marked "any thread" post onto it first.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "presence/presence_registry.hpp"
#include "session/frame.hpp"
#include "session/rate_limiter.hpp"
#include "session/relay_context.hpp"
#include "session/session_job.hpp"
#include "store/records.hpp"
#include "store/store_worker.hpp"

namespace parley::wire {
class ServerFrame;
class ClientFrame;
class Register;
class Login;
class UploadPrekeys;
class FetchPrekeyBundle;
class Send;
class Ack;
class Typing;
class SubscribePresence;
class CreateGroup;
class AddMembers;
class RemoveMembers;
class LeaveGroup;
class SetAdmin;
class GroupSend;
class CreateUpload;
enum ErrorCode : int;
}  // namespace parley::wire

namespace parley {

struct GroupOutcome;  // groups.cpp
class MarkTask;       // marks.cpp

// WebSocket close codes the relay uses beyond RFC 6455's.
inline constexpr std::uint16_t kCloseDisplaced = 4001;     // same device connected again
inline constexpr std::uint16_t kCloseAuthTimeout = 4003;   // no login in time
inline constexpr std::uint16_t kCloseRateAbuse = 4004;     // kept sending while rate-limited

// INBOX_FULL's retry_after_ms. A full inbox, or a sender's full share of the group logs,
// empties when devices come online, which no one can predict: a sender tries again every
// half minute (Parley's clients with the oldest message they hold back).
inline constexpr std::uint32_t kInboxFullRetryMs = 30000;

// A stored entry on its way to live devices, its Deliver encoded once for all of them
// (frame.hpp).
struct PushedEntry {
  std::shared_ptr<const store::InboxEntry> entry;
  SharedBytes deliver_body;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(RelayContext& ctx);
  virtual ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Any thread. These take the caller's reference to the session and move it into the post,
  // so the caller never holds the last one: a connection that closed meanwhile is then
  // destroyed on its own thread, never on the store thread.
  // A new entry was committed to this device's inbox. `entry` may be null (then the session
  // reads it from the store when its turn comes).
  static void notify_appended(std::shared_ptr<Session> self, std::uint64_t inbox_seq,
                              std::shared_ptr<const store::InboxEntry> entry);
  // Entries were committed as inbox_seqs first_seq, first_seq + 1, ... (a fan-out run): one
  // hand-off to the connection's thread for all of them.
  static void notify_appended(std::shared_ptr<Session> self, std::uint64_t first_seq,
                              std::vector<PushedEntry> entries);
  // A delivery mark of this device was raised (marks.cpp), right after the owner's mark of
  // version `follows` where the store says so.
  static void notify_mark(std::shared_ptr<Session> self, store::DeliveryMarkRecord mark,
                          std::optional<std::uint64_t> follows);
  // Notices for this device may have been lost (routing/device_router.hpp): read its inbox
  // and its marks from the store again, from where this connection is.
  static void notify_rescan(std::shared_ptr<Session> self);
  // A presence change from another gateway (routing/): pushed on the strand, and remembered
  // while a resync_presence is on its way, whose snapshot may be older than it.
  static void notify_presence(std::shared_ptr<Session> self, PresenceInfo about);
  // Any thread: push a ready-made frame (presence, typing, prekey warnings).
  void push(Frame frame);
  void push_presence(const PresenceInfo& info);
  static Frame typing_event(const std::string& sender, bool active);
  // This connection's login number on its gateway (routing/device_router.hpp); none yet:
  // the largest, so that no displacement notice can name it. Any thread.
  std::uint64_t route_login() const { return route_login_.load(); }
  // Any thread: stop reading, let the store jobs already submitted finish (their replies
  // still go out), then close. For relay shutdown and displacement by a newer connection.
  void shutdown(std::uint16_t code, std::string reason);

 protected:
  // Transport -> session, on the strand.
  void on_frame(std::string_view bytes);
  void on_closed();
  bool authenticated() const { return authenticated_; }
  // Where the connection comes from (gateway/client_address.hpp); none: not limited.
  void set_client_address(const AddressKey& key) { client_address_ = key; }
  const std::optional<AddressKey>& client_address() const { return client_address_; }
  bool reading_allowed() const;
  // The send queue has drained below its low-water mark again: continue delivery.
  void on_writable();
  // A write is starting: what the session held back for company (delivery marks) joins it.
  void before_write();
  bool marks_held() const { return held_marks_ != nullptr; }

  // Session -> transport, on the strand (run_on_strand: any thread).
  virtual void send_bytes(Frame frame) = 0;
  virtual void close(std::uint16_t code, std::string_view reason) = 0;
  virtual void resume_reading() = 0;
  // False while the send queue is above its low-water mark; delivery then waits for
  // on_writable() instead of queueing more entries (replies and pushes still go out).
  virtual bool send_queue_has_room() const = 0;
  // Start a write within `delay` (0: when this handler ends) even with nothing queued, so
  // that before_write() runs; a write of the session's own may come first and do it.
  virtual void write_within(std::chrono::milliseconds delay) = 0;
  // Any thread: task->on_strand(task) on the strand, the post made in the task's own memory
  // (task->post_allocator()).
  virtual void post_task(std::unique_ptr<StrandTask> task) = 0;
  template <class F>
  void run_on_strand(F f) {
    post_task(strand_call(std::move(f)));
  }

 private:
  // session.cpp: dispatch and replies
  // `received`: when on_frame got the frame (the ack latency histogram starts there).
  void dispatch(wire::ClientFrame& frame, std::chrono::steady_clock::time_point received);
  void reply(std::uint64_t request_id, wire::ServerFrame& frame);
  // `devices`: Error.devices (DEVICE_MISMATCH, INBOX_FULL).
  void reply_error(std::uint64_t request_id, wire::ErrorCode code, std::string_view reason,
                   std::uint32_t retry_after_ms = 0, std::span<const std::uint32_t> devices = {});
  void reply_error(std::uint64_t request_id, wire::ServerFrame& error);  // one made up already
  // Runs `work(state, store)` in the store's next batch and `done(state, status)` back on the
  // strand after it commits (a ReadOnly job's: once it ran, store_worker.hpp). The state and
  // the three callables are one object, allocated once (session_job.hpp).
  // `bytes`: payload the job holds, counted against the session's pending-bytes budget.
  // `on_commit(state)` runs on the store thread right after a successful commit, before any
  // completion of that batch (store_worker.hpp), so what it posts to other connections
  // leaves in commit order (done runs on this connection's thread, which may lag another
  // connection's) and ahead of the replies the same commit releases.
  // `lane`: Own for the connection's hot path (1:1 sends, inbox reads, acks, mark reads),
  // which may then run on a worker of its own (RelayContext::lanes); everything else Shared.
  template <class State, class Work, class Done, class OnCommit = NoCommit>
  void submit_with(State state, Work work, Done done, std::size_t bytes = 0,
                   OnCommit on_commit = {}, store::Urgency urgency = store::Urgency::Prompt,
                   store::Lane lane = store::Lane::Shared) {
    start_job(std::make_unique<SessionTask<State, Work, Done, OnCommit>>(
                  shared_from_this(), bytes, std::move(state), std::move(work), std::move(done),
                  std::move(on_commit)),
              urgency, lane);
  }
  // The same for jobs whose callables share no state: work(store), done(status), on_commit().
  struct Stateless {};
  template <class Work, class Done, class OnCommit = NoCommit>
  void submit(Work work, Done done, std::size_t bytes = 0, OnCommit on_commit = {},
              store::Urgency urgency = store::Urgency::Prompt,
              store::Lane lane = store::Lane::Shared) {
    submit_with(
        Stateless{}, [w = std::move(work)](Stateless&, store::Store& s) mutable { w(s); },
        [d = std::move(done)](Stateless&, store::JobStatus st) mutable { d(st); }, bytes,
        [c = std::move(on_commit)](Stateless&) mutable { c(); }, urgency, lane);
  }
  void start_job(std::unique_ptr<SessionJob> job, store::Urgency urgency, store::Lane lane);
  friend class SessionJob;
  void finish_job(SessionJob& job);  // on the strand, from SessionJob::on_strand
  bool store_failed(std::uint64_t request_id, store::JobStatus status);

  // auth.cpp
  void on_get_challenge(std::uint64_t request_id);
  void on_register(std::uint64_t request_id, const wire::Register& req);
  void on_login(std::uint64_t request_id, const wire::Login& req);
  bool take_challenge(std::uint64_t request_id, std::string_view nonce);
  void become_authenticated(const store::DeviceRecord& device, std::string username,
                            std::uint64_t last_acked, std::optional<std::uint64_t> last_mark);

  // prekeys.cpp
  void on_upload_prekeys(std::uint64_t request_id, wire::UploadPrekeys& req);
  void on_fetch_bundle(std::uint64_t request_id, const wire::FetchPrekeyBundle& req);

  // send.cpp
  void on_send(std::uint64_t request_id, wire::Send& req,
               std::chrono::steady_clock::time_point received);
  void on_typing(const wire::Typing& req);
  void on_subscribe_presence(std::uint64_t request_id, const wire::SubscribePresence& req);
  void reply_presence_snapshot(std::uint64_t request_id, const std::vector<PresenceInfo>& visible);
  // Among gateways, after notices to this gateway may have been lost (or Redis restarted
  // empty): the subscription set again and every target's presence pushed as it is now.
  void resync_presence();

  // groups.cpp
  using JobDone = std::function<void(store::JobStatus)>;
  JobDone group_change_done(std::uint64_t request_id, std::shared_ptr<GroupOutcome> out,
                            std::string gid);
  void reply_group_error(std::uint64_t request_id, const GroupOutcome& out);
  void on_create_group(std::uint64_t request_id, const wire::CreateGroup& req);
  // AddMembers, RemoveMembers, LeaveGroup and SetAdmin: one membership change each.
  void on_add_members(std::uint64_t request_id, const wire::AddMembers& req);
  void on_remove_members(std::uint64_t request_id, const wire::RemoveMembers& req);
  void on_leave_group(std::uint64_t request_id, const wire::LeaveGroup& req);
  void on_set_admin(std::uint64_t request_id, const wire::SetAdmin& req);
  void on_get_group(std::uint64_t request_id, const std::string& group_id);
  void on_group_send(std::uint64_t request_id, wire::GroupSend& req,
                     std::chrono::steady_clock::time_point received);

  // media.cpp
  void on_create_upload(std::uint64_t request_id, const wire::CreateUpload& req);
  void on_resume_upload(std::uint64_t request_id, const std::string& media_id);
  void on_get_download_token(std::uint64_t request_id);
  void grant_upload(std::uint64_t request_id, const std::string& media_id, std::uint64_t size);
  void reply_upload_granted(std::uint64_t request_id, const std::string& media_id, std::uint64_t size,
                            std::string token);

  // marks.cpp
  void replay_marks(std::uint64_t after_version);
  void on_rescan();
  void flush_marks();
  void send_marks(std::span<const store::DeliveryMarkRecord> marks);

  // delivery.cpp
  void on_ack(std::uint64_t request_id, std::uint64_t up_to, std::uint64_t limit);
  void run_delete(std::uint64_t up_to);
  void flush_deferred_ack();  // submits the delete an ack of receipts only left waiting
  void pump();
  void read_ahead();
  void maybe_sync_complete();
  // `inbox_seq` is this device's: a fanned-out group entry is one object shared by members,
  // and so is its encoded `deliver_body` (when not given, DeliverBodies finds or makes it).
  // A 1:1 message given `shared` (`entry` itself, owned) goes out from it (Frame::message).
  void push_entry(const store::InboxEntry& entry, std::uint64_t inbox_seq,
                  SharedBytes deliver_body = {},
                  std::shared_ptr<const store::InboxEntry> shared = {});
  // On the strand: entry inbox_seq was committed (null: read it from the store).
  void on_appended(std::uint64_t inbox_seq, std::shared_ptr<const store::InboxEntry> entry,
                   const SharedBytes& deliver_body = {});
  // Entries pushed and not acknowledged: (acked_, last_pushed_] less the seqs no entry had.
  std::uint64_t in_flight() const;
  void forget_skipped_through(std::uint64_t seq);  // acked up to seq

  RelayContext& ctx_;
  RateLimiter limiter_;
  RateLimiter bundle_limiter_;  // bundle fetches consume someone else's one-time prekeys
  // SubscribePresence and Typing each reach every device of other users, so one frame of
  // either is far more than one frame's work: limits of their own, made on first use (most
  // connections are idle and never send either).
  struct FanoutLimits {
    RateLimiter subscribe{0.2, 5};  // a subscription set changes when contacts do
    RateLimiter typing{2, 10};      // a typing notice every few seconds while writing
  };
  std::unique_ptr<FanoutLimits> fanout_limits_;
  FanoutLimits& fanout_limits();
  std::uint32_t rate_strikes_ = 0;
  // After a frame the rate limit refused, or a store job refused for a full queue, this
  // connection's messages and group changes wait until then (held_back).
  std::chrono::steady_clock::time_point held_until_{};
  bool held_back(std::uint64_t request_id, std::chrono::steady_clock::time_point now);
  std::optional<AddressKey> client_address_;
  std::uint32_t pending_jobs_ = 0;
  std::size_t pending_bytes_ = 0;  // payload bytes held by this session's store jobs
  bool closed_ = false;
  struct Drain {
    std::uint16_t code;
    std::string reason;
  };
  std::optional<Drain> draining_;  // shutdown() was called: close once pending_jobs_ is 0

  struct Challenge {
    std::string nonce;
    std::uint64_t server_time_ms = 0;
    std::chrono::steady_clock::time_point issued;
    bool used = false;
  };
  std::optional<Challenge> challenge_;
  bool auth_in_progress_ = false;
  bool authenticated_ = false;
  std::string username_;
  std::uint32_t device_id_ = 0;
  store::UserId user_id_ = 0;
  store::DevicePk device_pk_ = 0;
  std::string identity_key_;
  // Among gateways, what resync_presence needs; made at the connection's first
  // SubscribePresence, so an idle connection and every one on a single relay (whose
  // LocalPresence holds the subscriptions) carry only the pointer.
  struct RoutedPresence {
    // The last subscription Redis took from this connection (sorted, folded).
    std::vector<std::string> targets;
    // While resyncs are on their way: whom notices spoke of meanwhile. A notice reaching
    // the strand before a snapshot's reply is the newer, or no older than it (each
    // gateway's notices come in Redis's order), so the snapshot does not overrule it.
    unsigned resyncs = 0;
    std::vector<std::string> heard;
    // The client's own SubscribePresence requests on their way to Redis (a resync then
    // would set the older set after the newer), and how many were taken (a resync's
    // snapshot of an older set is not pushed).
    unsigned subscribing = 0;
    std::uint64_t generation = 0;
  };
  std::unique_ptr<RoutedPresence> routed_presence_;

  // Delivery cursor. Entries (acked_, last_pushed_] are on the wire; next_push_ is the next
  // seq to send; known_tail_ the highest seq known to exist. tail_unknown_ until the first
  // read after login comes back short (entries appended before we were attached); that read
  // also fixes sync_target_, the tail whose delivery SyncComplete announces.
  // acked_ is the client's word and drives flow control at once; deleted_ trails it by the
  // store's delete (one running at a time, the latest request waiting in delete_wanted_).
  std::uint64_t acked_ = 0;
  std::uint64_t deleted_ = 0;
  std::uint64_t delete_wanted_ = 0;
  bool delete_running_ = false;
  // An ack that covered no entry needing a delivery mark (only group events) is not deleted
  // at once (delivery.cpp, on_ack): deferred_ack_ is its seq until a later delete includes
  // it, kDeferredAckLimit entries have waited, or the connection ends.
  // last_message_pushed_ is the newest pushed entry whose ack raises a mark.
  static constexpr std::uint64_t kDeferredAckLimit = 16;
  std::uint64_t deferred_ack_ = 0;
  std::uint64_t last_message_pushed_ = 0;
  std::uint64_t last_pushed_ = 0;
  std::uint64_t next_push_ = 1;
  // Seqs above acked_ that the pushes stepped over, as [first, last] runs in order: numbers
  // retention removed, or the jump of a device's first entry in a new relay run
  // (store/run_floor.hpp), which must not count as 2^32 entries in flight. Empty (and
  // unallocated) nearly always.
  struct SkippedSeqs {
    std::uint64_t first, last;
  };
  std::vector<SkippedSeqs> skipped_;
  std::uint64_t known_tail_ = 0;
  bool tail_unknown_ = true;
  bool fetching_ = false;
  // Counts rescans (notify_rescan): a read that started before one cannot end the
  // tail_unknown_ it set.
  std::uint32_t rescans_ = 0;
  std::atomic<std::uint64_t> route_login_{std::numeric_limits<std::uint64_t>::max()};
  std::optional<std::uint64_t> sync_target_;
  bool sync_sent_ = false;
  // Entries read for replay but not yet pushed (the window or the send queue was full, or
  // they are the page read ahead). At most two pages: read_ahead() reads while less than one
  // is held.
  std::vector<store::PagedEntry> page_;
  std::size_t page_pos_ = 0;
  std::size_t page_bytes_ = 0;  // ciphertext of the entries not yet pushed

  // Delivery marks of this device (marks.cpp). A raised mark is held in held_marks_, the
  // first one's task gathering those raised after it, until the connection's next write
  // (before_write), which the session asks for within SessionLimits::mark_linger: one frame
  // for many marks, mostly in a write that carries other frames too. Until the login's read
  // of stored marks has been sent (marks_replayed_, whose last version is
  // marks_replayed_to_), they wait in pending_marks_ instead.
  //
  // Only a mark that follows another to this device within the linger waits: marks that come
  // that often (a device sending many messages, whose next SendAck then likely comes first;
  // a group's members acknowledging one message) have company coming. A mark after a quiet
  // spell (a person writing now and then) goes at once: held, it would only go alone at the
  // linger's end, later and with a timer's wake-up of its own.
  //
  // With several writers (store connections, gateways) a mark can reach this session after
  // a newer one, each writer telling it after its own commit. Their commits are in version
  // order (the owner's row is held to each), so once a mark is heard of every older one is
  // stored. A mark that follows the last one this session has (the raise read the owner's
  // newest version before it: MarkRaised::follows) is held as above; any other starts a read
  // of the marks after the last one it has (read_new_marks, one at a time, and one more if
  // more came meanwhile), whose result is held and sent as above, in order.
  friend class MarkTask;
  void on_mark(MarkTask& task, std::unique_ptr<StrandTask>& self);
  void hold_marks(MarkTask& task, std::unique_ptr<StrandTask>& self);
  bool marks_from_store() const { return ctx_.lanes.size() > 1 || ctx_.router != nullptr; }
  void read_new_marks();
  std::unique_ptr<StrandTask> held_marks_;  // a MarkTask
  std::vector<store::DeliveryMarkRecord> pending_marks_;
  bool marks_replayed_ = false;
  bool marks_replay_waiting_ = false;  // the next page waits for the send queue to drain
  bool marks_rescan_ = false;  // a rescan came while marks were replayed: read once more
  bool mark_read_running_ = false;  // read_new_marks
  bool mark_read_again_ = false;    // a mark was heard of during it
  // When the last mark reached this session (the steady clock's milliseconds, modulo 2^32).
  // Beside the flags above, in what was padding: an idle connection pays nothing for it.
  std::uint32_t last_mark_ms_ = 0;
  std::uint64_t marks_replayed_to_ = 0;
};

}  // namespace parley
