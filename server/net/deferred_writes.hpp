#pragma once
// Socket writes started at the end of the handler that queued their frames, instead of posted
// behind every handler already waiting on the I/O thread.
//
// A connection with nothing in flight that queues a frame must not write at once: the handler
// queuing it may queue more for the same client (a fan-out step's entries for one member, a
// reply and the push its commit released), and those should leave in the same write. Posting
// the write did that, but put it at the back of the thread's queue: behind a fan-out step's
// hundred writes to other members and their acks' reads, a sender's ack to 1,000 members
// waited there long enough to nearly double its p99 (docs/performance-log.md). A handler that
// queues frames (a chain of store completions, a single posted task, a frame read, a send
// queue that drained) opens a Scope instead; writers deferred while it is open start, in
// order, when it closes.
//
// One thread per io_context: the scope open on this thread belongs to the io_context whose
// handler is running, so a writer deferred here is on its own thread (a connection queues
// frames only on its own thread). With no scope open (the store thread, a handler that
// opened none) defer() refuses and the caller posts.
#include <cstddef>
#include <memory>
#include <vector>

namespace parley {

class DeferredWrites {
 public:
  class Writer {
   public:
    // Starts the writer's write (at the scope's end, when deferred). Must not throw: nothing
    // could retry it, and its connection would wait for that write forever.
    virtual void start_write() noexcept = 0;

   protected:
    ~Writer() = default;
  };

  // Open for a handler's run. A scope opened inside another changes nothing: the outer one
  // starts every write, so none overtakes frames a later task of the same handler queues.
  class Scope {
   public:
    Scope();
    ~Scope();  // starts every deferred write, oldest first
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    const bool owner_;
  };

  // Defers `writer`'s write to the end of the scope open on this thread: false when none is.
  static bool defer(std::shared_ptr<Writer> writer);

  // Writers deferred on this thread and not yet started (tests).
  static std::size_t pending();
};

}  // namespace parley
