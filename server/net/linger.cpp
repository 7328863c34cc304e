#include "net/linger.hpp"

#include <utility>

#include "net/deferred_writes.hpp"

namespace parley {

Linger::Linger(boost::asio::io_context& context)
    : boost::asio::io_context::service(context), timer_(context) {}

void Linger::add(std::weak_ptr<Waiter> waiter, std::chrono::milliseconds delay,
                 std::uint32_t token) {
  waiting_.push_back(Waiting{Clock::now() + delay, delay / 8, std::move(waiter), token});
  if (!armed_) arm();
}

void Linger::arm() {
  timer_.expires_at(waiting_.front().due);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) expire();
  });
  armed_ = true;  // only once the wait is sure: a wait that threw is tried again by the next add
}

void Linger::expire() {
  armed_ = false;
  const auto now = Clock::now();
  // Only those due by now: a waiter called back adds itself (or another) again at the back,
  // due a whole delay later, and is not called again in this expiry.
  std::size_t due = 0;
  while (due < waiting_.size() && waiting_[due].due - waiting_[due].slack <= now) ++due;
  {
    DeferredWrites::Scope scope;
    for (std::size_t i = 0; i < due; ++i) {
      // A waiter gone meanwhile (its connection closed) has nothing to write.
      if (const auto waiter = waiting_[i].waiter.lock()) waiter->linger_over(waiting_[i].token);
    }
  }
  waiting_.erase(waiting_.begin(), waiting_.begin() + static_cast<std::ptrdiff_t>(due));
  // Capacity a burst grew goes back, so a quiet thread holds none.
  if (waiting_.empty() && waiting_.capacity() > 1024) waiting_.shrink_to_fit();
  if (!waiting_.empty()) arm();
}

void Linger::shutdown() {
  timer_.cancel();
  armed_ = false;
  waiting_.clear();
}

}  // namespace parley
