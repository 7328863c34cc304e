#include "routing/redis_link.hpp"

#include <hiredis/hiredis.h>
#include <sodium.h>
#include <sys/socket.h>

#include <charconv>

namespace parley::routing {
namespace {

struct Target {
  bool unix_socket = false;
  std::string host_or_path;
  int port = 0;
};

bool parse(const std::string& address, Target& t) {
  if (address.rfind("unix:", 0) == 0) {
    t.unix_socket = true;
    t.host_or_path = address.substr(5);
    return !t.host_or_path.empty();
  }
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  t.host_or_path = address.substr(0, colon);
  if (t.host_or_path.front() == '[' && t.host_or_path.back() == ']')
    t.host_or_path = t.host_or_path.substr(1, t.host_or_path.size() - 2);
  const char* first = address.data() + colon + 1;
  const char* last = address.data() + address.size();
  const auto [end, ec] = std::from_chars(first, last, t.port);
  return ec == std::errc{} && end == last && t.port > 0 && t.port < 65536;
}

timeval to_timeval(std::chrono::milliseconds ms) {
  return {static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

std::string error_of(redisContext* ctx) {
  return ctx != nullptr && ctx->err != 0 ? std::string(ctx->errstr) : std::string("no reply");
}

int append(redisContext* ctx, const std::vector<std::string>& command) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : command) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data());
}

// Runs one command and waits for its reply; false with `why` on an error reply or none.
bool command_ok(redisContext* ctx, const std::vector<std::string>& command, std::string& why) {
  void* reply = nullptr;
  if (append(ctx, command) != REDIS_OK || redisGetReply(ctx, &reply) != REDIS_OK ||
      reply == nullptr) {
    why = error_of(ctx);
    return false;
  }
  const auto* r = static_cast<redisReply*>(reply);
  const bool ok = r->type != REDIS_REPLY_ERROR;
  if (!ok) why = std::string(r->str, r->len);
  freeReplyObject(reply);
  return ok;
}

}  // namespace

RedisLink::RedisLink(std::string address, std::chrono::milliseconds read_timeout,
                     RedisCredentials credentials)
    : address_(std::move(address)),
      read_timeout_(read_timeout),
      credentials_(std::move(credentials)) {}

RedisLink::~RedisLink() {
  close();
  sodium_memzero(credentials_.password.data(), credentials_.password.size());
}

bool RedisLink::valid_address(const std::string& address) {
  Target t;
  return parse(address, t);
}

bool RedisLink::connect(std::string& why) {
  close();
  Target t;
  if (!parse(address_, t)) {
    why = "not HOST:PORT or unix:PATH";
    return false;
  }
  const timeval connect_timeout{5, 0};
  ctx_ = t.unix_socket ? redisConnectUnixWithTimeout(t.host_or_path.c_str(), connect_timeout)
                       : redisConnectWithTimeout(t.host_or_path.c_str(), t.port, connect_timeout);
  if (ctx_ == nullptr || ctx_->err != 0) {
    why = ctx_ != nullptr ? ctx_->errstr : "out of memory";
    close();
    return false;
  }
  // Before anything else, so that a Redis asking for a password (or refusing this one)
  // stops a gateway at start with Redis's reason, not with every later notice failing.
  redisSetTimeout(ctx_, connect_timeout);
  std::vector<std::string> auth{"AUTH"};
  if (!credentials_.password.empty()) {
    if (!credentials_.user.empty()) auth.push_back(credentials_.user);
    auth.push_back(credentials_.password);
  }
  const bool ok = (auth.size() == 1 || command_ok(ctx_, auth, why)) &&
                  command_ok(ctx_, {"PING"}, why);
  if (auth.size() > 1) sodium_memzero(auth.back().data(), auth.back().size());
  if (!ok) {
    close();
    return false;
  }
  redisSetTimeout(ctx_, to_timeval(read_timeout_));
  if (!t.unix_socket) redisEnableKeepAlive(ctx_);
  fd_ = ctx_->fd;
  return true;
}

void RedisLink::close() {
  fd_ = -1;
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

void RedisLink::interrupt() {
  if (const int fd = fd_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

bool RedisLink::pipeline(const std::vector<std::vector<std::string>>& commands,
                         std::size_t& errors, std::size_t& answered, std::string& why,
                         const EachReply& each) {
  answered = 0;
  if (ctx_ == nullptr) {
    why = "not connected";
    return false;
  }
  for (const auto& c : commands) append(ctx_, c);
  for (; answered < commands.size(); ++answered) {
    void* reply = nullptr;
    if (redisGetReply(ctx_, &reply) != REDIS_OK || reply == nullptr) {
      why = error_of(ctx_);
      close();
      return false;
    }
    const auto& r = *static_cast<redisReply*>(reply);
    if (r.type == REDIS_REPLY_ERROR) ++errors;
    if (each) each(answered, r);
    freeReplyObject(reply);
  }
  return true;
}

bool RedisLink::send(const std::vector<std::string>& command, std::string& why) {
  if (ctx_ == nullptr) {
    why = "not connected";
    return false;
  }
  append(ctx_, command);
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(ctx_, &done) != REDIS_OK) {
      why = error_of(ctx_);
      close();
      return false;
    }
  }
  return true;
}

redisReply* RedisLink::next_reply(std::string& why) {
  if (ctx_ == nullptr) {
    why = "not connected";
    return nullptr;
  }
  void* reply = nullptr;
  if (redisGetReply(ctx_, &reply) != REDIS_OK || reply == nullptr) {
    why = error_of(ctx_);
    close();
    return nullptr;
  }
  return static_cast<redisReply*>(reply);
}

void RedisLink::free_reply(redisReply* r) { freeReplyObject(r); }

}  // namespace parley::routing
