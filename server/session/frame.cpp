#include "session/frame.hpp"

#include <array>
#include <cstring>
#include <string_view>

#include <spdlog/spdlog.h>

#include "parley.pb.h"
#include "session/field_encoder.hpp"
#include "store/records.hpp"

namespace parley {
namespace {
constexpr auto tag = FieldEncoder::tag;
constexpr int kVarint = FieldEncoder::kVarint;
constexpr int kLengthDelimited = FieldEncoder::kLengthDelimited;
}  // namespace

Frame Frame::with_room(std::size_t size, char*& out) {
  Frame f;
  if (size <= kMaxSmall) {
    auto& small = f.rep_.emplace<Small>();
    small.size = static_cast<std::uint8_t>(size);
    out = reinterpret_cast<char*>(small.bytes.data());
  } else {
    std::get<Shared>(f.rep_).bytes = SharedBytes::allocate(size, out);
  }
  return f;
}

Frame Frame::serialize(const wire::ServerFrame& frame) {
  char* out = nullptr;
  auto f = with_room(frame.ByteSizeLong(), out);
  frame.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(out));
  return f;
}

// kMaxEnvelope counts 2 bytes for the deliver field's tag and 1 for each of Deliver's.
static_assert(wire::ServerFrame::kDeliverFieldNumber >= 16 &&
              wire::ServerFrame::kDeliverFieldNumber < 2048);
static_assert([] {
  using D = wire::Deliver;
  for (int field : {D::kInboxSeqFieldNumber, D::kKindFieldNumber, D::kSenderFieldNumber,
                    D::kSenderDeviceFieldNumber, D::kClientMsgIdFieldNumber,
                    D::kConvSeqFieldNumber, D::kServerTsMsFieldNumber,
                    D::kContentHintFieldNumber, D::kCiphertextFieldNumber})
    if (field >= 16) return false;
  return true;
}());

namespace {
// Every Deliver's fields after inbox_seq up to the payload, in field order: a stored
// message's envelope and an encoded body both start with them.
void routing_fields(const store::InboxEntry& e, FieldEncoder& out) {
  using D = wire::Deliver;
  out.varint(D::kKindFieldNumber, static_cast<std::uint64_t>(e.kind));
  out.bytes(D::kSenderFieldNumber, e.sender);
  out.varint(D::kSenderDeviceFieldNumber, e.sender_device);
  out.bytes(D::kClientMsgIdFieldNumber, e.client_msg_id);
  out.varint(D::kConvSeqFieldNumber, e.conv_seq);
  out.varint(D::kServerTsMsFieldNumber, e.server_ts_ms);
}

// A stored message's fields between inbox_seq and the ciphertext's bytes, in the order the
// envelope writes them: FieldEncoder's counting and writing are the one definition of both.
void message_fields(const store::InboxEntry& e, FieldEncoder& out) {
  using D = wire::Deliver;
  routing_fields(e, out);
  out.varint(D::kContentHintFieldNumber, e.content_hint);
  // The ciphertext's tag and length; its bytes follow the envelope.
  if (!e.ciphertext.empty())
    out.head(tag(D::kCiphertextFieldNumber, kLengthDelimited), e.ciphertext.size());
}
}  // namespace

bool Frame::can_carry(const store::InboxEntry& e) {
  return e.kind == store::EntryKind::Message && e.group_id.empty() &&
         e.sender.size() <= kMaxSender && e.client_msg_id.size() <= kMaxClientMsgId &&
         e.ciphertext.size() < (std::uint64_t{1} << 32);
}

Frame Frame::message(std::shared_ptr<const store::InboxEntry> entry, std::uint64_t inbox_seq) {
  assert(entry && can_carry(*entry) && inbox_seq >= 1);
  const auto* e = entry.get();
  Frame f(SharedBytes::inside(std::move(entry), e->ciphertext));
  auto& s = std::get<Shared>(f.rep_);
  s.deliver_seq = inbox_seq;
  s.message = e;
  FieldEncoder counter;
  message_fields(*e, counter);
  s.fields_size = static_cast<std::uint32_t>(counter.size());
  return f;
}

