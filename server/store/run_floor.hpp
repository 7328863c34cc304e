#pragma once
// Numbers the relay hands out before the commit that stores them is safe on disk, and that
// clients keep: delivery mark versions and inbox_seqs. Under --durability normal a power cut
// can take back the last commits after their numbers were pushed, so a run must not count
// on, say, MAX(seq) to know where the previous one stopped. Each run starts instead a fixed
// gap above a floor kept in `meta`: the run's start is stored, and synced, when the store
// opens, before anything is handed out, and then again whenever the numbers have run a
// quarter of the gap ahead of the stored value. So the next run starts at least half the gap
// above every number this one gave out, even if a power cut took back the last write. Gaps
// are harmless for both uses; 2^31 runs fit in the 63 bits a number may use. (A data
// directory restored from a backup is covered only if the backup was taken in the run just
// before: the runs after it, and the floors they stored, are gone with it.)
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace SQLite {
class Database;
}

namespace parley::store {

class RunFloor {
 public:
  static constexpr std::uint64_t kRunGap = std::uint64_t{1} << 32;

  // Reads meta[key] and stores this run's start (`start()`): kRunGap above the stored value,
  // or what `first_start()` says when there is none yet. Outside any transaction: it
  // commits, synced whatever the connection's synchronous setting.
  RunFloor(SQLite::Database& db, std::string key,
           const std::function<std::uint64_t()>& first_start);
  ~RunFloor();

  // Nothing this run hands out is at or below it.
  std::uint64_t start() const { return start_; }

  // `n` was handed out in the open transaction.
  void handed_out(std::uint64_t n) {
    if (n > high_) high_ = n;
  }

  // Inside the transaction, before its COMMIT: writes the highest number handed out when it
  // has run kRunGap / 4 past the stored value.
  void before_commit();
  void committed() { saved_ = written_; }
  void rolled_back() { written_ = saved_; }

 private:
  void save(std::uint64_t value);

  struct Statements;
  std::unique_ptr<Statements> st_;
  std::uint64_t start_ = 0;
  std::uint64_t high_ = 0;     // the highest number handed out
  std::uint64_t written_ = 0;  // written in the open transaction
  std::uint64_t saved_ = 0;    // committed
};

}  // namespace parley::store
