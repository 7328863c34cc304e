#include "session/deliver_bodies.hpp"

#include <algorithm>
#include <cstring>

#include "session/frame.hpp"
#include "store/records.hpp"

namespace parley {

std::size_t DeliverBodies::KeyHash::operator()(const Key& k) const {
  // Group ids are random bytes: a slice of them is already a good hash.
  std::uint64_t h;
  std::memcpy(&h, k.group_id.data(), sizeof h);
  return static_cast<std::size_t>(h ^ (k.seq * 0x9e3779b97f4a7c15ull));
}

SharedBytes DeliverBodies::encode(const store::InboxEntry& entry) {
  if (encoded_) encoded_->fetch_add(1, std::memory_order_relaxed);
  return deliver_body(entry);
}

SharedBytes DeliverBodies::get(const store::InboxEntry& entry) {
  Key key{};
  const bool shared = (entry.kind == store::EntryKind::GroupMessage ||
                       entry.kind == store::EntryKind::GroupEvent) &&
                      entry.group_id.size() == key.group_id.size();
  if (!shared) return encode(entry);
  std::memcpy(key.group_id.data(), entry.group_id.data(), key.group_id.size());
  key.seq = entry.conv_seq;
  {
    std::lock_guard lock(mutex_);
    if (auto it = bodies_.find(key); it != bodies_.end())
      if (auto body = it->second.lock()) return body;
  }
  // Encoded outside the lock; if another thread encoded it meanwhile, theirs is kept.
  auto body = encode(entry);
  std::lock_guard lock(mutex_);
  auto& slot = bodies_[key];
  if (auto theirs = slot.lock()) return theirs;
  slot = SharedBytes::Weak(body);
  if (bodies_.size() >= prune_at_) {
    // Forget the bodies no frame holds any more; amortized over the inserts that follow.
    std::erase_if(bodies_, [](const auto& kv) { return kv.second.expired(); });
    prune_at_ = std::max(kMinPrune, 2 * bodies_.size());
  }
  return body;
}

std::size_t DeliverBodies::size_for_test() {
  std::lock_guard lock(mutex_);
  return bodies_.size();
}

}  // namespace parley
