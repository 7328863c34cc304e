#pragma once
// A frame on its way to one client: the bytes of a serialized wire::ServerFrame, shared and
// immutable. A group entry fanned out to many devices is encoded once as a Deliver without
// its inbox_seq (deliver_body()); each device's frame shares those bytes and carries its own
// inbox_seq, which the gateway writes in front of them as a small envelope. The client reads
// exactly what serializing the whole ServerFrame would give (protobuf writes fields in number
// order, and inbox_seq is Deliver's first), so the protocol does not know about it.
#include <array>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "session/shared_bytes.hpp"

namespace parley {
namespace wire {
class ServerFrame;
}
namespace store {
struct InboxEntry;
struct DeliveryMarkRecord;
}

class Frame {
 public:
  // The envelope's largest size: ServerFrame.deliver's tag (2 bytes) and length (a 32-bit
  // varint), Deliver.inbox_seq's tag (1) and value (a 64-bit varint).
  static constexpr std::size_t kMaxEnvelope = 2 + 5 + 1 + 10;

  Frame() = default;
  // A whole ServerFrame.
  static Frame serialize(const wire::ServerFrame& frame);
  // A whole ServerFrame encoded by hand (field_encoder.hpp).
  static Frame whole(SharedBytes bytes) { return Frame(std::move(bytes)); }
  // The push of a Deliver encoded by deliver_body() to the device at `inbox_seq` (>= 1: 0
  // would mark a whole frame). The body is at most an entry (200 KiB) and its fields, far
  // below the 2^35 bytes the envelope's length varint can say.
  static Frame deliver(SharedBytes body, std::uint64_t inbox_seq) {
    assert(inbox_seq >= 1);
    Frame f(std::move(body));
    f.deliver_seq_ = inbox_seq;
    return f;
  }

  explicit operator bool() const { return static_cast<bool>(bytes_); }
  // The ServerFrame's size on the wire: envelope and shared bytes.
  std::size_t size() const { return envelope_size() + bytes_.size(); }
  // What goes before bytes() on the wire: nothing for a whole frame.
  std::size_t envelope_size() const {
    if (deliver_seq_ == 0) return 0;
    return 2 + varint_size(deliver_length()) + 1 + varint_size(deliver_seq_);
  }
  // Writes the envelope to `out`; returns its size.
  std::size_t write_envelope(std::span<unsigned char, kMaxEnvelope> out) const;
  std::string_view bytes() const { return bytes_.view(); }

 private:
  explicit Frame(SharedBytes bytes) : bytes_(std::move(bytes)) {}
  static std::size_t varint_size(std::uint64_t v) {
    return static_cast<std::size_t>(std::bit_width(v | 1) + 6) / 7;
  }
  std::uint64_t deliver_length() const { return 1 + varint_size(deliver_seq_) + bytes_.size(); }

  SharedBytes bytes_;
  std::uint64_t deliver_seq_ = 0;  // nonzero: bytes_ is a Deliver body, pushed at this seq
};

// `entry` as a Deliver without its inbox_seq, for Frame::deliver.
SharedBytes deliver_body(const store::InboxEntry& entry);

// The frames every 1:1 message makes besides its Deliver, encoded by hand (field_encoder.hpp).
struct SendAckFields {
  std::string_view client_msg_id;
  std::uint64_t conv_seq = 0;
  std::uint64_t server_ts_ms = 0;
  bool duplicate = false;
};
Frame send_ack_frame(std::uint64_t request_id, const SendAckFields& ack);
// A pushed DeliveryMarks (request_id 0).
Frame delivery_marks_frame(std::span<const store::DeliveryMarkRecord> marks);

}  // namespace parley
