#include "presence/local_presence.hpp"

#include <algorithm>

namespace parley {

bool LocalPresence::mutual(const std::string& a, const std::string& b) const {
  auto wa = watching_.find(a);
  auto wb = watching_.find(b);
  return wa != watching_.end() && wb != watching_.end() && wa->second.contains(b) &&
         wb->second.contains(a);
}

std::vector<std::shared_ptr<Session>> LocalPresence::sessions_locked(std::string_view user) const {
  std::vector<std::shared_ptr<Session>> out;
  if (auto it = online_.find(user); it != online_.end()) {
    for (const auto& d : it->second) {
      if (auto s = d.session.lock()) out.push_back(std::move(s));
    }
  }
  return out;
}

PresenceRegistry::Attached LocalPresence::attach(const std::string& user, std::uint32_t device,
                                                 const std::shared_ptr<Session>& session) {
  Attached result;
  std::lock_guard lock(mutex_);
  auto& devices = online_[user];
  const bool was_online = !devices.empty();
  auto it = std::find_if(devices.begin(), devices.end(),
                         [&](const Device& d) { return d.id == device; });
  if (it != devices.end()) {
    result.displaced = it->session.lock();
    it->session = session;
  } else {
    devices.push_back(Device{device, session});
  }
  if (!was_online) {
    last_seen_.erase(user);
    if (auto w = watching_.find(user); w != watching_.end()) {
      for (const auto& target : w->second) {
        if (target == user || !mutual(user, target)) continue;
        for (auto& s : sessions_locked(target))
          result.notices.push_back({std::move(s), PresenceInfo{user, true, 0}});
      }
    }
  }
  return result;
}

std::vector<PresenceNotice> LocalPresence::detach(const std::string& user, std::uint32_t device,
                                                  const Session* session, std::uint64_t now_ms) {
  std::vector<PresenceNotice> notices;
  std::lock_guard lock(mutex_);
  auto it = online_.find(user);
  if (it == online_.end()) return notices;
  auto& devices = it->second;
  auto d = std::find_if(devices.begin(), devices.end(), [&](const Device& x) {
    return x.id == device && (x.session.expired() || x.session.lock().get() == session);
  });
  if (d == devices.end()) return notices;  // already displaced by a newer connection
  devices.erase(d);
  if (!devices.empty()) return notices;
  online_.erase(it);
  last_seen_[user] = now_ms;
  // Subscriptions outlive the connection (until expire()), so a subscriber still sees
  // this user's last-seen time while it is offline.
  if (auto w = watching_.find(user); w != watching_.end()) {
    for (const auto& target : w->second) {
      if (target == user || !mutual(user, target)) continue;
      for (auto& s : sessions_locked(target))
        notices.push_back({std::move(s), PresenceInfo{user, false, now_ms}});
    }
  }
  return notices;
}

std::shared_ptr<Session> LocalPresence::find(std::string_view user, std::uint32_t device) {
  std::lock_guard lock(mutex_);
  auto it = online_.find(user);
  if (it == online_.end()) return nullptr;
  for (const auto& d : it->second)
    if (d.id == device) return d.session.lock();
  return nullptr;
}

std::vector<std::shared_ptr<Session>> LocalPresence::find_all(std::string_view user) {
  std::lock_guard lock(mutex_);
  return sessions_locked(user);
}

PresenceRegistry::Subscribed LocalPresence::subscribe(const std::string& user,
                                                      std::vector<std::string> targets) {
  Subscribed result;
  std::lock_guard lock(mutex_);
  auto& mine = watching_[user];
  Set before;
  for (const auto& t : mine)
    if (t != user && mutual(user, t)) before.insert(t);
  mine.clear();
  mine.insert(std::make_move_iterator(targets.begin()), std::make_move_iterator(targets.end()));
  const bool online = online_.contains(user);
  for (const auto& target : mine) {
    if (target == user || !mutual(user, target)) continue;
    PresenceInfo info{target, online_.contains(target), 0};
    if (auto seen = last_seen_.find(target); seen != last_seen_.end())
      info.last_seen_ms = seen->second;
    result.visible.push_back(std::move(info));
    // Newly mutual: the target starts seeing this user.
    if (online && !before.contains(target)) {
      for (auto& s : sessions_locked(target))
        result.notices.push_back({std::move(s), PresenceInfo{user, true, 0}});
    }
  }
  // No longer mutual: the target stops seeing this user ("offline", last-seen unknown) and
  // hears nothing more from it.
  for (const auto& target : before) {
    if (mine.contains(target)) continue;
    for (auto& s : sessions_locked(target))
      result.notices.push_back({std::move(s), PresenceInfo{user, false, 0}});
  }
  return result;
}

bool LocalPresence::watches(std::string_view watcher, std::string_view target) {
  std::lock_guard lock(mutex_);
  auto w = watching_.find(watcher);
  return w != watching_.end() && w->second.find(target) != w->second.end();
}

void LocalPresence::expire(std::uint64_t before_ms) {
  std::lock_guard lock(mutex_);
  for (auto it = last_seen_.begin(); it != last_seen_.end();) {
    if (it->second < before_ms) {
      watching_.erase(it->first);
      it = last_seen_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace parley
