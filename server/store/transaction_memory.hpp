#pragma once
// State kept in memory beside the store, changed by store jobs and read by later ones, that
// must follow their transaction as the rows do: what a rolled-back transaction changed there
// is taken back, so that its jobs, run again (store/job.hpp), find it as they first did. A
// StoreWorker tells the memories it follows (StoreWorker::follow) after each commit and
// rollback, on its thread.
//
// Only whole transactions: a job's change here must be its last act, after which it does
// not throw, so a job rolled back to its own savepoint has nothing here to take back.
namespace parley::store {

class TransactionMemory {
 public:
  virtual ~TransactionMemory() = default;
  virtual void committed() = 0;    // what the transaction changed stays
  virtual void rolled_back() = 0;  // what it changed goes
};

}  // namespace parley::store
