// Posts to a connection carry the memory of their Asio operation (net/strand_task.hpp,
// net/post_task.hpp): every post must fit it (a larger operation would quietly cost an
// allocation again), and a post still queued when its io_context goes must free cleanly (run
// under ASan by the debug preset).
#include <QtTest>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "net/post_task.hpp"
#include "net/asio.hpp"
#include "net/strand_task.hpp"

using namespace parley;

namespace {

// Notes its run and its destruction; holds a shared_ptr as the relay's tasks hold a session.
struct Probe {
  std::shared_ptr<int> held = std::make_shared<int>(0);
  std::atomic<int> ran{0};
};

std::unique_ptr<StrandTask> task(Probe& p) {
  auto f = [held = p.held, &p] { p.ran.fetch_add(1); };
  return strand_call(std::move(f));
}

}  // namespace

class StrandTaskTest : public QObject {
  Q_OBJECT

 private slots:
  void postsFitTheirMemory() {
    net::io_context io(1);
    Probe p;
    const auto before = StrandTask::PostMemory::fallbacks();
    for (int i = 0; i < 3; ++i) post_task(io.get_executor(), task(p));
    // From another thread, as the store thread posts.
    std::thread other([&] {
      for (int i = 0; i < 3; ++i) post_task(io.get_executor(), task(p));
    });
    other.join();
    io.run();
    QCOMPARE(p.ran.load(), 6);
    QCOMPARE(StrandTask::PostMemory::fallbacks(), before);
    QCOMPARE(p.held.use_count(), 1L);  // every task was destroyed after it ran
  }

  // A task may take its own ownership while it runs and post itself again (a delivery mark
  // becoming its connection's flush, session/marks.cpp), from a direct post and from a
  // batch's chain: in its own memory, again, and freed if its io_context goes first.
  void aTaskPostsItselfAgainInItsOwnMemory() {
    struct Again final : StrandTask {
      Again(net::io_context& io, int& runs, int times, std::shared_ptr<int> held)
          : io(io), runs(runs), times(times), held(std::move(held)) {}
      void on_strand(std::unique_ptr<StrandTask>& self) override {
        if (++runs < times) post_task(io.get_executor(), std::move(self));
      }
      net::io_context& io;
      int& runs;
      int times;
      std::shared_ptr<int> held;
    };
    const auto before = StrandTask::PostMemory::fallbacks();
    auto held = std::make_shared<int>(0);
    {
      net::io_context io(1);
      int direct = 0, chained_a = 0, chained_b = 0, dropped = 0;
      post_task(io.get_executor(), std::make_unique<Again>(io, direct, 3, held));
      {
        PostBatch batch;  // two tasks: the first carries the chain's post
        post_task(io.get_executor(), std::make_unique<Again>(io, chained_a, 2, held));
        post_task(io.get_executor(), std::make_unique<Again>(io, chained_b, 2, held));
      }
      io.run();
      QCOMPARE(direct, 3);
      QCOMPARE(chained_a, 2);  // each ran, posted itself, and ran again
      QCOMPARE(chained_b, 2);
      QCOMPARE(held.use_count(), 1L);
      post_task(io.get_executor(), std::make_unique<Again>(io, dropped, 5, held));
      io.restart();
      io.run_one();  // runs once, posts itself again, and is still queued when `io` goes
      QCOMPARE(dropped, 1);
      QCOMPARE(held.use_count(), 2L);
    }
    QCOMPARE(held.use_count(), 1L);
    QCOMPARE(StrandTask::PostMemory::fallbacks(), before);
  }

  void aPostStillQueuedWhenItsContextGoesIsFreed() {
    Probe p;
    {
      net::io_context io(1);
      post_task(io.get_executor(), task(p));
      post_task(io.get_executor(), task(p));
      QCOMPARE(p.held.use_count(), 3L);
    }
    QCOMPARE(p.ran.load(), 0);
    QCOMPARE(p.held.use_count(), 1L);
  }

  // Inside a PostBatch, an io_context's tasks wait for the batch to close, then go as one
  // operation (a single poll_one runs them all), in the order they were posted.
  void aBatchPostsEachContextsTasksAsOneChainInOrder() {
    net::io_context a(1), b(1);
    std::vector<int> ran_a, ran_b;
    auto note = [](std::vector<int>& into, int n) {
      auto f = [&into, n] { into.push_back(n); };
      return strand_call(std::move(f));
    };
    const auto before = StrandTask::PostMemory::fallbacks();
    {
      PostBatch batch;
      post_task(a.get_executor(), note(ran_a, 1));
      post_task(b.get_executor(), note(ran_b, 1));
      {
        PostBatch inner;  // opened inside the other: it posts nothing of its own
        post_task(a.get_executor(), note(ran_a, 2));
      }
      post_task(a.get_executor(), note(ran_a, 3));
      QCOMPARE(a.poll(), std::size_t{0});  // nothing posted while the batch is open
      QCOMPARE(b.poll(), std::size_t{0});
      a.restart();
      b.restart();
    }
    QCOMPARE(a.poll_one(), std::size_t{1});
    QCOMPARE(ran_a, (std::vector<int>{1, 2, 3}));
    QCOMPARE(b.poll_one(), std::size_t{1});
    QCOMPARE(ran_b, (std::vector<int>{1}));
    QCOMPARE(StrandTask::PostMemory::fallbacks(), before);  // the chain's post fits its head
    // Closed, the batch no longer holds posts back.
    a.restart();
    post_task(a.get_executor(), note(ran_a, 4));
    QCOMPARE(a.poll_one(), std::size_t{1});
    QCOMPARE(ran_a.back(), 4);
  }

  // A chain holds other connections' tasks: one that throws does not cost them their turn.
  void aTaskThatThrowsLetsTheRestOfItsChainRun() {
    net::io_context io(1);
    std::vector<int> ran;
    {
      PostBatch batch;
      for (int i = 1; i <= 3; ++i) {
        auto f = [&ran, i] {
          if (i == 2) throw std::runtime_error("task 2 failed");
          ran.push_back(i);
        };
        post_task(io.get_executor(), strand_call(std::move(f)));
      }
    }
    bool thrown = false;
    try {
      io.poll_one();
    } catch (const std::runtime_error&) {
      thrown = true;
    }
    QVERIFY(thrown);  // the failure still goes on
    QCOMPARE(ran, (std::vector<int>{1, 3}));
  }

  void aChainStillQueuedWhenItsContextGoesIsFreed() {
    Probe p;
    {
      net::io_context io(1);
      {
        PostBatch batch;
        for (int i = 0; i < 3; ++i) post_task(io.get_executor(), task(p));
      }
      QCOMPARE(p.held.use_count(), 4L);
    }
    QCOMPARE(p.ran.load(), 0);
    QCOMPARE(p.held.use_count(), 1L);
  }

  void memoryInUseFallsBackToTheHeap() {
    StrandTask::PostMemory m;
    const auto before = StrandTask::PostMemory::fallbacks();
    void* first = m.allocate(48);
    void* second = m.allocate(48);  // the block is taken: a second request goes to the heap
    QVERIFY(first != second);
    QCOMPARE(StrandTask::PostMemory::fallbacks(), before + 1);
    m.deallocate(second, 48);
    m.deallocate(first, 48);
    QCOMPARE(m.allocate(48), first);  // free again
    m.deallocate(first, 48);
    void* big = m.allocate(4096);     // too large for it
    QVERIFY(big != first);
    m.deallocate(big, 4096);
  }
};

QTEST_GUILESS_MAIN(StrandTaskTest)
#include "strand_task_test.moc"
