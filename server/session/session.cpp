#include "session/session.hpp"

#include <spdlog/spdlog.h>

#include "observability/metrics.hpp"
#include "parley.pb.h"
#include "presence/presence_registry.hpp"
#include "routing/device_router.hpp"
#include "session/parsed_frame.hpp"
#include "util/clock.hpp"

namespace parley {
namespace {
// A client that keeps sending through this many refusals in a row is cut off.
constexpr std::uint32_t kMaxRateStrikes = 200;
// How long a refusal holds the connection's messages back (held_back). A client waits at
// least this long before it offers a refused message again (Parley's clamps every wait to
// a second), so the hold has always ended by then.
constexpr std::chrono::milliseconds kHoldFor{1000};
}  // namespace

Session::Session(RelayContext& ctx)
    : ctx_(ctx),
      limiter_(ctx.limits.rate_per_second, ctx.limits.rate_burst),
      bundle_limiter_(ctx.limits.bundle_rate_per_second, ctx.limits.bundle_burst) {
  ctx_.metrics.connections.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() { ctx_.metrics.connections.fetch_sub(1, std::memory_order_relaxed); }

bool Session::reading_allowed() const {
  return !closed_ && !draining_ && pending_jobs_ < ctx_.limits.max_pending_jobs &&
         pending_bytes_ < ctx_.limits.max_pending_bytes;
}

void Session::push(Frame frame) {
  run_on_strand([self = shared_from_this(), frame = std::move(frame)]() mutable {
    if (!self->closed_) self->send_bytes(std::move(frame));
  });
}

void Session::push_presence(const PresenceInfo& info) {
  wire::ServerFrame f;
  auto* p = f.mutable_presence_update();
  p->set_username(info.username);
  p->set_online(info.online);
  p->set_last_seen_ms(info.last_seen_ms);
  push(Frame::serialize(f));
}

void Session::shutdown(std::uint16_t code, std::string reason) {
  run_on_strand([self = shared_from_this(), code, reason = std::move(reason)]() mutable {
    if (self->closed_ || self->draining_) return;
    if (self->pending_jobs_ == 0) return self->close(code, reason);
    self->draining_ = Drain{code, std::move(reason)};
  });
}

void Session::on_closed() {
  if (closed_) return;
  closed_ = true;
  if (authenticated_) {
    flush_deferred_ack();  // its job holds the session until it has committed
    ctx_.metrics.authenticated.fetch_sub(1, std::memory_order_relaxed);
    auto notices = ctx_.presence.detach(username_, device_id_, this, now_ms());
    for (auto& n : notices) n.to->push_presence(n.about);
    if (ctx_.router) ctx_.router->detached(username_, device_id_);
  }
}

namespace {
// The request_id of a frame the relay refuses to parse: protobuf writes field 1 first, so
// it is the varint after a 0x08 tag at the very start, if the client set one.
std::uint64_t peek_request_id(std::string_view bytes) {
  if (bytes.empty() || bytes[0] != 0x08) return 0;
  std::uint64_t v = 0;
  for (std::size_t i = 1; i < bytes.size() && i <= 10; ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * (i - 1));
    if ((b & 0x80) == 0) return v;
  }
  return 0;
}
}  // namespace

void Session::on_frame(std::string_view bytes) {
  ctx_.metrics.frames_in.fetch_add(1, std::memory_order_relaxed);
  if (closed_ || draining_) return;  // a read already in flight when shutdown began
  std::chrono::milliseconds retry{0};
  const auto received = std::chrono::steady_clock::now();
  if (!limiter_.take(received, &retry)) {
    ctx_.metrics.rate_limited.fetch_add(1, std::memory_order_relaxed);
    held_until_ = received + kHoldFor;
    if (++rate_strikes_ > kMaxRateStrikes) {
      close(kCloseRateAbuse, "rate limit exceeded");
      return;
    }
    // Refused without parsing, so refusing stays cheap; the refusal still names the request.
    reply_error(peek_request_id(bytes), wire::RATE_LIMITED, "too many requests; slow down",
                static_cast<std::uint32_t>(retry.count()));
    return;
  }
  rate_strikes_ = 0;
  ParsedFrame frame;
  if (!frame->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    reply_error(0, wire::BAD_REQUEST, "frame is not a valid parley.v1 ClientFrame");
    return;
  }
  spdlog::trace("event=frame body={} bytes={}", static_cast<int>(frame->body_case()), bytes.size());
  dispatch(*frame, received);
}

void Session::dispatch(wire::ClientFrame& frame, std::chrono::steady_clock::time_point received) {
  const auto rid = frame.request_id();
  using C = wire::ClientFrame;
  switch (frame.body_case()) {
    case C::kGetChallenge: return on_get_challenge(rid);
    case C::kRegister: return on_register(rid, frame.register_());
    case C::kLogin: return on_login(rid, frame.login());
    case C::kPing: {
      wire::ServerFrame f;
      f.mutable_pong()->set_server_time_ms(now_ms());
      return reply(rid, f);
    }
    case C::BODY_NOT_SET:
      return reply_error(rid, wire::BAD_REQUEST, "frame has no request body");
    default: break;
  }
  if (!authenticated_) return reply_error(rid, wire::UNAUTHENTICATED, "log in first");
  switch (frame.body_case()) {
    case C::kSend:
    case C::kGroupSend:
    case C::kAddMembers:
    case C::kSetAdmin:
      if (held_back(rid, received)) return;
      break;
    default: break;
  }
  switch (frame.body_case()) {
    case C::kUploadPrekeys: return on_upload_prekeys(rid, *frame.mutable_upload_prekeys());
    case C::kFetchPrekeyBundle: return on_fetch_bundle(rid, frame.fetch_prekey_bundle());
    case C::kSend: return on_send(rid, *frame.mutable_send(), received);
    case C::kAck: return on_ack(rid, frame.ack().up_to_inbox_seq(), last_pushed_);
    case C::kTyping: return on_typing(frame.typing());
    case C::kSubscribePresence: return on_subscribe_presence(rid, frame.subscribe_presence());
    case C::kCreateGroup: return on_create_group(rid, frame.create_group());
    case C::kAddMembers: return on_add_members(rid, frame.add_members());
    case C::kRemoveMembers: return on_remove_members(rid, frame.remove_members());
    case C::kLeaveGroup: return on_leave_group(rid, frame.leave_group());
    case C::kSetAdmin: return on_set_admin(rid, frame.set_admin());
    case C::kGetGroup: return on_get_group(rid, frame.get_group().group_id());
    case C::kGroupSend: return on_group_send(rid, *frame.mutable_group_send(), received);
    case C::kCreateUpload: return on_create_upload(rid, frame.create_upload());
    case C::kResumeUpload: return on_resume_upload(rid, frame.resume_upload().media_id());
    case C::kGetDownloadToken: return on_get_download_token(rid);
    default: return reply_error(rid, wire::BAD_REQUEST, "unknown request type");
  }
}

void Session::reply(std::uint64_t request_id, wire::ServerFrame& frame) {
  frame.set_request_id(request_id);
  send_bytes(Frame::serialize(frame));
}

void Session::reply_error(std::uint64_t request_id, wire::ErrorCode code, std::string_view reason,
                          std::uint32_t retry_after_ms, std::span<const std::uint32_t> devices) {
  wire::ServerFrame f;
  auto* e = f.mutable_error();
  e->set_code(code);
  e->set_reason(std::string(reason));
  e->set_retry_after_ms(retry_after_ms);
  for (const auto d : devices) e->add_devices(d);
  reply_error(request_id, f);
}

void Session::reply_error(std::uint64_t request_id, wire::ServerFrame& error) {
  ctx_.metrics.errors_sent.fetch_add(1, std::memory_order_relaxed);
  reply(request_id, error);
}

void Session::start_job(std::unique_ptr<SessionJob> job, store::Urgency urgency,
                        store::Lane lane) {
  ++pending_jobs_;
  pending_bytes_ += job->bytes_;
  // A device's lane follows from who it is, so its jobs stay on one worker across its
  // connections: the acks' deletes of the connection it left mostly come before the replay
  // of the one it logs in with (an ack's delete may step aside for a read: store_worker).
  // (Own jobs come after login; before it, the connection's address stands in.) Mixed: the
  // low bits of ids and addresses repeat.
  const auto lane_of = [this] {
    const auto who = user_id_ != 0 ? static_cast<std::uint64_t>(user_id_) * 64 + device_id_
                                   : static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(this));
    const auto mixed = who * 0x9E3779B97F4A7C15ull;
    return static_cast<std::size_t>(mixed >> 32) % ctx_.lanes.size();
  };
  auto& worker = lane == store::Lane::Own && !ctx_.lanes.empty() ? *ctx_.lanes[lane_of()]
                                                                 : ctx_.store;
  if (!worker.submit(std::move(job), urgency))
    held_until_ = std::chrono::steady_clock::now() + kHoldFor;  // its UNAVAILABLE is on its way
}

