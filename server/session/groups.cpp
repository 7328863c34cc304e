// Groups: a relay-side member list plus an ordered log per group. Every request here is one
// store job; a change or a message is one log append in that job (never the fan-out), and
// the reply goes out after its commit. The FanoutWorker copies the entries into inboxes.
#include <sodium.h>

#include <algorithm>
#include <optional>
#include <set>

#include <spdlog/spdlog.h>

#include "groups/fanout_worker.hpp"
#include "groups/group_limiter.hpp"
#include "groups/sender_holds.hpp"
#include "observability/metrics.hpp"
#include "parley.pb.h"
#include "parley/group_change.hpp"
#include "parley/limits.hpp"
#include "parley/username.hpp"
#include "session/session.hpp"
#include "util/clock.hpp"
#include "util/utf8.hpp"

namespace parley {

static_assert(static_cast<int>(store::EntryKind::Message) == wire::MESSAGE);
static_assert(static_cast<int>(store::EntryKind::DeliveryReceipt) == wire::DELIVERY_RECEIPT);
static_assert(static_cast<int>(store::EntryKind::GroupMessage) == wire::GROUP_MESSAGE);
static_assert(static_cast<int>(store::EntryKind::GroupEvent) == wire::GROUP_EVENT);

// What a group job found; the reply is built from it on the session's strand.
struct GroupOutcome {
  wire::ErrorCode error = wire::ERROR_UNSPECIFIED;  // unset: success
  std::string reason;
  std::uint32_t retry_after_ms = 0;
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;  // of the event a change appended
  bool appended = false;  // a log entry was written: kick the fan-out
  bool duplicate = false;
  // GroupSend: the group limiter's answer, kept from the first run that asked it.
  std::optional<bool> limiter_answer;
  bool pending_full = false;  // RATE_LIMITED by the sender's unfinished fan-out, not the group's rate
  store::SentRecord ack;
  std::vector<store::GroupMemberRecord> members;
  std::string identity_key;  // the actor's, for the event: members check its signature

