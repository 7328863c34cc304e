#pragma once
// A connection's store job (store/job.hpp) that completes on the connection's thread. It
// holds the session, so the session outlives its jobs, and the memory its completion is
// posted in: the hop from the store thread costs no allocation (Asio's per-thread cache of
// operation memory does not help there, since the store thread allocates and the I/O
// thread frees). A request's whole store round trip is the one allocation of its job.
#include <array>
#include <cstddef>
#include <memory>
#include <new>
#include <utility>

#include "store/job.hpp"

namespace parley {

class Session;

class SessionJob : public store::Job {
 public:
  // Memory for the one operation that posts the completion, handed out by PostAllocator.
  // Asio frees an operation's memory before it runs the handler, and the handler owns the
  // job, so the memory outlives its use.
  class PostMemory {
   public:
    void* allocate(std::size_t bytes) {
      if (in_use_ || bytes > bytes_.size()) return ::operator new(bytes);
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

   private:
    // An Asio executor operation holding a handler of two pointers is 48 bytes here.
    alignas(std::max_align_t) std::array<std::byte, 96> bytes_;
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
  Session& session() const { return *session_; }

  // On the session's strand: the session's bookkeeping, then completed(). `job` holds the
  // last reference to the session at times, so it is released only after the session's
  // part is over.
  static void complete(std::unique_ptr<SessionJob> job);

 protected:
  SessionJob(std::shared_ptr<Session> session, std::size_t bytes)
      : session_(std::move(session)), bytes_(bytes) {}

 private:
  friend class Session;
  // On the strand, once the job committed, failed or was rejected.
  virtual void completed(store::JobStatus status) = 0;
  void done(store::JobStatus status, std::unique_ptr<store::Job>& self) final;

  std::shared_ptr<Session> session_;
  std::size_t bytes_;  // payload held, counted against the session's pending-bytes budget
  store::JobStatus status_ = store::JobStatus::Failed;
  PostMemory post_memory_;
};

// What a SessionTask does when nothing runs at its commit.
struct NoCommit {
  template <class State>
  void operator()(State&) const {}
};

// A SessionJob made of a request's state and three callables that take it: work(state,
// store), on_commit(state), done(state, status). Session::submit builds them.
template <class State, class Work, class Done, class OnCommit>
class SessionTask final : public SessionJob {
 public:
  SessionTask(std::shared_ptr<Session> session, std::size_t bytes, State state, Work work,
              Done done, OnCommit on_commit)
      : SessionJob(std::move(session), bytes),
        state_(std::move(state)),
        work_(std::move(work)),
        done_(std::move(done)),
        on_commit_(std::move(on_commit)) {}

  void run(store::Store& store) override { work_(state_, store); }
  void on_commit() override { on_commit_(state_); }

 private:
  void completed(store::JobStatus status) override { done_(state_, status); }

  State state_;
  Work work_;
  Done done_;
  OnCommit on_commit_;
};

}  // namespace parley
