#pragma once
// Writes a connection puts off for a moment, in case a write of its own comes first and
// carries what they would have sent: a delivery mark waits to ride on the sender's next
// SendAck instead of taking a write, a system call and a wake-up of the client of its own
// (docs/performance-log.md, "Changes measured").
//
// One timer per io_context serves all of its connections, so waiting costs a connection no
// timer of its own (memory held while idle) and a message no timer operation. Waiters are
// called back in the order they came, each between 7/8 of its delay and its delay after it
// was added: those due within an eighth of the delay of each other share one expiry, so the
// timer is armed at most ~8 times per delay however many wait. Everything here runs on the
// io_context's one thread.
#include <chrono>
#include <cstdint>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/container/devector.hpp>

namespace parley {

class Linger final : public boost::asio::io_context::service {
 public:
  class Waiter {
   public:
    // Called once per add(), with the token given to it, inside a DeferredWrites::Scope
    // (net/deferred_writes.hpp), so the writes it starts leave together at its end. Must
    // not throw.
    virtual void linger_over(std::uint32_t token) noexcept = 0;

   protected:
    ~Waiter() = default;
  };

  static inline boost::asio::io_context::id id;  // Asio's key for use_service
  explicit Linger(boost::asio::io_context& context);
  Linger(const Linger&) = delete;
  Linger& operator=(const Linger&) = delete;

  // The io_context's one, made on first use.
  static Linger& of(boost::asio::io_context& context) {
    return boost::asio::use_service<Linger>(context);
  }

  // Calls waiter->linger_over(token) after `delay` (see above; each add is one call back,
  // so a waiter may be in more than once, its token telling which wait is over), unless the
  // waiter is gone by then: it is not kept alive for this (a closed connection goes at once,
  // with its descriptor and its address's slot). Every caller of one io_context passes the
  // same delay, so the waiters stay in the order they are due.
  void add(std::weak_ptr<Waiter> waiter, std::chrono::milliseconds delay,
           std::uint32_t token = 0);

  std::size_t waiting() const { return waiting_.size(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Waiting {
    Clock::time_point due;
    Clock::duration slack;  // an eighth of its delay: called back this early with others
    std::weak_ptr<Waiter> waiter;
    std::uint32_t token;
  };
  void shutdown() override;  // forgets the waiters: their io_context will run nothing more
  void arm();
  void expire();

  boost::asio::steady_timer timer_;
  boost::container::devector<Waiting> waiting_;  // by `due`
  bool armed_ = false;
};

}  // namespace parley
