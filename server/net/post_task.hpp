#pragma once
// Posts a StrandTask (net/strand_task.hpp) to an executor, its Asio operation built in
// the memory the task carries. Asio moves the handler (which owns the task) out of the
// operation and frees the operation's memory before running it, also when an io_context is
// destroyed with the post still queued, so the memory outlives its use.
//
// While a PostBatch is open on the calling thread, tasks posted here to an io_context's own
// executor are chained instead, and each io_context's chain is posted as one operation when
// the batch closes (up to 16 io_contexts; tasks for more go one by one, each context's still
// in order): the store thread posts a commit's completions and live pushes (hundreds at
// saturation) with one lock of each io_context's queue and at most one wake-up of its thread,
// instead of one each. Plain net::post calls are not batched.
//
// A task, or a chain, runs inside a DeferredWrites::Scope: the socket writes it starts begin
// when it is done (net/deferred_writes.hpp).
#include <array>
#include <cstddef>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "net/deferred_writes.hpp"
#include "net/strand_task.hpp"

namespace parley {

// Owns a chain of tasks: runs them in order, or deletes what is left when destroyed unrun
// (an io_context destroyed with the post still queued).
class TaskChain {
 public:
  explicit TaskChain(StrandTask* head) : head_(head) {}
  TaskChain(TaskChain&& o) noexcept : head_(std::exchange(o.head_, nullptr)) {}
  TaskChain& operator=(TaskChain&&) = delete;
  ~TaskChain() {
    while (head_ != nullptr) delete std::exchange(head_, head_->next_in_batch);
  }
  // A task that throws does not cost the tasks after it (other connections' completions)
  // their turn: they run, then the first exception goes on.
  void run() {
    DeferredWrites::Scope scope;
    std::exception_ptr failed;
    while (head_ != nullptr) {
      // Its next_in_batch is stale from here; PostBatch::add resets it if it is chained again.
      std::unique_ptr<StrandTask> task(std::exchange(head_, head_->next_in_batch));
      try {
        task->on_strand(task);
      } catch (...) {
        if (!failed) failed = std::current_exception();
      }
    }
    if (failed) std::rethrow_exception(failed);
  }

 private:
  StrandTask* head_;
};

// Open on a thread for a scope (the store thread's commit completions: StoreWorker::finish).
// A batch opened inside another changes nothing: the outer one posts everything, so no task
// overtakes one chained before it.
class PostBatch {
 public:
  PostBatch();
  ~PostBatch();  // posts each io_context's chain
  PostBatch(const PostBatch&) = delete;
  PostBatch& operator=(const PostBatch&) = delete;

  // Chains `task` for `context` if a batch is open on this thread and has room for one more
  // io_context; otherwise leaves it to the caller. An io_context is either chained or not for
  // the whole batch, so its tasks keep their order either way.
  static bool add(boost::asio::io_context& context, std::unique_ptr<StrandTask>& task);

 private:
  struct Run {
    boost::asio::io_context* context = nullptr;
    StrandTask* head = nullptr;
    StrandTask* tail = nullptr;
  };
  const bool owner_;
  std::array<Run, 16> runs_{};  // one per io_context (the relay has one per I/O thread)
  std::size_t used_ = 0;
};

// Posts `handler` (which owns `carrier`) with its Asio operation in `carrier`'s memory.
template <class Executor, class Handler>
void post_carried(const Executor& executor, StrandTask& carrier, Handler handler) {
  boost::asio::post(executor,
                    boost::asio::bind_allocator(carrier.post_allocator(), std::move(handler)));
}

template <class Executor>
void post_task(const Executor& executor, std::unique_ptr<StrandTask> task) {
  if constexpr (std::is_same_v<Executor, boost::asio::io_context::executor_type>) {
    if (PostBatch::add(executor.context(), task)) return;
  }
  auto& carrier = *task;
  post_carried(executor, carrier, [task = std::move(task)]() mutable {
    DeferredWrites::Scope scope;
    task->on_strand(task);
  });
}

}  // namespace parley
