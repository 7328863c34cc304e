#pragma once
// Every open connection, authenticated or not, so the relay can close them all on shutdown.
#include <memory>
#include <mutex>
#include <unordered_map>

#include "session/session.hpp"

namespace parley {

class ConnectionSet {
 public:
  void add(const std::shared_ptr<Session>& s) {
    std::lock_guard lock(mutex_);
    all_.emplace(s.get(), s);
  }
  void remove(const Session* s) {
    std::lock_guard lock(mutex_);
    all_.erase(s);
  }
  void close_all(std::uint16_t code, const std::string& reason) {
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(mutex_);
      for (auto& [_, w] : all_)
        if (auto s = w.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) s->shutdown(code, reason);
  }
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return all_.size();
  }

 private:
  std::mutex mutex_;
  std::unordered_map<const Session*, std::weak_ptr<Session>> all_;
};

}  // namespace parley
