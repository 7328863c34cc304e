#pragma once
// A frame on its way to one client: the bytes of a serialized wire::ServerFrame, shared and
// immutable, behind an envelope the gateway writes in front of them. Four kinds:
// - small: a whole frame of at most kMaxSmall bytes (a SendAck, a delivery mark, a typing
//   notice) held in the Frame itself, so that making it allocates nothing; it goes out as
//   the envelope, with no shared bytes;
// - whole: the bytes are the frame, the envelope empty;
// - a shared Deliver: a group entry fanned out to many devices is encoded once as a Deliver
//   without its inbox_seq (deliver_body()); each device's frame shares those bytes, and its
//   envelope is the ServerFrame's deliver field and the device's inbox_seq. The client reads
//   exactly what serializing the whole ServerFrame would give (protobuf writes fields in
//   number order, and inbox_seq is Deliver's first);
// - a stored 1:1 message (message()): the bytes are the ciphertext in the stored entry
//   itself, and the envelope every other field. Pushed live, that is the entry the send job
//   appended, so the payload is not copied between the Send's parse and the socket and the
//   push allocates nothing; replayed, the entry read back from the store. The one difference
//   from protobuf's own encoding: content_hint comes before the ciphertext, not after it, as
//   protobuf's encoding allows (a parser takes fields in any order, and every client parses).
#include <array>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <variant>

#include "session/field_encoder.hpp"
#include "session/shared_bytes.hpp"

namespace parley {
namespace wire {
class ServerFrame;
}
namespace store {
struct InboxEntry;
struct DeliveryMarkRecord;
}

// Frame's two representations, defined before it (a nested class with default member
// initialisers is not default-constructible inside the enclosing class, which std::variant
// needs).
namespace frame_detail {
inline std::size_t varint_size(std::uint64_t v) {
  return static_cast<std::size_t>(std::bit_width(v | 1) + 6) / 7;
}
// The largest small frame: with its size byte, as large as a Shared, so holding it costs a
// Frame only the variant's index (56 bytes in all, 48 before).
inline constexpr std::size_t kMaxSmall = 47;

struct Shared {
  SharedBytes bytes;
  // Nonzero: a Deliver pushed at this seq, `bytes` its body (or its ciphertext: message).
  std::uint64_t deliver_seq = 0;
  // A stored message whose ciphertext `bytes` is: its other fields go in the envelope.
  // Kept alive by `bytes`, which shares its ownership.
  const store::InboxEntry* message = nullptr;
  // The envelope's bytes of message's fields (after inbox_seq, up to the ciphertext's).
  std::uint32_t fields_size = 0;

  // The Deliver's size: its fields in the envelope, then `bytes`.
  std::uint64_t deliver_length() const {
    return 1 + varint_size(deliver_seq) + fields_size + bytes.size();
  }
};
struct Small {
  Small() {}  // not `= default`, which emplace's value-initialisation would zero first
  std::array<unsigned char, kMaxSmall> bytes;  // the first `size` written
  std::uint8_t size = 0;
};
}  // namespace frame_detail

class Frame {
 public:
  // The largest envelope: a stored message's (message()). ServerFrame.deliver's tag (2
  // bytes) and length (a 32-bit varint); then Deliver's fields, each a 1-byte tag and its
  // value: inbox_seq, kind, sender (its length byte and at most kMaxSender bytes),
  // sender_device, client_msg_id (its length byte and kMaxClientMsgId bytes), conv_seq,
  // server_ts_ms, content_hint, and the ciphertext's length (a 32-bit varint).
  static constexpr std::size_t kMaxSender = 32;
  static constexpr std::size_t kMaxClientMsgId = 16;
  static constexpr std::size_t kMaxEnvelope =
      2 + 5 + (1 + 10) + (1 + 1) + (1 + 1 + kMaxSender) + (1 + 5) + (1 + 1 + kMaxClientMsgId) +
      (1 + 10) + (1 + 10) + (1 + 5) + (1 + 5);

