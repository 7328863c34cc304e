#pragma once
// The text of the notices gateways publish to each other through Redis (docs/architecture.md,
// 8.2): made here for the sending gateway, parsed here on the receiving one. Fields are
// separated by single spaces; names are folded usernames, numbers decimal, bytes hex ("-"
// when empty) or, for a ciphertext, base64.
//
// Notices changed shape over time, and a tier being upgraded runs gateways of both ages.
// Each gateway says in Redis which version of them it reads (kVersion, set with its beat);
// a notice whose full form an older gateway would refuse is published with a second, older
// form, which the routing script sends to a gateway that reads an older version or has not
// said (RedisRouter's Route script).
#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/records.hpp"

namespace parley::routing {

class RoutedNotices;

namespace notices {

// 1: the notices of the first gateways. 2: an 'A' notice may carry its entry, an 'M' notice
// the version its mark follows.
inline constexpr int kVersion = 2;

// The largest ciphertext an 'A' notice carries (its base64 is 4/3 of it): a chat message's,
// not an attachment key bundle's. A larger entry is announced without it, and read from the
// store by the recipient's gateway.
inline constexpr std::size_t kCarriedCiphertextMax = 2048;
// Anything longer is malformed: the longest notice made here is an 'A' carrying the largest
// entry and its MAC (~3 KB).
inline constexpr std::size_t kMaxBytes = 4096;

// An 'A' notice that carries its entry ends with a MAC of the rest (HMAC-SHA-512-256) under
// a key the gateways share through their store (Store::routing_key), which Redis never
// sees: whoever can publish on Redis could otherwise push a made-up entry in place of the
// stored one at that seq, and the device's ack of it would delete the real one. Other notices
// are hints that cost at most a read, a late mark or a reconnect, and are only checked for
// form. (A made-up announcement costs one read: Session::read_ahead trusts the store's end
// over it.)
inline constexpr std::size_t kKeyBytes = 32;
struct Key {
  Key() = default;
  Key(const Key&) = default;
  Key& operator=(const Key&) = default;
  ~Key();  // zeroes it
  std::array<unsigned char, kKeyBytes> bytes{};
};

// A notice in its full form, and the older form an older gateway reads (empty when both
// are the same).
struct Notice {
  std::string full;
  std::string older;
};

// "A user device seq": the device's inbox has entries up to seq. With `entry` (its inbox_seq
// is seq) and when it is a 1:1 message small enough to carry, the full form carries it
// (sender, sender_device, sender_pk, client_msg_id, conv_seq, server_ts_ms, content_hint,
// ciphertext, then the MAC): the recipient's gateway pushes it without reading the store.
Notice appended(const std::string& user, std::uint32_t device, std::uint64_t inbox_seq,
                const store::InboxEntry* entry, const Key& key);
// "M owner device reader reader_device group from up_to acked_ms version [follows]".
Notice mark_raised(const std::string& owner, std::uint32_t owner_device,
                   const store::DeliveryMarkRecord& mark, std::optional<std::uint64_t> follows);
// "P user device left".
std::string prekeys_low(const std::string& user, std::uint32_t device, std::uint32_t left);

// A carried entry whose server time is further than this from the receiving gateway's clock
// is not pushed from the notice (but read from the store): a notice held up that long is
// read anyway, and an old notice replayed after the store was restored from a backup, when
// seqs are handed out again, cannot stand in for the entry now at its seq.
inline constexpr std::uint64_t kCarriedFreshnessMs = 5 * 60 * 1000;

enum class Dispatched {
  Handed,        // handed to `to` as published
  EntryRefused,  // an 'A' whose carried entry was refused: handed on as a bare announcement
  Malformed,     // nothing handed on
};

// Parses one notice as published and hands it to `to` (never trusted blindly: whoever can
// write to Redis could send anything). A carried entry not made with `key`, malformed, or
// stamped further than kCarriedFreshnessMs from `now_ms` is dropped and its announcement
// kept, which costs the device's gateway a read, as any bare announcement does.
Dispatched dispatch(std::string_view notice, RoutedNotices& to, const Key& key,
                    std::uint64_t now_ms);

// Field parsers, shared with the presence snapshot's reply. A number parses whole; a name
// must be non-empty and fold to itself.
template <class T>
bool number(std::string_view s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size() && !s.empty();
}
bool username(std::string_view s, std::string& out);

}  // namespace notices
}  // namespace parley::routing
