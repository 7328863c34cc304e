#pragma once
// Owns the Store and the one thread that touches it. Jobs queue up while a commit is under
// way; the store thread then runs them all in one transaction and one commit, i.e. one fsync
// for many sends. One failing job does not undo the others: the transaction then starts
// over with each job in its own savepoint (Batch::guarded), as it does when its COMMIT
// fails (a store may send a job's last writes with it). A transaction holding only
// unhurried jobs (below) stays open across several takes.
// Only after that commit does any job's completion run: nothing is acknowledged before it is
// durable (a transaction of background jobs alone is committed without its sync: below).
//
// A job may be unhurried: nobody waits on its completion, and losing it to a crash is
// harmless (a delete of acknowledged entries: they are delivered again and the client drops
// the duplicates). The worker runs such jobs at once, in a transaction it leaves open, but
// commits them only with a prompt job, or once the oldest has waited the unhurried delay
// (kUnhurriedDelay by default): no fsync of their own, and the prompt job's commit does not
// wait for their statements. At low rates a send and, a moment before, the ack of the
// message before it then share one commit (when the ack found the worker idle); at high rates
// every batch has prompt jobs anyway. Like a background job (below), an unhurried one queued
// with a prompt or read-only job is left for the next transaction, once, its delay started
// again: a sender's ack then does not wait for the deletes of the acks that arrived with it
// (a thousand members acknowledging a group message each).
//
// A job may be background: committed like a prompt one, but when a prompt or read-only job is
// among those the transaction can take, left for the next transaction, once. A fan-out step
// (256 inbox appends) is one: a sender's GroupSend or Send queued behind it then commits
// without the step's statements, and a replay page completes without waiting for its commit;
// the step goes in the transaction after, so it is late by one commit at most. A read that
// runs after a background job in its transaction waits for that commit, as after a prompt
// one. A background job's writes must be ones that what is durable makes again after a power
// cut: a transaction of background jobs alone is committed without a sync
// (Store::commit_unsynced; finish() says why).
//
// A job may be read-only: it writes nothing, so nothing of it waits on a commit. It
// completes as soon as it ran, unless a prompt or background job ran before it in the open
// transaction (it may have read that job's writes, which are not durable yet): then with
// that commit.
// What else it can have read that is not durable yet is unhurried jobs' writes, which a
// crash may take back harmlessly. A replay read then costs no fsync, and a drain does not
// wait for the deletes that share its transaction to be synced.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/job.hpp"
#include "store/store.hpp"
#include "store/transaction_memory.hpp"

namespace parley {
class Metrics;
}

namespace parley::store {

// Which worker a connection's job goes to (Session::submit): the relay's first, or the
// connection's own lane (RelayContext::lanes).
enum class Lane { Shared, Own };

enum class Urgency {
  Prompt,     // commit as soon as possible
  // May wait up to the worker's unhurried delay for a prompt job to share its commit. Only
  // for writes a crash may take back harmlessly *and* a read-only job may see before they
  // are durable: never new inbox entries or log rows, which a replay read would push.
  // Steps aside once for a prompt or read-only job, as a background one does.
  Unhurried,
  ReadOnly,   // writes nothing: completes once it ran (see above)
  // Committed like a prompt job, but left for the next transaction when a prompt or
  // read-only job is among those the transaction can take, at most once (a fan-out step: a
  // sender's ack or a replay page then does not wait for the step's statements). Only for
  // writes that what is durable makes again: a transaction of them alone is not synced.
  Background,
};

class StoreWorker {
 public:
  // A job's `done` runs on the store thread, right after the commit and before the next
  // batch is taken (a read-only job's: as soon as it ran, see above): keep it short (posting
  // onto the caller's executor; the fan-out also submits its next step from here, so that
  // step goes into the next batch, or the one after when it steps aside, see Background).
  //
  // Its `on_commit` runs on the store thread after a commit that made the job durable,
  // before the `done` of any job committed with it: what it posts to other connections (a
  // live push, a delivery mark) is queued ahead of that batch's completions. Both run inside
  // a PostBatch (net/post_task.hpp): their post_task calls reach each I/O thread as one chain,
  // in that order, once all of them ran. A sender's
  // SendAck and the mark its recipient's ack raised in the same batch then meet in the
  // sender's send queue and leave in one write. A read-only job that completed before the
  // commit is not held back for it.
  //
  // The same three as functions, for callers off the hot paths (a Job made of them).
  using Work = std::function<void(Store&)>;
  using Done = std::function<void(JobStatus)>;
  using OnCommit = std::function<void()>;

  // Long enough for the next send to come along at ~1,000 msgs/s; short enough that a
  // delivery mark raised by an ack is not noticeably late.
  static constexpr std::chrono::milliseconds kUnhurriedDelay{2};

  // `publishes_depth`: whether it sets the inbox-depth gauge after each commit (one of a
  // relay's several workers does; each sees only its own writes).
  StoreWorker(std::unique_ptr<Store> store, Metrics& metrics, std::size_t max_queue,
              std::size_t max_batch = 1024,
              std::chrono::milliseconds unhurried_delay = kUnhurriedDelay,
              bool publishes_depth = true);
  ~StoreWorker();
  StoreWorker(const StoreWorker&) = delete;
  StoreWorker& operator=(const StoreWorker&) = delete;

