#pragma once
// Every open connection, authenticated or not, so the relay can close them all on shutdown
// and one sweep can find the ones that have been silent too long.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "session/session.hpp"
#include "util/clock.hpp"

namespace parley {

// What the gateway needs from a connection beyond the Session interface: when it last
// received anything, and a way to act on silence.
class GatewayConnection : public Session {
 public:
  using Session::Session;

  // Any thread: the sweep found this connection silent for at least half the idle timeout.
  // The connection pings its peer, or drops it when the full timeout has passed.
  virtual void liveness_due() = 0;

  // steady_now_ms() when it last received anything; written on the connection's strand,
  // read by the sweep on another thread.
  std::int64_t last_received_ms() const { return last_rx_ms_.load(std::memory_order_relaxed); }

 protected:
  void note_received() {
    last_rx_ms_.store(steady_now_ms(), std::memory_order_relaxed);
  }

 private:
  std::atomic<std::int64_t> last_rx_ms_{steady_now_ms()};
};

class ConnectionSet {
 public:
  void add(const std::shared_ptr<GatewayConnection>& c) {
    std::lock_guard lock(mutex_);
    all_.emplace(c.get(), c);
  }
  // From the connection's destructor: the raw key is valid until this returns.
  void remove(const GatewayConnection* c) {
    std::lock_guard lock(mutex_);
    all_.erase(c);
  }
  void close_all(std::uint16_t code, const std::string& reason) {
    for (auto& c : collect([](const GatewayConnection*) { return true; }))
      c->shutdown(code, reason);
  }
  // Tells every connection silent for at least `silent_ms` (half the idle timeout). Only
  // those are touched, so idle connections that answer pings cost one check per sweep.
  void sweep(std::int64_t now_ms, std::int64_t silent_ms) {
    for (auto& c : collect([&](const GatewayConnection* c) {
           return now_ms - c->last_received_ms() >= silent_ms;
         }))
      c->liveness_due();
  }
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return all_.size();
  }

 private:
  // The calls go out after the lock is released: they post to other strands.
  template <class Pred>
  std::vector<std::shared_ptr<GatewayConnection>> collect(Pred wanted) {
    std::vector<std::shared_ptr<GatewayConnection>> live;
    std::lock_guard lock(mutex_);
    for (auto& [raw, weak] : all_)
      if (wanted(raw))
        if (auto c = weak.lock()) live.push_back(std::move(c));
    return live;
  }

  std::mutex mutex_;
  std::unordered_map<const GatewayConnection*, std::weak_ptr<GatewayConnection>> all_;
};

}  // namespace parley
