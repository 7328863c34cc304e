#pragma once
// Cutting text from the network for an error message: a byte count can fall inside a
// character, and a proto3 string holding half of one fails to parse at the client.
#include <cstddef>
#include <string>
#include <string_view>

namespace parley {

// At most `max_bytes` of `text`, ending on a UTF-8 character boundary.
inline std::string utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

}  // namespace parley
