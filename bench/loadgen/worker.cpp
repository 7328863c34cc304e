#include "worker.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <cstdio>

#include "endpoint.hpp"
#include "report.hpp"

namespace parley::loadgen {

Worker::Worker(const Options& options)
    : options_(options),
      relay_(parse_loopback_endpoint(options.relay, "--relay")),
      gateways_(parse_gateways(options.gateways)),
      stdin_(ioc_, ::dup(0)),
      watchdog_(ioc_) {}

const Identity& Worker::identity(std::uint64_t user) {
  auto& slot = identities_[user];
  if (!slot) slot = std::make_unique<Identity>(options_.prefix, user);
  return *slot;
}

std::vector<std::uint64_t> Worker::share(std::uint64_t total) const {
  std::vector<std::uint64_t> users;
  for (std::uint64_t u = index(); u < total; u += count()) users.push_back(u);
  return users;
}

void Worker::connect_all(std::vector<std::uint64_t> users, bool register_first,
                         std::function<void(Connections, std::size_t)> done) {
  struct State {
    std::vector<std::uint64_t> users;
    Connections conns;
    std::size_t next = 0, finished = 0, failures = 0;
    std::function<void(Connections, std::size_t)> done;
    std::function<void()> launch;
  };
  auto st = std::make_shared<State>();
  st->users = std::move(users);
  st->conns.resize(st->users.size());
  st->done = std::move(done);
  if (st->users.empty()) return st->done({}, 0);
  st->launch = [this, st, register_first] {
    const auto pos = st->next++;
    const auto& who = identity(st->users[pos]);
    auto conn = std::make_shared<Connection>(ioc_, relay_for(st->users[pos]));
    auto complete = [this, st, pos, conn](const std::string& error) {
      if (error.empty()) {
        st->conns[pos] = conn;
      } else {
        if (st->failures++ == 0) std::fprintf(stderr, "parley-loadgen: %s\n", error.c_str());
        conn->close();
      }
      if (st->next < st->users.size()) st->launch();
      if (++st->finished == st->users.size()) {
        auto finish = std::move(st->done);
        auto conns = std::move(st->conns);
        const auto failures = st->failures;
        st->launch = nullptr;  // breaks the cycle st -> launch -> st
        finish(std::move(conns), failures);
      }
    };
    conn->open([this, conn, &who, register_first, complete](const std::string& error) mutable {
      if (!error.empty()) return complete(error);
      conn->authenticate(who, register_first, 0, complete);
    });
  };
  const auto first = std::min<std::size_t>(options_.concurrency, st->users.size());
  for (std::size_t i = 0; i < first; ++i) st->launch();
}

void Worker::register_all(std::vector<std::uint64_t> users, std::function<void()> done) {
  if (options_.no_register) return done();
  const auto n = users.size();
  connect_all(std::move(users), true, [this, n, done = std::move(done)](Connections conns, std::size_t failures) {
    for (auto& c : conns)
      if (c) c->close();
    if (failures)
      return fail("registration failed for " + std::to_string(failures) + " of " + std::to_string(n) +
                  " users (is the prefix fresh and --rate high enough?)");
    done();
  });
}

void Worker::barrier(const std::string& name, std::function<void()> then) {
  report::barrier(name);
  net::async_read_until(stdin_, net::dynamic_buffer(stdin_buffer_), '\n',
                        [this, then = std::move(then)](boost::system::error_code ec, std::size_t n) {
                          if (ec) return fail("parent went away");
                          const auto line = stdin_buffer_.substr(0, n);
                          stdin_buffer_.erase(0, n);
                          if (line != "go\n") return fail("parent said stop");
                          then();
                        });
}

void Worker::fail(const std::string& text) {
  if (failed_) return;
  failed_ = true;
  report::error(text);
  ioc_.stop();
}

int Worker::run() {
  if (options_.scenario == "idle") run_idle(*this);
  else if (options_.scenario == "pairs") run_pairs(*this);
  else if (options_.scenario == "replay") run_replay(*this);
  else if (options_.scenario == "fanout") run_fanout(*this);
  else if (options_.scenario == "media") run_media(*this);
  else fail("unknown scenario " + options_.scenario);
  // Every run is bounded: a lost message or a stuck phase ends in a reported failure.
  watchdog_.expires_after(std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options_.timeout_seconds)));
  watchdog_.async_wait([this](boost::system::error_code ec) {
    if (!ec) fail("scenario did not finish within --timeout");
  });
  ioc_.run();
  std::fflush(stdout);
  return failed_ ? 1 : 0;
}

Acker::Acker(std::shared_ptr<Connection> c) : conn_(std::move(c)) {
  conn_->on_burst_end([this] { flush(); });
}

Acker::~Acker() { conn_->on_burst_end(nullptr); }  // the connection may outlive it

void Acker::delivered(std::uint64_t inbox_seq) {
  pending_ = std::max(pending_, inbox_seq);
  if (++unacked_ >= kMaxUnacked) flush();
}

void Acker::flush() {
  if (unacked_ == 0) return;
  unacked_ = 0;
  wire::ClientFrame f;
  f.mutable_ack()->set_up_to_inbox_seq(pending_);
  conn_->send(f);
  ++acks_sent_;
}

}  // namespace parley::loadgen
