#pragma once
// An allocator for Asio operations that must cost exactly their size.
//
// Asio allocates each pending operation through the handler's associated allocator, but it
// treats std::allocator as "none" and uses its per-thread recycling cache instead
// (detail/handler_alloc_helpers.hpp, get_hook_allocator). A cached block is whatever size
// the last operation of that thread needed, so a small wait parked for hours can hold a
// block sized for a WebSocket write. Binding this allocator (net::bind_allocator) gives the
// operation a fresh block of its own size.
#include <cstddef>
#include <new>

namespace parley::net_alloc {

template <class T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() noexcept = default;
  template <class U>
  ExactAllocator(const ExactAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { ::operator delete(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const ExactAllocator<U>&) const noexcept { return true; }
};

}  // namespace parley::net_alloc
