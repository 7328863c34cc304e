#pragma once
// The relay's durable state behind one narrow interface: accounts, prekeys, per-device
// inboxes and the send dedup window. The embedded default is SqliteStore; a PostgreSQL store
// for the multi-gateway tier implements the same interface.
//
// Contract: a Store is used from exactly one thread (the StoreWorker's), always inside a
// transaction that the worker opened; methods throw std::exception on storage failure, and the
// worker rolls the transaction back and runs its jobs again, each in a savepoint, so that the
// failing one is rolled back alone (store_worker.hpp).
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.hpp"

namespace parley::store {

class Store {
 public:
  virtual ~Store() = default;

  // Transaction control, for the worker only.
  virtual void begin() = 0;
  // Returns once the transaction is durable.
  virtual void commit() = 0;
  // For a transaction whose writes what is durable makes again (fan-out steps alone:
  // store_worker.hpp, Background): the store may return before it is on disk, where the next
  // synced commit or checkpoint puts it, in order. A power cut (never a process crash) can
  // then take it back. True if it did leave the sync out; by default it is a commit like any
  // other.
  virtual bool commit_unsynced() {
    commit();
    return false;
  }
  virtual void rollback() = 0;
  virtual void savepoint() = 0;
  virtual void release_savepoint() = 0;
  virtual void rollback_to_savepoint() = 0;
  // Whether `e`, thrown by a job or a commit, says only that another writer held what it
  // needed (a deadlock, a lock wait past its limit): run again later, it can succeed. Never
  // so for a store with one writer.
  virtual bool conflicted(const std::exception& e) const {
    (void)e;
    return false;
  }

  // 16 random bytes made when the data directory was first used; signed in every login.
  virtual std::string relay_id() = 0;
  // 32 random bytes made by the first gateway on a shared store, read by every other: the
  // key of the MACs on the entries gateways hand each other through Redis
  // (routing/notices.hpp), which Redis must not be able to forge. Secret: the caller zeroes
  // it once copied. Only a store that gateways share has one.
  virtual std::string routing_key() {
    throw std::logic_error("only a store shared among gateways has a routing key");
  }

  // Accounts. `username` is always already case-folded.
  virtual std::optional<UserId> find_user(std::string_view username) = 0;
  virtual std::optional<DeviceRecord> find_device(std::string_view username,
                                                  std::uint32_t device_id) = 0;
  virtual std::optional<DeviceRecord> create_account(std::string_view username,
                                                     std::string_view identity_key,
                                                     std::uint32_t device_id,
                                                     std::uint64_t now_ms) = 0;  // nullopt: taken
  // The user and its devices, as a send addresses them; nullptr: no such user.
  virtual std::shared_ptr<const Account> find_account(std::string_view username) = 0;
  virtual std::uint64_t inbox_tail(DevicePk device) = 0;

  // Prekeys.
  virtual void set_signed_prekey(DevicePk device, const SignedPrekeyRecord& key) = 0;
  virtual bool has_signed_prekey(DevicePk device) = 0;
  // Adds keys (ignoring ids already stocked) up to `cap` in total; returns the stock after.
  virtual std::uint32_t add_one_time_prekeys(DevicePk device,
                                             std::span<const OneTimePrekeyRecord> keys,
                                             std::uint32_t cap) = 0;
  virtual std::uint32_t one_time_prekey_count(DevicePk device) = 0;
  // One bundle per device of `user`, each taking (deleting) at most one one-time prekey, and
  // none unless `one_time` (then the signed prekey only).
  virtual std::vector<BundleRecord> take_bundles(UserId user, bool one_time) = 0;