  void fail(wire::ErrorCode code, std::string why) {
    error = code;
    reason = std::move(why);
  }
};

namespace {

using limits::kGroupIdBytes;
constexpr std::size_t kSignatureBytes = crypto_sign_BYTES;

// Names in an error's reason: the first few, then how many more, so a request naming a
// thousand unknown users gets a short answer, not a frame bigger than any other.
std::string join(const std::vector<std::string>& names) {
  constexpr std::size_t kListed = 10;
  std::string out;
  for (std::size_t i = 0; i < std::min(names.size(), kListed); ++i) {
    if (!out.empty()) out += ", ";
    out += names[i];
  }
  if (names.size() > kListed) out += " and " + std::to_string(names.size() - kListed) + " more";
  return out;
}

// More names than a group can hold are refused before any is folded or looked up: a
// membership request is one store job, and its cost would otherwise be the client's choice.
std::optional<std::pair<wire::ErrorCode, std::string>> check_name_count(int count,
                                                                        std::size_t cap) {
  if (static_cast<std::size_t>(count) <= cap) return std::nullopt;
  return std::pair{wire::TOO_LARGE, "at most " + std::to_string(cap) + " usernames in one request"};
}

// Folds and de-duplicates names; false (with the bad name) if one does not fold.
bool fold_all(const google::protobuf::RepeatedPtrField<std::string>& in,
              std::vector<std::string>& out, std::string& bad) {
  std::set<std::string> seen;
  for (const auto& name : in) {
    auto folded = fold_username(name);
    if (folded.empty()) {
      bad = utf8_prefix(name, 64);
      return false;
    }
    if (seen.insert(folded).second) out.push_back(std::move(folded));
  }
  return true;
}

// Checks the group id and the names of a membership change, and folds the names into `out`
// (each once). The (code, reason) to answer with when the request cannot be served.
std::optional<std::pair<wire::ErrorCode, std::string>> check_member_list(
    const std::string& group_id, const google::protobuf::RepeatedPtrField<std::string>& in,
    std::size_t cap, std::vector<std::string>& out) {
  if (group_id.size() != kGroupIdBytes)
    return std::pair{wire::BAD_REQUEST, std::string("group_id must be 16 bytes")};
  if (auto too_many = check_name_count(in.size(), cap)) return too_many;
  if (std::string bad; !fold_all(in, out, bad))
    return std::pair{wire::UNKNOWN_RECIPIENT, "no such user: invalid username " + bad};
  if (out.empty()) return std::pair{wire::BAD_REQUEST, std::string("usernames is empty")};
  return std::nullopt;
}

struct Actor {
  store::UserId id;
  std::string name;
  std::uint32_t device;
  store::DevicePk pk;
};

// Resolves names to users; unknown names are collected into `out`'s error.
std::vector<store::UserId> resolve(store::Store& s, const std::vector<std::string>& names,
                                   GroupOutcome& out) {
  std::vector<store::UserId> ids;
  std::vector<std::string> unknown;
  for (const auto& n : names) {
    if (auto id = s.find_user(n))
      ids.push_back(*id);
    else
      unknown.push_back(n);
  }
  if (!unknown.empty()) out.fail(wire::UNKNOWN_RECIPIENT, "no such user: " + join(unknown));
  return ids;
}

// Gives members the admin flags of the signed list: after a departure that is the
// promotion next_members() made when the last admin went, so the rule has one home.
void apply_admin_flags(store::Store& s, const std::string& gid, const GroupSeats& after) {
  for (const auto& m : s.group_members(gid)) {
    const auto seat = std::find_if(after.begin(), after.end(),
                                   [&](const GroupSeat& x) { return x.username == m.username; });
    if (seat != after.end() && seat->admin != m.admin) s.set_group_admin(gid, m.user_id, seat->admin);
  }
}

GroupSeats seats_of(const std::vector<store::GroupMemberRecord>& members) {
  GroupSeats out;
  out.reserve(members.size());
  for (const auto& m : members) out.push_back({m.username, m.admin});
  return out;
}

// The change the relay is about to make, checked against the actor's signature before
// anything is written: a client whose view of the group is stale (another admin changed
// it first) signed another change, and members would refuse the event.
struct SignedChange {
  GroupChange change;
  std::uint64_t epoch = 0;  // after the change
  GroupSeats after;
};

std::optional<SignedChange> check_signature(store::Store& s, const std::string& gid,
                                            std::uint64_t epoch, const GroupSeats& current,
                                            GroupChange change, const std::string& signature,
                                            const Actor& actor, GroupOutcome& out) {
  std::string why;
  auto after = next_members(current, change, &why);
  if (!after) {
    out.fail(wire::BAD_REQUEST, why);
    return std::nullopt;
  }
  const auto device = s.find_device(actor.name, actor.device);
  if (!device) throw std::runtime_error("a logged-in device has no record");
  const auto transcript =
      group_change_transcript(gid, epoch, change.kind, actor.name, change.targets, *after);
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                  reinterpret_cast<const unsigned char*>(transcript.data()),
                                  transcript.size(),
                                  reinterpret_cast<const unsigned char*>(device->identity_key.data())) != 0) {
    out.fail(wire::GROUP_CHANGE_MISMATCH,
             "the signature is not over this change at epoch " + std::to_string(epoch) +
                 " (" + std::to_string(after->size()) +
                 " members after it): the group may have changed since; sign it again from the"
                 " latest membership event");
    return std::nullopt;
  }
  out.identity_key = device->identity_key;
  return SignedChange{std::move(change), epoch, std::move(*after)};
}

// Ends a membership change: bumps the epoch and appends the GROUP_EVENT describing it (with
// the members after it and the actor's signature) to the log. The event's seq is `seq`, read
// before the change, so joined_seq/left_seq written by the change point at this very event.
void append_event(store::Store& s, const std::string& gid, std::uint64_t seq,
                  const SignedChange& change, const std::string& signature, const Actor& actor,
                  GroupOutcome& out) {
  out.epoch = s.bump_group_epoch(gid);
  out.members = s.group_members(gid);
  // What was written must be what was signed; a mismatch is a relay bug, and the job's
  // rollback keeps it out of the log.
  if (out.epoch != change.epoch || seats_of(out.members) != change.after)
    throw std::runtime_error("a group change differs from the one signed");
  wire::GroupEvent ev;
  ev.set_kind(static_cast<wire::GroupEvent::Kind>(change.change.kind));
  ev.set_actor(actor.name);
  for (const auto& t : change.change.targets) ev.add_targets(t);
  for (const auto& m : out.members) {
    auto* gm = ev.add_members_after();
    gm->set_username(m.username);
    gm->set_admin(m.admin);
  }
  ev.set_epoch(out.epoch);
  ev.set_signature(signature);
  ev.set_actor_identity_key(out.identity_key);
  store::GroupLogEntry e;
  e.kind = store::EntryKind::GroupEvent;
  e.sender = actor.name;
  e.sender_device = actor.device;
  e.sender_pk = actor.pk;
  e.client_msg_id = std::string(limits::kClientMsgIdBytes, '\0');
  e.server_ts_ms = now_ms();
  e.payload = ev.SerializeAsString();
  s.append_group_log(gid, e);
  if (e.seq != seq) throw std::runtime_error("group log seq moved during a change");
  out.seq = e.seq;
  out.appended = true;
}

