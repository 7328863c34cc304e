// Sending: one durable write per recipient device; once it commits, the live push (from the
// store thread) and the ack (from this connection's thread).
// Also the ephemeral signals that never touch the store: typing and presence subscriptions.
#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include <boost/container/small_vector.hpp>
#include <spdlog/spdlog.h>

#include "observability/metrics.hpp"
#include "parley.pb.h"
#include "parley/limits.hpp"
#include "parley/username.hpp"
#include "routing/device_router.hpp"
#include "session/session.hpp"
#include "util/clock.hpp"
#include "util/utf8.hpp"

namespace parley {
namespace {

// A 1:1 conversation is the unordered pair of its users.
std::string conversation_key(store::UserId a, store::UserId b) {
  return "d:" + std::to_string(std::min(a, b)) + ":" + std::to_string(std::max(a, b));
}

// One send, from the request to its reply: what the store job needs, and what it found.
// The state of the send's one job (Session::submit_with), so the request's strings are not
// copied into each of its steps.
struct PendingSend {
  struct Payload {
    std::uint32_t device;
    std::string ciphertext;
  };
  // The request, and who sent it (copied: the store thread must not read the session).
  std::string recipient;
  std::string client_msg_id;
  std::uint32_t content_hint = 0;
  // By device_id. Most sends go to one device: kept in place, as are their entries.
  boost::container::small_vector<Payload, 1> payloads;
  store::UserId me = 0;
  std::string my_name;
  std::uint32_t my_device = 0;
  store::DevicePk my_pk = 0;
  std::uint64_t inbox_quota = 0;  // bytes
  std::uint64_t inbox_share = 0;  // bytes

  // The outcome.
  enum class Kind { Stored, Duplicate, UnknownRecipient, DeviceMismatch, InboxFull, ShareFull }
      kind = Kind::Stored;
  store::SentRecord ack;
  // DeviceMismatch: the recipient's current devices; InboxFull and ShareFull: those without
  // room.
  std::vector<std::uint32_t> devices;
  // Mutable while the job runs: a run that meets a conflict takes its payloads back.
  boost::container::small_vector<std::pair<std::uint32_t, std::shared_ptr<store::InboxEntry>>, 1>
      appended;

  // Store thread.
  void run(store::Store& s);
  // Before run(), with the batch's other sends: check_send's reads, asked for ahead.
  void read_ahead(store::Store& s);
  // Before a run again (store/job.hpp): what an earlier run moved into its entries comes
  // back, and its outcome is forgotten.
  void start_over();
  std::span<const store::DeviceAddress> devices_to_weigh(
      const std::shared_ptr<const store::Account>& account) const;

