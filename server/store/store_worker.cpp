#include "store/store_worker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <iterator>

#include "net/post_task.hpp"
#include "observability/metrics.hpp"
#include "util/thread_name.hpp"

namespace parley::store {

StoreWorker::StoreWorker(std::unique_ptr<Store> store, Metrics& metrics, std::size_t max_queue,
                         std::size_t max_batch, std::chrono::milliseconds unhurried_delay,
                         bool publishes_depth)
    : store_(std::move(store)),
      metrics_(metrics),
      max_queue_(max_queue),
      max_batch_(max_batch),
      unhurried_delay_(unhurried_delay),
      publishes_depth_(publishes_depth) {
  relay_id_ = store_->relay_id();
  if (publishes_depth_) metrics_.inbox_depth.store(store_->inbox_depth());
  thread_ = std::thread([this] {
    name_this_thread("parley-store");
    run();
  });
}

StoreWorker::~StoreWorker() { stop(); }

namespace {
class FunctionJob final : public Job {
 public:
  FunctionJob(StoreWorker::Work work, StoreWorker::Done done, StoreWorker::OnCommit on_commit)
      : work_(std::move(work)), done_(std::move(done)), on_commit_(std::move(on_commit)) {}
  void run(Store& store) override { work_(store); }
  void on_commit() override {
    if (on_commit_) on_commit_();
  }
  void done(JobStatus status, std::unique_ptr<Job>&) override { done_(status); }

 private:
  StoreWorker::Work work_;
  StoreWorker::Done done_;
  StoreWorker::OnCommit on_commit_;
};
}  // namespace

void StoreWorker::submit(Work work, Done done, OnCommit on_commit, Urgency urgency) {
  submit(std::make_unique<FunctionJob>(std::move(work), std::move(done), std::move(on_commit)),
         urgency);
}

JobStatus StoreWorker::run_and_wait(Work work) {
  std::promise<JobStatus> status;
  auto done = status.get_future();
  submit(std::move(work), [&status](JobStatus st) { status.set_value(st); });
  return done.get();
}

bool StoreWorker::submit(std::unique_ptr<Job> job, Urgency urgency) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && queue_.size() < max_queue_) {
      queue_.push_back(Queued{std::move(job), urgency, due_by(urgency)});
      if (unwaited(urgency)) ++unwaited_queued_;
      // An unhurried job behind others changes nothing for the worker (it is busy and takes
      // the queue next), and a wake-up is dear: only a job someone waits on, or the first
      // one, wakes it.
      if (urgency != Urgency::Unhurried || queue_.size() == 1) wake_.notify_one();
      return true;
    }
  }
  job->done(JobStatus::Rejected, job);
  return false;
}

StoreWorker::Clock::time_point StoreWorker::due_by(Urgency urgency) const {
  switch (urgency) {
    case Urgency::Prompt:
    case Urgency::Background: return Clock::time_point::min();
    // A read-only job never makes its transaction due: it completes without the commit.
    case Urgency::ReadOnly: return Clock::time_point::max();
    case Urgency::Unhurried: break;
  }
  return Clock::now() + unhurried_delay_;
}

void StoreWorker::follow(TransactionMemory& memory) {
  std::lock_guard lock(mutex_);
  memories_.push_back(&memory);
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
  Batch batch;
  std::deque<Queued> fresh;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock(mutex_);
      if (batch.jobs.empty()) {
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      } else {
        // Only unhurried jobs so far, run but not committed: wait for more jobs (a prompt
        // one to share the commit), up to the delay of the oldest.
        wake_.wait_until(lock, batch.commit_by, [&] { return stopping_ || !queue_.empty(); });
      }
      stopping = stopping_;
      if (batch.jobs.empty() && queue_.empty()) return;  // stopping and drained
      take(max_batch_ - batch.jobs.size(), fresh);
    }
    execute(batch, fresh);
    if (batch.jobs.empty() && batch.open) {
      // Only completed reads ran in it: its COMMIT has nothing of theirs to write or sync
      // (at most a run floor's periodic save, store/run_floor.hpp), and ending it lets
      // SQLite checkpoint past the snapshot it held. Not counted as a commit in the
      // metrics, which count write transactions. Nothing of it to sync either.
      end_transaction(batch, false);
      put_back(batch.put_back);
      batch.restart();
      continue;
    }
    // Unhurried jobs alone are run at once but committed only with a prompt one, or when the
    // oldest has waited its delay out: the prompt job's commit then need not run their
    // statements too.
    const bool due = batch.broken || stopping || !batch.put_back.empty() ||
                     batch.jobs.size() >= max_batch_ || Clock::now() >= batch.commit_by;
    if (due) finish(batch);
  }
}

