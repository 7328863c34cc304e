#include "routing/notices.hpp"

#include <sodium.h>

#include <memory>
#include <vector>

#include "parley/limits.hpp"
#include "parley/username.hpp"
#include "routing/device_router.hpp"

namespace parley::routing::notices {
namespace {

constexpr int kBase64 = sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
static_assert(kKeyBytes == crypto_auth_KEYBYTES);
constexpr std::size_t kMacChars = sodium_base64_ENCODED_LEN(crypto_auth_BYTES, kBase64) - 1;

std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    const auto sp = s.find(' ');
    out.push_back(s.substr(0, sp));
    if (sp == std::string_view::npos) break;
    s.remove_prefix(sp + 1);
  }
  return out;
}

std::string hex(std::string_view bytes) {
  if (bytes.empty()) return "-";
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  out.pop_back();
  return out;
}

bool unhex(std::string_view s, std::string& out) {
  out.clear();
  if (s == "-") return true;
  if (s.size() % 2 != 0 || s.size() > 128) return false;
  out.resize(s.size() / 2);
  std::size_t len = 0;
  return sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.data(),
                        s.size(), nullptr, &len, nullptr) == 0 &&
         len == out.size();
}

void append_base64(std::string& to, std::string_view bytes) {
  const auto at = to.size();
  const auto room = sodium_base64_ENCODED_LEN(bytes.size(), kBase64);
  to.resize(at + room);
  sodium_bin2base64(to.data() + at, room, reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), kBase64);
  to.resize(at + room - 1);  // its terminating NUL
}

// Strict: libsodium refuses characters outside the alphabet and stray trailing bits, so one
// ciphertext has one spelling. At most `max` bytes.
bool unbase64(std::string_view s, std::size_t max, std::string& out) {
  if (s.empty() || s.size() > sodium_base64_ENCODED_LEN(max, kBase64)) return false;
  out.resize(s.size() * 3 / 4 + 1);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.data(),
                        s.size(), nullptr, &len, &end, kBase64) != 0 ||
      end != s.data() + s.size() || len == 0 || len > max)
    return false;
  out.resize(len);
  return true;
}

// The MAC of `text` under `key`, as the notice's last field.
void append_mac(std::string& text, const Key& key) {
  unsigned char mac[crypto_auth_BYTES];
  crypto_auth(mac, reinterpret_cast<const unsigned char*>(text.data()), text.size(), key.bytes.data());
  text += ' ';
  append_base64(text, std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
}

// Whether the notice's last field is the MAC of all before its separating space. In
// constant time (crypto_auth_verify), so nobody learns a valid MAC byte by byte.
bool mac_holds(std::string_view notice, const Key& key) {
  if (notice.size() <= kMacChars + 1 || notice[notice.size() - kMacChars - 1] != ' ') return false;
  std::string mac;
  if (!unbase64(notice.substr(notice.size() - kMacChars), crypto_auth_BYTES, mac) ||
      mac.size() != crypto_auth_BYTES)
    return false;
  const auto text = notice.substr(0, notice.size() - kMacChars - 1);
  return crypto_auth_verify(reinterpret_cast<const unsigned char*>(mac.data()),
                            reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                            key.bytes.data()) == 0;
}

// What an 'A' notice may carry, checked where it is made and again where it is read: a 1:1
// message, small, with every field a stored one has.
bool carriable(const store::InboxEntry& e) {
  return e.kind == store::EntryKind::Message && e.group_id.empty() && !e.ciphertext.empty() &&
         e.ciphertext.size() <= kCarriedCiphertextMax &&
         e.client_msg_id.size() == limits::kClientMsgIdBytes && !e.sender.empty() &&
         e.sender_device <= limits::kMaxDeviceId && e.sender_pk > 0;
}

// The entry of a 13-field 'A' notice: f[4..11] (f[12] is its MAC), stamped within
// kCarriedFreshnessMs of now_ms.
bool carried_entry(const std::vector<std::string_view>& f, std::uint64_t seq,
                   std::uint64_t now_ms, store::InboxEntry& e) {
  e.inbox_seq = seq;
  e.kind = store::EntryKind::Message;
  return username(f[4], e.sender) && number(f[5], e.sender_device) &&
         number(f[6], e.sender_pk) && unhex(f[7], e.client_msg_id) && number(f[8], e.conv_seq) &&
         number(f[9], e.server_ts_ms) && number(f[10], e.content_hint) &&
         unbase64(f[11], kCarriedCiphertextMax, e.ciphertext) && carriable(e) &&
         (e.server_ts_ms > now_ms ? e.server_ts_ms - now_ms : now_ms - e.server_ts_ms) <=
             kCarriedFreshnessMs;
}

}  // namespace

Key::~Key() { sodium_memzero(bytes.data(), bytes.size()); }

bool username(std::string_view s, std::string& out) {
  out = std::string(s);
  return !out.empty() && fold_username(out) == out;
}

