#include "session/frame.hpp"

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

std::shared_ptr<const std::string> deliver_body(const store::InboxEntry& e) {
  wire::Deliver d;
  d.set_kind(static_cast<wire::EntryKind>(e.kind));
  d.set_sender(e.sender);
  d.set_sender_device(e.sender_device);
  d.set_client_msg_id(e.client_msg_id);
  d.set_conv_seq(e.conv_seq);
  d.set_server_ts_ms(e.server_ts_ms);
  if (e.kind == store::EntryKind::Message || e.kind == store::EntryKind::GroupMessage) {
    d.set_ciphertext(e.ciphertext);
    d.set_content_hint(e.content_hint);
  }
  if (!e.group_id.empty()) d.set_group_id(e.group_id);
  if (e.kind == store::EntryKind::GroupEvent && !d.mutable_event()->ParseFromString(e.ciphertext))
    spdlog::error("event=bad_group_event group_seq={}", e.conv_seq);
  return std::make_shared<const std::string>(d.SerializeAsString());
}

}  // namespace parley