// Under the mutex. Jobs nobody waits on (unhurried and background ones) stay queued, in
// order, when a job someone waits on (a prompt or read-only one) is among those this
// transaction can take, unless they were passed over once already.
void StoreWorker::take(std::size_t room, std::deque<Queued>& fresh) {
  const auto reach = static_cast<std::ptrdiff_t>(std::min(queue_.size(), room));
  const bool step_aside =
      unwaited_queued_ > 0 &&
      std::any_of(queue_.begin(), queue_.begin() + reach,
                  [](const Queued& q) { return !unwaited(q.urgency); });
  // A stepped-aside unhurried job's delay starts again: left out of this commit, it waits for
  // the next job someone waits on rather than making a commit (an fsync) of its own. One
  // clock read per take, not one per job of a burst, under the mutex.
  const auto unhurried_restart = step_aside ? due_by(Urgency::Unhurried) : Clock::time_point{};
  // Only the jobs within reach are looked at: a burst of a thousand members' acks behind
  // them is not walked under the mutex (submit waits on it), nor overtaken by jobs after them.
  for (std::ptrdiff_t i = 0; i < reach; ++i) {
    auto q = std::move(queue_.front());
    queue_.pop_front();
    if (unwaited(q.urgency)) {
      if (step_aside && !q.passed_over) {
        q.passed_over = true;
        if (q.urgency == Urgency::Unhurried) q.commit_by = std::max(q.commit_by, unhurried_restart);
        stepped_aside_.push_back(std::move(q));
        continue;
      }
      --unwaited_queued_;
    }
    fresh.push_back(std::move(q));
  }
  queue_.insert(queue_.begin(), std::make_move_iterator(stepped_aside_.begin()),
                std::make_move_iterator(stepped_aside_.end()));
  stepped_aside_.clear();
}

void StoreWorker::execute(Batch& batch, std::deque<Queued>& fresh) {
  const auto started = Clock::now();
  // Not in a guarded transaction (run again, or after a conflict), nor for jobs back from
  // a conflict: the rare paths, where a failure of the round trip would start the
  // transaction over a second time, or a lock met again cost its wait twice.
  if (fresh.size() > 1 && batch.put_back.empty() && !batch.broken && !batch.guarded &&
      store_->reads_ahead() &&
      std::ranges::none_of(fresh, [](const Queued& q) { return q.conflicts > 0 || q.guarded; }))
    read_ahead(batch, fresh);
  while (!fresh.empty()) {
    auto job = std::move(fresh.front());
    fresh.pop_front();
    if (!batch.put_back.empty()) {
      // Behind a job that met a conflict: it keeps its place in front of them.
      batch.put_back.push_back(std::move(job));
      continue;
    }
    batch.commit_by = std::min(batch.commit_by, job.commit_by);
    batch.jobs.push_back(std::move(job));
    if (batch.broken) continue;
    try {
      // A job put back after meeting another writer's locks may well meet them again: it
      // and the jobs after it in its transaction run in savepoints.
      if (batch.jobs.back().conflicts > 0 || batch.jobs.back().guarded) batch.guarded = true;
      if (!batch.open) {
        store_->begin();
        batch.open = true;
      }
      if (batch.guarded) store_->savepoint();
      // A job back from a batch whose commit failed ran before; only this run counts.
      batch.jobs.back().status = JobStatus::Failed;
      try {
        batch.jobs.back().job->run(*store_);
        if (batch.guarded) store_->release_savepoint();
        batch.jobs.back().status = JobStatus::Committed;
      } catch (const std::exception& e) {
        const bool retry = store_->conflicted(e) && may_retry(batch.jobs.back());
        if (!batch.guarded) {
          start_over(batch, fresh, retry);
          continue;
        }
        store_->rollback_to_savepoint();
        if (retry) {
          // Another gateway holds a row it needs, maybe waiting on one of ours: this
          // transaction ends at once with what ran before, releasing its locks, and the job
          // runs again first in the next. Its work is undone, so it may (job.hpp).
          metrics_.store_conflicts_retried.fetch_add(1, std::memory_order_relaxed);
          batch.put_back.push_back(std::move(batch.jobs.back()));
          batch.jobs.pop_back();
          continue;
        }
        spdlog::error("store: job failed and was rolled back: {}", e.what());
      }
    } catch (const std::exception& e) {
      // The transaction itself failed (BEGIN, a savepoint): every job in it fails.
      spdlog::error("store: transaction failed: {}", e.what());
      batch.broken = true;
      continue;
    }
    auto& ran = batch.jobs.back();
    if (ran.urgency == Urgency::ReadOnly && !batch.lasting_writes_ran) {
      // It saw nothing a commit could still take back but unhurried writes (see the header).
      ran.done(ran.status);
      batch.jobs.pop_back();
    } else if (ran.urgency == Urgency::Prompt || ran.urgency == Urgency::Background) {
      batch.lasting_writes_ran = true;
    }
  }
  batch.busy += Clock::now() - started;
}

