#pragma once
// Mutates HTTP requests the way a hostile or broken client might, keeping the request
// well-formed HTTP/1.1 (so the relay has to answer it, not just drop the connection): other
// methods, paths around the media routes, header values at the edges of what the relay parses
// (numbers, ranges, tokens), headers added, dropped or doubled, bodies of other sizes.
// Deterministic for a seed.
#include <random>

#include "raw_http.hpp"

namespace parley::test {

class HttpMutator {
 public:
  explicit HttpMutator(std::uint64_t seed) : rng_(seed) {}

  // `request` with one to three mutations.
  HttpRequest mutate(HttpRequest request);

  std::mt19937_64& rng() { return rng_; }

 private:
  QByteArray edge_value(const QByteArray& header, const QByteArray& current);
  QByteArray mutate_path(const QByteArray& path);
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  bool chance(int percent) { return static_cast<int>(pick(100)) < percent; }

  std::mt19937_64 rng_;
};

}  // namespace parley::test
