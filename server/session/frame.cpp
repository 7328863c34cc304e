#include "session/frame.hpp"

#include <array>
#include <string_view>

#include <google/protobuf/io/coded_stream.h>
#include <spdlog/spdlog.h>

#include "parley.pb.h"
#include "store/records.hpp"

namespace parley {
namespace {
using google::protobuf::io::CodedOutputStream;

// A field's tag, as protobuf's encoding defines it.
constexpr std::uint32_t tag(int field, int wire_type) {
  return static_cast<std::uint32_t>(field) << 3 | static_cast<std::uint32_t>(wire_type);
}
constexpr int kVarint = 0;
constexpr int kLengthDelimited = 2;
}  // namespace

Frame Frame::serialize(const wire::ServerFrame& frame) {
  return Frame(std::make_shared<const std::string>(frame.SerializeAsString()));
}

std::size_t Frame::write_envelope(std::span<unsigned char, kMaxEnvelope> out) const {
  if (deliver_seq_ == 0) return 0;
  static_assert(wire::ServerFrame::kDeliverFieldNumber >= 16 &&
                    wire::ServerFrame::kDeliverFieldNumber < 2048 &&
                    wire::Deliver::kInboxSeqFieldNumber < 16,
                "the envelope's tags take 2 and 1 bytes");
  assert(deliver_length() < (std::uint64_t{1} << 35));  // fits kMaxEnvelope's 5-byte length
  auto* p = out.data();
  p = CodedOutputStream::WriteTagToArray(tag(wire::ServerFrame::kDeliverFieldNumber, kLengthDelimited), p);
  p = CodedOutputStream::WriteVarint64ToArray(deliver_length(), p);
  p = CodedOutputStream::WriteTagToArray(tag(wire::Deliver::kInboxSeqFieldNumber, kVarint), p);
  p = CodedOutputStream::WriteVarint64ToArray(deliver_seq_, p);
  return static_cast<std::size_t>(p - out.data());
}

namespace {
// Deliver's fields as protobuf writes them: proto3 leaves out zeros and empty strings. Run
// twice: first counting (no `out`), then appending to a string reserved at that size, so
// the body is allocated once and not zero-filled first.
class DeliverEncoder {
 public:
  explicit DeliverEncoder(std::string* out = nullptr) : out_(out) {}
  std::size_t size() const { return size_; }

  void varint(int field, std::uint64_t v) {
    if (v != 0) head(tag(field, kVarint), v);
  }
  void bytes(int field, std::string_view v) {
    if (!v.empty()) message(field, v);
  }
  // A message field: present even when empty.
  void message(int field, std::string_view v) {
    head(tag(field, kLengthDelimited), v.size());
    put(v);
  }

 private:
  void head(std::uint32_t field_tag, std::uint64_t v) {
    std::array<std::uint8_t, 15> buf;  // a tag (<= 5 bytes) and a varint (<= 10)
    auto* p = CodedOutputStream::WriteTagToArray(field_tag, buf.data());
    p = CodedOutputStream::WriteVarint64ToArray(v, p);
    put({reinterpret_cast<const char*>(buf.data()), static_cast<std::size_t>(p - buf.data())});
  }
  void put(std::string_view v) {
    size_ += v.size();
    if (out_) out_->append(v);
  }

  std::string* out_;
  std::size_t size_ = 0;
};

// Every field but inbox_seq, the envelope's (Frame::write_envelope), in field order.
void deliver_fields(const store::InboxEntry& e, std::string_view event, DeliverEncoder& out) {
  using D = wire::Deliver;
  out.varint(D::kKindFieldNumber, static_cast<std::uint64_t>(e.kind));
  out.bytes(D::kSenderFieldNumber, e.sender);
  out.varint(D::kSenderDeviceFieldNumber, e.sender_device);
  out.bytes(D::kClientMsgIdFieldNumber, e.client_msg_id);
  out.varint(D::kConvSeqFieldNumber, e.conv_seq);
  out.varint(D::kServerTsMsFieldNumber, e.server_ts_ms);
  if (e.kind == store::EntryKind::Message || e.kind == store::EntryKind::GroupMessage) {
    out.bytes(D::kCiphertextFieldNumber, e.ciphertext);
    out.varint(D::kContentHintFieldNumber, e.content_hint);
  }
  out.bytes(D::kGroupIdFieldNumber, e.group_id);
  if (e.kind == store::EntryKind::GroupEvent) out.message(D::kEventFieldNumber, event);
}
}  // namespace

// Written field by field instead of through a wire::Deliver, which would copy the ciphertext
// into the message and then again into its serialization: one allocation for the bytes and
// one for the shared string, and the ciphertext copied once.
std::shared_ptr<const std::string> deliver_body(const store::InboxEntry& e) {
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
  DeliverEncoder counter;
  deliver_fields(e, event, counter);
  auto body = std::make_shared<std::string>();
  body->reserve(counter.size());
  DeliverEncoder writer(body.get());
  deliver_fields(e, event, writer);
  assert(body->size() == counter.size());
  return body;
}

}  // namespace parley
