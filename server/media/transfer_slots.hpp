#pragma once
// How many media transfers run at once: at most `per_user` downloads for one user, and at
// most `total` transfers (uploads and downloads) in the relay. Each holds a socket, a blob's
// file descriptor and a 256 KiB piece buffer for as long as the transfer lasts (hours for a
// large file at the slowest rate served), and a download token serves any number of requests:
// without a bound one user could open connections until the relay ran out of descriptors.
// Any thread (one mutex; taken once per transfer, not per piece).
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "store/records.hpp"

namespace parley::media {

class TransferSlots {
 public:
  TransferSlots(std::uint32_t per_user, std::uint32_t total) : per_user_(per_user), total_(total) {}
  TransferSlots(const TransferSlots&) = delete;
  TransferSlots& operator=(const TransferSlots&) = delete;

  // One running transfer; its place is given back when this goes.
  class Held {
   public:
    Held(Held&& o) noexcept : slots_(o.slots_), user_(o.user_) { o.slots_ = nullptr; }
    Held& operator=(Held&&) = delete;
    ~Held() {
      if (slots_) slots_->release(user_);
    }

   private:
    friend class TransferSlots;
    Held(TransferSlots* slots, std::optional<store::UserId> user) : slots_(slots), user_(user) {}
    TransferSlots* slots_;
    std::optional<store::UserId> user_;
  };

  // A download by `user`; nullopt when the user or the relay is at its limit.
  std::optional<Held> download(store::UserId user) { return take(user); }
  // An upload (bounded per user already: one writer per upload, --media-max-uploads).
  std::optional<Held> upload() { return take(std::nullopt); }

 private:
  std::optional<Held> take(std::optional<store::UserId> user) {
    std::lock_guard lock(mutex_);
    if (running_ >= total_) return std::nullopt;
    if (user) {
      auto& mine = by_user_[*user];
      if (mine >= per_user_) return std::nullopt;
      ++mine;
    }
    ++running_;
    return Held(this, user);
  }

  void release(std::optional<store::UserId> user) {
    std::lock_guard lock(mutex_);
    --running_;
    if (!user) return;
    auto it = by_user_.find(*user);
    if (it != by_user_.end() && --it->second == 0) by_user_.erase(it);
  }

  const std::uint32_t per_user_;
  const std::uint32_t total_;
  std::mutex mutex_;
  std::uint32_t running_ = 0;
  std::unordered_map<store::UserId, std::uint32_t> by_user_;
};

}  // namespace parley::media