// The caller's membership, or FORBIDDEN. Unknown groups look exactly like groups the caller
// is not in, so ids cannot be probed.
std::optional<std::pair<store::GroupRecord, store::GroupMemberRecord>> member_of(
    store::Store& s, const std::string& gid, store::UserId me, GroupOutcome& out) {
  auto g = s.find_group(gid);
  std::optional<store::GroupMemberRecord> m;
  if (g) m = s.find_group_member(gid, me);
  if (!g || !m) {
    out.fail(wire::FORBIDDEN, "not a member of this group");
    return std::nullopt;
  }
  return std::make_pair(*g, *m);
}

// What bounds one sender's entries in the group logs (SessionLimits), and who is held.
struct SenderBounds {
  std::uint64_t share = 0;
  std::uint32_t pending_max = 0;
  groups::SenderHolds* holds = nullptr;
};
SenderBounds sender_bounds(const RelayContext& ctx) {
  return {ctx.limits.group_share_bytes, ctx.limits.group_pending_max, &ctx.group_holds};
}

// The fan-out of 64 entries (the default pending_max) to 1,000 members takes about a fifth
// of a second on a slow machine (~300,000 rows a second); a client asked to wait tries
// again after a little more than that (Parley's after a second).
constexpr std::uint32_t kPendingRetryMs = 500;

// Refuses a request the sender sent behind one of its own to the same group that was just
// refused (groups/sender_holds.hpp), so it is not logged ahead of that one.
bool held(const SenderBounds& bounds, const Actor& actor, const std::string& gid,
          GroupOutcome& out) {
  const auto wait = bounds.holds->held_for(actor.pk, gid, groups::SenderHolds::Clock::now());
  if (wait.count() == 0) return false;
  out.fail(wire::RATE_LIMITED,
           "an earlier message of yours to this group was asked to wait; this one waits with "
           "it, so they stay in order");
  out.retry_after_ms = static_cast<std::uint32_t>(wait.count());
  return true;
}

// Refuses what the actor would append to a group log while the relay holds too much of its
// already (Store::group_load_of):
// - INBOX_FULL with Error.sender_share_full once its entries and the members' rows charged
//   to them leave less of its share than the largest message takes. Every size alike, as a
//   full inbox (send.cpp): a client offers its whole queue again after a restart, and a
//   small message must not overtake a large one refused. A membership event, built after
//   the check, may go past the share by its own size.
// - RATE_LIMITED while `pending_max` of its entries are not yet fanned out to every member:
//   their rows are weighed only as they are written, so this bounds what the share does not
//   see yet.
// The second holds the sender for the group (groups/sender_holds.hpp), as the group's rate
// does: both clear within moments, so a request sent just behind the refused one could
// otherwise go first. A full share clears when members come online, and refuses every size
// alike meanwhile.
// Leaving and removing are never refused, so nobody stays in a group for want of room; each
// ends a membership that an add or a creation paid for.
bool sender_must_wait(store::Store& s, const Actor& actor, const std::string& gid,
                      const SenderBounds& bounds, GroupOutcome& out) {
  if (held(bounds, actor, gid, out)) return true;
  constexpr auto kLargest = limits::kMaxCiphertextBytes + store::Store::kGroupEntryBytes;
  const auto load = s.group_load_of(actor.pk);
  if (load.bytes + kLargest > bounds.share) {
    out.fail(wire::INBOX_FULL,
             "the relay is holding as many of your group messages as it keeps from one sender "
             "until every member has them; retry once they have caught up");
    out.retry_after_ms = kInboxFullRetryMs;
    return true;
  }
  if (load.pending >= bounds.pending_max) {
    out.fail(wire::RATE_LIMITED,
             "the relay is still giving your earlier group messages to their members; retry "
             "shortly");
    out.retry_after_ms = kPendingRetryMs;
    out.pending_full = true;
    bounds.holds->hold(actor.pk, gid, groups::SenderHolds::Clock::now());
    return true;
  }
  return false;
}

}  // namespace

