#pragma once
// Work posted to a connection's strand (the store thread's pushes and completions, a mark
// raised by another connection's ack, the marks' flush), carrying the memory it is posted
// in. A post from the store thread would otherwise cost two allocations (a std::function and
// Asio's operation; Asio's per-thread cache of operation memory does not help there, since
// one thread allocates and another frees) on top of whatever the task itself holds.
#include <memory>
#include <utility>

#include "net/handler_memory.hpp"

namespace parley {

class StrandTask {
 public:
  StrandTask() = default;
  virtual ~StrandTask() = default;
  StrandTask(const StrandTask&) = delete;
  StrandTask& operator=(const StrandTask&) = delete;

  // On the strand. `self` owns the task, which is destroyed right after unless it took `self`
  // (to post itself again: its post memory is free by then).
  virtual void on_strand(std::unique_ptr<StrandTask>& self) = 0;

  // Memory for the one operation that posts the task (the handler owns the task, so the
  // memory outlives its use). An Asio executor operation holding a handler of two pointers is
  // 48 bytes here.
  using PostMemory = net_alloc::HandlerMemory<64>;
  PostMemory::Allocator<void> post_allocator() { return post_memory_.allocator(); }

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
  void on_strand(std::unique_ptr<StrandTask>&) override { f_(); }

 private:
  F f_;
};

template <class F>
std::unique_ptr<StrandTask> strand_call(F f) {
  return std::make_unique<StrandCall<F>>(std::move(f));
}

}  // namespace parley