std::size_t Frame::write_envelope(std::span<unsigned char, kMaxEnvelope> out) const {
  if (const auto* small = std::get_if<Small>(&rep_)) {
    std::memcpy(out.data(), small->bytes.data(), small->size);
    return small->size;
  }
  const auto& s = std::get<Shared>(rep_);
  if (s.deliver_seq == 0) return 0;
  assert(s.deliver_length() < (std::uint64_t{1} << 35));  // fits the envelope's 5-byte length
  FieldEncoder envelope(reinterpret_cast<char*>(out.data()));
  envelope.head(tag(wire::ServerFrame::kDeliverFieldNumber, kLengthDelimited), s.deliver_length());
  envelope.head(tag(wire::Deliver::kInboxSeqFieldNumber, kVarint), s.deliver_seq);
  if (s.message) message_fields(*s.message, envelope);
  assert(envelope.size() == envelope_size());
  return envelope.size();
}

namespace {
// Every field but inbox_seq, the envelope's (Frame::write_envelope), in field order.
void deliver_fields(const store::InboxEntry& e, std::string_view event, FieldEncoder& out) {
  using D = wire::Deliver;
  routing_fields(e, out);
  if (e.kind == store::EntryKind::Message || e.kind == store::EntryKind::GroupMessage) {
    out.bytes(D::kCiphertextFieldNumber, e.ciphertext);
    out.varint(D::kContentHintFieldNumber, e.content_hint);
  }
  out.bytes(D::kGroupIdFieldNumber, e.group_id);
  if (e.kind == store::EntryKind::GroupEvent) out.message(D::kEventFieldNumber, event);
}
}  // namespace

// Written field by field instead of through a wire::Deliver, which would copy the ciphertext
// into the message and then again into its serialization: one allocation, and the
// ciphertext copied once.
SharedBytes deliver_body(const store::InboxEntry& e) {
  // A group event is stored as a serialized GroupEvent, written by the relay itself; it goes
  // out as those bytes, checked first so that a damaged row cannot reach a client (it goes
  // out empty). Re-encoding it, as a wire::Deliver did, gave the same bytes for every row
  // the relay writes (protobuf's own encoding); for a row from another encoder the client
  // parses both alike.
  std::string_view event;
  if (e.kind == store::EntryKind::GroupEvent) {
    if (wire::GroupEvent check; check.ParseFromString(e.ciphertext))
      event = e.ciphertext;
    else
      spdlog::error("event=bad_group_event group_seq={}", e.conv_seq);
  }
  return encode_fields([&](FieldEncoder& out) { deliver_fields(e, event, out); });
}

Frame send_ack_frame(std::uint64_t request_id, const SendAckFields& ack) {
  using F = wire::ServerFrame;
  using A = wire::SendAck;
  return Frame::encode([&](FieldEncoder& out) {
    out.varint(F::kRequestIdFieldNumber, request_id);
    out.message(F::kSendAckFieldNumber, [&](FieldEncoder& a) {
      a.bytes(A::kClientMsgIdFieldNumber, ack.client_msg_id);
      a.varint(A::kConvSeqFieldNumber, ack.conv_seq);
      a.varint(A::kServerTsMsFieldNumber, ack.server_ts_ms);
      a.varint(A::kDuplicateFieldNumber, ack.duplicate ? 1 : 0);
    });
  });
}

Frame delivery_marks_frame(std::span<const store::DeliveryMarkRecord> marks) {
  using F = wire::ServerFrame;
  using M = wire::DeliveryMark;
  return Frame::encode([&](FieldEncoder& out) {
    out.message(F::kDeliveryMarksFieldNumber, [&](FieldEncoder& list) {
      for (const auto& m : marks) {
        list.message(wire::DeliveryMarks::kMarksFieldNumber, [&](FieldEncoder& d) {
          d.bytes(M::kReaderFieldNumber, m.reader);
          d.varint(M::kReaderDeviceFieldNumber, m.reader_device);
          d.bytes(M::kGroupIdFieldNumber, m.group_id);
          d.varint(M::kUpToConvSeqFieldNumber, m.up_to);
          d.varint(M::kServerTsMsFieldNumber, m.acked_ms);
          d.varint(M::kVersionFieldNumber, m.version);
          d.varint(M::kFromConvSeqFieldNumber, m.from);
        });
      }
    });
  });
}

}  // namespace parley
