#pragma once
// The ciphertext a media transfer moves. All the relay sees of an encrypted attachment is
// incompressible bytes of a known size, so a file here is a worker-wide block of random
// bytes followed by a 16-byte random tail. The tail gives every file its own SHA-256 (the
// relay's blob name), so no upload is deduplicated into another's blob, while the block is
// made and hashed once per worker: the load generator spends its CPU on the transfers, not
// on making and hashing data. Downloads are checked byte for byte as they arrive.
#include <sodium.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <boost/asio/buffer.hpp>

namespace parley::loadgen {

class MediaBlock {
 public:
  static constexpr std::size_t kTailBytes = 16;

  // `file_bytes` > kTailBytes: the size of every file made from this block.
  explicit MediaBlock(std::uint64_t file_bytes);

  std::uint64_t file_bytes() const { return bytes_.size() + kTailBytes; }
  const std::string& bytes() const { return bytes_; }
  // SHA-256 state after the block, continued by each file with its tail.
  const crypto_hash_sha256_state& hashed() const { return hashed_; }

 private:
  std::string bytes_;
  crypto_hash_sha256_state hashed_{};
};

class MediaFile {
 public:
  explicit MediaFile(std::shared_ptr<const MediaBlock> block);  // a fresh random tail

  std::uint64_t size() const { return block_->file_bytes(); }
  // Bytes [offset, offset + length) as at most two buffers (part of the block, part of the
  // tail), sent without copying. The range must lie within the file.
  std::array<boost::asio::const_buffer, 2> slice(std::uint64_t offset, std::uint64_t length) const;
  // True when `bytes` equal the file's bytes from `offset` (and do not run past its end).
  bool matches(std::uint64_t offset, std::span<const char> bytes) const;
  // Lowercase hex SHA-256, as the relay's ETag names a finished upload.
  const std::string& sha256_hex() const { return sha256_hex_; }

 private:
  std::shared_ptr<const MediaBlock> block_;
  std::array<char, MediaBlock::kTailBytes> tail_{};
  std::string sha256_hex_;
};

}  // namespace parley::loadgen
