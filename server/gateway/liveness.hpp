#pragma once
// Application-level liveness for every connection: one timer per relay instead of one per
// connection. Every quarter of the idle timeout it asks the ConnectionSet for connections
// silent for half of it; each of those pings its peer once, and drops it when the full
// timeout passes with nothing received, not even the pong.
#include <chrono>
#include <memory>

#include "net/asio.hpp"

namespace parley {

class ConnectionSet;

class LivenessSweep : public std::enable_shared_from_this<LivenessSweep> {
 public:
  LivenessSweep(net::io_context& ioc, ConnectionSet& connections,
                std::chrono::milliseconds idle_timeout);
  void start();
  void stop();  // any thread

  // How often the sweep runs for a given idle timeout: a peer is pinged between 1/2 and
  // 3/4 of it and dropped between 1 and 5/4 of it.
  static std::chrono::milliseconds period(std::chrono::milliseconds idle_timeout);

 private:
  void schedule();

  ConnectionSet& connections_;
  std::chrono::milliseconds idle_timeout_;
  net::steady_timer timer_;  // on its own strand: stop() may come from any thread
  bool stopped_ = false;
};

}  // namespace parley
