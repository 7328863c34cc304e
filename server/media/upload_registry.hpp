#pragma once
// Uploads in progress, in memory: which request may write each one now (at most one at a
// time, so two connections never interleave bytes) and the running hash of what is staged.
//
// Thread-safe. A lease's UploadState is touched only by the request holding the lease, and
// the lease passes between threads through the registry's mutex.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "media/blob_store.hpp"
#include "media/sha256_stream.hpp"
#include "store/records.hpp"

namespace parley::media {

struct UploadState {
  std::string media_id;
  std::uint64_t size = 0;              // reserved ciphertext size
  std::unique_ptr<StagedWriter> writer;
  Sha256Stream hash;                   // over staged bytes [0, hashed)
  std::uint64_t hashed = 0;
};

class UploadRegistry {
 public:
  // Exclusive access to the upload `media_id`; null while another request holds it.
  std::shared_ptr<UploadState> lease(const std::string& media_id, std::uint64_t size);
  void release(const std::string& media_id);
  // For readers that only look (HEAD): runs `look` unless a request holds `media_id`. Takes
  // no lease, so a look never makes a writer's PATCH fail as busy; `look` runs under the
  // registry's lock, so no writer can start meanwhile and what it sees is between two writes.
  template <class Look>
  void look_if_idle(const std::string& media_id, Look&& look) {
    std::lock_guard lock(mutex_);
    if (const auto it = uploads_.find(media_id); it == uploads_.end() || !it->second.leased)
      look();
  }
  // The upload finished or was purged: drop its state.
  void forget(const std::string& media_id);
  // Drops the state of uploads nobody has leased since `before`: among gateways sharing the
  // blobs, one finished or purged elsewhere is never forgotten here otherwise. One resumed
  // later hashes its staged bytes again when it finishes.
  void drop_idle(std::chrono::steady_clock::time_point before);
  std::size_t size();

 private:
  struct Slot {
    std::shared_ptr<UploadState> state;
    bool leased = false;
    std::chrono::steady_clock::time_point used{};
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Slot> uploads_;
};

}  // namespace parley::media
