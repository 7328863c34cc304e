#include "http_client.hpp"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/optional.hpp>
#include <chrono>

namespace parley::loadgen {

namespace {

constexpr auto kTimeout = std::chrono::seconds(30);

// A request body goes out in one write: allow it the timeout plus a second per MiB (1 MiB/s
// is far below anything loopback does; the run as a whole is bounded by --timeout).
std::chrono::seconds write_timeout(std::uint64_t body_bytes) {
  return kTimeout + std::chrono::seconds(body_bytes >> 20);
}
constexpr std::size_t kPieceBytes = 256 * 1024;      // downloads are read in pieces this size
constexpr std::size_t kSmallBodyLimit = 64 * 1024;   // any answer that is not media bytes

// A request body of the (at most two) buffers MediaFile::slice gives, written as they are.
struct PiecesBody {
  using value_type = std::array<net::const_buffer, 2>;
  static std::uint64_t size(const value_type& v) { return v[0].size() + v[1].size(); }

  class writer {
   public:
    using const_buffers_type = value_type;
    template <bool isRequest, class Fields>
    writer(http::header<isRequest, Fields>&, const value_type& body) : body_(body) {}
    void init(beast::error_code& ec) { ec = {}; }
    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      ec = {};
      if (sent_) return boost::none;
      sent_ = true;
      return std::make_pair(body_, false);
    }

   private:
    const value_type& body_;
    bool sent_ = false;
  };
};

// The "error" word of the relay's JSON refusal {"error":"<word>","message":"..."}.
std::string error_word(std::string_view body) {
  constexpr std::string_view kKey = "\"error\":\"";
  const auto at = body.find(kKey);
  if (at == std::string_view::npos) return {};
  const auto from = at + kKey.size();
  const auto end = body.find('"', from);
  if (end == std::string_view::npos || end - from > 64) return {};
  return std::string(body.substr(from, end - from));
}

HttpClient::Response failure(std::string why) {
  HttpClient::Response r;
  r.failure = std::move(why);
  return r;
}

}  // namespace

HttpClient::HttpClient(net::io_context& ioc, tcp::endpoint relay) : relay_(relay), stream_(ioc) {}

template <class Request>
void HttpClient::prepare(Request& req, std::string_view token) const {
  req.set(http::field::host, relay_.address().to_string() + ":" + std::to_string(relay_.port()));
  req.set(http::field::authorization, std::string("Bearer ").append(token));
  req.keep_alive(true);
}

template <class Request>
void HttpClient::send(std::shared_ptr<Request> req, std::function<void()> then) {
  auto write = [self = shared_from_this(), req, then = std::move(then)] {
    self->stream_.expires_after(write_timeout(req->payload_size().value_or(0)));
    http::async_write(self->stream_, *req, [self, req, then](beast::error_code ec, std::size_t) {
      if (ec) return self->failed("write", ec);
      then();
    });
  };
  if (reusable_) return write();
  close();
  stream_.expires_after(kTimeout);
  stream_.async_connect(relay_, [self = shared_from_this(), write = std::move(write)](beast::error_code ec) {
    if (ec) return self->failed("connect", ec);
    beast::error_code ignored;
    self->stream_.socket().set_option(tcp::no_delay(true), ignored);
    self->reusable_ = true;
    write();
  });
}

void HttpClient::patch(std::string target, std::string_view token, std::uint64_t offset,
                       std::array<net::const_buffer, 2> pieces, Done done) {
  auto req = std::make_shared<http::request<PiecesBody>>(http::verb::patch, std::move(target), 11);
  prepare(*req, token);
  req->set("Upload-Offset", std::to_string(offset));
  req->set(http::field::content_type, "application/octet-stream");
  req->body() = pieces;
  req->prepare_payload();
  done_ = std::move(done);
  send(std::move(req), [this] { read_small_response(); });
}

void HttpClient::read_small_response() {
  small_.emplace();
  small_->body_limit(kSmallBodyLimit);
  stream_.expires_after(kTimeout);
  http::async_read(stream_, buffer_, *small_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->failed("read", ec);
    Response r;
    const auto& res = self->small_->get();
    r.status = res.result_int();
    r.header = res.base();
    if (r.status >= 400) r.error = error_word(res.body());
    self->reusable_ = res.keep_alive();
    self->small_.reset();
    self->finish(std::move(r));
  });
}

void HttpClient::get(std::string target, std::string_view token, std::optional<ByteRange> range,
                     std::uint64_t max_body, Sink sink, Done done) {
  auto req = std::make_shared<http::request<http::empty_body>>(http::verb::get, std::move(target), 11);
  prepare(*req, token);
  if (range)
    req->set(http::field::range,
             "bytes=" + std::to_string(range->first) + "-" + std::to_string(range->last));
  done_ = std::move(done);
  sink_ = std::move(sink);
  send(std::move(req), [this, max_body] {
    streamed_.emplace();
    streamed_->body_limit(std::max<std::uint64_t>(max_body, kSmallBodyLimit));
    error_body_.clear();
    stream_.expires_after(kTimeout);
    http::async_read_header(stream_, buffer_, *streamed_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->failed("read", ec);
                              self->read_body();
                            });
  });
}

void HttpClient::read_body() {
  auto& res = streamed_->get();
  const auto status = res.result_int();
  if (!streamed_->is_done()) {
    piece_.resize(kPieceBytes);
    res.body().data = piece_.data();
    res.body().size = piece_.size();
    stream_.expires_after(kTimeout);
    http::async_read(stream_, buffer_, *streamed_, [self = shared_from_this(), status](beast::error_code ec, std::size_t) {
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return self->failed("read", ec);
      const auto got = self->piece_.size() - self->streamed_->get().body().size;
      const std::span<const char> bytes(self->piece_.data(), got);
      if (status / 100 == 2) {
        if (!bytes.empty() && !self->sink_(bytes)) {
          self->close();
          self->streamed_.reset();
          return self->finish(failure("the relay sent bytes that differ from the upload"));
        }
      } else {
        self->error_body_.append(bytes.data(), std::min(bytes.size(), kSmallBodyLimit - self->error_body_.size()));
      }
      self->read_body();
    });
    return;
  }
  Response r;
  r.status = status;
  r.header = res.base();
  if (r.status >= 400) r.error = error_word(error_body_);
  reusable_ = res.keep_alive();
  streamed_.reset();
  finish(std::move(r));
}

void HttpClient::finish(Response r) {
  auto done = std::move(done_);
  done_ = nullptr;
  sink_ = nullptr;
  if (done) done(std::move(r));
}

void HttpClient::failed(std::string what, beast::error_code ec) {
  close();
  small_.reset();
  streamed_.reset();
  finish(failure(what + ": " + ec.message()));
}

void HttpClient::close() {
  reusable_ = false;
  buffer_.consume(buffer_.size());
  if (!stream_.socket().is_open()) return;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

}  // namespace parley::loadgen