  // Any thread. Calls done(Rejected) at once when the queue is full or stopping, and returns
  // false. An unhurried job's `done` may come up to the delay later than a prompt one's
  // (never during stop()).
  bool submit(std::unique_ptr<Job> job, Urgency urgency = Urgency::Prompt);
  void submit(Work work, Done done, OnCommit on_commit = {}, Urgency urgency = Urgency::Prompt);
  // Runs `work` as a prompt job and waits for it: for start-up reads, from any thread but the
  // store's own. Committed, or why not (a failure is logged by the worker).
  JobStatus run_and_wait(Work work);

  // Memory beside the store that its jobs change (store/transaction_memory.hpp), told of
  // every commit and rollback from now on. Before the first job is submitted: the store
  // thread reads the list at every transaction's end without the mutex.
  void follow(TransactionMemory& memory);

  // Runs every queued job, then joins the thread. Later submits are rejected.
  void stop();

  // Read at start-up, before the worker thread owns the store.
  const std::string& relay_id() const { return relay_id_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Queued {
    std::unique_ptr<Job> job;
    Urgency urgency;
    Clock::time_point commit_by;  // a prompt job: the distant past; read-only: the far future
    bool passed_over = false;     // an unwaited job left for a later transaction once
    std::uint8_t conflicts = 0;   // times it met another writer's locks and was put back
    // Runs in a savepoint: its transaction failed to commit, or met another writer's locks
    // without savepoints (start_over).
    bool guarded = false;
    JobStatus status = JobStatus::Failed;  // Committed once its work ran without throwing
    void done(JobStatus s) { job->done(s, job); }
  };
  // The jobs of the transaction the store thread has open (store thread only).
  struct Batch {
    std::vector<Queued> jobs;
    bool open = false;    // BEGIN ran
    bool broken = false;  // the transaction itself failed: every job in it fails
    // A job met another writer's locks: it and every job after it wait, in order, for the
    // next transaction (put_back), and this one commits what ran before it.
    std::vector<Queued> put_back;
    Clock::time_point commit_by = Clock::time_point::max();  // the earliest of its jobs'
    // A prompt or background job ran in it: later reads may see writes that are not durable
    // yet and that a crash must not take back (new inbox entries, log rows).
    bool lasting_writes_ran = false;
    bool sync_left_out = false;  // committed by Store::commit_unsynced, which left it out
    Clock::duration busy{};  // running statements, not waiting
    // Each job runs in a savepoint of its own. A transaction starts without them (SQLite
    // copies every page a job first changes into its savepoint's journal: a seventh of the
    // store thread's time in the pairs benchmark), and starts over with them when a job
    // throws (start_over) or the commit fails (end_transaction).
    bool guarded = false;
    // Ready for the next transaction; `jobs` keeps its capacity.
    void restart() {
      jobs.clear();
      put_back.clear();
      open = broken = lasting_writes_ran = guarded = sync_left_out = false;
      commit_by = Clock::time_point::max();
      busy = {};
    }
  };
  void run();
  // Nobody waits on its completion (unhurried, background): it steps aside once for a job
  // someone does wait on.
  static bool unwaited(Urgency u) {
    return u == Urgency::Unhurried || u == Urgency::Background;
  }
  Clock::time_point due_by(Urgency urgency) const;  // a new job's Queued::commit_by
  void take(std::size_t room, std::deque<Queued>& fresh);  // from the queue, under the mutex
  void execute(Batch& batch, std::deque<Queued>& fresh);  // in the open transaction
  void read_ahead(Batch& batch, std::deque<Queued>& fresh);  // before a run of several jobs
  void start_over(Batch& batch, std::deque<Queued>& fresh, bool conflicted);  // a job threw
  void roll_back();
  static void put_in_front(Batch& batch, std::vector<Queued> jobs);
  // COMMIT (synced, or left to a later commit: Store::commit_unsynced), or ROLLBACK if
  // broken or failed: committed?
  bool end_transaction(Batch& batch, bool synced);
  void finish(Batch& batch);                           // commit, then complete every job
  // A job that met a conflict goes back unless it has met too many: false then.
  static bool may_retry(Queued& q);
  void put_back(std::vector<Queued>& jobs);  // at the queue's front, in order

  std::unique_ptr<Store> store_;
  Metrics& metrics_;
  const std::size_t max_queue_;
  const std::size_t max_batch_;
  const std::chrono::milliseconds unhurried_delay_;
  const bool publishes_depth_;
  std::string relay_id_;
  // Added under mutex_ before the first job is submitted (submit takes it too), read by the
  // store thread.
  std::vector<TransactionMemory*> memories_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Queued> queue_;
  std::size_t unwaited_queued_ = 0;  // unhurried and background jobs in queue_
  std::vector<Queued> stepped_aside_;  // take()'s, kept for its capacity
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace parley::store
