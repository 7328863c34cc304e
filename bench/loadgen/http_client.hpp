#pragma once
// One keep-alive HTTP/1.1 connection to the relay's media endpoints, as a client's network
// stack keeps one: one request at a time, the connection (re)opened when a request finds it
// closed (the relay closes after a refusal whose body it did not read). Every operation has
// a timeout; bodies are streamed, never held whole. Single-threaded like Connection.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace parley::loadgen {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

class HttpClient : public std::enable_shared_from_this<HttpClient> {
 public:
  struct Response {
    std::string failure;                   // transport failure or a rejected body; then status 0
    unsigned status = 0;
    http::response_header<> header;
    std::string error;                     // a refusal's JSON "error" word
  };
  using Done = std::function<void(Response)>;
  // Gets each piece of a 2xx body as it arrives; false stops the transfer (a wrong byte).
  using Sink = std::function<bool(std::span<const char>)>;
  struct ByteRange {
    std::uint64_t first = 0, last = 0;  // inclusive, as in "Range: bytes=first-last"
  };

  HttpClient(net::io_context& ioc, tcp::endpoint relay);

  // PATCH `target` with "Upload-Offset: offset" and the body `pieces` (sent without a copy;
  // they must stay valid until `done`).
  void patch(std::string target, std::string_view token, std::uint64_t offset,
             std::array<net::const_buffer, 2> pieces, Done done);
  // GET `target` (optionally one range); a 2xx body of at most `max_body` bytes goes to `sink`.
  void get(std::string target, std::string_view token, std::optional<ByteRange> range,
           std::uint64_t max_body, Sink sink, Done done);
  void close();

 private:
  template <class Request>
  void send(std::shared_ptr<Request> req, std::function<void()> then);
  template <class Request>
  void prepare(Request& req, std::string_view token) const;
  void read_small_response();
  void read_body();
  void finish(Response r);
  void failed(std::string what, beast::error_code ec);

  tcp::endpoint relay_;
  beast::tcp_stream stream_;
  bool reusable_ = false;  // connected, and the last answer kept the connection alive
  beast::flat_buffer buffer_;
  // The request in progress.
  Done done_;
  Sink sink_;
  std::optional<http::response_parser<http::string_body>> small_;
  std::optional<http::response_parser<http::buffer_body>> streamed_;
  std::vector<char> piece_;
  std::string error_body_;
};

}  // namespace parley::loadgen
