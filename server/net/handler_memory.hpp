#pragma once
// The memory of one basic Asio operation, kept inside the object that starts that operation
// over and over (a task's post, a parked connection's readability wait), so that starting it
// allocates nothing. Asio frees a basic operation's memory before it runs the handler, so
// the block is free again by the time the handler could start the next one. (Not for a
// composed operation such as Beast's reads: it keeps its state while its inner ones run.)
//
// One operation at a time: a second one while the block is taken, or one larger than
// `Size`, goes to the heap and is counted (tests check there are none: a larger Asio
// operation after an upgrade would silently cost an allocation again).
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

namespace parley::net_alloc {

// Operations any HandlerMemory sent to the heap since the process started (/metrics).
inline std::atomic<std::uint64_t> handler_memory_fallbacks{0};

template <std::size_t Size>
class HandlerMemory {
 public:
  HandlerMemory() = default;
  HandlerMemory(const HandlerMemory&) = delete;
  HandlerMemory& operator=(const HandlerMemory&) = delete;

  void* allocate(std::size_t bytes) {
    if (in_use_ || bytes > bytes_.size()) {
      handler_memory_fallbacks.fetch_add(1, std::memory_order_relaxed);
      return ::operator new(bytes);
    }
    in_use_ = true;
    return bytes_.data();
  }
  void deallocate(void* p, std::size_t bytes) noexcept {
    if (p == bytes_.data()) {
      in_use_ = false;
    } else {
      ::operator delete(p, bytes);
    }
  }

  static std::uint64_t fallbacks() {
    return handler_memory_fallbacks.load(std::memory_order_relaxed);
  }

  // Binds to a handler with net::bind_allocator.
  template <class T>
  struct Allocator {
    using value_type = T;
    explicit Allocator(HandlerMemory& m) noexcept : memory(&m) {}
    template <class U>
    Allocator(const Allocator<U>& other) noexcept : memory(other.memory) {}
    T* allocate(std::size_t n) {
      static_assert(alignof(T) <= alignof(std::max_align_t), "the block is max_align_t-aligned");
      return static_cast<T*>(memory->allocate(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept { memory->deallocate(p, n * sizeof(T)); }
    template <class U>
    bool operator==(const Allocator<U>& other) const noexcept {
      return memory == other.memory;
    }
    HandlerMemory* memory;
  };
  Allocator<void> allocator() noexcept { return Allocator<void>(*this); }

 private:
  alignas(std::max_align_t) std::array<std::byte, Size> bytes_;
  bool in_use_ = false;
};

}  // namespace parley::net_alloc