  // Sending.
  virtual std::optional<SentRecord> find_sent(UserId sender, std::string_view client_msg_id) = 0;
  virtual void remember_sent(UserId sender, std::string_view client_msg_id,
                             const SentRecord& ack) = 0;
  virtual std::uint64_t next_conv_seq(std::string_view conv_key) = 0;
  // Assigns the device's next inbox_seq to `entry` and stores it.
  virtual void append_inbox(DevicePk device, InboxEntry& entry) = 0;
  // What the device's undelivered 1:1 entries weigh against its inbox quota (`total`: each
  // one's ciphertext plus kInboxRowBytes; group rows weigh nothing here, inbox_weights.hpp),
  // and the part of it the device `sender` sent (1:1 messages only; every account has one
  // device, so this is the part one user sent; a relay with several devices per account
  // would sum its user's). Both at once: a send checks the two, and a store across the
  // network answers them in one statement.
  struct InboxLoad {
    std::uint64_t total = 0, from_sender = 0;
  };
  virtual InboxLoad inbox_load(DevicePk device, DevicePk sender) = 0;
  std::uint64_t inbox_bytes(DevicePk device) { return inbox_load(device, kNoDevice).total; }
  std::uint64_t inbox_bytes_from(DevicePk device, DevicePk sender) {
    return inbox_load(device, sender).from_sender;
  }
  static constexpr DevicePk kNoDevice = 0;  // device keys start at 1
  static constexpr std::uint64_t kInboxRowBytes = 128;

  // A 1:1 send's two steps, each read at once (a store across the network: one round trip
  // each, where the calls they are made of take one per statement).
  //
  // What a send reads before it writes: the sent record if `sender_user` stored
  // `client_msg_id` before (`loads` then left as they were), else the inbox_load of each of
  // `devices` with `sender` into `loads` (as many as `devices`).
  virtual std::optional<SentRecord> check_send(UserId sender_user, std::string_view client_msg_id,
                                               DevicePk sender,
                                               std::span<const DeviceAddress> devices,
                                               std::span<InboxLoad> loads) {
    auto seen = find_sent(sender_user, client_msg_id);
    if (seen) return seen;
    for (std::size_t i = 0; i < devices.size(); ++i) loads[i] = inbox_load(devices[i].pk, sender);
    return std::nullopt;
  }
  // check_send's reads for a send the batch will run, sent ahead with the other jobs' in
  // one round trip by read_ahead() (a store across the network; here: nothing). check_send
  // answers from them when nothing this transaction wrote since could have changed them,
  // and reads for itself otherwise. forget_read_ahead() drops what was read and not used.
  virtual bool reads_ahead() const { return false; }  // whether the calls below do anything
  virtual void read_send_ahead(UserId /*sender_user*/, std::string_view /*client_msg_id*/,
                               DevicePk /*sender*/, std::span<const DeviceAddress> /*devices*/) {}
  // delete_acked's read for an ack the batch will run, likewise (its rows locked as
  // delete_acked locks them, so the worker begins the transaction first): the device's next
  // delete_acked answers from it if asked the same, and reads for itself otherwise.
  virtual void read_acked_ahead(DevicePk /*device*/, std::uint64_t /*up_to*/,
                                std::size_t /*max_rows*/) {}
  virtual void read_ahead() {}
  virtual void forget_read_ahead() {}
  // One message to each of its recipient's devices: the conversation's next seq (returned,
  // and each entry's conv_seq), then each entry appended as append_inbox does.
  struct Append {
    DevicePk device = 0;
    InboxEntry* entry = nullptr;
  };
  virtual std::uint64_t append_message(std::string_view conv_key,
                                       std::span<const Append> appends) {
    const auto conv_seq = next_conv_seq(conv_key);
    for (const auto& a : appends) {
      a.entry->conv_seq = conv_seq;
      append_inbox(a.device, *a.entry);
    }
    return conv_seq;
  }
  // append_message, then remember_sent of `ack` (its server_ts_ms set) for it, for a job that
  // reads the seqs only once its transaction committed: `ack.conv_seq` and the entries' seqs
  // are set by then (a store across the network takes them server-side, read with a later
  // round trip, at the latest the COMMIT's, and so saves one). They stay where they are until
  // then.
  virtual void append_message_by_commit(std::string_view conv_key,
                                        std::span<const Append> appends, UserId sender_user,
                                        std::string_view client_msg_id, SentRecord& ack) {
    ack.conv_seq = append_message(conv_key, appends);
    remember_sent(sender_user, client_msg_id, ack);
  }

