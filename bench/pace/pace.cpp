// parley-pace: how fast this machine is at the moment, in the three things the relay's
// figures rest on: plain computation, a system call, and a loopback TCP round trip between
// two threads (a send and a wake-up each way). The VMs these benchmarks run on drift by up
// to 2x within an hour, mostly in the kernel's paths (docs/performance-log.md, "Machines"), so
// bench/run and bench/run-anchor.sh print these rows beside their figures: two runs taken
// at different moments are compared knowing how fast the machine was for each.
//
// Prints Markdown rows (figure | value | unit), the median of --rounds rounds each.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

// A socket descriptor closed with its scope.
class Fd {
 public:
  // `what` names the call that made `fd`, for the error when it failed.
  Fd(int fd, const char* what) : fd_(fd) {
    if (fd_ < 0) fail(what);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { ::close(fd_); }
  int get() const { return fd_; }

 private:
  int fd_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ns per 1,000 iterations of a xorshift step the compiler cannot fold away.
double integer_loop(std::uint64_t iterations) {
  static volatile std::uint64_t sink;
  std::uint64_t x = 0x9e3779b97f4a7c15u ^ static_cast<std::uint64_t>(sink);
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < iterations; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  const auto s = seconds_since(start);
  sink = x;
  return s * 1e12 / static_cast<double>(iterations);
}

// ns per getppid(2), through syscall() so no library can answer from a cache.
double system_call(std::uint64_t calls) {
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < calls; ++i) ::syscall(SYS_getppid);
  return seconds_since(start) * 1e9 / static_cast<double>(calls);
}

void send_byte(int fd, char c) {
  while (::send(fd, &c, 1, MSG_NOSIGNAL) != 1)
    if (errno != EINTR) fail("send");
}

char receive_byte(int fd) {
  char c = 0;
  for (;;) {
    const auto n = ::recv(fd, &c, 1, 0);
    if (n == 1) return c;
    if (n == 0) throw std::runtime_error("loopback peer closed");
    if (errno != EINTR) fail("recv");
  }
}

void no_delay(int fd) {
  const int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) fail("TCP_NODELAY");
}

// µs per 1-byte round trip over 127.0.0.1, blocking sockets, the echo on its own thread.
double loopback_round_trip(int trips) {
  Fd listener(::socket(AF_INET, SOCK_STREAM, 0), "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("bind");
  if (::listen(listener.get(), 1) != 0) fail("listen");
  if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    fail("getsockname");
  Fd client(::socket(AF_INET, SOCK_STREAM, 0), "socket");
  if (::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    fail("connect");
  Fd server(::accept(listener.get(), nullptr, nullptr), "accept");
  no_delay(client.get());
  no_delay(server.get());

  // The echo stops at the byte 'q'; an error there ends the client's wait with a close.
  std::thread echo([fd = server.get()] {
    try {
      for (;;) {
        const char c = receive_byte(fd);
        if (c == 'q') return;
        send_byte(fd, c);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "parley-pace: echo: %s\n", e.what());
      ::shutdown(fd, SHUT_RDWR);
    }
  });
  double us = 0;
  try {
    for (int i = 0; i < trips / 10; ++i) {  // warm-up
      send_byte(client.get(), 'p');
      receive_byte(client.get());
    }
    const auto start = Clock::now();
    for (int i = 0; i < trips; ++i) {
      send_byte(client.get(), 'p');
      receive_byte(client.get());
    }
    us = seconds_since(start) * 1e6 / trips;
    send_byte(client.get(), 'q');
  } catch (...) {
    ::shutdown(client.get(), SHUT_RDWR);
    echo.join();
    throw;
  }
  echo.join();
  return us;
}

template <class Measure>
double median_of(int rounds, Measure&& measure) {
  std::vector<double> v;
  for (int i = 0; i < rounds; ++i) v.push_back(measure());
  return median(v);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"parley-pace: this machine's speed now (computation, system call, loopback round trip)"};
  int rounds = 5;
  bool quick = false;
  app.add_option("--rounds", rounds, "Rounds of each measurement (the median is printed)")
      ->check(CLI::Range(1, 101))
      ->capture_default_str();
  app.add_flag("--quick", quick, "Small rounds (a few milliseconds), for the smoke test");
  CLI11_PARSE(app, argc, argv);

  const std::uint64_t iterations = quick ? 1'000'000 : 100'000'000;
  const std::uint64_t calls = quick ? 10'000 : 500'000;
  const int trips = quick ? 500 : 10'000;
  try {
    const auto loop = median_of(rounds, [&] { return integer_loop(iterations); });
    const auto call = median_of(rounds, [&] { return system_call(calls); });
    const auto trip = median_of(rounds, [&] { return loopback_round_trip(trips); });
    std::printf("| machine pace: integer loop (xorshift) | %.1f | ns per 1,000 steps |\n", loop);
    std::printf("| machine pace: system call (getppid) | %.0f | ns |\n", call);
    std::printf("| machine pace: loopback TCP round trip, 1 byte, two threads | %.1f | µs |\n", trip);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parley-pace: %s\n", e.what());
    return 1;
  }
  return 0;
}