  // The id the SendAck names: run() moves client_msg_id into the last entry it appends (a
  // 16-byte string is past the short-string buffer: one allocation fewer per message).
  std::string_view acked_msg_id() const {
    if (appended.empty()) return client_msg_id;
    return appended.back().second->client_msg_id;
  }
};

void PendingSend::start_over() {
  kind = Kind::Stored;
  devices.clear();
  for (std::size_t i = 0; i < appended.size(); ++i)
    payloads[i].ciphertext = std::move(appended[i].second->ciphertext);
  // Only the last payload's entry takes the id (never empty: 16 bytes).
  if (client_msg_id.empty() && !appended.empty())
    client_msg_id = std::move(appended.back().second->client_msg_id);
  appended.clear();
}

// The devices a send's check_send weighs: the recipient's, when they are the ones it was
// encrypted for (both ordered by device_id); none otherwise.
std::span<const store::DeviceAddress> PendingSend::devices_to_weigh(
    const std::shared_ptr<const store::Account>& account) const {
  const bool matched = account && std::ranges::equal(account->devices, payloads, {},
                                                     &store::DeviceAddress::device_id,
                                                     &Payload::device);
  if (!matched) return {};
  return account->devices;
}

void PendingSend::read_ahead(store::Store& s) {
  // The id as run() will find it, even on a run again (acked_msg_id).
  s.read_send_ahead(me, acked_msg_id(), my_pk, devices_to_weigh(s.find_account(recipient)));
}

void PendingSend::run(store::Store& s) {
  start_over();
  const auto account = s.find_account(recipient);
  // Loads are read only for the devices the message can go to; a retry is answered first,
  // whatever became of the recipient since.
  std::array<store::Store::InboxLoad, limits::kMaxDevicesPerSend> loads;  // on_send checked
  const auto have = devices_to_weigh(account);
  const bool matched = !have.empty();  // a send has a payload (on_send)
  if (auto seen = s.check_send(me, client_msg_id, my_pk, have, loads)) {
    kind = Kind::Duplicate;
    ack = *seen;
    return;
  }
  if (!account) {
    kind = Kind::UnknownRecipient;
    return;
  }
  if (!matched) {
    kind = Kind::DeviceMismatch;
    for (const auto& d : account->devices) devices.push_back(d.device_id);
    return;
  }
  // All devices or none: a message stored for some of them only would leave the others a gap
  // in the conversation that no retry fills. An inbox without room for the largest entry is
  // full for every size alike, so a small message never overtakes a large one refused; the
  // same holds for this sender's share of it. A user's own devices share no quota with
  // themselves.
  constexpr auto kLargest = limits::kMaxCiphertextBytes + store::Store::kInboxRowBytes;
  const bool shared = account->user_id != me && inbox_share < inbox_quota;
  for (std::size_t i = 0; i < have.size(); ++i)
    if (loads[i].total + kLargest > inbox_quota) devices.push_back(have[i].device_id);
  if (!devices.empty()) {
    kind = Kind::InboxFull;
    return;
  }
  for (std::size_t i = 0; shared && i < have.size(); ++i)
    if (loads[i].from_sender + kLargest > inbox_share) devices.push_back(have[i].device_id);
  if (!devices.empty()) {
    kind = Kind::ShareFull;
    return;
  }
  const auto server_ts = now_ms();
  std::array<store::Store::Append, limits::kMaxDevicesPerSend> appends;
  appended.reserve(payloads.size());
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    auto e = std::make_shared<store::InboxEntry>();
    e->kind = store::EntryKind::Message;
    e->sender = my_name;
    e->sender_device = my_device;
    e->sender_pk = my_pk;
    e->client_msg_id = i + 1 < payloads.size() ? client_msg_id : std::move(client_msg_id);
    e->server_ts_ms = server_ts;
    e->content_hint = content_hint;
    e->ciphertext = std::move(payloads[i].ciphertext);
    // Kept before the append, so that a throw in it leaves the payload where start_over()
    // finds it.
    appends[i] = {have[i].pk, appended.emplace_back(have[i].device_id, std::move(e)).second.get()};
  }
  ack = {0, server_ts};
  s.append_message_by_commit(conversation_key(me, account->user_id),
                             std::span(appends.data(), payloads.size()), me, acked_msg_id(), ack);
}

}  // namespace

