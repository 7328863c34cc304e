// Streaming file encryption: libsodium's secretstream (XChaCha20-Poly1305) in fixed-size
// chunks, so a file of any size is encrypted and decrypted piece by piece.
//
// Ciphertext layout: a 24-byte header, then one record per 64 KiB of plaintext (the last
// one shorter; an empty file has one empty record), each 17 bytes longer than its plaintext. The last record
// carries the FINAL tag: a truncated stream has no FINAL record and is refused, as is
// anything after it, a reordered record or a flipped bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "crypto/secure_bytes.hpp"

namespace parley::crypto {

using StreamKey = Secret<32>;
inline constexpr std::size_t kStreamChunkBytes = 64 * 1024;  // plaintext per record
inline constexpr std::size_t kStreamHeaderBytes = 24;
inline constexpr std::size_t kStreamOverheadBytes = 17;      // per record
inline constexpr std::size_t kStreamRecordBytes = kStreamChunkBytes + kStreamOverheadBytes;

// Ciphertext size for `plaintext` bytes: header plus one record per started chunk (at
// least one).
std::uint64_t stream_ciphertext_size(std::uint64_t plaintext);

StreamKey new_stream_key();

class StreamEncryptor {
 public:
  explicit StreamEncryptor(const StreamKey& key);
  ~StreamEncryptor();
  StreamEncryptor(const StreamEncryptor&) = delete;
  StreamEncryptor& operator=(const StreamEncryptor&) = delete;

  ByteView header() const;  // write this first
  // Encrypts one chunk (at most kStreamChunkBytes; every chunk but the last exactly that)
  // into `out` (chunk size + kStreamOverheadBytes); returns the bytes written.
  std::size_t push(ByteView chunk, bool last, std::uint8_t* out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class StreamDecryptor {
 public:
  // nullopt when the header is malformed.
  static std::unique_ptr<StreamDecryptor> open(const StreamKey& key, ByteView header);
  ~StreamDecryptor();
  StreamDecryptor(const StreamDecryptor&) = delete;
  StreamDecryptor& operator=(const StreamDecryptor&) = delete;

  // Decrypts one record into `out` (record size - kStreamOverheadBytes). nullopt when the
  // record does not authenticate, or comes after the final one.
  std::optional<std::size_t> pull(ByteView record, std::uint8_t* out);
  bool finished() const;  // the FINAL record has been pulled

 private:
  StreamDecryptor();
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace parley::crypto
