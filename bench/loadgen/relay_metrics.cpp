#include "relay_metrics.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <memory>
#include <span>

#include "http_client.hpp"

namespace parley::loadgen {

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

std::optional<std::string> fetch_relay_metrics(const boost::asio::ip::tcp::endpoint& relay) {
  constexpr std::uint64_t kMaxBytes = 1 << 20;  // a few KiB in practice
  boost::asio::io_context ioc;
  auto client = std::make_shared<HttpClient>(ioc, relay);
  std::string body;
  bool ok = false;
  client->get(
      "/metrics", "", std::nullopt, kMaxBytes,
      [&body](std::span<const char> piece) {
        body.append(piece.data(), piece.size());
        return true;
      },
      [&](HttpClient::Response r) {
        ok = r.failure.empty() && r.status == 200;
        client->close();  // kept alive otherwise, and the io_context would not run out
      });
  ioc.run();
  if (!ok) return std::nullopt;
  return body;
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
