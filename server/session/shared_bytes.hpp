#pragma once
// Immutable bytes shared by every frame that carries them (frame.hpp): the reference count
// and the bytes are one allocation, where a shared std::string is two (its control block
// and its buffer). Written once, through the pointer allocate() gives, before the first copy
// is made.
#include <cstddef>
#include <memory>
#include <string_view>

namespace parley {

class SharedBytes {
 public:
  SharedBytes() = default;
  // `size` bytes, not zeroed, and where to write them.
  static SharedBytes allocate(std::size_t size, char*& data) {
    auto bytes = std::make_shared_for_overwrite<char[]>(size);
    data = bytes.get();
    return SharedBytes(std::move(bytes), size);
  }

  // `bytes`, which live inside an object `owner` owns, sharing that ownership: no
  // allocation, no copy.
  template <class T>
  static SharedBytes inside(std::shared_ptr<const T> owner, std::string_view bytes) {
    return SharedBytes(std::shared_ptr<const char[]>(std::move(owner), bytes.data()), bytes.size());
  }

  explicit operator bool() const { return data_ != nullptr; }
  std::string_view view() const { return {data_.get(), size_}; }
  std::size_t size() const { return size_; }

  // A reference that does not keep the bytes, for a cache of them (deliver_bodies.hpp).
  class Weak {
   public:
    Weak() = default;
    explicit Weak(const SharedBytes& b) : data_(b.data_), size_(b.size_) {}
    SharedBytes lock() const { return SharedBytes(data_.lock(), size_); }
    bool expired() const { return data_.expired(); }

   private:
    std::weak_ptr<const char[]> data_;
    std::size_t size_ = 0;
  };

 private:
  SharedBytes(std::shared_ptr<const char[]> data, std::size_t size)
      : data_(std::move(data)), size_(data_ ? size : 0) {}

  std::shared_ptr<const char[]> data_;
  std::size_t size_ = 0;
};

}  // namespace parley
