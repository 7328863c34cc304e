#include "gateway/liveness.hpp"

#include "gateway/connection_set.hpp"
#include "util/clock.hpp"

namespace parley {

LivenessSweep::LivenessSweep(net::io_context& ioc, ConnectionSet& connections,
                             std::chrono::milliseconds idle_timeout)
    : connections_(connections), idle_timeout_(idle_timeout), timer_(net::make_strand(ioc)) {}

std::chrono::milliseconds LivenessSweep::period(std::chrono::milliseconds idle_timeout) {
  return std::max(idle_timeout / 4, std::chrono::milliseconds(100));
}

void LivenessSweep::start() {
  net::dispatch(timer_.get_executor(), [self = shared_from_this()] { self->schedule(); });
}

void LivenessSweep::stop() {
  net::post(timer_.get_executor(), [self = shared_from_this()] {
    self->stopped_ = true;
    self->timer_.cancel();
  });
}

void LivenessSweep::schedule() {
  if (stopped_) return;
  timer_.expires_after(period(idle_timeout_));
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->stopped_) return;
    self->connections_.sweep(steady_now_ms(), (self->idle_timeout_ / 2).count());
    self->schedule();
  });
}

}  // namespace parley
