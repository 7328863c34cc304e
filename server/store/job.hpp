#pragma once
// One piece of work for the store thread (store_worker.hpp) and what follows it: the request's
// state, the statements, what runs right after the commit, and the completion, in one object.
// A 1:1 send used to be a state object and four std::function (the work, the completion and
// its hop to the connection's thread, the post-commit push), each its own allocation; as a
// Job it is one allocation from request to reply.
#include <memory>

namespace parley::store {

class Store;

enum class JobStatus {
  Committed,  // the job ran and its transaction is durable (read-only: it ran; background
              // alone: committed, synced by the next commit that is: store_worker.hpp)
  Failed,     // the job threw; its writes were rolled back
  Rejected,   // the queue was full or the worker is stopping; the job never ran
};

class Job {
 public:
  Job() = default;
  virtual ~Job() = default;
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  // Store thread, inside the batch's transaction. Throwing fails this job alone, but may run
  // it and the jobs before it again: the transaction runs without savepoints and, when a job
  // throws, is rolled back and run again with one per job (store_worker.hpp). A job that
  // threw because another writer held what it needed (Store::conflicted: several gateways on
  // PostgreSQL) runs again in a later transaction. So run() must leave nothing behind but
  // store writes, and changes to memory its worker follows (transaction_memory.hpp), until
  // it returns: it sets its results, never adds to them.
  virtual void run(Store& store) = 0;
  // Store thread, before run() when other jobs were taken with this one: asks the store to
  // read ahead what run() will read (Store::read_send_ahead), so the batch's reads share a
  // round trip. Reads only; run() must not depend on it having been called.
  virtual void read_ahead(Store& /*store*/) {}
  // Store thread, after the commit that made the job durable and before the `done` of any
  // job committed with it (store_worker.hpp says why).
  virtual void on_commit() {}
  // Store thread after the commit (a rejected job: the submitting thread, at once). `self`
  // owns this job; the worker destroys it after the call unless `done` takes it, as a
  // completion posted to another thread does.
  virtual void done(JobStatus status, std::unique_ptr<Job>& self) = 0;
};

}  // namespace parley::store
