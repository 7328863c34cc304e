// Writes deferred to the end of the handler that queued their frames (net/deferred_writes.hpp):
// they start when that handler ends, in order, ahead of the handlers already waiting on the
// I/O thread, and only there; elsewhere the writer posts as before.
#include <QtTest>

#include <chrono>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "net/asio.hpp"
#include "net/deferred_writes.hpp"
#include "net/linger.hpp"
#include "net/post_task.hpp"
#include "net/strand_task.hpp"

using namespace parley;

namespace {

using Events = std::vector<std::string>;

// Queues frames as a connection does: the first one with nothing in flight starts a write,
// deferred when a scope is open, posted otherwise.
class Writer final : public DeferredWrites::Writer,
                     public std::enable_shared_from_this<Writer> {
 public:
  Writer(std::string name, Events& events, net::io_context& io)
      : name_(std::move(name)), events_(events), io_(io) {}

  void queue_frame() {
    if (writing_) return;  // joins the write that is about to start
    writing_ = true;
    if (!DeferredWrites::defer(shared_from_this()))
      net::post(io_, [self = shared_from_this()] { self->start_write(); });
  }

  // A connection's write is in flight until its completion; here it is done at once.
  void start_write() noexcept override {
    writing_ = false;
    events_.push_back("write " + name_);
    if (then_) std::exchange(then_, nullptr)->queue_frame();
  }

  // A write starting that makes another writer queue a frame.
  void then_queue(std::shared_ptr<Writer> other) { then_ = std::move(other); }

 private:
  std::string name_;
  Events& events_;
  net::io_context& io_;
  bool writing_ = false;
  std::shared_ptr<Writer> then_;
};

// Two writers on one io_context, as two connections of an I/O thread.
struct TwoWriters {
  net::io_context io{1};
  Events events;
  std::shared_ptr<Writer> a = std::make_shared<Writer>("a", events, io);
  std::shared_ptr<Writer> b = std::make_shared<Writer>("b", events, io);
};

// A connection waiting for Linger (net/linger.hpp): notes when it is called back, whether a
// write it starts then is deferred, and may wait again.
class Lingerer final : public Linger::Waiter, public std::enable_shared_from_this<Lingerer> {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Lingerer(net::io_context& io) : io_(io) {}
  void wait(std::chrono::milliseconds delay) {
    Linger::of(io_).add(shared_from_this(), delay, ++token_);
  }
  void linger_over(std::uint32_t token) noexcept override {
    tokens.push_back(token);
    called.push_back(Clock::now());
    deferred = DeferredWrites::defer(std::make_shared<Noop>());
    if (again > 0) {
      --again;
      wait(std::chrono::milliseconds(40));
    }
  }
  std::vector<Clock::time_point> called;
  std::vector<std::uint32_t> tokens;  // each call back's
  bool deferred = false;
  int again = 0;

 private:
  struct Noop final : DeferredWrites::Writer {
    void start_write() noexcept override {}
  };
  net::io_context& io_;
  std::uint32_t token_ = 0;
};

}  // namespace

class DeferredWritesTest : public QObject {
  Q_OBJECT

 private slots:
  void withoutAScopeTheWriterPosts() {
    net::io_context io(1);
    Events events;
    auto a = std::make_shared<Writer>("a", events, io);
    a->queue_frame();
    QCOMPARE(DeferredWrites::pending(), std::size_t{0});
    QVERIFY(events.empty());
    io.run();
    QCOMPARE(events, (Events{"write a"}));
  }

  void writesStartWhenTheScopeClosesInOrder() {
    TwoWriters t;
    auto& [io, events, a, b] = t;
    {
      DeferredWrites::Scope scope;
      a->queue_frame();
      b->queue_frame();
      a->queue_frame();  // a second frame for a joins its write
      QVERIFY(events.empty());
      QCOMPARE(DeferredWrites::pending(), std::size_t{2});
    }
    QCOMPARE(events, (Events{"write a", "write b"}));
    QCOMPARE(DeferredWrites::pending(), std::size_t{0});
    QCOMPARE(io.poll(), std::size_t{0});  // nothing was posted
    QCOMPARE(a.use_count(), 1L);          // the scope let go of its writers
    QVERIFY(!DeferredWrites::defer(a));   // closed, it takes no more
  }

  void aNestedScopeLeavesTheWritesToTheOuterOne() {
    TwoWriters t;
    auto& [io, events, a, b] = t;
    {
      DeferredWrites::Scope outer;
      a->queue_frame();
      {
        DeferredWrites::Scope inner;
        b->queue_frame();
      }
      QVERIFY(events.empty());
    }
    QCOMPARE(events, (Events{"write a", "write b"}));
  }

