// Writes deferred to the end of the handler that queued their frames (net/deferred_writes.hpp):
// they start when that handler ends, in order, ahead of the handlers already waiting on the
// I/O thread, and only there; elsewhere the writer posts as before.
#include <QtTest>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "net/asio.hpp"
#include "net/deferred_writes.hpp"
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
};

QTEST_GUILESS_MAIN(DeferredWritesTest)
#include "deferred_writes_test.moc"