  // Delivery. Entries after `after_seq` in order: at most `limit`, and stopping once their
  // ciphertext reaches `max_bytes` (always at least one).
  virtual std::vector<PagedEntry> read_inbox_page(DevicePk device, std::uint64_t after_seq,
                                                  std::size_t limit, std::size_t max_bytes) = 0;
  // The same as plain values, each with its inbox_seq (tests and tools; copies group entries).
  std::vector<InboxEntry> read_inbox(DevicePk device, std::uint64_t after_seq,
                                     std::size_t limit, std::size_t max_bytes) {
    const auto page = read_inbox_page(device, after_seq, limit, max_bytes);
    std::vector<InboxEntry> out;
    out.reserve(page.size());
    for (const auto& p : page) {
      out.push_back(*p.entry);
      out.back().inbox_seq = p.inbox_seq;
    }
    return out;
  }
  // Deletes the entries <= up_to, from the oldest, stopping after `max_rows` inbox rows, and
  // returns, per sending device and conversation, the MESSAGE and GROUP_MESSAGE entries
  // deleted (their lowest and highest conv_seq), in no particular order, so the caller can
  // raise delivery marks. `reached` is set to the seq through which all are gone: up_to, or
  // less when max_rows stopped it. The list is the store's, valid until its next
  // delete_acked: an ack job reads it at once, and needs no list of its own.
  virtual std::span<const AckedMessages> delete_acked(DevicePk device, std::uint64_t up_to,
                                                      std::size_t max_rows,
                                                      std::uint64_t& reached) = 0;
  // All of them.
  std::span<const AckedMessages> delete_acked(DevicePk device, std::uint64_t up_to) {
    std::uint64_t reached = 0;
    return delete_acked(device, up_to, std::numeric_limits<std::size_t>::max(), reached);
  }

  // Delivery marks (docs/protocol.md 6.6). Raises the mark of `owner`'s messages read by
  // `reader` in a conversation (1:1: empty group_id) to up_to, making it at `from` (the
  // first conv_seq it covers) if there is none, and gives it the next relay-wide version;
  // nullopt when it already was that high (nothing changed).
  virtual std::optional<MarkRaised> raise_delivery_mark(DevicePk owner, DevicePk reader,
                                                        std::string_view group_id,
                                                        std::uint64_t from, std::uint64_t up_to,
                                                        std::uint64_t acked_ms) = 0;
  // The same, for a job that reads the outcome only once its transaction committed:
  // `raised` is set by then (a store across the network reads it with a later round trip,
  // at the latest the COMMIT's, and so saves one). `raised` stays where it is until then.
  virtual void raise_delivery_mark_by_commit(DevicePk owner, DevicePk reader,
                                             std::string_view group_id, std::uint64_t from,
                                             std::uint64_t up_to, std::uint64_t acked_ms,
                                             std::optional<MarkRaised>& raised) {
    raised = raise_delivery_mark(owner, reader, group_id, from, up_to, acked_ms);
  }
  // The marks of `owner` with a version above `after_version`, by version, at most `limit`.
  virtual std::vector<DeliveryMarkRecord> delivery_marks_after(DevicePk owner,
                                                               std::uint64_t after_version,
                                                               std::size_t limit) = 0;
  // The highest version handed out so far.
  virtual std::uint64_t delivery_mark_version() = 0;

  // Retention: removes inbox entries stored before `inbox_before_ms` and dedup records made
  // before `sent_before_ms`. Returns the number of inbox entries removed.
  virtual std::uint64_t purge(std::uint64_t inbox_before_ms, std::uint64_t sent_before_ms) = 0;

  // Groups nobody is a member of any more whose log is fully fanned out: removes the group
  // with its membership history, log, fan-out cursor and delivery marks, so the relay keeps no metadata for
  // them. Returns the number of groups removed.
  virtual std::uint64_t purge_abandoned_groups() = 0;

  // Entries currently waiting in all inboxes.
  virtual std::uint64_t inbox_depth() = 0;