// Each job's first reads, for all of them in one round trip where the store crosses the
// network, instead of one each as they run in turn. They are made in the transaction, begun
// first, because some lock the rows they read (an ack's) until the commit; those do not wait
// for a lock another writer holds, but fail at once. Before any job ran in it, a failure
// there is the reads' own: whatever they began is rolled back, and each job reads for itself
// in a transaction begun again, meeting it again or not (a held lock: each job in a
// savepoint, so that only the one that needs it goes back to the queue). After, the round
// trip also carried what earlier jobs queued (PostgreSQL's pipeline), whose error is theirs
// and may have ended the transaction: it runs again from its first job, each in a savepoint,
// as when a job throws. (A lock another writer held is met again there, by its own job, and
// counted and put back as a conflict then.)
void StoreWorker::read_ahead(Batch& batch, std::deque<Queued>& fresh) {
  try {
    store_->forget_read_ahead();  // nothing of an earlier round's stays to be used
    if (!batch.open) {
      store_->begin();
      batch.open = true;
    }
    for (const auto& queued : fresh) queued.job->read_ahead(*store_);
    store_->read_ahead();
  } catch (const std::exception& e) {
    store_->forget_read_ahead();
    if (batch.jobs.empty()) {
      if (batch.open) roll_back();
      batch.open = false;
      // A row another writer holds (the reads do not wait for it): the job that needs it
      // meets it in its own run, in a savepoint, and alone goes back to the queue.
      if (store_->conflicted(e)) {
        batch.guarded = true;
        return;
      }
      spdlog::warn("store: reading ahead failed; each job reads for itself: {}", e.what());
      return;
    }
    spdlog::error("store: transaction failed while reading ahead: {}", e.what());
    start_over(batch, fresh, false);
  }
}

// A job threw in a transaction without savepoints, so its writes cannot be taken back alone:
// the whole transaction is. Its jobs then run again from the first, this time each in a
// savepoint (the job contract allows a second run, job.hpp); at most once per transaction,
// so a job that throws costs at most the jobs before it run twice. A read-only job answered
// before the failure is not run again: what it saw came from the jobs before it, which run
// again as they ran.
// A job that met another writer's locks (`conflicted`) instead goes back to the queue with
// every job of the transaction and those after it, in order, as it would have with the
// jobs before it committed (below): the rollback released every lock this transaction held,
// which is what the other writer waits for. The transaction that takes them again runs each
// of this one's jobs in a savepoint: the lock may have been met by an earlier job's queued
// statements, carried by this job's round trip (PostgreSQL's pipeline), so which job needs
// it is not known until each ends with a round trip of its own. Guarding only the job that
// threw left the earlier one unguarded in front of it, its statements again carried by the
// guarded job's, and in front of its deferred SAVEPOINT, which an error then skipped: the
// rollback to it failed, and the whole batch with it.
void StoreWorker::start_over(Batch& batch, std::deque<Queued>& fresh, bool conflicted) {
  roll_back();
  batch.open = false;
  batch.lasting_writes_ran = false;
  if (conflicted) {
    metrics_.store_conflicts_retried.fetch_add(1, std::memory_order_relaxed);
    for (auto& job : batch.jobs) {
      job.guarded = true;
      batch.put_back.push_back(std::move(job));
    }
    for (auto& job : fresh) batch.put_back.push_back(std::move(job));
    fresh.clear();
  } else {
    metrics_.store_batches_started_over.fetch_add(1, std::memory_order_relaxed);
    batch.guarded = true;
    fresh.insert(fresh.begin(), std::make_move_iterator(batch.jobs.begin()),
                 std::make_move_iterator(batch.jobs.end()));
  }
  batch.jobs.clear();
}

// The open transaction, and what the memories it follows changed in it.
void StoreWorker::roll_back() {
  try {
    store_->rollback();
  } catch (const std::exception&) {
    // SQLite already rolled it back (a full disk, an I/O error): the state is the same.
  }
  for (auto* memory : memories_) memory->rolled_back();
}