Notice appended(const std::string& user, std::uint32_t device, std::uint64_t inbox_seq,
                const store::InboxEntry* entry, const Key& key) {
  Notice n;
  n.full = "A " + user + " " + std::to_string(device) + " " + std::to_string(inbox_seq);
  if (entry == nullptr || entry->inbox_seq != inbox_seq || !carriable(*entry)) return n;
  n.older = n.full;
  const auto& e = *entry;
  n.full += " " + e.sender + " " + std::to_string(e.sender_device) + " " +
            std::to_string(e.sender_pk) + " " + hex(e.client_msg_id) + " " +
            std::to_string(e.conv_seq) + " " + std::to_string(e.server_ts_ms) + " " +
            std::to_string(e.content_hint) + " ";
  append_base64(n.full, e.ciphertext);
  append_mac(n.full, key);
  return n;
}

Notice mark_raised(const std::string& owner, std::uint32_t owner_device,
                   const store::DeliveryMarkRecord& m, std::optional<std::uint64_t> follows) {
  Notice n;
  n.full = "M " + owner + " " + std::to_string(owner_device) + " " + m.reader + " " +
           std::to_string(m.reader_device) + " " + hex(m.group_id) + " " +
           std::to_string(m.from) + " " + std::to_string(m.up_to) + " " +
           std::to_string(m.acked_ms) + " " + std::to_string(m.version);
  if (follows) {
    n.older = n.full;  // without it the owner's gateway reads the owner's marks instead
    n.full += " " + std::to_string(*follows);
  }
  return n;
}

std::string prekeys_low(const std::string& user, std::uint32_t device, std::uint32_t left) {
  return "P " + user + " " + std::to_string(device) + " " + std::to_string(left);
}

Dispatched dispatch(std::string_view notice, RoutedNotices& to, const Key& key,
                    std::uint64_t now_ms) {
  constexpr auto kHanded = Dispatched::Handed, kMalformed = Dispatched::Malformed;
  if (notice.size() > kMaxBytes) return kMalformed;
  const auto f = fields(notice);
  if (f.size() < 3 || f[0].size() != 1) return kMalformed;
  std::string user;
  if (!username(f[1], user)) return kMalformed;
  const auto flag = [](std::string_view s, bool& out) {
    out = s == "1";
    return s == "0" || s == "1";
  };
  // Per user: "S user about online last_seen", "Y user sender active".
  if (f[0][0] == 'S') {
    PresenceInfo about;
    if (f.size() != 5 || !username(f[2], about.username) || about.username == user ||
        !flag(f[3], about.online) || !number(f[4], about.last_seen_ms))
      return kMalformed;
    to.presence(user, std::move(about));
    return kHanded;
  }
  if (f[0][0] == 'Y') {
    std::string sender;
    bool active = false;
    if (f.size() != 4 || !username(f[2], sender) || sender == user || !flag(f[3], active))
      return kMalformed;
    to.typing(user, sender, active);
    return kHanded;
  }
  std::uint32_t device = 0;
  if (!number(f[2], device)) return kMalformed;
  switch (f[0][0]) {
    case 'A': {
      std::uint64_t seq = 0;
      if ((f.size() != 4 && f.size() != 13) || !number(f[3], seq) || seq == 0) return kMalformed;
      if (f.size() == 4) {
        to.appended(user, device, seq, nullptr);
        return kHanded;
      }
      auto entry = std::make_shared<store::InboxEntry>();
      if (!mac_holds(notice, key) || !carried_entry(f, seq, now_ms, *entry)) {
        to.appended(user, device, seq, nullptr);
        return Dispatched::EntryRefused;
      }
      to.appended(user, device, seq, std::move(entry));
      return kHanded;
    }
    case 'D': {
      std::uint64_t ended = 0;
      if (f.size() != 4 || !number(f[3], ended)) return kMalformed;
      to.displaced(user, device, ended);
      return kHanded;
    }
    case 'P': {
      std::uint32_t left = 0;
      if (f.size() != 4 || !number(f[3], left)) return kMalformed;
      to.prekeys_low(user, device, left);
      return kHanded;
    }
    case 'W': {
      if (f.size() != 3) return kMalformed;
      to.rescan(user, device);
      return kHanded;
    }
    case 'M': {
      // The eleventh field, `follows`, is left out where the raise did not read it (and for
      // gateways reading version 1). A mark follows an older one.
      store::DeliveryMarkRecord m;
      std::optional<std::uint64_t> follows;
      if ((f.size() != 10 && f.size() != 11) || !username(f[3], m.reader) ||
          !number(f[4], m.reader_device) || !unhex(f[5], m.group_id) || !number(f[6], m.from) ||
          !number(f[7], m.up_to) || !number(f[8], m.acked_ms) || !number(f[9], m.version) ||
          (f.size() == 11 && (!number(f[10], follows.emplace()) || *follows >= m.version)))
        return kMalformed;
      to.mark_raised(user, device, std::move(m), follows);
      return kHanded;
    }
    default: return kMalformed;
  }
}

}  // namespace parley::routing::notices