  // Groups. A group has an ordered log (messages and membership events, seq 1, 2, ...) and a
  // membership history: a member receives entry s iff joined_seq <= s <= left_seq (or it
  // has not left), so a removed member gets its REMOVED event and nothing after it.
  virtual void create_group(std::string_view group_id, std::uint64_t now_ms) = 0;
  virtual std::optional<GroupRecord> find_group(std::string_view group_id) = 0;
  // Current members (not left), in joining order.
  virtual std::vector<GroupMemberRecord> group_members(std::string_view group_id) = 0;
  // Also forgets delivery marks the user's devices have in the group from an earlier
  // membership, so its marks start again with what it gets now.
  virtual void add_group_member(std::string_view group_id, UserId user, bool admin,
                                std::uint64_t joined_seq) = 0;
  virtual void end_group_membership(std::string_view group_id, UserId user,
                                    std::uint64_t left_seq) = 0;
  virtual void set_group_admin(std::string_view group_id, UserId user, bool admin) = 0;
  // The current membership of `user` (nullopt: not a member now).
  virtual std::optional<GroupMemberRecord> find_group_member(std::string_view group_id,
                                                             UserId user) = 0;
  // Adds one to the group's epoch and returns it.
  virtual std::uint64_t bump_group_epoch(std::string_view group_id) = 0;
  // Assigns entry.seq = next_seq, stores the entry and advances next_seq.
  virtual void append_group_log(std::string_view group_id, GroupLogEntry& entry) = 0;
  // What the relay holds for the group messages and membership events `sender` appended, in
  // every group (one device per account, so per user, as inbox_bytes_from): each entry its
  // payload plus kGroupEntryBytes, kept until the last member acknowledges it (or retention
  // takes it), and kGroupEntryBytes for each member's inbox row charged to it (a row is
  // charged to the sender of the last entry it names, until it goes); and how many of its
  // entries the fan-out has not yet given to every member, whose rows are still to come.
  virtual SenderGroupLoad group_load_of(DevicePk sender) = 0;
  // An entry's rows (its log row and reference count), and a member's range row, as
  // kInboxRowBytes is an inbox row's, so a flood of tiny messages is weighed for what it
  // costs. Schema step 11's triggers and step 12 write the same 128.
  static constexpr std::uint64_t kGroupEntryBytes = 128;
  // Log entries a fan-out range takes at most. Each member device gets the range's entries
  // in one step and one inbox row, so up to this many reach it in two socket writes (of 32
  // frames) and an acknowledgement or two. 64 rather than 32: ~10 % more fan-out
  // deliveries/s with SQLite, the acks (a page or two of the WAL each) being most of what a
  // delivery still costs the store.
  static constexpr std::uint64_t kFanoutRange = 64;
  // Durable fan-out: writes inbox entries for the next devices owed the next log entries,
  // at most `max_appends`, and records the progress in the same transaction.
  virtual FanoutStep fan_out_group(std::string_view group_id, std::size_t max_appends) = 0;
  // Groups whose fan-out is behind their log, and how many log entries are owed in all.
  virtual std::vector<std::string> groups_behind(std::uint64_t* entries_behind) = 0;

  // Media (docs/protocol.md, "Media"). The bytes live in a media::BlobStore; these records
  // say who owns which upload and which blob (by hash) a finished one is.
  virtual void create_media(const MediaRecord& media) = 0;
  virtual std::optional<MediaRecord> find_media(std::string_view media_id) = 0;
  // Bytes reserved by every upload of `owner`, finished or not (what the quota counts).
  virtual std::uint64_t media_bytes(UserId owner) = 0;
  // Unfinished uploads of `owner` created at or after `since_ms`.
  virtual std::uint32_t unfinished_uploads(UserId owner, std::uint64_t since_ms) = 0;
  // False when no upload has that id any more (retention purged it meanwhile).
  virtual bool complete_media(std::string_view media_id, std::string_view sha256,
                              std::uint64_t now_ms) = 0;
  // Removes media created before `before_ms` and unfinished uploads created before
  // `unfinished_before_ms`; returns them so their bytes can be deleted.
  virtual std::vector<MediaRecord> purge_media(std::uint64_t before_ms,
                                               std::uint64_t unfinished_before_ms) = 0;
  // True while any finished media still names this blob.
  virtual bool blob_referenced(std::string_view sha256) = 0;
};

}  // namespace parley::store
