#pragma once
// Protobuf's encoding of a message, written field by field, for the frames of the hot path
// (frame.hpp): a wire:: message would allocate its submessages and strings and copy every
// byte into them before serializing. Fields go in field-number order and proto3 leaves out
// zeros and empty strings, so the bytes equal protobuf's own (frame_test checks them).
//
// encode_fields() runs the same writer twice: counting, then writing into exactly that many
// bytes.
#include <array>
#include <cassert>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <string_view>

#include <google/protobuf/io/coded_stream.h>

#include "session/shared_bytes.hpp"

namespace parley {

class FieldEncoder {
 public:
  FieldEncoder() = default;  // counting only
  explicit FieldEncoder(char* out) : out_(out) {}
  std::size_t size() const { return size_; }

  void varint(int field, std::uint64_t v) {
    if (v != 0) head(tag(field, kVarint), v);
  }
  void bytes(int field, std::string_view v) {
    if (!v.empty()) message(field, v);
  }
  // A message field given encoded: present even when empty.
  void message(int field, std::string_view encoded) {
    head(tag(field, kLengthDelimited), encoded.size());
    put(encoded);
  }
  // A message field whose fields `write(FieldEncoder&)` writes: present even when empty.
  template <class Write>
    requires std::invocable<const Write&, FieldEncoder&>
  void message(int field, const Write& write) {
    FieldEncoder counter;
    write(counter);
    head(tag(field, kLengthDelimited), counter.size());
    if (out_) {
      write(*this);
    } else {
      size_ += counter.size();  // counting: once is enough
    }
  }

  // A field's tag and a varint: a varint field's whole encoding, or the head of a
  // length-delimited one whose bytes are written elsewhere.
  void head(std::uint32_t field_tag, std::uint64_t v) {
    using google::protobuf::io::CodedOutputStream;
    std::array<std::uint8_t, 15> buf;  // a tag (<= 5 bytes) and a varint (<= 10)
    auto* p = CodedOutputStream::WriteTagToArray(field_tag, buf.data());
    p = CodedOutputStream::WriteVarint64ToArray(v, p);
    put({reinterpret_cast<const char*>(buf.data()), static_cast<std::size_t>(p - buf.data())});
  }

  // A field's tag, as protobuf's encoding defines it.
  static constexpr int kVarint = 0;
  static constexpr int kLengthDelimited = 2;
  static constexpr std::uint32_t tag(int field, int wire_type) {
    return static_cast<std::uint32_t>(field) << 3 | static_cast<std::uint32_t>(wire_type);
  }

 private:
  void put(std::string_view v) {
    if (out_ && !v.empty()) std::memcpy(out_ + size_, v.data(), v.size());
    size_ += v.size();
  }

  char* out_ = nullptr;
  std::size_t size_ = 0;
};

// The bytes `write(FieldEncoder&)` writes, in one allocation of their exact size.
template <class Write>
  requires std::invocable<const Write&, FieldEncoder&>
SharedBytes encode_fields(const Write& write) {
  FieldEncoder counter;
  write(counter);
  char* out = nullptr;
  auto bytes = SharedBytes::allocate(counter.size(), out);
  FieldEncoder writer(out);
  write(writer);
  assert(writer.size() == counter.size());
  return bytes;
}

}  // namespace parley