void Session::reply_group_error(std::uint64_t request_id, const GroupOutcome& out) {
  // A group request is only ever INBOX_FULL for its sender's share (sender_must_wait).
  const bool share_full = out.error == wire::INBOX_FULL;
  if (out.error == wire::RATE_LIMITED) ctx_.metrics.rate_limited.fetch_add(1, std::memory_order_relaxed);
  if (share_full) ctx_.metrics.group_share_full.fetch_add(1, std::memory_order_relaxed);
  if (out.pending_full) ctx_.metrics.group_pending_full.fetch_add(1, std::memory_order_relaxed);
  wire::ServerFrame f;
  auto* e = f.mutable_error();
  e->set_code(out.error);
  e->set_reason(out.reason);
  e->set_retry_after_ms(out.retry_after_ms);
  e->set_sender_share_full(share_full);
  reply_error(request_id, f);
}

void Session::on_create_group(std::uint64_t request_id, const wire::CreateGroup& req) {
  const auto cap = ctx_.limits.max_group_members;
  if (const auto too_many = check_name_count(req.members_size(), cap))
    return reply_error(request_id, too_many->first, too_many->second);
  std::vector<std::string> names;
  std::string bad;
  if (!fold_all(req.members(), names, bad))
    return reply_error(request_id, wire::UNKNOWN_RECIPIENT, "no such user: invalid username " + bad);
  std::erase(names, username_);
  if (req.group_id().size() != kGroupIdBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "group_id must be 16 bytes");
  if (req.signature().size() != kSignatureBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "signature must be 64 bytes");
  if (names.size() + 1 > cap)
    return reply_error(request_id, wire::GROUP_FULL,
                       "a group has at most " + std::to_string(cap) + " members; this one would have " +
                           std::to_string(names.size() + 1));
  const auto& gid = req.group_id();
  auto out = std::make_shared<GroupOutcome>();
  submit(
      [out, gid, names, sig = req.signature(), bounds = sender_bounds(ctx_),
       actor = Actor{user_id_, username_, device_id_, device_pk_}](store::Store& s) {
        *out = GroupOutcome{};  // a run again starts afresh (store/job.hpp)
        const auto ids = resolve(s, names, *out);
        if (out->error) return;
        // The id is the creator's (it signs it): one that exists is refused, never joined.
        if (s.find_group(gid)) return out->fail(wire::BAD_REQUEST, "group_id is already in use");
        if (sender_must_wait(s, actor, gid, bounds, *out)) return;
        const auto change = check_signature(s, gid, 1, {},
                                            {GroupChangeKind::Created, actor.name, names}, sig, actor, *out);
        if (!change) return;
        s.create_group(gid, now_ms());
        const std::uint64_t seq = 1;
        s.add_group_member(gid, actor.id, true, seq);
        for (auto id : ids) s.add_group_member(gid, id, false, seq);
        append_event(s, gid, seq, *change, sig, actor, *out);
      },
      [this, request_id, out, gid](store::JobStatus status) {
        if (store_failed(request_id, status)) return;
        if (out->error) return reply_group_error(request_id, *out);
        wire::ServerFrame f;
        f.mutable_group_created()->set_group_id(gid);
        f.mutable_group_created()->set_epoch(out->epoch);
        // Counted in the backlog before the client hears of the group, so a reader of
        // /metrics never sees a finished fan-out that has not started.
        ctx_.fanout.appended(gid);
        reply(request_id, f);
      });
}

// The answer to a membership change, and the fan-out of its event (counted in the backlog
// before the client hears of it).
Session::JobDone Session::group_change_done(std::uint64_t request_id,
                                            std::shared_ptr<GroupOutcome> out, std::string gid) {
  return [this, request_id, out = std::move(out), gid = std::move(gid)](store::JobStatus status) {
    if (store_failed(request_id, status)) return;
    if (out->error) return reply_group_error(request_id, *out);
    if (out->appended) ctx_.fanout.appended(gid);
    wire::ServerFrame f;
    f.mutable_group_updated()->set_group_id(gid);
    f.mutable_group_updated()->set_epoch(out->epoch);
    f.mutable_group_updated()->set_seq(out->seq);
    reply(request_id, f);
  };
}

