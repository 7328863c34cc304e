#pragma once
// Work posted to a connection's strand (the store thread's pushes and completions, a mark
// raised by another connection's ack, the marks' flush), carrying the memory it is posted
// in. A post from the store thread would otherwise cost two allocations (a std::function and
// Asio's operation; Asio's per-thread cache of operation memory does not help there, since
// one thread allocates and another frees) on top of whatever the task itself holds.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

namespace parley {

class StrandTask {
 public:
  StrandTask() = default;
  virtual ~StrandTask() = default;
  StrandTask(const StrandTask&) = delete;
  StrandTask& operator=(const StrandTask&) = delete;

  // On the strand; the task is destroyed right after.
  virtual void on_strand() = 0;

  // Memory for the one operation that posts the task, handed out by PostAllocator. Asio
  // frees an operation's memory before it runs the handler, and the handler owns the task,
  // so the memory outlives its use.
  class PostMemory {
   public:
    void* allocate(std::size_t bytes) {
      if (in_use_ || bytes > bytes_.size()) {
        fallbacks_.fetch_add(1, std::memory_order_relaxed);
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

    // Posts that did not fit (tests check there are none: a larger Asio operation would
    // silently cost an allocation again).
    static std::uint64_t fallbacks() { return fallbacks_.load(std::memory_order_relaxed); }

   private:
    static inline std::atomic<std::uint64_t> fallbacks_{0};
    // An Asio executor operation holding a handler of two pointers is 48 bytes here.
    alignas(std::max_align_t) std::array<std::byte, 64> bytes_;
    bool in_use_ = false;
  };

  template <class T>
  struct PostAllocator {
    using value_type = T;
    explicit PostAllocator(PostMemory& m) noexcept : memory(&m) {}
    template <class U>
    PostAllocator(const PostAllocator<U>& other) noexcept : memory(other.memory) {}
    T* allocate(std::size_t n) { return static_cast<T*>(memory->allocate(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { memory->deallocate(p, n * sizeof(T)); }
    template <class U>
    bool operator==(const PostAllocator<U>& other) const noexcept {
      return memory == other.memory;
    }
    PostMemory* memory;
  };

  PostAllocator<void> post_allocator() { return PostAllocator<void>(post_memory_); }

  // The next task of a chain posted as one (PostBatch, net/post_task.hpp).
  StrandTask* next_in_batch = nullptr;

 private:
  PostMemory post_memory_;
};

// A callable as a StrandTask (Session::run_on_strand).
template <class F>
class StrandCall final : public StrandTask {
 public:
  explicit StrandCall(F f) : f_(std::move(f)) {}
  void on_strand() override { f_(); }

 private:
  F f_;
};

template <class F>
std::unique_ptr<StrandTask> strand_call(F f) {
  return std::make_unique<StrandCall<F>>(std::move(f));
}

}  // namespace parley
