#include "http_mutator.hpp"

#include <array>

namespace parley::test {

namespace {

// Numbers as a careless parser would misread them: signs, spaces, other bases, past 2^64.
constexpr std::array<const char*, 18> kNumbers{
    "0", "1", "-1", "999", "1000", "1001", "18446744073709551615", "18446744073709551616",
    "99999999999999999999999", "+5", " 5", "5 ", "0x10", "1e3", "", "1,2", "\xd9\xa1", "00"};

constexpr std::array<const char*, 18> kRanges{
    "bytes=0-0", "bytes=0-", "bytes=-1", "bytes=-0", "bytes=999-", "bytes=1000-", "bytes=5-1",
    "bytes=0-18446744073709551615", "bytes=18446744073709551615-", "bytes=0-1,2-3", "bytes=",
    "bits=0-1", "bytes=-18446744073709551616", "bytes= 0-1", "bytes=0--1", "bytes=1-1000",
    "bytes=0-999", "bytes=-1000"};

constexpr std::array<const char*, 11> kMethods{"GET", "HEAD", "PATCH", "PUT", "POST", "DELETE",
                                               "OPTIONS", "TRACE", "PATCHX", "get", "M"};

constexpr std::array<const char*, 6> kHeaders{"Upload-Offset", "Range", "If-None-Match",
                                              "Authorization", "Content-Type", "Upload-Length"};

}  // namespace

QByteArray HttpMutator::edge_value(const QByteArray& header, const QByteArray& current) {
  const auto name = header.toLower();
  if (name == "range" && chance(80)) return kRanges[pick(kRanges.size())];
  if (name == "authorization" && chance(80)) {
    QByteArray v = current;
    switch (pick(6)) {
      case 0: return "Bearer ";
      case 1: return "Basic dXNlcjpwYXNz";
      case 2:
        if (v.size() > 8) v[static_cast<qsizetype>(8 + pick(static_cast<std::size_t>(v.size() - 8)))] ^= 1;
        return v;
      case 3: return v.left(static_cast<qsizetype>(pick(static_cast<std::size_t>(v.size()) + 1)));
      case 4: return v + "x";
      default: return "Bearer " + QByteArray(4000, 'A');
    }
  }
  if (name == "if-none-match" && chance(70)) return chance(50) ? "*" : "\"" + current + "\"";
  if (chance(75)) return kNumbers[pick(kNumbers.size())];
  QByteArray v(static_cast<qsizetype>(pick(64)), '\0');
  for (auto& c : v) c = static_cast<char>(0x21 + pick(0x5e));  // visible ASCII
  return v;
}

QByteArray HttpMutator::mutate_path(const QByteArray& path) {
  if (path.isEmpty()) return "/";
  const auto slash = path.lastIndexOf('/');
  const QByteArray dir = path.left(slash + 1), id = path.mid(slash + 1);
  switch (pick(10)) {
    case 0: return dir + id.left(id.size() - 2);        // an id a byte short
    case 1: return dir + id + "00";                     // a byte long
    case 2: return dir + id.toUpper();
    case 3: return dir + "zz" + id.mid(2);              // not hex
    case 4: return dir + "..%2f" + id;
    case 5: return path + "/extra";
    case 6: return path + "?x=1&y";
    case 7: return dir.isEmpty() ? "/" : dir;
    case 8: {
      constexpr std::array<const char*, 9> kOthers{"/",       "*",          "/media/",
                                                   "/media",  "/media//x",  "/metrics?x=1",
                                                   "/healthz", "/media/upload", "/%00"};
      return kOthers[pick(kOthers.size())];
    }
    default: return path + QByteArray(static_cast<qsizetype>(1 + pick(6000)), 'a');
  }
}

HttpRequest HttpMutator::mutate(HttpRequest request) {
  const std::size_t rounds = 1 + pick(3);
  for (std::size_t r = 0; r < rounds; ++r) {
    switch (pick(7)) {
      case 0:
        request.method = kMethods[pick(kMethods.size())];
        break;
      case 1:
        request.path = mutate_path(request.path);
        break;
      case 2:
      case 3:  // the values are where the parsing is
        if (!request.headers.isEmpty()) {
          auto& [k, v] = request.headers[static_cast<qsizetype>(pick(static_cast<std::size_t>(request.headers.size())))];
          v = edge_value(k, v);
          break;
        }
        [[fallthrough]];
      case 4: {
        const QByteArray name = kHeaders[pick(kHeaders.size())];
        request.headers.append({name, edge_value(name, {})});
        break;
      }
      case 5:
        if (!request.headers.isEmpty()) {
          const auto at = static_cast<qsizetype>(pick(static_cast<std::size_t>(request.headers.size())));
          if (chance(50)) request.headers.removeAt(at);
          else request.headers.append(request.headers[at]);  // the same header twice
        }
        break;
      default: {
        constexpr std::array<qsizetype, 7> kSizes{0, 1, 999, 1000, 1001, 4096, 70'000};
        QByteArray body(kSizes[pick(kSizes.size())], '\0');
        for (auto& c : body) c = static_cast<char>(rng_());
        request.body = body;
      }
    }
  }
  return request;
}

}  // namespace parley::test