void Session::on_add_members(std::uint64_t request_id, const wire::AddMembers& req) {
  std::vector<std::string> names;
  if (const auto bad =
          check_member_list(req.group_id(), req.usernames(), ctx_.limits.max_group_members, names))
    return reply_error(request_id, bad->first, bad->second);
  if (req.signature().size() != kSignatureBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "signature must be 64 bytes");
  auto out = std::make_shared<GroupOutcome>();
  submit(
      [out, gid = req.group_id(), names, cap = ctx_.limits.max_group_members, sig = req.signature(),
       bounds = sender_bounds(ctx_),
       actor = Actor{user_id_, username_, device_id_, device_pk_}](store::Store& s) {
        *out = GroupOutcome{};  // a run again starts afresh (store/job.hpp)
        const auto me = member_of(s, gid, actor.id, *out);
        if (!me) return;
        if (!me->second.admin) return out->fail(wire::FORBIDDEN, "only a group admin can add members");
        const auto ids = resolve(s, names, *out);
        if (out->error) return;
        std::vector<std::string> added;
        std::vector<store::UserId> added_ids;
        for (std::size_t i = 0; i < ids.size(); ++i) {
          if (s.find_group_member(gid, ids[i])) continue;  // already in: nothing to do
          added.push_back(names[i]);
          added_ids.push_back(ids[i]);
        }
        const auto current = s.group_members(gid).size();
        if (current + added.size() > cap)
          return out->fail(wire::GROUP_FULL,
                           "a group has at most " + std::to_string(cap) + " members; it has " +
                               std::to_string(current) + " and " + std::to_string(added.size()) +
                               " would be added");
        out->epoch = me->first.epoch;
        if (added.empty()) return;
        if (sender_must_wait(s, actor, gid, bounds, *out)) return;
        const auto change = check_signature(s, gid, me->first.epoch + 1, seats_of(s.group_members(gid)),
                                            {GroupChangeKind::Added, actor.name, added}, sig, actor, *out);
        if (!change) return;
        const auto seq = me->first.next_seq;
        for (auto id : added_ids) s.add_group_member(gid, id, false, seq);
        append_event(s, gid, seq, *change, sig, actor, *out);
      },
      group_change_done(request_id, out, req.group_id()));
}

void Session::on_remove_members(std::uint64_t request_id, const wire::RemoveMembers& req) {
  std::vector<std::string> names;
  if (const auto bad =
          check_member_list(req.group_id(), req.usernames(), ctx_.limits.max_group_members, names))
    return reply_error(request_id, bad->first, bad->second);
  if (req.signature().size() != kSignatureBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "signature must be 64 bytes");
  auto out = std::make_shared<GroupOutcome>();
  submit(
      [out, gid = req.group_id(), names, sig = req.signature(),
       actor = Actor{user_id_, username_, device_id_, device_pk_}](store::Store& s) {
        *out = GroupOutcome{};  // a run again starts afresh (store/job.hpp)
        const auto me = member_of(s, gid, actor.id, *out);
        if (!me) return;
        if (!me->second.admin)
          return out->fail(wire::FORBIDDEN, "only a group admin can remove members");
        const auto ids = resolve(s, names, *out);
        if (out->error) return;
        std::vector<std::string> not_members;
        for (std::size_t i = 0; i < ids.size(); ++i)
          if (!s.find_group_member(gid, ids[i])) not_members.push_back(names[i]);
        if (!not_members.empty())
          return out->fail(wire::BAD_REQUEST, "not a member of this group: " + join(not_members));
        const auto change = check_signature(s, gid, me->first.epoch + 1, seats_of(s.group_members(gid)),
                                            {GroupChangeKind::Removed, actor.name, names}, sig, actor, *out);
        if (!change) return;
        const auto seq = me->first.next_seq;
        for (auto id : ids) s.end_group_membership(gid, id, seq);
        apply_admin_flags(s, gid, change->after);
        append_event(s, gid, seq, *change, sig, actor, *out);
      },
      group_change_done(request_id, out, req.group_id()));
}