  static constexpr std::size_t kMaxSmall = frame_detail::kMaxSmall;
  static_assert(kMaxSmall <= kMaxEnvelope);

  Frame() = default;
  Frame(const Frame&) = default;
  Frame& operator=(const Frame&) = default;
  // A moved-from frame is empty, its envelope too: it no longer holds a stored message's
  // entry.
  Frame(Frame&& o) noexcept : rep_(std::exchange(o.rep_, Shared{})) {}
  Frame& operator=(Frame&& o) noexcept {
    rep_ = std::exchange(o.rep_, Shared{});
    return *this;
  }
  // A whole ServerFrame.
  static Frame serialize(const wire::ServerFrame& frame);
  // A whole ServerFrame encoded by hand: the fields `write(FieldEncoder&)` writes, held in
  // the frame when they fit (small), else in one allocation of their size.
  template <class Write>
    requires std::invocable<const Write&, FieldEncoder&>
  static Frame encode(const Write& write) {
    FieldEncoder counter;
    write(counter);
    char* out = nullptr;
    auto f = with_room(counter.size(), out);
    FieldEncoder writer(out);
    write(writer);
    assert(writer.size() == counter.size());
    return f;
  }
  // The push of a Deliver encoded by deliver_body() to the device at `inbox_seq` (>= 1: 0
  // would mark a whole frame). The body is at most an entry (200 KiB) and its fields, far
  // below the 2^35 bytes the envelope's length varint can say.
  static Frame deliver(SharedBytes body, std::uint64_t inbox_seq) {
    assert(inbox_seq >= 1);
    Frame f(std::move(body));
    std::get<Shared>(f.rep_).deliver_seq = inbox_seq;
    return f;
  }
  // Whether message() can carry `entry`: a 1:1 message whose sender and client_msg_id fit
  // the envelope (every one the relay stores does: usernames have at most 32 bytes, and a
  // Send's client_msg_id 16).
  static bool can_carry(const store::InboxEntry& entry);
  // The push of stored 1:1 message `entry` (can_carry) to its device at `inbox_seq` (>= 1),
  // sending its ciphertext from the entry itself, which the frame keeps.
  static Frame message(std::shared_ptr<const store::InboxEntry> entry, std::uint64_t inbox_seq);

  explicit operator bool() const {
    const auto* shared = std::get_if<Shared>(&rep_);
    return !shared || shared->bytes;
  }
  // The ServerFrame's size on the wire: envelope and shared bytes.
  std::size_t size() const { return envelope_size() + bytes().size(); }
  // What goes before bytes() on the wire: nothing for a whole frame, all of a small one.
  std::size_t envelope_size() const {
    if (const auto* small = std::get_if<Small>(&rep_)) return small->size;
    const auto& s = std::get<Shared>(rep_);
    if (s.deliver_seq == 0) return 0;
    return 2 + frame_detail::varint_size(s.deliver_length()) + s.deliver_length() -
           s.bytes.size();
  }
  // Writes the envelope to `out`; returns its size.
  std::size_t write_envelope(std::span<unsigned char, kMaxEnvelope> out) const;
  std::string_view bytes() const {
    const auto* shared = std::get_if<Shared>(&rep_);
    return shared ? shared->bytes.view() : std::string_view{};
  }

 private:
  explicit Frame(SharedBytes bytes) : rep_(Shared{std::move(bytes)}) {}
  // A whole frame of `size` bytes, to be written at `out`: held in the frame when it fits
  // (small), else in one allocation of that size.
  static Frame with_room(std::size_t size, char*& out);
  using Shared = frame_detail::Shared;
  using Small = frame_detail::Small;

  std::variant<Shared, Small> rep_;
};
static_assert(sizeof(frame_detail::Small) <= sizeof(frame_detail::Shared));

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
