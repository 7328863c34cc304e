// Sending: one durable write per recipient device; once it commits, the live push (from the
// store thread) and the ack (from this connection's thread).
// Also the ephemeral signals that never touch the store: typing and presence subscriptions.
#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

#include "observability/metrics.hpp"
#include "parley.pb.h"
#include "parley/limits.hpp"
#include "parley/username.hpp"
#include "session/session.hpp"
#include "util/clock.hpp"

namespace parley {
namespace {

// A 1:1 conversation is the unordered pair of its users.
std::string conversation_key(store::UserId a, store::UserId b) {
  return "d:" + std::to_string(std::min(a, b)) + ":" + std::to_string(std::max(a, b));
}

struct SendOutcome {
  enum class Kind { Stored, Duplicate, UnknownRecipient, DeviceMismatch } kind = Kind::Stored;
  store::SentRecord ack;
  std::vector<std::uint32_t> devices;  // DeviceMismatch: the recipient's current devices
  std::vector<std::pair<std::uint32_t, std::shared_ptr<const store::InboxEntry>>> appended;
};

}  // namespace

void Session::on_send(std::uint64_t request_id, wire::Send& req) {
  if (req.client_msg_id().size() != limits::kClientMsgIdBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "client_msg_id must be 16 bytes");
  std::string recipient = fold_username(req.recipient());
  if (recipient.empty())
    return reply_error(request_id, wire::UNKNOWN_RECIPIENT, "no such user: invalid username");
  if (req.messages().empty())
    return reply_error(request_id, wire::BAD_REQUEST, "messages must name at least one device");
  if (static_cast<std::size_t>(req.messages_size()) > limits::kMaxDevicesPerSend)
    return reply_error(request_id, wire::BAD_REQUEST, "too many devices in one send");
  std::set<std::uint32_t> device_ids;
  for (const auto& m : req.messages()) {
    if (m.ciphertext().empty())
      return reply_error(request_id, wire::BAD_REQUEST, "ciphertext is empty");
    if (m.ciphertext().size() > limits::kMaxCiphertextBytes)
      return reply_error(request_id, wire::TOO_LARGE, "ciphertext exceeds 200 KiB");
    if (!device_ids.insert(m.device_id()).second)
      return reply_error(request_id, wire::BAD_REQUEST, "a device appears twice in messages");
  }

  // Move the payloads out of the parsed frame: they are copied once more, into the store.
  struct Payload {
    std::uint32_t device;
    std::string ciphertext;
  };
  auto payloads = std::make_shared<std::vector<Payload>>();
  std::size_t bytes = 0;
  for (auto& m : *req.mutable_messages()) {
    bytes += m.ciphertext().size();
    payloads->push_back({m.device_id(), std::move(*m.mutable_ciphertext())});
  }

  auto out = std::make_shared<SendOutcome>();
  submit(
      [out, payloads, recipient, me = user_id_, my_name = username_, my_device = device_id_,
       my_pk = device_pk_, cmid = req.client_msg_id(), hint = req.content_hint()](store::Store& s) {
        if (auto seen = s.find_sent(me, cmid)) {
          out->kind = SendOutcome::Kind::Duplicate;
          out->ack = *seen;
          return;
        }
        const auto rid = s.find_user(recipient);
        if (!rid) {
          out->kind = SendOutcome::Kind::UnknownRecipient;
          return;
        }
        const auto devices = s.devices_of(*rid);
        std::vector<std::uint32_t> have, want;
        for (const auto& d : devices) have.push_back(d.device_id);
        for (const auto& p : *payloads) want.push_back(p.device);
        std::sort(want.begin(), want.end());
        if (have != want) {
          out->kind = SendOutcome::Kind::DeviceMismatch;
          out->devices = std::move(have);
          return;
        }
        out->ack = {s.next_conv_seq(conversation_key(me, *rid)), now_ms()};
        for (auto& p : *payloads) {
          const auto& d = *std::find_if(devices.begin(), devices.end(),
                                        [&](const auto& x) { return x.device_id == p.device; });
          auto e = std::make_shared<store::InboxEntry>();
          e->kind = store::EntryKind::Message;
          e->sender = my_name;
          e->sender_device = my_device;
          e->sender_pk = my_pk;
          e->client_msg_id = cmid;
          e->conv_seq = out->ack.conv_seq;
          e->server_ts_ms = out->ack.server_ts_ms;
          e->content_hint = hint;
          e->ciphertext = std::move(p.ciphertext);
          s.append_inbox(d.pk, *e);
          out->appended.emplace_back(d.device_id, std::move(e));
        }
        s.remember_sent(me, cmid, out->ack);
      },
      [this, request_id, out, recipient, cmid = req.client_msg_id()](store::JobStatus status) {
        if (store_failed(request_id, status)) return;
        switch (out->kind) {
          case SendOutcome::Kind::UnknownRecipient:
            return reply_error(request_id, wire::UNKNOWN_RECIPIENT, "no such user: " + recipient);
          case SendOutcome::Kind::DeviceMismatch: {
            wire::ServerFrame f;
            auto* e = f.mutable_error();
            e->set_code(wire::DEVICE_MISMATCH);
            e->set_reason("the recipient's devices changed; fetch their prekey bundle again");
            for (auto d : out->devices) e->add_devices(d);
            ctx_.metrics.errors_sent.fetch_add(1, std::memory_order_relaxed);
            return reply(request_id, f);
          }
          case SendOutcome::Kind::Stored:
          case SendOutcome::Kind::Duplicate: break;
        }
        wire::ServerFrame f;
        auto* ack = f.mutable_send_ack();
        ack->set_client_msg_id(cmid);
        ack->set_conv_seq(out->ack.conv_seq);
        ack->set_server_ts_ms(out->ack.server_ts_ms);
        ack->set_duplicate(out->kind == SendOutcome::Kind::Duplicate);
        reply(request_id, f);
      },
      bytes,
      // The live push leaves from the store thread: straight to the recipient's connection,
      // not by way of this one's thread (a hop and, when the two are on different threads,
      // a wake-up more per message).
      [out, recipient, &presence = ctx_.presence, &metrics = ctx_.metrics] {
        metrics.messages_stored.fetch_add(out->appended.size(), std::memory_order_relaxed);
        for (auto& [device, entry] : out->appended) {
          if (auto s = presence.find(recipient, device)) {
            const auto seq = entry->inbox_seq;
            s->notify_appended(seq, std::move(entry));
          }
        }
      });
}

void Session::on_typing(const wire::Typing& req) {
  const auto recipient = fold_username(req.recipient());
  if (recipient.empty() || recipient == username_) return;  // ephemeral: nothing to report
  // Only to someone who follows this user's presence (a contact), so strangers cannot
  // flood a device with typing events.
  if (!ctx_.presence.watches(recipient, username_)) return;
  wire::ServerFrame f;
  auto* t = f.mutable_typing_event();
  t->set_sender(username_);
  t->set_active(req.active());
  Frame frame;
  for (auto& s : ctx_.presence.find_all(recipient)) {
    if (!frame) frame = Frame::serialize(f);
    s->push(frame);
  }
}

void Session::on_subscribe_presence(std::uint64_t request_id, const wire::SubscribePresence& req) {
  if (static_cast<std::size_t>(req.usernames_size()) > limits::kMaxPresenceSubscriptions)
    return reply_error(request_id, wire::TOO_LARGE, "at most 1000 presence subscriptions");
  std::vector<std::string> targets;
  for (const auto& name : req.usernames()) {
    auto folded = fold_username(name);
    if (folded.empty())
      return reply_error(request_id, wire::INVALID_USERNAME,
                         "invalid username: " + name.substr(0, 64));
    targets.push_back(std::move(folded));
  }
  auto result = ctx_.presence.subscribe(username_, std::move(targets));
  for (auto& n : result.notices) n.to->push_presence(n.about);
  wire::ServerFrame f;
  auto* snapshot = f.mutable_presence_snapshot();
  for (const auto& info : result.visible) {
    auto* p = snapshot->add_users();
    p->set_username(info.username);
    p->set_online(info.online);
    p->set_last_seen_ms(info.last_seen_ms);
  }
  reply(request_id, f);
}

}  // namespace parley
