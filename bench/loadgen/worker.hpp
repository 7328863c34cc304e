#pragma once
// A worker process: one io_context on one thread driving its share of the connections,
// stepping through a scenario's phases in lock-step with the other workers (barriers on
// stdin/stdout, see report.hpp).
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "connection.hpp"
#include "options.hpp"

namespace parley::loadgen {

using Clock = std::chrono::steady_clock;
using Connections = std::vector<std::shared_ptr<Connection>>;

inline std::uint64_t micros_since(Clock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count());
}

class Worker {
 public:
  explicit Worker(const Options& options);

  net::io_context& ioc() { return ioc_; }
  const Options& options() const { return options_; }
  unsigned index() const { return static_cast<unsigned>(options_.worker_index); }
  unsigned count() const { return options_.workers; }
  const Identity& identity(std::uint64_t user);
  const tcp::endpoint& relay() const { return relay_; }
  // Where `user` connects: --relay, or with --gateways gateway (u + u/2) mod n, which puts
  // users 2i and 2i+1 (pair i's sender and receiver) on different gateways, and pair i+1
  // the other way round.
  const tcp::endpoint& relay_for(std::uint64_t user) const {
    return gateways_.empty() ? relay_ : gateways_[(user + user / 2) % gateways_.size()];
  }
  // This worker's users among 0..total-1 (every count()-th, from index()).
  std::vector<std::uint64_t> share(std::uint64_t total) const;

  // Opens and authenticates a connection for each user, `concurrency` at a time. `done`
  // gets them in the order of `users` (null where set-up failed) and the number of failures;
  // the first failure is printed to stderr.
  void connect_all(std::vector<std::uint64_t> users, bool register_first,
                   std::function<void(Connections, std::size_t failures)> done);
  // Registers the users (each on a connection of its own, closed afterwards).
  void register_all(std::vector<std::uint64_t> users, std::function<void()> done);

  // Prints the barrier and continues with `then` when the parent answers "go".
  void barrier(const std::string& name, std::function<void()> then);
  // The scenario's state lives as long as the worker: handlers may refer to it by pointer.
  void keep(std::shared_ptr<void> state) { kept_.push_back(std::move(state)); }
  void fail(const std::string& text);  // reports the error and ends the worker
  void finish() { ioc_.stop(); }       // results printed: end the worker
  int run();

 private:
  Options options_;
  net::io_context ioc_;
  tcp::endpoint relay_;
  std::vector<tcp::endpoint> gateways_;
  std::map<std::uint64_t, std::unique_ptr<Identity>> identities_;
  net::posix::stream_descriptor stdin_;
  net::steady_timer watchdog_;
  std::string stdin_buffer_;
  bool failed_ = false;
  std::vector<std::shared_ptr<void>> kept_;
};

// Scenarios (scenario_*.cpp): each starts its first phase on the worker.
void run_idle(Worker& w);
void run_pairs(Worker& w);
void run_replay(Worker& w);
void run_fanout(Worker& w);
void run_media(Worker& w);

// Acknowledges deliveries the way a client does: cumulatively, once per read's worth of
// frames (the Qt client acks once per turn of its event loop), not once per entry. A relay
// streaming without a pause leaves part of the next frame in the buffer after every
// message, so it also acks every kMaxUnacked entries (a read's worth at most).
class Acker {
 public:
  explicit Acker(std::shared_ptr<Connection> c);
  ~Acker();
  Acker(const Acker&) = delete;
  Acker& operator=(const Acker&) = delete;
  void delivered(std::uint64_t inbox_seq);
  std::size_t acks_sent() const { return acks_sent_; }

 private:
  void flush();

  std::shared_ptr<Connection> conn_;
  static constexpr std::size_t kMaxUnacked = 64;
  std::uint64_t pending_ = 0;
  std::size_t unacked_ = 0;
  std::size_t acks_sent_ = 0;
};

}  // namespace parley::loadgen
