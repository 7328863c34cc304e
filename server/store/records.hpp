#pragma once
// Plain records that cross the storage seam. Byte strings (keys, ids, ciphertext) are held
// in std::string: they are opaque bytes, never text.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace parley::store {

using UserId = std::int64_t;
using DevicePk = std::int64_t;  // the store's key for one (user, device_id)

struct DeviceRecord {
  UserId user_id = 0;
  DevicePk pk = 0;
  std::uint32_t device_id = 0;
  std::string identity_key;
  std::uint64_t inbox_tail = 0;  // highest inbox_seq ever assigned to this device
};

struct SignedPrekeyRecord {
  std::uint32_t id = 0;
  std::string public_key;
  std::string signature;
};

struct OneTimePrekeyRecord {
  std::uint32_t id = 0;
  std::string public_key;
};

struct BundleRecord {
  std::uint32_t device_id = 0;
  std::string identity_key;
  std::optional<SignedPrekeyRecord> signed_prekey;
  std::optional<OneTimePrekeyRecord> one_time_prekey;
  DevicePk pk = 0;
  std::uint32_t one_time_left = 0;  // after this fetch
};

enum class EntryKind : std::uint8_t { Message = 1, DeliveryReceipt = 2 };

struct InboxEntry {
  std::uint64_t inbox_seq = 0;
  EntryKind kind = EntryKind::Message;
  std::string sender;  // username
  std::uint32_t sender_device = 0;
  DevicePk sender_pk = 0;  // where a delivery receipt for this entry goes
  std::string client_msg_id;
  std::uint64_t conv_seq = 0;
  std::uint64_t server_ts_ms = 0;
  std::uint32_t content_hint = 0;
  std::string ciphertext;
};

struct SentRecord {
  std::uint64_t conv_seq = 0;
  std::uint64_t server_ts_ms = 0;
};

}  // namespace parley::store