void Session::on_send(std::uint64_t request_id, wire::Send& req,
                      std::chrono::steady_clock::time_point received) {
  if (req.client_msg_id().size() != limits::kClientMsgIdBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "client_msg_id must be 16 bytes");
  auto recipient = fold_username(req.recipient());
  if (recipient.empty())
    return reply_error(request_id, wire::UNKNOWN_RECIPIENT, "no such user: invalid username");
  if (req.messages().empty())
    return reply_error(request_id, wire::BAD_REQUEST, "messages must name at least one device");
  if (static_cast<std::size_t>(req.messages_size()) > limits::kMaxDevicesPerSend)
    return reply_error(request_id, wire::BAD_REQUEST, "too many devices in one send");
  std::array<std::uint32_t, limits::kMaxDevicesPerSend> seen{};
  std::size_t bytes = 0;
  for (int i = 0; i < req.messages_size(); ++i) {
    const auto& m = req.messages(i);
    if (m.ciphertext().empty())
      return reply_error(request_id, wire::BAD_REQUEST, "ciphertext is empty");
    if (m.ciphertext().size() > limits::kMaxCiphertextBytes)
      return reply_error(request_id, wire::TOO_LARGE, "ciphertext exceeds 200 KiB");
    if (std::find(seen.begin(), seen.begin() + i, m.device_id()) != seen.begin() + i)
      return reply_error(request_id, wire::BAD_REQUEST, "a device appears twice in messages");
    seen[static_cast<std::size_t>(i)] = m.device_id();
    bytes += m.ciphertext().size();
  }

  PendingSend pending;
  pending.recipient = std::move(recipient);
  // The payloads are moved out of the parsed frame: the store copies them once, into its row.
  pending.payloads.reserve(static_cast<std::size_t>(req.messages_size()));
  for (auto& m : *req.mutable_messages())
    pending.payloads.push_back({m.device_id(), std::move(*m.mutable_ciphertext())});
  std::ranges::sort(pending.payloads, {}, &PendingSend::Payload::device);
  pending.client_msg_id = std::move(*req.mutable_client_msg_id());
  pending.content_hint = req.content_hint();
  pending.me = user_id_;
  pending.my_name = username_;
  pending.my_device = device_id_;
  pending.my_pk = device_pk_;
  pending.inbox_quota = ctx_.limits.inbox_quota_bytes;
  pending.inbox_share = ctx_.limits.inbox_share_bytes;

  submit_with(
      std::move(pending), [](PendingSend& send, store::Store& s) { send.run(s); },
      [this, request_id, received](PendingSend& send, store::JobStatus status) {
        if (store_failed(request_id, status)) return;
        switch (send.kind) {
          case PendingSend::Kind::UnknownRecipient:
            return reply_error(request_id, wire::UNKNOWN_RECIPIENT,
                               "no such user: " + send.recipient);
          case PendingSend::Kind::DeviceMismatch:
            return reply_error(request_id, wire::DEVICE_MISMATCH,
                               "the recipient's devices changed; fetch their prekey bundle again",
                               0, send.devices);
          case PendingSend::Kind::InboxFull:
          case PendingSend::Kind::ShareFull: {
            // One code: to the sender the inbox is full either way, and it waits the same;
            // the flag lets its client say whose messages fill it.
            const bool share = send.kind == PendingSend::Kind::ShareFull;
            (share ? ctx_.metrics.inbox_share_full : ctx_.metrics.inbox_full)
                .fetch_add(1, std::memory_order_relaxed);
            wire::ServerFrame f;
            auto* e = f.mutable_error();
            e->set_code(wire::INBOX_FULL);
            e->set_reason(send.recipient +
                          (share ? " has as many of your messages waiting on this relay as it "
                                   "keeps from one sender"
                                 : " has too many undelivered messages waiting on this relay") +
                          "; retry once they have caught up");
            e->set_retry_after_ms(kInboxFullRetryMs);
            for (const auto d : send.devices) e->add_devices(d);
            e->set_sender_share_full(share);
            return reply_error(request_id, f);
          }
          case PendingSend::Kind::Stored:
          case PendingSend::Kind::Duplicate: break;
        }
        send_bytes(send_ack_frame(request_id, {send.acked_msg_id(), send.ack.conv_seq,
                                               send.ack.server_ts_ms,
                                               send.kind == PendingSend::Kind::Duplicate}));
        if (!closed_) ctx_.metrics.send_ack.observe(seconds_since(received));  // sent, not dropped
      },
      bytes,
      // The live push leaves from the store thread: straight to the recipient's connection,
      // not by way of this one's thread (a hop and, when the two are on different threads,
      // a wake-up more per message).
      [&presence = ctx_.presence, &metrics = ctx_.metrics, router = ctx_.router](PendingSend& send) {
        metrics.messages_stored.fetch_add(send.appended.size(), std::memory_order_relaxed);
        // The entries are shared, not moved: the last holds the id the SendAck names.
        for (const auto& [device, entry] : send.appended) {
          if (auto s = presence.find(send.recipient, device))
            Session::notify_appended(std::move(s), entry->inbox_seq, entry);
          else if (router)
            router->appended(send.recipient, device, entry->inbox_seq, entry.get());
        }
      },
      store::Urgency::Prompt, store::Lane::Own);
}

Session::FanoutLimits& Session::fanout_limits() {
  if (!fanout_limits_) fanout_limits_ = std::make_unique<FanoutLimits>();
  return *fanout_limits_;
}

void Session::on_typing(const wire::Typing& req) {
  // Ephemeral and unanswered: over its limit a typing notice is dropped.
  if (!fanout_limits().typing.take(std::chrono::steady_clock::now(), nullptr)) return;
  const auto recipient = fold_username(req.recipient());
  if (recipient.empty() || recipient == username_) return;  // ephemeral: nothing to report
  // Only to someone who follows this user's presence (a contact), so strangers cannot
  // flood a device with typing events. Among gateways the subscriptions are in Redis.
  if (ctx_.router) return ctx_.router->typing(recipient, username_, req.active());
  if (!ctx_.presence.watches(recipient, username_)) return;
  Frame frame;
  for (auto& s : ctx_.presence.find_all(recipient)) {
    if (!frame) frame = typing_event(username_, req.active());
    s->push(frame);
  }
}

Frame Session::typing_event(const std::string& sender, bool active) {
  wire::ServerFrame f;
  auto* t = f.mutable_typing_event();
  t->set_sender(sender);
  t->set_active(active);
  return Frame::serialize(f);
}

