#pragma once
// The store for relays beyond one machine: every gateway's StoreWorker holds one connection
// to the same PostgreSQL database. It keeps in memory only what cannot go stale under other
// writers (accounts, which never change once made; a fan-out range, whose entries and
// members are fixed) and takes row locks where SQLite relied on being the only writer:
// a device's inbox seq, a conversation's seq, a group's log seq and fan-out cursor, and the
// order of one device's delivery-mark versions (docs/architecture.md, "Scaling seams").
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "store/store.hpp"

namespace parley::store {

// The inbox depth of one relay's several stores (--store-connections), each adding what its
// commits changed; `gauge`, if set, follows it (the metric), set under the same lock so two
// stores' updates never land out of order.
struct SharedDepth {
  std::mutex mutex;
  std::int64_t entries = 0;
  std::atomic<std::uint64_t>* gauge = nullptr;
  void set(std::int64_t n);  // a recount
  void add(std::int64_t n);  // a commit's changes
  std::uint64_t get();

 private:
  std::uint64_t get_locked() const { return entries > 0 ? static_cast<std::uint64_t>(entries) : 0; }
};

class PostgresStore final : public Store {
 public:
  // `conninfo`: a libpq connection string or postgresql:// URI. Connects and brings the
  // schema up to date; throws if either fails. `depth`: shared with the relay's other
  // stores; none: counted here, from the database.
  explicit PostgresStore(const std::string& conninfo, std::shared_ptr<SharedDepth> depth = {});
  std::shared_ptr<SharedDepth> shared_depth() const;
  ~PostgresStore() override;

  void begin() override;
  void commit() override;
  void rollback() override;
  void savepoint() override;
  void release_savepoint() override;
  void rollback_to_savepoint() override;
  bool conflicted(const std::exception& e) const override;

  std::string relay_id() override;
  std::string routing_key() override;

  std::optional<UserId> find_user(std::string_view username) override;
  std::optional<DeviceRecord> find_device(std::string_view username,
                                          std::uint32_t device_id) override;
  std::optional<DeviceRecord> create_account(std::string_view username,
                                             std::string_view identity_key,
                                             std::uint32_t device_id,
                                             std::uint64_t now_ms) override;
  std::shared_ptr<const Account> find_account(std::string_view username) override;
  std::uint64_t inbox_tail(DevicePk device) override;

  void set_signed_prekey(DevicePk device, const SignedPrekeyRecord& key) override;
  bool has_signed_prekey(DevicePk device) override;
  std::uint32_t add_one_time_prekeys(DevicePk device, std::span<const OneTimePrekeyRecord> keys,
                                     std::uint32_t cap) override;
  std::uint32_t one_time_prekey_count(DevicePk device) override;
  std::vector<BundleRecord> take_bundles(UserId user, bool one_time) override;

  std::optional<SentRecord> find_sent(UserId sender, std::string_view client_msg_id) override;
  void remember_sent(UserId sender, std::string_view client_msg_id,
                     const SentRecord& ack) override;
  std::uint64_t next_conv_seq(std::string_view conv_key) override;
  void append_inbox(DevicePk device, InboxEntry& entry) override;
  InboxLoad inbox_load(DevicePk device, DevicePk sender) override;
  std::optional<SentRecord> check_send(UserId sender_user, std::string_view client_msg_id,
                                       DevicePk sender, std::span<const DeviceAddress> devices,
                                       std::span<InboxLoad> loads) override;
  bool reads_ahead() const override { return true; }
  void read_send_ahead(UserId sender_user, std::string_view client_msg_id, DevicePk sender,
                       std::span<const DeviceAddress> devices) override;
  void read_acked_ahead(DevicePk device, std::uint64_t up_to, std::size_t max_rows) override;
  void read_ahead() override;
  void forget_read_ahead() override;
  // Store::append_message stays Store's own (one round trip per seq): a send takes its
  // seqs here, server-side.
  void append_message_by_commit(std::string_view conv_key, std::span<const Append> appends,
                                UserId sender_user, std::string_view client_msg_id,
                                SentRecord& ack) override;

  std::vector<PagedEntry> read_inbox_page(DevicePk device, std::uint64_t after_seq,
                                          std::size_t limit, std::size_t max_bytes) override;
  using Store::delete_acked;
  std::span<const AckedMessages> delete_acked(DevicePk device, std::uint64_t up_to,
                                              std::size_t max_rows,
                                              std::uint64_t& reached) override;

  std::optional<MarkRaised> raise_delivery_mark(DevicePk owner, DevicePk reader,
                                                std::string_view group_id, std::uint64_t from,
                                                std::uint64_t up_to,
                                                std::uint64_t acked_ms) override;
  void raise_delivery_mark_by_commit(DevicePk owner, DevicePk reader, std::string_view group_id,
                                     std::uint64_t from, std::uint64_t up_to,
                                     std::uint64_t acked_ms,
                                     std::optional<MarkRaised>& raised) override;
  std::vector<DeliveryMarkRecord> delivery_marks_after(DevicePk owner,
                                                       std::uint64_t after_version,
                                                       std::size_t limit) override;
  std::uint64_t delivery_mark_version() override;

  std::uint64_t purge(std::uint64_t inbox_before_ms, std::uint64_t sent_before_ms) override;
  std::uint64_t purge_abandoned_groups() override;
  // What this relay last counted (at start and at each purge), moved by its own writes since:
  // other gateways' writes show at the next count.
  std::uint64_t inbox_depth() override;

  void create_group(std::string_view group_id, std::uint64_t now_ms) override;
  std::optional<GroupRecord> find_group(std::string_view group_id) override;
  std::vector<GroupMemberRecord> group_members(std::string_view group_id) override;
  void add_group_member(std::string_view group_id, UserId user, bool admin,
                        std::uint64_t joined_seq) override;
  void end_group_membership(std::string_view group_id, UserId user,
                            std::uint64_t left_seq) override;
  void set_group_admin(std::string_view group_id, UserId user, bool admin) override;
  std::optional<GroupMemberRecord> find_group_member(std::string_view group_id,
                                                     UserId user) override;
  std::uint64_t bump_group_epoch(std::string_view group_id) override;
  void append_group_log(std::string_view group_id, GroupLogEntry& entry) override;
  SenderGroupLoad group_load_of(DevicePk sender) override;
  FanoutStep fan_out_group(std::string_view group_id, std::size_t max_appends) override;
  std::vector<std::string> groups_behind(std::uint64_t* entries_behind) override;

  void create_media(const MediaRecord& media) override;
  std::optional<MediaRecord> find_media(std::string_view media_id) override;
  std::uint64_t media_bytes(UserId owner) override;
  std::uint32_t unfinished_uploads(UserId owner, std::uint64_t since_ms) override;
  bool complete_media(std::string_view media_id, std::string_view sha256,
                      std::uint64_t now_ms) override;
  std::vector<MediaRecord> purge_media(std::uint64_t before_ms,
                                       std::uint64_t unfinished_before_ms) override;
  bool blob_referenced(std::string_view sha256) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::store
