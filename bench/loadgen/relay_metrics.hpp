#pragma once
// The relay's own latency histograms, read from its /metrics (loopback only, like every
// address these tools take). A sender's ack latency measured by the load generator includes
// its own scheduling on a machine it shares with the relay; the relay's histogram of the
// same requests (parley_send_ack_seconds) says how much of it was the relay's.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

namespace parley::loadgen {

// Cumulative counts per upper bound (seconds; the last is +Inf), as Prometheus gives them.
struct RelayHistogram {
  std::vector<std::pair<double, double>> buckets;

  // What was observed between `earlier` and this reading; nullopt unless both have the same
  // bounds and no count went back (the relay restarted in between).
  std::optional<RelayHistogram> since(const RelayHistogram& earlier) const;
  double count() const { return buckets.empty() ? 0 : buckets.back().second; }
  // Seconds at quantile q, linear within its bucket (as Prometheus' histogram_quantile); a
  // quantile in the +Inf bucket gives the highest finite bound. Empty: nullopt.
  std::optional<double> quantile(double q) const;
};

// GET /metrics from the relay (HttpClient, with its timeouts), or nullopt (unreachable,
// refused, timed out).
std::optional<std::string> fetch_relay_metrics(const boost::asio::ip::tcp::endpoint& relay);

// The `_bucket` series of histogram `name` with the label set `labels` (e.g.
// `request="group_send"`), or nullopt when the text has none.
std::optional<RelayHistogram> parse_relay_histogram(std::string_view text, std::string_view name,
                                                    std::string_view labels);

}  // namespace parley::loadgen
