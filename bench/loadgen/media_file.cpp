#include "media_file.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace parley::loadgen {

MediaBlock::MediaBlock(std::uint64_t file_bytes) {
  if (file_bytes <= kTailBytes) throw std::invalid_argument("media files must be larger than 16 bytes");
  bytes_.resize(file_bytes - kTailBytes);
  randombytes_buf(bytes_.data(), bytes_.size());
  crypto_hash_sha256_init(&hashed_);
  crypto_hash_sha256_update(&hashed_, reinterpret_cast<const unsigned char*>(bytes_.data()), bytes_.size());
}

MediaFile::MediaFile(std::shared_ptr<const MediaBlock> block) : block_(std::move(block)) {
  randombytes_buf(tail_.data(), tail_.size());
  auto state = block_->hashed();  // a copy: the block's state serves every file
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(tail_.data()), tail_.size());
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256_final(&state, digest.data());
  sha256_hex_.resize(2 * digest.size() + 1);
  sodium_bin2hex(sha256_hex_.data(), sha256_hex_.size(), digest.data(), digest.size());
  sha256_hex_.pop_back();  // the terminating NUL
}

std::array<boost::asio::const_buffer, 2> MediaFile::slice(std::uint64_t offset, std::uint64_t length) const {
  const std::uint64_t split = block_->bytes().size();
  const auto end = offset + length;
  std::array<boost::asio::const_buffer, 2> out{};
  if (offset < split)
    out[0] = boost::asio::buffer(block_->bytes().data() + offset, std::min(end, split) - offset);
  if (end > split) {
    const auto from = std::max(offset, split);
    out[1] = boost::asio::buffer(tail_.data() + (from - split), end - from);
  }
  return out;
}

bool MediaFile::matches(std::uint64_t offset, std::span<const char> bytes) const {
  if (offset > size() || bytes.size() > size() - offset) return false;
  for (const auto& piece : slice(offset, bytes.size())) {
    if (piece.size() == 0) continue;  // an unused slot: its null pointer is no memcmp argument
    if (std::memcmp(piece.data(), bytes.data(), piece.size()) != 0) return false;
    bytes = bytes.subspan(piece.size());
  }
  return true;
}

}  // namespace parley::loadgen
