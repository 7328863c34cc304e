#include "net/post_task.hpp"

namespace parley {
namespace {
thread_local PostBatch* current = nullptr;
}  // namespace

PostBatch::PostBatch() : owner_(current == nullptr) {
  if (owner_) current = this;
}

PostBatch::~PostBatch() {
  if (!owner_) return;
  current = nullptr;
  for (std::size_t i = 0; i < used_; ++i) {
    StrandTask* head = runs_[i].head;  // the chain's first task carries the post
    post_carried(runs_[i].context->get_executor(), *head,
                 [chain = TaskChain(head)]() mutable { chain.run(); });
  }
}

bool PostBatch::add(boost::asio::io_context& context, std::unique_ptr<StrandTask>& task) {
  PostBatch* b = current;
  if (b == nullptr) return false;
  task->next_in_batch = nullptr;  // a task posting itself again was in a chain before
  for (std::size_t i = 0; i < b->used_; ++i) {
    if (b->runs_[i].context == &context) {
      b->runs_[i].tail->next_in_batch = task.get();
      b->runs_[i].tail = task.release();
      return true;
    }
  }
  if (b->used_ == b->runs_.size()) return false;
  StrandTask* t = task.release();
  b->runs_[b->used_++] = Run{&context, t, t};
  return true;
}

}  // namespace parley
