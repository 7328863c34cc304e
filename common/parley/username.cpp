#include "parley/username.hpp"

namespace parley {
namespace {
constexpr std::size_t kMin = 3;
constexpr std::size_t kMax = 32;

bool allowed(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

std::string reject(std::string* why, const char* text) {
  if (why) *why = text;
  return {};
}
}  // namespace

std::string fold_username(std::string_view raw, std::string* why) {
  if (raw.size() < kMin) return reject(why, "username must be at least 3 characters");
  if (raw.size() > kMax) return reject(why, "username must be at most 32 characters");
  std::string folded;
  folded.reserve(raw.size());
  for (char c : raw) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!allowed(c))
      return reject(why, "username may contain only letters a-z, digits, '_', '.' and '-'");
    folded.push_back(c);
  }
  if (folded.front() < 'a' || folded.front() > 'z')
    return reject(why, "username must start with a letter");
  if (folded.find("..") != std::string::npos)
    return reject(why, "username may not contain '..'");
  return folded;
}

}  // namespace parley
