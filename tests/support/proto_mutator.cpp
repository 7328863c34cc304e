#include "proto_mutator.hpp"

#include <algorithm>
#include <array>
#include <limits>

#include "parley/limits.hpp"

namespace parley::test {

namespace {

bool read_varint(std::string_view in, std::size_t& pos, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= in.size()) return false;
    const auto b = static_cast<std::uint8_t>(in[pos++]);
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

void write_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void write_fixed(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

bool ProtoMutator::parse(std::string_view in, std::vector<Field>& out) {
  std::size_t pos = 0;
  while (pos < in.size()) {
    std::uint64_t key = 0;
    if (!read_varint(in, pos, key)) return false;
    Field f{static_cast<std::uint32_t>(key >> 3), static_cast<std::uint32_t>(key & 7), 0, {}};
    if (f.number == 0 || key >> 3 > (1u << 29) - 1) return false;
    switch (f.wire_type) {
      case 0:
        if (!read_varint(in, pos, f.value)) return false;
        break;
      case 1:
      case 5: {
        const std::size_t n = f.wire_type == 1 ? 8 : 4;
        if (in.size() - pos < n) return false;
        for (std::size_t i = 0; i < n; ++i)
          f.value |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(in[pos + i])) << (8 * i);
        pos += n;
        break;
      }
      case 2: {
        std::uint64_t len = 0;
        if (!read_varint(in, pos, len) || len > in.size() - pos) return false;
        f.bytes.assign(in.substr(pos, len));
        pos += len;
        break;
      }
      default:
        return false;  // groups (3, 4) and the unused types: not in proto3
    }
    out.push_back(std::move(f));
  }
  return true;
}

std::string ProtoMutator::encode(const std::vector<Field>& fields) {
  std::string out;
  for (const auto& f : fields) {
    write_varint(out, (static_cast<std::uint64_t>(f.number) << 3) | f.wire_type);
    switch (f.wire_type) {
      case 0: write_varint(out, f.value); break;
      case 1: write_fixed(out, f.value, 8); break;
      case 5: write_fixed(out, f.value, 4); break;
      default:
        write_varint(out, f.bytes.size());
        out += f.bytes;
    }
  }
  return out;
}

std::uint64_t ProtoMutator::interesting_number() {
  // The edges of every integer type a field might be read into, signed and unsigned.
  static constexpr std::array<std::uint64_t, 14> kEdges{
      0, 1, 255, 65'535, 0x7fff'ffff, 0x8000'0000, 0xffff'ffff, 0x1'0000'0000, (1ull << 53),
      std::numeric_limits<std::int64_t>::max(), 1ull << 63,
      std::numeric_limits<std::uint64_t>::max() - 1, std::numeric_limits<std::uint64_t>::max(),
      1000};
  if (chance(80)) return kEdges[pick(kEdges.size())];
  return chance(50) ? pick(100) : rng_();
}

std::string ProtoMutator::interesting_bytes() {
  // Around the sizes the protocol names (16-byte ids, 32-byte keys and nonces, 64-byte
  // signatures, 64-byte name limit) and the relay's frame and message limits.
  static constexpr std::array<std::size_t, 19> kLengths{
      0, 1, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65, 200, 255, 256, 1024, 4096, 65'536,
      limits::kMaxCiphertextBytes};
  const std::size_t n = kLengths[pick(kLengths.size())];
  std::string out(n, '\0');
  switch (pick(5)) {
    case 0: break;  // all zero
    case 1:
      for (auto& c : out) c = static_cast<char>(rng_());
      break;
    case 2:
      for (auto& c : out) c = static_cast<char>('a' + pick(26));  // a plausible name
      break;
    case 3:  // invalid UTF-8: lone continuation bytes, an overlong form, a surrogate
      for (std::size_t i = 0; i < n; ++i) out[i] = "\x80\xc0\xaf\xed\xa0\x80\xff"[i % 7];
      break;
    default:
      for (auto& c : out) c = "aZ9_-.\xc3\xa4 "[pick(9)];
  }
  return out;
}

std::string ProtoMutator::mutate_bytes(std::string_view in) {
  std::string out(in);
  switch (pick(4)) {
    case 0:  // truncate
      out.resize(out.empty() ? 0 : pick(out.size()));
      break;
    case 1:  // flip a byte
      if (!out.empty()) out[pick(out.size())] ^= static_cast<char>(1u << pick(8));
      break;
    case 2: {  // insert random bytes
      const std::size_t at = out.empty() ? 0 : pick(out.size() + 1);
      std::string junk(1 + pick(8), '\0');
      for (auto& c : junk) c = static_cast<char>(rng_());
      out.insert(at, junk);
      break;
    }
    default:  // a length prefix that runs past the end
      out.push_back(static_cast<char>(0x0a | (pick(16) << 3)));
      write_varint(out, 1 + pick(1u << 20));
  }
  return out;
}

void ProtoMutator::mutate_fields(std::vector<Field>& fields,
                                 const std::vector<std::uint32_t>& sibling_tags, int depth) {
  // Into a nested message more often than not: most of a request is in its body.
  if (depth < 3 && !fields.empty() && chance(60)) {
    // The fields whose bytes parse as a message, each with what it parsed to.
    std::vector<std::pair<std::size_t, std::vector<Field>>> nested;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      std::vector<Field> inner;
      if (fields[i].wire_type == 2 && !fields[i].bytes.empty() && parse(fields[i].bytes, inner))
        nested.emplace_back(i, std::move(inner));
    }
    if (!nested.empty()) {
      auto& [at, inner] = nested[pick(nested.size())];
      mutate_fields(inner, {}, depth + 1);
      fields[at].bytes = encode(inner);
      return;
    }
  }
  // Weighted: a value changed finds the most (ranges, lengths); the shapes less often.
  static constexpr std::array<int, 10> kKinds{0, 0, 0, 0, 1, 1, 2, 3, 4, 5};
  switch (fields.empty() ? 5 : (chance(5) ? 6 : kKinds[pick(kKinds.size())])) {
    case 0: {  // a number to an edge of its range, or a value of another wire type
      auto& f = fields[pick(fields.size())];
      if (f.wire_type == 2 && chance(70)) {
        f.bytes = interesting_bytes();
      } else {
        f.wire_type = chance(80) ? 0 : (chance(50) ? 1 : 5);
        f.value = interesting_number();
        f.bytes.clear();
      }
      break;
    }
    case 1: {  // bytes of a boundary length or content
      auto& f = fields[pick(fields.size())];
      f.wire_type = 2;
      f.bytes = interesting_bytes();
      break;
    }
    case 2:  // a field twice (a repeated entry more, or a singular one overridden)
      fields.insert(fields.begin() + static_cast<std::ptrdiff_t>(pick(fields.size() + 1)),
                    fields[pick(fields.size())]);
      break;
    case 3:  // a field gone
      fields.erase(fields.begin() + static_cast<std::ptrdiff_t>(pick(fields.size())));
      break;
    case 4: {  // a body under another request's tag
      auto& f = fields[pick(fields.size())];
      if (!sibling_tags.empty() && f.wire_type == 2) f.number = sibling_tags[pick(sibling_tags.size())];
      else f.number = 1 + static_cast<std::uint32_t>(pick(40));
      break;
    }
    case 5: {  // a field no version of the protocol has, or one it has with nothing set
      Field f{1 + static_cast<std::uint32_t>(pick(chance(50) ? 40 : 100'000)), 0, 0, {}};
      if (chance(50)) {
        f.wire_type = 2;
        f.bytes = interesting_bytes();
      } else {
        f.value = interesting_number();
      }
      fields.insert(fields.begin() + static_cast<std::ptrdiff_t>(pick(fields.size() + 1)), f);
      break;
    }
    default: {  // a repeated field many times over
      const auto f = fields[pick(fields.size())];
      std::size_t copies = 1 + pick(chance(80) ? 40 : 4'000);
      // Past any frame limit, no more.
      copies = std::min(copies, 2 * limits::kMaxFrameBytes / (f.bytes.size() + 16));
      for (std::size_t i = 0; i < copies; ++i) fields.push_back(f);
    }
  }
}

std::string ProtoMutator::mutate(std::string_view message,
                                 const std::vector<std::uint32_t>& sibling_tags) {
  std::string out(message);
  const std::size_t rounds = 1 + pick(3);
  for (std::size_t r = 0; r < rounds; ++r) {
    std::vector<Field> fields;
    if (chance(10) || !parse(out, fields)) {
      out = mutate_bytes(out);
      continue;
    }
    mutate_fields(fields, sibling_tags, 0);
    out = encode(fields);
  }
  return out;
}

}  // namespace parley::test
