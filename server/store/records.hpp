#pragma once
// Plain records that cross the storage seam. Byte strings (keys, ids, ciphertext) are held
// in std::string: they are opaque bytes, never text.
#include <cstdint>
#include <memory>
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
  // Highest inbox_seq ever assigned to this device, or this run's floor if higher
  // (run_floor.hpp): the next entry gets a higher one.
  std::uint64_t inbox_tail = 0;
};

// One of a user's devices, as a send addresses it.
struct DeviceAddress {
  DevicePk pk = 0;
  std::uint32_t device_id = 0;
};

// A user as a send finds it: its id and its devices, by device_id.
struct Account {
  UserId user_id = 0;
  std::vector<DeviceAddress> devices;
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

enum class EntryKind : std::uint8_t {
  Message = 1,
  DeliveryReceipt = 2,  // stored by relays before schema 6, which made them delivery marks
  GroupMessage = 3,  // ciphertext: the one sender-key ciphertext
  GroupEvent = 4,    // ciphertext: a serialized wire::GroupEvent written by the relay
};

struct InboxEntry {
  std::uint64_t inbox_seq = 0;
  EntryKind kind = EntryKind::Message;
  std::string sender;  // username
  std::uint32_t sender_device = 0;
  DevicePk sender_pk = 0;  // whose delivery mark this entry's ack raises
  std::string client_msg_id;
  std::uint64_t conv_seq = 0;
  std::uint64_t server_ts_ms = 0;
  std::uint32_t content_hint = 0;
  std::string ciphertext;
  std::string group_id;  // group entries; else empty
};

// An entry of a page read from a device's inbox (Store::read_inbox_page). A group entry is
// the log's own object, shared with the fan-out's live pushes and every member's page and
// never copied per member (its inbox_seq field is not this device's: `inbox_seq` is); a
// 1:1 entry is its row's.
struct PagedEntry {
  std::uint64_t inbox_seq = 0;
  std::shared_ptr<const InboxEntry> entry;
};

// What one acknowledgement covered of one sending device's messages in one conversation
// (1:1: empty group_id): the lowest and highest conv_seq, which raise that device's delivery
// mark.
struct AckedMessages {
  std::string sender;  // username
  std::uint32_t sender_device = 0;
  DevicePk sender_pk = 0;
  std::string group_id;
  std::uint64_t from = 0;
  std::uint64_t up_to = 0;
};

// "Device `reader` has acknowledged every message of `owner` in the conversation (1:1: empty
// group_id) up to conv_seq up_to" (docs/protocol.md 6.6).
struct DeliveryMarkRecord {
  std::string reader;  // username
  std::uint32_t reader_device = 0;
  std::string group_id;
  std::uint64_t from = 0;  // the first conv_seq it covers (a later device or member)
  std::uint64_t up_to = 0;
  std::uint64_t acked_ms = 0;
  std::uint64_t version = 0;
};

// What raising a mark did: its new version, and the first conv_seq it covers.
struct MarkRaised {
  std::uint64_t version = 0;
  std::uint64_t from = 0;
  // The version of the owner's newest mark just before this one (0: it had none), where the
  // store reads it: with several writers a device hearing of this mark has missed none if
  // it has heard of that one (Session::on_mark). SQLite, one writer telling marks in
  // version order, leaves it unread.
  std::optional<std::uint64_t> follows;
};

struct SentRecord {
  std::uint64_t conv_seq = 0;
  std::uint64_t server_ts_ms = 0;
};

// ---- Groups ----

struct GroupRecord {
  std::uint64_t next_seq = 1;  // the seq the next log entry gets
  std::uint64_t epoch = 0;     // bumped by every membership change
};

struct GroupMemberRecord {
  UserId user_id = 0;
  std::string username;
  bool admin = false;
  std::uint64_t joined_seq = 0;
};

// What one sender's group entries hold in the relay (Store::group_load_of).
struct SenderGroupLoad {
  std::uint64_t bytes = 0;    // its entries and the members' rows charged to them
  std::uint64_t pending = 0;  // its entries not yet fanned out to every member
  bool operator==(const SenderGroupLoad&) const = default;
};

// One entry of a group's ordered log: a message or a membership event.
struct GroupLogEntry {
  std::uint64_t seq = 0;
  EntryKind kind = EntryKind::GroupMessage;
  std::string sender;
  std::uint32_t sender_device = 0;
  DevicePk sender_pk = 0;
  std::string client_msg_id;
  std::uint64_t server_ts_ms = 0;
  std::uint32_t content_hint = 0;
  std::string payload;  // ciphertext, or a serialized wire::GroupEvent
};

// What one fan-out step wrote to one device, for live pushes: (username, device_id) got
// `entries` as inbox_seqs first_seq, first_seq + 1, ...; each entry is one object shared by
// every member it went to (its own inbox_seq is unset).
struct FanoutRun {
  std::string username;
  std::uint32_t device_id = 0;
  std::uint64_t first_seq = 0;
  std::vector<std::shared_ptr<const InboxEntry>> entries;
};

struct FanoutStep {
  std::vector<FanoutRun> runs;          // one per device reached, in pk order
  std::uint64_t entries_completed = 0;  // log entries whose fan-out finished in this step
  bool more = false;                    // entries remain after this step
};

// One stored file. `sha256` is empty while the upload is unfinished.
struct MediaRecord {
  std::string id;              // 16 random bytes
  UserId owner = 0;
  std::uint64_t size = 0;      // ciphertext bytes reserved (and, once finished, stored)
  std::string sha256;          // 32 bytes once finished
  std::uint64_t created_ms = 0;
  std::uint64_t completed_ms = 0;
};

}  // namespace parley::store
