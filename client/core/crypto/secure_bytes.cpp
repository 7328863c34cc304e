#include "crypto/secure_bytes.hpp"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

namespace parley::crypto {

void secure_zero(void* p, std::size_t n) noexcept {
  if (p != nullptr && n != 0) sodium_memzero(p, n);
}

SecureBuffer::SecureBuffer(std::size_t n) : data_(n ? new std::uint8_t[n]() : nullptr), size_(n) {}

SecureBuffer::SecureBuffer(ByteView src) : SecureBuffer(src.size()) {
  std::copy(src.begin(), src.end(), data_.get());
}

SecureBuffer::SecureBuffer(const SecureBuffer& o) : SecureBuffer(o.view()) {}

SecureBuffer& SecureBuffer::operator=(const SecureBuffer& o) {
  if (this != &o) {
    SecureBuffer copy(o);
    *this = std::move(copy);
  }
  return *this;
}

SecureBuffer::SecureBuffer(SecureBuffer&& o) noexcept : data_(std::move(o.data_)), size_(o.size_) {
  o.size_ = 0;
}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::move(o.data_);
    size_ = o.size_;
    o.size_ = 0;
  }
  return *this;
}

SecureBuffer::~SecureBuffer() { release(); }

void SecureBuffer::release() noexcept {
  secure_zero(data_.get(), size_);
  data_.reset();
  size_ = 0;
}

bool constant_time_equal(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void random_bytes(std::uint8_t* out, std::size_t n) {
  if (!init()) throw std::runtime_error("libsodium initialisation failed");
  randombytes_buf(out, n);
}

bool init() {
  // sodium_init returns 0 on first success, 1 if already initialised, -1 on failure.
  static const bool ok = sodium_init() >= 0;
  return ok;
}

}  // namespace parley::crypto