  // No connection's write defers another today; should one, it must not be left behind.
  void aWriteDeferredWhileOthersStartStartsToo() {
    TwoWriters t;
    auto& [io, events, a, b] = t;
    a->then_queue(b);
    {
      DeferredWrites::Scope scope;
      a->queue_frame();
    }
    QCOMPARE(events, (Events{"write a", "write b"}));
    QCOMPARE(io.poll(), std::size_t{0});
  }

  // The store thread's completions reach an I/O thread as one chain (PostBatch): the writes
  // its tasks start go when its last task has run, before a handler that was already waiting.
  void aChainsWritesStartAfterItsLastTaskAheadOfWhatWaits() {
    TwoWriters t;
    auto& [io, events, a, b] = t;
    {
      PostBatch batch;
      for (auto* w : {&a, &b, &a}) {
        auto f = [&events, w = *w] {
          events.push_back("task");
          w->queue_frame();
        };
        post_task(io.get_executor(), strand_call(std::move(f)));
      }
    }
    net::post(io, [&events] { events.push_back("waiting"); });
    io.run();
    QCOMPARE(events, (Events{"task", "task", "task", "write a", "write b", "waiting"}));
  }

  // A task that throws: the writes its chain deferred still start, and the failure goes on.
  void aChainThatThrowsStillStartsItsWrites() {
    TwoWriters t;
    auto& [io, events, a, b] = t;
    {
      PostBatch batch;
      auto queue_a = [a = a] { a->queue_frame(); };
      auto fail = [] { throw std::runtime_error("task failed"); };
      auto queue_b = [b = b] { b->queue_frame(); };
      post_task(io.get_executor(), strand_call(std::move(queue_a)));
      post_task(io.get_executor(), strand_call(std::move(fail)));
      post_task(io.get_executor(), strand_call(std::move(queue_b)));
    }
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, io.poll_one());
    QCOMPARE(events, (Events{"write a", "write b"}));
    QCOMPARE(DeferredWrites::pending(), std::size_t{0});
    QVERIFY(!DeferredWrites::defer(a));  // the scope closed on the way out
  }

  void aSingleTasksWritesStartAheadOfWhatWaits() {
    net::io_context io(1);
    Events events;
    auto a = std::make_shared<Writer>("a", events, io);
    auto f = [a] { a->queue_frame(); };
    post_task(io.get_executor(), strand_call(std::move(f)));
    net::post(io, [&events] { events.push_back("waiting"); });
    io.run();
    QCOMPARE(events, (Events{"write a", "waiting"}));
  }

  // Each waiter is called back once, no sooner than 7/8 of its own delay after it was added
  // (not when the one before it is), inside a scope; one that waits again from its call back
  // is called in a later expiry, not the one running.
  void lingerCallsEachWaiterBackOnceAfterItsOwnDelay() {
    using namespace std::chrono;
    net::io_context io(1);
    auto first = std::make_shared<Lingerer>(io);
    auto second = std::make_shared<Lingerer>(io);
    second->again = 1;
    const auto start = Lingerer::Clock::now();
    first->wait(milliseconds(40));
    net::steady_timer later(io, milliseconds(25));
    Lingerer::Clock::time_point second_added;
    later.async_wait([&](boost::system::error_code) {
      second_added = Lingerer::Clock::now();
      second->wait(milliseconds(40));
    });
    io.run();
    QCOMPARE(first->called.size(), std::size_t{1});
    QVERIFY(first->called[0] - start >= milliseconds(35));
    QCOMPARE(second->called.size(), std::size_t{2});
    QVERIFY(second->called[0] - second_added >= milliseconds(35));
    QVERIFY(second->called[1] - second->called[0] >= milliseconds(35));
    QCOMPARE(second->tokens, (std::vector<std::uint32_t>{1, 2}));
    QVERIFY(first->deferred && second->deferred);
    QCOMPARE(DeferredWrites::pending(), std::size_t{0});  // the expiry's scope started them
    QCOMPARE(Linger::of(io).waiting(), std::size_t{0});
  }

  // Linger keeps no waiter alive (a closed connection goes at once): one gone before its
  // delay is not called back, and the expiry passes over it to the next.
  void lingerKeepsNoWaiterAlive() {
    using namespace std::chrono;
    net::io_context io(1);
    std::weak_ptr<Lingerer> gone;
    {
      auto waiter = std::make_shared<Lingerer>(io);
      waiter->wait(milliseconds(20));
      gone = waiter;
    }
    QVERIFY(gone.expired());
    auto stays = std::make_shared<Lingerer>(io);
    stays->wait(milliseconds(20));
    QCOMPARE(Linger::of(io).waiting(), std::size_t{2});
    io.run();
    QCOMPARE(stays->called.size(), std::size_t{1});
    QCOMPARE(Linger::of(io).waiting(), std::size_t{0});
  }
};

QTEST_GUILESS_MAIN(DeferredWritesTest)
#include "deferred_writes_test.moc"
