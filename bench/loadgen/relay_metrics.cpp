#include "relay_metrics.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace parley::loadgen {

namespace beast = boost::beast;
namespace http = beast::http;

std::optional<RelayHistogram> RelayHistogram::since(const RelayHistogram& earlier) const {
  if (earlier.buckets.size() != buckets.size()) return std::nullopt;
  RelayHistogram d = *this;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (earlier.buckets[i].first != buckets[i].first) return std::nullopt;
    d.buckets[i].second -= earlier.buckets[i].second;
    if (d.buckets[i].second < 0) return std::nullopt;
  }
  return d;
}

std::optional<double> RelayHistogram::quantile(double q) const {
  const double total = count();
  if (total <= 0) return std::nullopt;
  const double rank = q * total;
  double below = 0, lower = 0;
  for (const auto& [bound, cumulative] : buckets) {
    if (cumulative >= rank) {
      if (std::isinf(bound)) return lower;
      const double in = cumulative - below;
      return lower + (bound - lower) * (in > 0 ? (rank - below) / in : 0);
    }
    below = cumulative;
    lower = bound;
  }
  return lower;
}

std::optional<std::string> fetch_relay_metrics(const boost::asio::ip::tcp::endpoint& relay,
                                               std::chrono::milliseconds timeout) {
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::request<http::empty_body> req{http::verb::get, "/metrics", 11};
  req.set(http::field::host, relay.address().to_string());
  http::response<http::string_body> res;
  bool ok = false;
  stream.expires_after(timeout);
  stream.async_connect(relay, [&](beast::error_code connected) {
    if (connected) return;
    http::async_write(stream, req, [&](beast::error_code written, std::size_t) {
      if (written) return;
      http::async_read(stream, buffer, res, [&](beast::error_code read, std::size_t) {
        ok = !read && res.result() == http::status::ok;
      });
    });
  });
  ioc.run();
  if (!ok) return std::nullopt;
  return std::move(res.body());
}

std::optional<RelayHistogram> parse_relay_histogram(std::string_view text, std::string_view name,
                                                    std::string_view labels) {
  // Lines like: NAME_bucket{LABELS,le="0.001"} 42
  const std::string head = std::string(name) + "_bucket{" + std::string(labels) + ",le=\"";
  RelayHistogram h;
  std::size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const auto line = text.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with(head)) continue;
    const auto rest = line.substr(head.size());
    const auto close = rest.find("\"} ");
    if (close == std::string_view::npos) return std::nullopt;
    const auto le = rest.substr(0, close);
    const auto value = rest.substr(close + 3);
    double bound = std::numeric_limits<double>::infinity(), cumulative = 0;
    if (le != "+Inf" &&
        std::from_chars(le.data(), le.data() + le.size(), bound).ec != std::errc{})
      return std::nullopt;
    if (std::from_chars(value.data(), value.data() + value.size(), cumulative).ec != std::errc{})
      return std::nullopt;
    h.buckets.emplace_back(bound, cumulative);
  }
  if (h.buckets.empty()) return std::nullopt;
  return h;
}

}  // namespace parley::loadgen
