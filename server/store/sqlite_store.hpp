#pragma once
// The embedded default store: one SQLite file in WAL mode under the data directory.
// Statements are prepared once and reused; every method runs inside the worker's batch.
#include <filesystem>
#include <memory>

#include "store/sqlite_marks.hpp"
#include "store/sqlite_media.hpp"
#include "store/store.hpp"

namespace parley::store {

// Full: every commit() is synced before it returns (a commit_unsynced() is not). Normal: none
// is; the WAL is synced at checkpoints. See open() in the .cpp.
enum class Durability { Full, Normal };

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) <data_dir>/relay.db and brings its schema up to date.
  SqliteStore(const std::filesystem::path& data_dir, Durability durability);
  ~SqliteStore() override;

  // WAL pages between checkpoints under each durability (Full keeps SQLite's default): see
  // Impl's constructor in the .cpp.
  static constexpr int kFullCheckpointPages = 1000;
  static constexpr int kNormalCheckpointPages = 250;

  void begin() override;
  void commit() override;
  bool commit_unsynced() override;
  void rollback() override;
  void savepoint() override;
  void release_savepoint() override;
  void rollback_to_savepoint() override;

  std::string relay_id() override;

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
  // How many inbox weights were summed from the table (a cached one costs none).
  std::uint64_t inbox_weighings() const;

  std::vector<PagedEntry> read_inbox_page(DevicePk device, std::uint64_t after_seq,
                                          std::size_t limit, std::size_t max_bytes) override;
  using Store::delete_acked;
  std::span<const AckedMessages> delete_acked(DevicePk device, std::uint64_t up_to, std::size_t max_rows,
                                          std::uint64_t& reached) override;

  std::optional<MarkRaised> raise_delivery_mark(DevicePk owner, DevicePk reader,
                                                std::string_view group_id, std::uint64_t from,
                                                std::uint64_t up_to,
                                                std::uint64_t acked_ms) override;
  std::vector<DeliveryMarkRecord> delivery_marks_after(DevicePk owner,
                                                       std::uint64_t after_version,
                                                       std::size_t limit) override;
  std::uint64_t delivery_mark_version() override;

  std::uint64_t purge(std::uint64_t inbox_before_ms, std::uint64_t sent_before_ms) override;
  std::uint64_t purge_abandoned_groups() override;
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
  // COMMIT and what goes with it, then, under Full and if the transaction wrote, the WAL's
  // sync unless `sync` is false, then a checkpoint if due: whether a sync was left out.
  bool end_transaction(bool sync);

  std::unique_ptr<Impl> impl_;
  std::unique_ptr<SqliteMedia> media_;
  std::unique_ptr<SqliteMarks> marks_;
};

}  // namespace parley::store