void Session::on_leave_group(std::uint64_t request_id, const wire::LeaveGroup& req) {
  const auto& group_id = req.group_id();
  if (group_id.size() != kGroupIdBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "group_id must be 16 bytes");
  if (req.signature().size() != kSignatureBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "signature must be 64 bytes");
  auto out = std::make_shared<GroupOutcome>();
  submit(
      [out, gid = group_id, sig = req.signature(),
       actor = Actor{user_id_, username_, device_id_, device_pk_}](store::Store& s) {
        *out = GroupOutcome{};  // a run again starts afresh (store/job.hpp)
        const auto me = member_of(s, gid, actor.id, *out);
        if (!me) return;
        const auto change = check_signature(s, gid, me->first.epoch + 1, seats_of(s.group_members(gid)),
                                            {GroupChangeKind::Left, actor.name, {actor.name}}, sig, actor, *out);
        if (!change) return;
        const auto seq = me->first.next_seq;
        s.end_group_membership(gid, actor.id, seq);
        apply_admin_flags(s, gid, change->after);
        append_event(s, gid, seq, *change, sig, actor, *out);
      },
      group_change_done(request_id, out, group_id));
}

void Session::on_set_admin(std::uint64_t request_id, const wire::SetAdmin& req) {
  if (req.group_id().size() != kGroupIdBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "group_id must be 16 bytes");
  auto target = fold_username(req.username());
  if (target.empty())
    return reply_error(request_id, wire::UNKNOWN_RECIPIENT, "no such user: invalid username");
  if (req.signature().size() != kSignatureBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "signature must be 64 bytes");
  auto out = std::make_shared<GroupOutcome>();
  submit(
      [out, gid = req.group_id(), target, admin = req.admin(), sig = req.signature(),
       bounds = sender_bounds(ctx_),
       actor = Actor{user_id_, username_, device_id_, device_pk_}](store::Store& s) {
        *out = GroupOutcome{};  // a run again starts afresh (store/job.hpp)
        const auto me = member_of(s, gid, actor.id, *out);
        if (!me) return;
        if (!me->second.admin)
          return out->fail(wire::FORBIDDEN, "only a group admin can change admins");
        const auto ids = resolve(s, {target}, *out);
        if (out->error) return;
        const auto member = s.find_group_member(gid, ids[0]);
        if (!member) return out->fail(wire::BAD_REQUEST, "not a member of this group: " + target);
        out->epoch = me->first.epoch;
        if (member->admin == admin) return;  // already so
        if (!admin) {
          const auto members = s.group_members(gid);
          const auto admins = std::count_if(members.begin(), members.end(),
                                            [](const auto& m) { return m.admin; });
          if (admins <= 1)
            return out->fail(wire::BAD_REQUEST,
                             "a group needs an admin: make someone else admin first");
        }
        if (sender_must_wait(s, actor, gid, bounds, *out)) return;
        const auto change = check_signature(
            s, gid, me->first.epoch + 1, seats_of(s.group_members(gid)),
            {GroupChangeKind::AdminChanged, actor.name, {target}, admin}, sig, actor, *out);
        if (!change) return;
        s.set_group_admin(gid, ids[0], admin);
        append_event(s, gid, me->first.next_seq, *change, sig, actor, *out);
      },
      group_change_done(request_id, out, req.group_id()));
}

void Session::on_get_group(std::uint64_t request_id, const std::string& group_id) {
  if (group_id.size() != kGroupIdBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "group_id must be 16 bytes");
  auto out = std::make_shared<GroupOutcome>();
  submit(
      [out, gid = group_id, me = user_id_](store::Store& s) {
        *out = GroupOutcome{};  // a run again starts afresh (store/job.hpp)
        const auto m = member_of(s, gid, me, *out);
        if (!m) return;
        out->epoch = m->first.epoch;
        out->members = s.group_members(gid);
      },
      [this, request_id, out, gid = group_id](store::JobStatus status) {
        if (store_failed(request_id, status)) return;
        if (out->error) return reply_group_error(request_id, *out);
        wire::ServerFrame f;
        auto* info = f.mutable_group_info();
        info->set_group_id(gid);
        info->set_epoch(out->epoch);
        for (const auto& m : out->members) {
          auto* gm = info->add_members();
          gm->set_username(m.username);
          gm->set_admin(m.admin);
        }
        reply(request_id, f);
      });
}

