#pragma once
// Mutates encoded protobuf messages on the wire format, not through generated classes, so a
// mutant can be anything a peer could send: a field of the wrong wire type, a number out of
// every range, bytes of a boundary length, a body under another request's tag, a truncated or
// corrupted encoding. Deterministic for a seed, so a failure can be replayed.
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace parley::test {

class ProtoMutator {
 public:
  explicit ProtoMutator(std::uint64_t seed) : rng_(seed) {}

  // `message` with one to three mutations, each at the top level or inside a nested message.
  // `sibling_tags` are field numbers a top-level length-delimited field may be moved to (the
  // request bodies of a oneof), so one request's fields arrive as another's.
  std::string mutate(std::string_view message, const std::vector<std::uint32_t>& sibling_tags = {});

  std::mt19937_64& rng() { return rng_; }

 private:
  struct Field {
    std::uint32_t number;
    std::uint32_t wire_type;  // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
    std::uint64_t value;      // varint and fixed values
    std::string bytes;        // length-delimited content
  };

  // False when `in` is not a well-formed message (then `out` holds what parsed before).
  static bool parse(std::string_view in, std::vector<Field>& out);
  static std::string encode(const std::vector<Field>& fields);

  void mutate_fields(std::vector<Field>& fields, const std::vector<std::uint32_t>& sibling_tags,
                     int depth);
  std::string mutate_bytes(std::string_view in);
  std::uint64_t interesting_number();
  std::string interesting_bytes();
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  bool chance(int percent) { return static_cast<int>(pick(100)) < percent; }

  std::mt19937_64 rng_;
};

}  // namespace parley::test
