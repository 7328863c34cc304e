#pragma once
// Posts a StrandTask (session/strand_task.hpp) to an executor, its Asio operation built in
// the memory the task carries. Asio moves the handler (which owns the task) out of the
// operation and frees the operation's memory before running it, also when an io_context is
// destroyed with the post still queued, so the memory outlives its use.
#include <memory>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>

#include "session/strand_task.hpp"

namespace parley {

template <class Executor>
void post_task(const Executor& executor, std::unique_ptr<StrandTask> task) {
  const auto alloc = task->post_allocator();
  boost::asio::post(executor, boost::asio::bind_allocator(
                                  alloc, [task = std::move(task)] { task->on_strand(); }));
}

}  // namespace parley