void Session::on_subscribe_presence(std::uint64_t request_id, const wire::SubscribePresence& req) {
  // Each change notifies every device of every mutual subscriber: flipping a large set back
  // and forth was hundreds of thousands of pushes a second.
  std::chrono::milliseconds retry{0};
  if (!fanout_limits().subscribe.take(std::chrono::steady_clock::now(), &retry))
    return reply_error(request_id, wire::RATE_LIMITED, "too many presence subscription changes",
                       static_cast<std::uint32_t>(retry.count()));
  if (static_cast<std::size_t>(req.usernames_size()) > limits::kMaxPresenceSubscriptions)
    return reply_error(request_id, wire::TOO_LARGE, "at most 1000 presence subscriptions");
  std::vector<std::string> targets;
  for (const auto& name : req.usernames()) {
    auto folded = fold_username(name);
    if (folded.empty())
      return reply_error(request_id, wire::INVALID_USERNAME,
                         "invalid username: " + utf8_prefix(name, 64));
    targets.push_back(std::move(folded));
  }
  if (ctx_.router) {
    // Decided in Redis for every gateway at once; the answer comes back to the strand.
    std::sort(targets.begin(), targets.end());
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
    auto kept = targets;
    if (!routed_presence_) routed_presence_ = std::make_unique<RoutedPresence>();
    ++routed_presence_->subscribing;
    ctx_.router->subscribe(
        username_, std::move(targets),
        [self = shared_from_this(), request_id, kept = std::move(kept)](
            routing::DeviceRouter::Snapshot visible) mutable {
          self->run_on_strand([self, request_id, visible = std::move(visible),
                               kept = std::move(kept)]() mutable {
            auto& routed = *self->routed_presence_;
            --routed.subscribing;
            if (self->closed_) return;
            if (!visible)
              return self->reply_error(request_id, wire::UNAVAILABLE,
                                       "presence is unavailable for a moment; retry", 1000);
            routed.targets = std::move(kept);
            ++routed.generation;
            self->reply_presence_snapshot(request_id, *visible);
          });
        });
    return;
  }
  auto result = ctx_.presence.subscribe(username_, std::move(targets));
  for (auto& n : result.notices) n.to->push_presence(n.about);
  reply_presence_snapshot(request_id, result.visible);
}

void Session::notify_presence(std::shared_ptr<Session> self, PresenceInfo about) {
  auto& session = *self;
  session.run_on_strand([self = std::move(self), about = std::move(about)] {
    if (self->closed_) return;
    if (self->routed_presence_ && self->routed_presence_->resyncs > 0)
      self->routed_presence_->heard.push_back(about.username);
    self->push_presence(about);
  });
}

void Session::resync_presence() {
  // A SubscribePresence on its way sets the set again itself, and its snapshot answers it.
  if (!ctx_.router || !routed_presence_) return;
  auto& routed = *routed_presence_;
  if (routed.targets.empty() || routed.subscribing > 0) return;
  ++routed.resyncs;
  const auto generation = routed.generation;
  // Subscribing again with the same set tells nobody anything new if Redis kept it, and
  // restores it, telling its mutual targets, if Redis lost it.
  ctx_.router->subscribe(
      username_, routed.targets,
      [self = shared_from_this(), generation](routing::DeviceRouter::Snapshot visible) {
        self->run_on_strand([self, generation, visible = std::move(visible)] {
          auto& state = *self->routed_presence_;
          auto heard = std::move(state.heard);
          if (--state.resyncs > 0) state.heard = heard;  // still wanted
          // Redis away again: the wake that follows its return comes back here. A newer
          // SubscribePresence was answered with its own snapshot.
          if (self->closed_ || !visible || generation != state.generation) return;
          const auto newer = [&](const std::string& t) {
            return std::find(heard.begin(), heard.end(), t) != heard.end();
          };
          // Both in name order (the targets sorted, the snapshot in their order): a target
          // missing from the snapshot is not (or no longer) visible.
          auto seen = visible->begin();
          for (const auto& t : state.targets) {
            const bool found = seen != visible->end() && seen->username == t;
            if (!newer(t)) self->push_presence(found ? *seen : PresenceInfo{t, false, 0});
            if (found) ++seen;
          }
        });
      });
}

void Session::reply_presence_snapshot(std::uint64_t request_id,
                                      const std::vector<PresenceInfo>& visible) {
  wire::ServerFrame f;
  auto* snapshot = f.mutable_presence_snapshot();
  for (const auto& info : visible) {
    auto* p = snapshot->add_users();
    p->set_username(info.username);
    p->set_online(info.online);
    p->set_last_seen_ms(info.last_seen_ms);
  }
  reply(request_id, f);
}

}  // namespace parley
