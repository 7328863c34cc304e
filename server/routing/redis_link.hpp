#pragma once
// One synchronous hiredis connection, owned by one thread, that can be made again after a
// failure. `address` is HOST:PORT or unix:PATH.
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

struct redisContext;
struct redisReply;

namespace parley::routing {

// Who the gateway is to Redis: AUTH with a password, and a user name for Redis 6 ACLs (or
// none: the default user). Empty password: no AUTH.
struct RedisCredentials {
  std::string user;
  std::string password;
};

class RedisLink {
 public:
  RedisLink(std::string address, std::chrono::milliseconds read_timeout,
            RedisCredentials credentials = {});
  ~RedisLink();
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // Connects (closing any earlier connection), authenticates and checks that Redis takes
  // commands (PING); false with `why` set on failure (Redis's own words for a refusal, which
  // never repeat the password).
  bool connect(std::string& why);
  bool connected() const { return ctx_ != nullptr; }
  void close();
  // From any thread: makes a blocking read on this link return (with an error).
  void interrupt();

  // Sends the commands in one write and reads every reply, handing the i-th to `each` (if
  // set) before freeing it; false (and the link closed) on an I/O or protocol error, with
  // `answered` the replies read before it. A reply that is a Redis error counts in `errors`.
  using EachReply = std::function<void(std::size_t, const redisReply&)>;
  bool pipeline(const std::vector<std::vector<std::string>>& commands, std::size_t& errors,
                std::size_t& answered, std::string& why, const EachReply& each = {});
  // Sends one command without reading its reply (SUBSCRIBE).
  bool send(const std::vector<std::string>& command, std::string& why);
  // Blocks for the next reply; nullptr (and the link closed) on error. Free it with
  // free_reply.
  redisReply* next_reply(std::string& why);
  static void free_reply(redisReply* r);

  // "HOST:PORT" or "unix:PATH" that parses; for the relay's flag check.
  static bool valid_address(const std::string& address);

 private:
  std::string address_;
  std::chrono::milliseconds read_timeout_;
  RedisCredentials credentials_;
  redisContext* ctx_ = nullptr;
  std::atomic<int> fd_{-1};
};

}  // namespace parley::routing
