#pragma once
// The address of the server under load. parley-loadgen and parley-mqtt-anchor open thousands
// of connections, so they take loopback addresses only: a typo must not aim them at another
// machine.
#include <charconv>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

namespace parley::loadgen {

// `text` is HOST:PORT (an IPv6 host may be bracketed); `option` names the flag in errors.
// Throws std::invalid_argument saying what to give instead.
inline boost::asio::ip::tcp::endpoint parse_loopback_endpoint(const std::string& text,
                                                              const std::string& option) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw std::invalid_argument(option +
                                " must be HOST:PORT on this machine, e.g. 127.0.0.1:7700 (got \"" +
                                text + "\")");
  const auto port_text = text.substr(colon + 1);
  unsigned long port = 0;
  const auto* end = port_text.data() + port_text.size();
  const auto [stop, ec] = std::from_chars(port_text.data(), end, port);
  if (ec != std::errc{} || stop != end || port == 0 || port > 65535)
    throw std::invalid_argument(option + ": the port must be a number from 1 to 65535 (got \"" +
                                port_text + "\")");
  auto host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code bad;
  const auto address = boost::asio::ip::make_address(host, bad);
  if (bad)
    throw std::invalid_argument(option + ": \"" + host +
                                "\" is not an IP address; give one, e.g. 127.0.0.1");
  if (!address.is_loopback())
    throw std::invalid_argument(option + ": " + host +
                                " is not a loopback address; these tools only load this machine "
                                "(127.0.0.0/8 or ::1)");
  return {address, static_cast<unsigned short>(port)};
}

// --gateways: comma-separated HOST:PORT, each checked as above; empty gives none.
inline std::vector<boost::asio::ip::tcp::endpoint> parse_gateways(const std::string& text) {
  std::vector<boost::asio::ip::tcp::endpoint> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto comma = text.find(',', start);
    const auto end = comma == std::string::npos ? text.size() : comma;
    out.push_back(parse_loopback_endpoint(text.substr(start, end - start), "--gateways"));
    start = end + 1;
  }
  return out;
}

}  // namespace parley::loadgen
