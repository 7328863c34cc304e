#include "store/store_worker.hpp"

#include <spdlog/spdlog.h>

#include "observability/metrics.hpp"

namespace parley::store {

StoreWorker::StoreWorker(std::unique_ptr<Store> store, Metrics& metrics, std::size_t max_queue,
                         std::size_t max_batch, std::chrono::milliseconds unhurried_delay)
    : store_(std::move(store)),
      metrics_(metrics),
      max_queue_(max_queue),
      max_batch_(max_batch),
      unhurried_delay_(unhurried_delay) {
  relay_id_ = store_->relay_id();
  metrics_.inbox_depth.store(store_->inbox_depth());
  thread_ = std::thread([this] { run(); });
}

StoreWorker::~StoreWorker() { stop(); }

void StoreWorker::submit(Work work, Done done, OnCommit on_commit, Urgency urgency) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && queue_.size() < max_queue_) {
      const bool prompt = urgency == Urgency::Prompt;
      // Taken under the lock, so the queue's front is always its oldest unhurried job.
      const auto queued = prompt ? std::chrono::steady_clock::time_point{}
                                 : std::chrono::steady_clock::now();
      queue_.push_back(Job{std::move(work), std::move(done), std::move(on_commit), urgency, queued});
      if (prompt) ++prompt_queued_;
      // An unhurried job behind others changes nothing the worker waits for (it is busy, or
      // waiting out the front job's delay), and a wake-up is dear: only the first one, or
      // the one that fills a batch, wakes it.
      if (prompt || queue_.size() == 1 || queue_.size() >= max_batch_) wake_.notify_one();
      return;
    }
  }
  done(JobStatus::Rejected);
}

void StoreWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void StoreWorker::run() {
  std::deque<Job> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      if (prompt_queued_ == 0) {
        // Only unhurried jobs: wait for a prompt one to share the commit, up to the delay
        // of the oldest.
        wake_.wait_until(lock, queue_.front().queued + unhurried_delay_, [&] {
          return stopping_ || prompt_queued_ > 0 || queue_.size() >= max_batch_;
        });
      }
      const std::size_t n = std::min(queue_.size(), max_batch_);
      for (std::size_t i = 0; i < n; ++i) {
        if (queue_.front().urgency == Urgency::Prompt) --prompt_queued_;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    run_batch(batch);
    batch.clear();
  }
}

void StoreWorker::run_batch(std::deque<Job>& batch) {
  std::vector<JobStatus> status(batch.size(), JobStatus::Committed);
  bool committed = false;
  const auto started = std::chrono::steady_clock::now();
  try {
    store_->begin();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      store_->savepoint();
      try {
        batch[i].work(*store_);
        store_->release_savepoint();
      } catch (const std::exception& e) {
        spdlog::error("store: job failed and was rolled back: {}", e.what());
        status[i] = JobStatus::Failed;
        store_->rollback_to_savepoint();
      }
    }
    store_->commit();
    committed = true;
  } catch (const std::exception& e) {
    spdlog::error("store: batch of {} failed to commit: {}", batch.size(), e.what());
    try {
      store_->rollback();
    } catch (const std::exception&) {
      // Already rolled back by SQLite; nothing more to undo.
    }
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  metrics_.observe_commit(std::chrono::duration<double>(elapsed).count(), batch.size());
  metrics_.inbox_depth.store(store_->inbox_depth());
  if (committed) {
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (status[i] == JobStatus::Committed && batch[i].on_commit) batch[i].on_commit();
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].done(committed ? status[i] : JobStatus::Failed);
  }
}

}  // namespace parley::store