void Session::on_group_send(std::uint64_t request_id, wire::GroupSend& req,
                            std::chrono::steady_clock::time_point received) {
  if (req.group_id().size() != kGroupIdBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "group_id must be 16 bytes");
  if (req.client_msg_id().size() != limits::kClientMsgIdBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "client_msg_id must be 16 bytes");
  if (req.ciphertext().empty())
    return reply_error(request_id, wire::BAD_REQUEST, "ciphertext is empty");
  if (req.ciphertext().size() > limits::kMaxCiphertextBytes)
    return reply_error(request_id, wire::TOO_LARGE, "ciphertext exceeds 200 KiB");
  auto payload = std::make_shared<std::string>(std::move(*req.mutable_ciphertext()));
  const auto bytes = payload->size();
  auto out = std::make_shared<GroupOutcome>();
  submit(
      [out, payload, gid = req.group_id(), cmid = req.client_msg_id(), hint = req.content_hint(),
       limiter = &ctx_.group_limiter, retry = std::chrono::milliseconds{0},
       bounds = sender_bounds(ctx_),
       actor = Actor{user_id_, username_, device_id_, device_pk_}](store::Store& s) mutable {
        // A run again starts afresh (store/job.hpp), but for the limiter's answer: asked
        // once, so a send is never refused for the token its own first run took.
        const auto asked = out->limiter_answer;
        *out = GroupOutcome{};
        out->limiter_answer = asked;
        if (auto seen = s.find_sent(actor.id, cmid)) {  // a retry: answered, never limited
          out->duplicate = true;
          out->ack = *seen;
          return;
        }
        const auto me = member_of(s, gid, actor.id, *out);
        if (!me) return;
        // Before the rate limit, so a refused send spends none of the group's budget.
        if (sender_must_wait(s, actor, gid, bounds, *out)) return;
        // Limited after the membership check, so outsiders cannot use up a group's budget.
        auto& allowed = out->limiter_answer;
        if (!allowed) allowed = limiter->take(gid, &retry);
        if (!*allowed) {
          out->fail(wire::RATE_LIMITED, "this group is receiving too many messages; slow down");
          out->retry_after_ms = static_cast<std::uint32_t>(retry.count());
          bounds.holds->hold(actor.pk, gid, groups::SenderHolds::Clock::now());
          return;
        }
        store::GroupLogEntry e;
        e.kind = store::EntryKind::GroupMessage;
        e.sender = actor.name;
        e.sender_device = actor.device;
        e.sender_pk = actor.pk;
        e.client_msg_id = cmid;
        e.server_ts_ms = now_ms();
        e.content_hint = hint;
        // Lent to the entry and given back, stored or not: the store copies it into its row,
        // and a run again needs it whole.
        e.payload = std::move(*payload);
        struct GiveBack {
          std::string& from;
          std::string& to;
          ~GiveBack() { to = std::move(from); }
        } give_back{e.payload, *payload};
        s.append_group_log(gid, e);
        out->ack = {e.seq, e.server_ts_ms};
        s.remember_sent(actor.id, cmid, out->ack);
        out->appended = true;
      },
      [this, request_id, out, gid = req.group_id(), cmid = req.client_msg_id(),
       received](store::JobStatus status) {
        // A token taken by a run whose message was not kept in the end (its job failed, or
        // its batch lost the commit and the run again was refused) was not spent. (A
        // connection to the database lost after its COMMIT went out may have kept it: one
        // token of the group's budget, for a send its client retries anyway.)
        if (out->limiter_answer.value_or(false) && !(status == store::JobStatus::Committed &&
                                                     out->appended))
          ctx_.group_limiter.give_back(gid);
        if (store_failed(request_id, status)) return;
        if (out->error) return reply_group_error(request_id, *out);
        if (out->appended) {  // counted before the ack goes out (see CreateGroup)
          ctx_.metrics.group_messages.fetch_add(1, std::memory_order_relaxed);
          ctx_.fanout.appended(gid);
        }
        send_bytes(send_ack_frame(
            request_id, {cmid, out->ack.conv_seq, out->ack.server_ts_ms, out->duplicate}));
        if (!closed_) ctx_.metrics.group_send_ack.observe(seconds_since(received));
      },
      bytes);
}

}  // namespace parley