// Messages (Send, GroupSend) and the group changes that take a place in a group's log
// (AddMembers, SetAdmin) arriving while the connection is held. A client sends its queue
// without waiting for each answer; once one of its requests is refused for a moment (the
// frame rate, a full store queue), those behind it are already on their way, and taken a
// moment later they would be numbered ahead of it. Refused as well, they are offered again
// after it, in order. A held refusal does not renew the hold, so a client that offers its
// whole queue again is not starved.
bool Session::held_back(std::uint64_t request_id, std::chrono::steady_clock::time_point now) {
  if (now >= held_until_) return false;
  ctx_.metrics.rate_limited.fetch_add(1, std::memory_order_relaxed);
  reply_error(request_id, wire::RATE_LIMITED,
              "an earlier request of yours was asked to wait; this one waits with it, so they "
              "stay in order",
              static_cast<std::uint32_t>(
                  std::chrono::ceil<std::chrono::milliseconds>(held_until_ - now).count()));
  return true;
}

void SessionJob::done(store::JobStatus status, std::unique_ptr<store::Job>& self) {
  status_ = status;
  // Taken, not left to the store thread: the last reference to the session must never be
  // dropped there.
  std::unique_ptr<StrandTask> task(static_cast<SessionJob*>(self.release()));
  auto& session = *session_;
  session.post_task(std::move(task));
}

void SessionJob::on_strand(std::unique_ptr<StrandTask>&) {
  // The posted handler owns this job until after the call, and the job the session.
  session_->finish_job(*this);
}

void Session::finish_job(SessionJob& job) {
  --pending_jobs_;
  pending_bytes_ -= job.bytes_;
  job.completed(job.status_);  // even when closed: a committed group send must still start its fan-out
  if (draining_ && pending_jobs_ == 0 && !closed_) {
    auto drain = std::move(*draining_);
    close(drain.code, drain.reason);
  } else if (reading_allowed()) {
    resume_reading();
  }
}

bool Session::store_failed(std::uint64_t request_id, store::JobStatus status) {
  switch (status) {
    case store::JobStatus::Committed: return false;
    case store::JobStatus::Rejected:
      ctx_.metrics.store_rejected.fetch_add(1, std::memory_order_relaxed);
      reply_error(request_id, wire::UNAVAILABLE, "relay is busy or stopping; retry", 1000);
      return true;
    case store::JobStatus::Failed:
      reply_error(request_id, wire::INTERNAL, "storage error; nothing was stored", 1000);
      return true;
  }
  return true;
}

}  // namespace parley
