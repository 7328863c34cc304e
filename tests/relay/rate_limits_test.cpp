// The relay's small waiting rules: a token bucket (session/rate_limiter.hpp), one per key
// (keyed_rate_limiter.hpp), and the holds that keep a refused sender's group messages in
// order (groups/sender_holds.hpp).
#include <QtTest>

#include <chrono>

#include "groups/sender_holds.hpp"
#include "session/keyed_rate_limiter.hpp"
#include "session/rate_limiter.hpp"

using namespace parley;
using namespace std::chrono_literals;

class RateLimitsTest : public QObject {
  Q_OBJECT

 private slots:
  // A bucket is full when made, even when the time it is asked with was read just before
  // (KeyedRateLimiter reads the clock, then makes the key's bucket): a bucket of one took
  // that earlier time as a negative refill and refused its first token.
  void aNewBucketGivesItsWholeBurst() {
    const auto before = RateLimiter::Clock::now();
    RateLimiter one(1.0, 1.0);
    std::chrono::milliseconds retry{0};
    QVERIFY(one.take(before, &retry));
    QVERIFY(!one.take(before + 10ms, &retry));
    QVERIFY(retry > 900ms && retry <= 1000ms);
    QVERIFY(one.take(before + 1010ms, &retry));
    KeyedRateLimiter<int> per_key(1.0, 1.0);
    QVERIFY(per_key.take(7, &retry));
    QVERIFY(!per_key.take(7, &retry));
    QVERIFY(per_key.take(8, &retry));  // each key its own bucket
  }

  // A token given back (a group send whose message was not kept in the end) can be taken
  // again, by its key only, and never fills a bucket past its burst.
  void aTokenGivenBackCanBeTakenAgain() {
    KeyedRateLimiter<int> per_key(0.001, 2.0);  // refills nothing within the test
    std::chrono::milliseconds retry{0};
    QVERIFY(per_key.take(1, &retry));
    QVERIFY(per_key.take(1, &retry));
    QVERIFY(!per_key.take(1, &retry));
    per_key.give_back(1);
    QVERIFY(per_key.take(1, &retry));
    QVERIFY(!per_key.take(1, &retry));
    per_key.give_back(2);  // never asked: nothing to give back, its burst stays 2
    QVERIFY(per_key.take(2, &retry));
    QVERIFY(per_key.take(2, &retry));
    QVERIFY(!per_key.take(2, &retry));
    per_key.give_back(1);
    per_key.give_back(1);
    per_key.give_back(1);  // one more than was taken
    QVERIFY(per_key.take(1, &retry));
    QVERIFY(per_key.take(1, &retry));
    QVERIFY(!per_key.take(1, &retry));
  }

  void aHoldIsPerSenderAndGroupAndEnds() {
    groups::SenderHolds holds;
    const auto t = groups::SenderHolds::Clock::now();
    QCOMPARE(holds.held_for(1, "g", t), 0ms);
    holds.hold(1, "g", t);
    QCOMPARE(holds.held_for(1, "g", t), groups::SenderHolds::kHoldFor);
    QCOMPARE(holds.held_for(1, "g", t + 400ms), 600ms);
    QCOMPARE(holds.held_for(1, "h", t), 0ms);
    QCOMPARE(holds.held_for(2, "g", t), 0ms);
    QCOMPARE(holds.held_for(1, "g", t + groups::SenderHolds::kHoldFor), 0ms);
  }

  // Holds follow their store transaction: a rolled-back one's go (placed ones removed, moved
  // ones back where they were), a committed one's stay, and each transaction takes back
  // only its own.
  void aHoldGoesWithItsRolledBackTransaction() {
    groups::SenderHolds holds;
    const auto t = groups::SenderHolds::Clock::now();
    holds.hold(1, "g", t);
    holds.committed();
    holds.hold(1, "g", t + 300ms);  // moved
    holds.hold(2, "g", t + 300ms);  // placed
    holds.hold(2, "g", t + 500ms);  // moved again in the same transaction
    QCOMPARE(holds.held_for(1, "g", t + 300ms), groups::SenderHolds::kHoldFor);
    QCOMPARE(holds.held_for(2, "g", t + 500ms), groups::SenderHolds::kHoldFor);
    holds.rolled_back();
    QCOMPARE(holds.held_for(1, "g", t + 300ms), 700ms);  // the committed hold, as it was
    QCOMPARE(holds.held_for(2, "g", t + 500ms), 0ms);
    holds.hold(2, "g", t + 500ms);
    holds.committed();
    holds.rolled_back();  // nothing of its own to take back
    QCOMPARE(holds.held_for(2, "g", t + 500ms), groups::SenderHolds::kHoldFor);
    QCOMPARE(holds.held_for(1, "g", t + 300ms), 700ms);
  }
};

QTEST_GUILESS_MAIN(RateLimitsTest)
#include "rate_limits_test.moc"
