// Byte types shared by the crypto library, and containers that wipe secrets when they die.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

namespace parley::crypto {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Wraps sodium_memzero so headers need not include <sodium.h>; the compiler cannot elide it.
void secure_zero(void* p, std::size_t n) noexcept;

// Fixed-size secret. Copies are allowed (each copy wipes itself); a moved-from Secret is wiped
// so the bytes live in exactly one place afterwards.
template <std::size_t N>
class Secret {
 public:
  Secret() noexcept { bytes_.fill(0); }
  // Copies exactly N bytes; a wrong size is a programming error, never a silent short key.
  explicit Secret(ByteView src) {
    if (src.size() != N) throw std::invalid_argument("Secret: wrong input size");
    for (std::size_t i = 0; i < N; ++i) bytes_[i] = src[i];
  }
  Secret(const Secret&) noexcept = default;
  Secret& operator=(const Secret& o) noexcept {
    bytes_ = o.bytes_;
    return *this;
  }
  Secret(Secret&& o) noexcept : bytes_(o.bytes_) { o.wipe(); }
  Secret& operator=(Secret&& o) noexcept {
    if (this != &o) {
      bytes_ = o.bytes_;
      o.wipe();
    }
    return *this;
  }
  ~Secret() { wipe(); }

  std::uint8_t* data() noexcept { return bytes_.data(); }
  const std::uint8_t* data() const noexcept { return bytes_.data(); }
  static constexpr std::size_t size() noexcept { return N; }
  ByteView view() const noexcept { return {bytes_.data(), N}; }
  void wipe() noexcept { secure_zero(bytes_.data(), N); }

 private:
  std::array<std::uint8_t, N> bytes_;
};

// Variable-size secret: one heap allocation of fixed size (never reallocated, so no stale
// copies are left behind), wiped on destruction.
class SecureBuffer {
 public:
  SecureBuffer() = default;
  explicit SecureBuffer(std::size_t n);
  explicit SecureBuffer(ByteView src);
  SecureBuffer(const SecureBuffer& o);
  SecureBuffer& operator=(const SecureBuffer& o);
  SecureBuffer(SecureBuffer&& o) noexcept;
  SecureBuffer& operator=(SecureBuffer&& o) noexcept;
  ~SecureBuffer();

  std::uint8_t* data() noexcept { return data_.get(); }
  const std::uint8_t* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  ByteView view() const noexcept { return {data_.get(), size_}; }

 private:
  void release() noexcept;
  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t size_ = 0;
};

// Constant-time comparison (sodium_memcmp); false if the sizes differ (sizes are not secret).
bool constant_time_equal(ByteView a, ByteView b);
void random_bytes(std::uint8_t* out, std::size_t n);
// sodium_init wrapper: idempotent, thread-safe, true on success. Every entry point of this
// library calls it, so callers need not, but may call it early to fail fast.
bool init();

}  // namespace parley::crypto
