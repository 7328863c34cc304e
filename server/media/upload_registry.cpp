#include "media/upload_registry.hpp"

namespace parley::media {

std::shared_ptr<UploadState> UploadRegistry::lease(const std::string& media_id,
                                                   std::uint64_t size) {
  std::lock_guard lock(mutex_);
  auto& slot = uploads_[media_id];
  if (slot.leased) return nullptr;
  if (!slot.state) {
    slot.state = std::make_shared<UploadState>();
    slot.state->media_id = media_id;
    slot.state->size = size;
  }
  slot.leased = true;
  slot.used = std::chrono::steady_clock::now();
  return slot.state;
}

void UploadRegistry::release(const std::string& media_id) {
  std::lock_guard lock(mutex_);
  const auto it = uploads_.find(media_id);
  if (it == uploads_.end()) return;
  it->second.leased = false;
  it->second.used = std::chrono::steady_clock::now();
  // The open file is not kept between requests: an idle upload costs no descriptor.
  if (it->second.state) it->second.state->writer.reset();
}

void UploadRegistry::forget(const std::string& media_id) {
  std::lock_guard lock(mutex_);
  uploads_.erase(media_id);
}

void UploadRegistry::drop_idle(std::chrono::steady_clock::time_point before) {
  std::lock_guard lock(mutex_);
  std::erase_if(uploads_, [&](const auto& entry) {
    return !entry.second.leased && entry.second.used < before;
  });
}

std::size_t UploadRegistry::size() {
  std::lock_guard lock(mutex_);
  return uploads_.size();
}

}  // namespace parley::media