bool StoreWorker::end_transaction(Batch& batch, bool synced) {
  bool committed = false, conflicted = false, again_guarded = false;
  if (batch.open && !batch.broken) {
    try {
      if (synced) {
        store_->commit();
      } else {
        batch.sync_left_out = store_->commit_unsynced();
      }
      committed = true;
    } catch (const std::exception& e) {
      conflicted = store_->conflicted(e);
      // A store may send a job's last writes with the COMMIT (PostgreSQL's pipeline), so
      // what failed here may be one job's own: the jobs run again, each in a savepoint,
      // where it fails alone. Once: a transaction of guarded jobs that fails to commit fails.
      again_guarded = !conflicted && !batch.guarded;
      if (!conflicted)
        spdlog::error("store: batch of {} failed to commit{}: {}", batch.jobs.size(),
                      again_guarded ? " (its jobs run again, each in a savepoint)" : "",
                      e.what());
    }
  }
  if (committed) {
    for (auto* memory : memories_) memory->committed();
  } else if (batch.open) {
    roll_back();
  } else {
    store_->forget_read_ahead();  // read for a transaction that never began (BEGIN failed)
  }
  if (again_guarded) {
    metrics_.store_batches_started_over.fetch_add(1, std::memory_order_relaxed);
    for (auto& job : batch.jobs) job.guarded = true;
    put_in_front(batch, {std::make_move_iterator(batch.jobs.begin()),
                         std::make_move_iterator(batch.jobs.end())});
    batch.jobs.clear();
  }
  if (conflicted) {
    // The commit's own writes (store/deferred_sums.hpp) met another writer's locks: the
    // whole batch is undone and runs again, in order, ahead of later jobs. A job that threw
    // for its own reasons fails as it would have.
    std::vector<Queued> again;
    for (auto& job : batch.jobs)
      if (job.status == JobStatus::Committed && may_retry(job)) again.push_back(std::move(job));
    metrics_.store_conflicts_retried.fetch_add(again.size(), std::memory_order_relaxed);
    // Those left fail with the batch (finish).
    std::erase_if(batch.jobs, [](const Queued& q) { return !q.job; });
    put_in_front(batch, std::move(again));
  }
  return committed;
}

// `jobs` run again, in order, before those already put back.
void StoreWorker::put_in_front(Batch& batch, std::vector<Queued> jobs) {
  for (auto& job : batch.put_back) jobs.push_back(std::move(job));
  batch.put_back = std::move(jobs);
}

bool StoreWorker::may_retry(Queued& q) {
  // Two gateways locking each other's rows in turn give way each time; a few rounds are
  // plenty, and a job cannot go round for ever.
  constexpr std::uint8_t kMaxConflicts = 5;
  if (q.conflicts >= kMaxConflicts) return false;
  ++q.conflicts;
  return true;
}

void StoreWorker::put_back(std::vector<Queued>& jobs) {
  if (jobs.empty()) return;
  std::lock_guard lock(mutex_);
  for (const auto& q : jobs)
    if (unwaited(q.urgency)) ++unwaited_queued_;
  queue_.insert(queue_.begin(), std::make_move_iterator(jobs.begin()),
                std::make_move_iterator(jobs.end()));
  jobs.clear();
}

void StoreWorker::finish(Batch& batch) {
  const auto started = Clock::now();
  // Background jobs (fan-out steps) alone are not synced: everything a step writes (inbox
  // entries, its group's cursor) is made again from what is durable (the group log), so its
  // pushes may go out before it is on disk. A power cut that takes the step back leaves the
  // cursor where it was; the next run fans the entries out again under new inbox seqs
  // (store/run_floor.hpp), and the members drop what they get twice by message id. The step
  // waits on the disk only when it shares a commit with another job, and the next synced
  // commit puts it on disk. At 1,000 members a step is a quarter of an entry's fan-out, and
  // its sync was its wait. Every other commit is synced, unhurried deletes' too: completed
  // without a sync, each member's next acknowledgement started a delete of its own instead
  // of folding into the running one (three times the store jobs, docs/performance-log.md).
  const bool synced = std::ranges::any_of(
      batch.jobs, [](const Queued& q) { return q.urgency != Urgency::Background; });
  const bool committed = end_transaction(batch, synced);
  batch.busy += Clock::now() - started;
  // A transaction rolled back for a conflict before it committed anything is not one.
  if (!batch.jobs.empty())
    metrics_.observe_commit(std::chrono::duration<double>(batch.busy).count(), batch.jobs.size(),
                            batch.sync_left_out);
  if (publishes_depth_) metrics_.inbox_depth.store(store_->inbox_depth());
  {
    // What the completions post to connections (live pushes, marks, the jobs' own
    // completions) goes to each I/O thread as one chain when this scope ends: one lock of its
    // queue and at most one wake-up per commit, not one per post (net/post_task.hpp).
    PostBatch posts;
    if (committed) {
      for (auto& job : batch.jobs)
        if (job.status == JobStatus::Committed) job.job->on_commit();
    }
    for (auto& job : batch.jobs) job.done(committed ? job.status : JobStatus::Failed);
  }
  put_back(batch.put_back);
  batch.restart();
}

}  // namespace parley::store
