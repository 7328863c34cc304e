#pragma once
// A connection's store job (store/job.hpp) that completes on the connection's strand, as a
// StrandTask posted in its own memory. It holds the session, so the session outlives its
// jobs. A request's whole store round trip is the one allocation of its job.
#include <cstddef>
#include <memory>
#include <utility>

#include "net/strand_task.hpp"
#include "store/job.hpp"

namespace parley {

class Session;

class SessionJob : public store::Job, public StrandTask {
 public:
  // On the session's strand: the session's bookkeeping, then completed().
  void on_strand(std::unique_ptr<StrandTask>& self) final;

 protected:
  SessionJob(std::shared_ptr<Session> session, std::size_t bytes)
      : session_(std::move(session)), bytes_(bytes) {}

 private:
  friend class Session;
  // On the strand, once the job committed, failed or was rejected.
  virtual void completed(store::JobStatus status) = 0;
  void done(store::JobStatus status, std::unique_ptr<store::Job>& self) final;

  std::shared_ptr<Session> session_;
  std::size_t bytes_;  // payload held, counted against the session's pending-bytes budget
  store::JobStatus status_ = store::JobStatus::Failed;
};

// What a job does at its commit when nothing runs then (with its state, or without).
struct NoCommit {
  template <class... State>
  void operator()(State&...) const {}
};

// A SessionJob made of a request's state and three callables that take it: work(state,
// store), on_commit(state), done(state, status). Session::submit builds them.
template <class State, class Work, class Done, class OnCommit>
class SessionTask final : public SessionJob {
 public:
  SessionTask(std::shared_ptr<Session> session, std::size_t bytes, State state, Work work,
              Done done, OnCommit on_commit)
      : SessionJob(std::move(session), bytes),
        state_(std::move(state)),
        work_(std::move(work)),
        done_(std::move(done)),
        on_commit_(std::move(on_commit)) {}

  void run(store::Store& store) override { work_(state_, store); }
  // A state that knows what its run will read asks for it ahead (store/job.hpp).
  void read_ahead(store::Store& store) override {
    if constexpr (requires { state_.read_ahead(store); }) state_.read_ahead(store);
  }
  void on_commit() override { on_commit_(state_); }

 private:
  void completed(store::JobStatus status) override { done_(state_, status); }

  State state_;
  Work work_;
  Done done_;
  OnCommit on_commit_;
};

}  // namespace parley
