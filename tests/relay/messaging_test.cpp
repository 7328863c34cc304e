// Sending, delivery, acks, receipts, prekeys, typing and presence against a real relay.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QtTest>

#include <deque>
#include <map>
#include <set>

#include "raw_login.hpp"
#include "raw_ws_client.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {

std::unique_ptr<TestClient> online(RelayProcess& relay, const std::string& name) {
  return TestClient::registered(relay.url(), name);
}

// Reconnects `c` and logs in, answering the relay's ack window as a real client would.
bool relogin(RelayProcess& relay, TestClient& c, std::uint64_t last_acked = 0,
             std::uint64_t last_mark_version = 0) {
  c.disconnect();
  if (!c.connect(relay.url())) return false;
  auto r = c.login(last_acked, last_mark_version);
  return r && r->has_logged_in();
}

}  // namespace

class MessagingTest : public QObject {
  Q_OBJECT
  // Bulk senders here: the per-connection rate limit has its own test.
  RelayProcess relay_{{"--rate", "100000", "--rate-burst", "100000"}};
  // Delivery marks held for a second (the default is 100 ms), so that holding them shows.
  RelayProcess lingering_{{"--mark-linger-ms", "1000"}};

 private slots:
  void initTestCase() {
    QVERIFY(relay_.start());
    QVERIFY(lingering_.start());
  }

  void sendToOnlineDevice() {
    auto alice = online(relay_, "m-alice");
    auto bob = online(relay_, "m-bob");
    QVERIFY(alice && bob);
    const auto id = TestClient::randomId();
    auto ack = alice->send("m-bob", "ciphertext-1", id);
    QVERIFY(ack && ack->has_send_ack());
    QCOMPARE(ack->send_ack().client_msg_id(), id);
    QCOMPARE(ack->send_ack().conv_seq(), 1u);
    QVERIFY(!ack->send_ack().duplicate());
    auto d = bob->waitDeliver();
    QVERIFY(d);
    QCOMPARE(d->kind(), wire::MESSAGE);
    QCOMPARE(d->sender(), std::string("m-alice"));
    QCOMPARE(d->ciphertext(), std::string("ciphertext-1"));
    QCOMPARE(d->client_msg_id(), id);
    QCOMPARE(d->conv_seq(), 1u);
    QCOMPARE(d->server_ts_ms(), ack->send_ack().server_ts_ms());
  }

  void offlineDeviceGetsEverythingInOrder() {
    auto alice = online(relay_, "o-alice");
    auto bob = online(relay_, "o-bob");
    QVERIFY(alice && bob);
    bob->disconnect();
    for (int i = 0; i < 50; ++i)
      QVERIFY(alice->send("o-bob", "msg " + std::to_string(i))->has_send_ack());
    QVERIFY(relogin(relay_, *bob));
    for (int i = 0; i < 50; ++i) {
      auto d = bob->waitDeliver();
      QVERIFY2(d, qPrintable(QString("message %1 missing").arg(i)));
      QCOMPARE(d->ciphertext(), "msg " + std::to_string(i));
      QCOMPARE(d->conv_seq(), static_cast<std::uint64_t>(i + 1));
      QCOMPARE(d->inbox_seq(), static_cast<std::uint64_t>(i + 1));
    }
    auto sync = bob->waitPush([](const auto& f) { return f.has_sync_complete(); });
    QVERIFY(sync);
    QCOMPARE(sync->sync_complete().inbox_seq(), 50u);
  }

  void liveMessagesDuringReplayKeepTheirOrder() {
    auto alice = online(relay_, "l-alice");
    auto bob = online(relay_, "l-bob");
    bob->disconnect();
    const int kQueued = 2000, kLive = 200;
    std::deque<std::uint64_t> pending;
    auto sendNumbered = [&](int i) {
      pending.push_back(alice->post(TestClient::sendFrame("l-bob", std::to_string(i))));
    };
    for (int i = 0; i < kQueued; ++i) sendNumbered(i);
    while (!pending.empty()) {
      QVERIFY(alice->waitResponse(pending.front()));
      pending.pop_front();
    }
    // Bob starts draining a backlog larger than one window; Alice keeps sending meanwhile.
    QVERIFY(bob->connect(relay_.url()));
    QVERIFY(bob->login()->has_logged_in());
    for (int i = kQueued; i < kQueued + kLive; ++i) sendNumbered(i);
    for (int i = 0; i < kQueued + kLive; ++i) {
      auto d = bob->waitDeliver();
      QVERIFY2(d, qPrintable(QString("entry %1 missing").arg(i)));
      QCOMPARE(d->ciphertext(), std::to_string(i));
      if ((i + 1) % 100 == 0) bob->ack(d->inbox_seq());
    }
    QVERIFY(!bob->waitDeliver(200));
    // Live or replayed, a 1:1 message went out from its stored entry (session/frame.hpp):
    // no Deliver body was encoded for any message this relay has delivered so far.
    QVERIFY(metric(relay_, "parley_entries_delivered_total") >= kQueued + kLive);
    QCOMPARE(metric(relay_, "parley_deliver_bodies_encoded_total"), 0.0);
  }

  void conversationSequenceIsSharedByBothDirections() {
    auto a = online(relay_, "s-alice");
    auto b = online(relay_, "s-bob");
    QCOMPARE(a->send("s-bob", "1")->send_ack().conv_seq(), 1u);
    QCOMPARE(b->send("s-alice", "2")->send_ack().conv_seq(), 2u);
    QCOMPARE(a->send("s-bob", "3")->send_ack().conv_seq(), 3u);
  }

  void duplicateSendStoresOneCopyAndReturnsSameAck() {
    auto alice = online(relay_, "d-alice");
    auto bob = online(relay_, "d-bob");
    bob->disconnect();
    const auto id = TestClient::randomId();
    auto first = alice->send("d-bob", "once", id);
    auto second = alice->send("d-bob", "once", id);
    QVERIFY(first->has_send_ack() && second->has_send_ack());
    QCOMPARE(second->send_ack().conv_seq(), first->send_ack().conv_seq());
    QCOMPARE(second->send_ack().server_ts_ms(), first->send_ack().server_ts_ms());
    QVERIFY(second->send_ack().duplicate());
    QVERIFY(alice->send("d-bob", "next")->has_send_ack());
    QVERIFY(relogin(relay_, *bob));
    QCOMPARE(bob->waitDeliver()->ciphertext(), std::string("once"));
    QCOMPARE(bob->waitDeliver()->ciphertext(), std::string("next"));
    QVERIFY(bob->waitPush([](const auto& f) { return f.has_sync_complete(); }));
    QVERIFY(!bob->waitDeliver(300));
  }

  void cumulativeAckDeletes() {
    auto alice = online(relay_, "a-alice");
    auto bob = online(relay_, "a-bob");
    for (int i = 1; i <= 5; ++i) alice->send("a-bob", std::to_string(i));
    for (int i = 1; i <= 5; ++i) QVERIFY(bob->waitDeliver());
    bob->ack(3);
    // The ping's answer shows the ack reached the relay. Its delete is not ordered before
    // the next login's replay (it may step aside for the replay's read), which may then
    // repeat what was acked a moment before, as at-least-once allows: the client, logging
    // in with its last ack, skips those. A login without one sees the delete once it is in.
    wire::ClientFrame ping;
    ping.mutable_ping();
    QVERIFY(bob->request(ping));
    std::optional<wire::Deliver> d;
    QVERIFY(spinUntil([&] {
      if (!relogin(relay_, *bob)) return false;
      d = bob->waitDeliver();
      return d && d->inbox_seq() == 4u;
    }, 5000));
    QCOMPARE(bob->waitDeliver()->inbox_seq(), 5u);
    // Login with last_acked acknowledges too.
    QVERIFY(relogin(relay_, *bob, 5));
    QVERIFY(bob->waitPush([](const auto& f) { return f.has_sync_complete(); }));
    QVERIFY(!bob->waitDeliver(300));
  }

  // One ack of two messages raises one mark; an offline sender finds it at login, and a
  // login that names its version gets it no more. No receipt entry is left in any inbox.
  void deliveryMarkReachesOfflineSender() {
    auto alice = online(relay_, "r-alice");
    auto bob = online(relay_, "r-bob");
    QVERIFY(alice->send("r-bob", "hello")->has_send_ack());
    QVERIFY(alice->send("r-bob", "again")->has_send_ack());
    alice->disconnect();
    QVERIFY(bob->waitDeliver());
    auto d = bob->waitDeliver();
    QVERIFY(d);
    bob->ack(d->inbox_seq());
    QTest::qWait(200);
    QVERIFY(relogin(relay_, *alice));
    const auto marks = alice->waitMarks();
    QCOMPARE(marks.size(), std::size_t{1});
    QCOMPARE(marks[0].reader(), std::string("r-bob"));
    QCOMPARE(marks[0].reader_device(), 1u);
    QVERIFY(marks[0].group_id().empty());
    QCOMPARE(marks[0].up_to_conv_seq(), 2u);
    QCOMPARE(marks[0].from_conv_seq(), 1u);
    QVERIFY(marks[0].server_ts_ms() > 0);
    QVERIFY(marks[0].version() > 0);
    QVERIFY(!alice->waitDeliver(300));
    QVERIFY(relogin(relay_, *alice, 0, marks[0].version()));
    QVERIFY(alice->waitMarks(300).empty());
    // A version the relay never gave (its data directory was reset) means "send everything".
    QVERIFY(relogin(relay_, *alice, 0, marks[0].version() + (std::uint64_t{1} << 40)));
    QCOMPARE(alice->waitMarks().size(), std::size_t{1});
  }

  void deliveryMarkIsPushedToOnlineSenderAndRises() {
    auto alice = online(relay_, "p-alice");
    auto bob = online(relay_, "p-bob");
    QCOMPARE(alice->send("p-bob", "hi")->send_ack().conv_seq(), 1u);
    bob->ack(bob->waitDeliver()->inbox_seq());
    auto first = alice->waitMarks();
    QCOMPARE(first.size(), std::size_t{1});
    QCOMPARE(first[0].up_to_conv_seq(), 1u);
    // Bob's reply shares the conversation's sequence; alice's next message is conv_seq 3.
    QVERIFY(bob->send("p-alice", "hello")->has_send_ack());
    QCOMPARE(alice->send("p-bob", "and you")->send_ack().conv_seq(), 3u);
    bob->ack(bob->waitDeliver()->inbox_seq());
    auto second = alice->waitMarks();
    QCOMPARE(second.size(), std::size_t{1});
    QCOMPARE(second[0].up_to_conv_seq(), 3u);
    QVERIFY(second[0].version() > first[0].version());
    // Bob's message raises bob's mark when alice acknowledges it; alice gets none of it.
    alice->ack(alice->waitDeliver()->inbox_seq());
    QCOMPARE(bob->waitMarks().at(0).up_to_conv_seq(), 2u);
    QVERIFY(alice->waitMarks(300).empty());
  }

  // The conv_seq up to which the next DeliveryMarks push marks, if it holds exactly one
  // mark; 0 if none came within `timeout_ms` or it holds several.
  static std::uint64_t onlyMarkUpTo(TestClient& c, int timeout_ms = 5000) {
    const auto marks = c.waitMarks(timeout_ms);
    return marks.size() == 1 ? marks[0].up_to_conv_seq() : 0;
  }

  // Alice sends two messages and Bob acknowledges the first: its mark reaches Alice at once
  // (no mark came before it). Returns Bob's delivery of the second, not yet acknowledged.
  static std::optional<wire::Deliver> firstMarkOfTwo(TestClient& alice, TestClient& bob) {
    for (const char* body : {"zero", "one"}) {
      const auto r = alice.send(bob.username(), body);
      if (!r || !r->has_send_ack()) return std::nullopt;
    }
    const auto first = bob.waitDeliver();
    auto second = bob.waitDeliver();
    if (!first || !second) return std::nullopt;
    bob.ack(first->inbox_seq());
    if (onlyMarkUpTo(alice) != 1) return std::nullopt;
    return second;
  }

  // A mark that follows another to its device within --mark-linger-ms waits up to that long
  // for another frame to the device, and leaves in that frame's write: here the sender's next
  // SendAck, long before the linger is over.
  void aMarkRidesOnTheSendersNextWrite() {
    auto alice = online(lingering_, "lr-alice");
    auto bob = online(lingering_, "lr-bob");
    QVERIFY(alice && bob);
    const auto second = firstMarkOfTwo(*alice, *bob);
    QVERIFY(second);
    bob->ack(second->inbox_seq());
    // Raised by now (the ack commits within milliseconds), and held: its linger ends 875 ms
    // after it was raised at the soonest, after the SendAck below and the wait for it.
    QVERIFY(alice->waitMarks(300).empty());
    QElapsedTimer since;
    since.start();
    QVERIFY(alice->send("lr-bob", "two")->has_send_ack());
    QCOMPARE(onlyMarkUpTo(*alice, 200), 2u);
    // Its linger could not have let it go before 575 ms from here.
    QVERIFY2(since.elapsed() < 550, "the mark waited for its linger, not for the SendAck");
  }

  // With no other frame to ride on, a held mark goes by itself once its linger is over.
  void aMarkGoesAloneWhenItsLingerIsOver() {
    auto alice = online(lingering_, "la-alice");
    auto bob = online(lingering_, "la-bob");
    QVERIFY(alice && bob);
    const auto second = firstMarkOfTwo(*alice, *bob);
    QVERIFY(second);
    QElapsedTimer since;
    since.start();
    bob->ack(second->inbox_seq());
    QCOMPARE(onlyMarkUpTo(*alice), 2u);
    QVERIFY2(since.elapsed() >= 850, qPrintable(QString::number(since.elapsed())));
  }

  // A device's first mark has no company coming (a person who sent one message): it goes
  // when the ack's commit is done, not at the linger's end.
  void aFirstMarkGoesAtOnce() {
    auto alice = online(lingering_, "lo-alice");
    auto bob = online(lingering_, "lo-bob");
    QVERIFY(alice && bob);
    QVERIFY(alice->send("lo-bob", "one")->has_send_ack());
    const auto d = bob->waitDeliver();
    QVERIFY(d);
    QElapsedTimer since;
    since.start();
    bob->ack(d->inbox_seq());
    QCOMPARE(onlyMarkUpTo(*alice), 1u);
    // A held mark could not go before 875 ms.
    QVERIFY2(since.elapsed() < 600, qPrintable(QString::number(since.elapsed())));
  }

  // Nor does a mark wait when the last one to its device went longer than the linger ago:
  // here Bob acknowledges the second message 1.2 s after the first.
  void aMarkAfterAQuietSpellGoesAtOnce() {
    auto alice = online(lingering_, "lp-alice");
    auto bob = online(lingering_, "lp-bob");
    QVERIFY(alice && bob);
    const auto second = firstMarkOfTwo(*alice, *bob);
    QVERIFY(second);
    QTest::qWait(1200);
    QElapsedTimer since;
    since.start();
    bob->ack(second->inbox_seq());
    QCOMPARE(onlyMarkUpTo(*alice), 2u);
    QVERIFY2(since.elapsed() < 600, qPrintable(QString::number(since.elapsed())));
  }

  // A held mark whose linger ends while a write to its device is in flight (the device has
  // stopped reading and its socket is full) goes into the queue behind that write: it
  // arrives once the device reads again, though nothing queued after that write could carry
  // it. (Left held instead, it would wait for the device's next frame, which may never come.)
  void aMarkDueDuringAStuckWriteFollowsIt() {
    auto alice = online(lingering_, "lw-alice");
    auto bob = online(lingering_, "lw-bob");
    auto carol = online(lingering_, "lw-carol");
    QVERIFY(alice && bob && carol);
    alice->disconnect();
    RawWsClient raw;
    QVERIFY(raw.open(lingering_.url(), "parley.v1", 4096, 536));
    QVERIFY(rawLogin(raw, *alice));
    raw.socket().setReadBufferSize(4096);  // reads only when the test asks
    auto next = [&](int timeout_ms = 5000) {
      auto f = decodeServerFrame(raw.readMessage(timeout_ms));
      while (f && f->has_sync_complete()) f = decodeServerFrame(raw.readMessage(timeout_ms));
      return f;
    };
    for (int i = 0; i < 2; ++i) {
      auto f = TestClient::sendFrame("lw-bob", "m" + std::to_string(i));
      f.set_request_id(100 + static_cast<std::uint64_t>(i));
      raw.sendFrame(encodeClientFrame(f));
      const auto ack = next();
      QVERIFY(ack && ack->has_send_ack());
    }
    const auto first = bob->waitDeliver();
    const auto second = bob->waitDeliver();
    QVERIFY(first && second);
    bob->ack(first->inbox_seq());
    QTest::qWait(50);  // the event loop sends the ack; alice's blocking reads would not
    const auto mark = next();  // alice's first mark: at once
    QVERIFY(mark && mark->has_delivery_marks());
    QElapsedTimer since_mark;
    since_mark.start();
    // Carol's message fills alice's socket, which alice does not read: the relay's write of
    // it waits, with nothing queued behind it.
    const auto waited = "parley_writes_waited_total";
    const double waited_before = metric(lingering_, waited);
    carol->post(TestClient::sendFrame("lw-alice", std::string(200 * 1024, 'c')));
    if (!QTest::qWaitFor([&] { return metric(lingering_, waited) > waited_before; }, 5000))
      QSKIP("the relay's socket buffer took the whole frame; no write waited");
    bob->ack(second->inbox_seq());
    if (since_mark.elapsed() > 800)
      QSKIP("too slow here to be sure the second mark was held (the first went over 800 ms ago)");
    // The second mark's linger (at most 1 s) ends while that write still waits.
    QTest::qWait(1500);
    bool delivered = false;
    std::optional<wire::DeliveryMarks> marks;
    for (int i = 0; i < 4 && !(delivered && marks); ++i) {
      const auto f = next(3000);
      QVERIFY2(f, delivered ? "no mark after the waiting write" : "no Deliver");
      if (f->has_deliver()) delivered = true;
      if (f->has_delivery_marks()) marks = f->delivery_marks();
    }
    QVERIFY(delivered && marks);
    QCOMPARE(marks->marks_size(), 1);
    QCOMPARE(marks->marks(0).up_to_conv_seq(), 2u);
  }

  // --mark-linger-ms 0 holds nothing back, not even a mark right after another: each goes
  // when its ack's commit is done.
  void aMarkGoesAtOnceWithoutALinger() {
    RelayProcess relay({"--mark-linger-ms", "0"});
    QVERIFY(relay.start());
    auto alice = online(relay, "l0-alice");
    auto bob = online(relay, "l0-bob");
    QVERIFY(alice && bob);
    const auto second = firstMarkOfTwo(*alice, *bob);
    QVERIFY(second);
    bob->ack(second->inbox_seq());
    QCOMPARE(onlyMarkUpTo(*alice), 2u);
  }

  // Many readers acknowledging at once, on the relay's different I/O threads: the sender
  // still gets its marks in increasing version (it saves the highest it has processed, so one
  // overtaken by a higher one would be skipped at the next login), and ends with each
  // reader's last conv_seq.
  void marksReachTheSenderInVersionOrder() {
    auto alice = online(relay_, "vo-alice");
    std::vector<std::unique_ptr<TestClient>> readers;
    for (int i = 0; i < 12; ++i) readers.push_back(online(relay_, "vo-r" + std::to_string(i)));
    const int kRounds = 4;
    for (int round = 0; round < kRounds; ++round) {
      for (auto& r : readers) QVERIFY(alice->send(r->username(), "x")->has_send_ack());
      std::vector<std::uint64_t> seqs;
      for (auto& r : readers) {
        auto d = r->waitDeliver();
        QVERIFY(d);
        seqs.push_back(d->inbox_seq());
      }
      for (std::size_t i = 0; i < readers.size(); ++i) readers[i]->ack(seqs[i]);
    }
    std::map<std::string, std::uint64_t> up_to;
    std::uint64_t last = 0;
    for (auto marks = alice->waitMarks(); !marks.empty(); marks = alice->waitMarks(500)) {
      for (const auto& m : marks) {
        QVERIFY2(m.version() > last, "a mark arrived after one with a higher version");
        last = m.version();
        up_to[m.reader()] = std::max(up_to[m.reader()], m.up_to_conv_seq());
      }
    }
    QCOMPARE(up_to.size(), readers.size());
    for (const auto& [reader, seq] : up_to) QCOMPARE(seq, std::uint64_t{kRounds});
  }

  // With several store connections (PostgreSQL) a mark that follows the last one its owner's
  // connection has is sent as it comes, with no read of the owner's marks; one that comes
  // before an older one's notice is what needs the read (the test above). Alice's marks here
  // each follow the one before, whichever connection raised them, and after a reconnect the
  // one she says she has. On relay.db, with one writer telling marks in order, no mark is
  // ever read.
  void aMarkThatFollowsTheLastOneNeedsNoRead() {
    auto alice = online(relay_, "nr-alice");
    auto bob = online(relay_, "nr-bob");
    auto carol = online(relay_, "nr-carol");
    QVERIFY(alice && bob && carol);
    const auto out_of_order = metric(relay_, "parley_marks_out_of_order_total");
    std::uint64_t last = 0;
    for (std::uint64_t round = 1; round <= 6; ++round) {
      if (round == 4) {
        QVERIFY(relogin(relay_, *alice, 0, last));
        QVERIFY(alice->waitMarks(300).empty());  // she has them all
      }
      auto& reader = round % 2 ? *bob : *carol;
      QVERIFY(alice->send(reader.username(), "x")->has_send_ack());
      const auto d = reader.waitDeliver();
      QVERIFY(d);
      reader.ack(d->inbox_seq());
      const auto marks = alice->waitMarks();
      QCOMPARE(marks.size(), std::size_t{1});
      QCOMPARE(marks[0].reader(), reader.username());
      QCOMPARE(marks[0].up_to_conv_seq(), (round + 1) / 2);
      QVERIFY(marks[0].version() > last);
      last = marks[0].version();
    }
    QCOMPARE(metric(relay_, "parley_marks_out_of_order_total"), out_of_order);
  }

  void unknownRecipientAndDeviceMismatch() {
    auto alice = online(relay_, "u-alice");
    online(relay_, "u-bob");
    auto r = alice->send("no-such-user", "x");
    QCOMPARE(r->error().code(), wire::UNKNOWN_RECIPIENT);
    r = alice->send("u-bob", "x", {}, 7);
    QCOMPARE(r->error().code(), wire::DEVICE_MISMATCH);
    QCOMPARE(r->error().devices_size(), 1);
    QCOMPARE(r->error().devices(0), 1u);
  }

  void prekeyBundleHandsOutEachOneTimeKeyOnce() {
    auto owner = online(relay_, "k-owner");
    auto asker = online(relay_, "k-asker");
    const auto spk = std::string(32, 's');
    const auto up = owner->prekeyUploadFrame(spk, 12);
    auto stored = owner->request(up);
    QVERIFY(stored && stored->has_prekeys_stored());
    QCOMPARE(stored->prekeys_stored().one_time_prekeys_left(), 12u);

    // Each fetch uses up one of the owner's keys, so fetching is rate-limited per connection
    // (burst 30): 14 fetches fit.
    std::set<std::uint32_t> seen;
    wire::ClientFrame fetch;
    fetch.mutable_fetch_prekey_bundle()->set_username("k-owner");
    for (int i = 0; i < 14; ++i) {
      auto b = asker->request(fetch);
      QVERIFY(b && b->has_prekey_bundle());
      QCOMPARE(b->prekey_bundle().devices_size(), 1);
      const auto& dev = b->prekey_bundle().devices(0);
      QCOMPARE(dev.identity_key(), owner->identity().public_key);
      QCOMPARE(dev.signed_prekey().public_key(), spk);
      if (i < 12) {
        QVERIFY(dev.has_one_time_prekey());
        QVERIFY(seen.insert(dev.one_time_prekey().id()).second);  // never twice
      } else {
        QVERIFY(!dev.has_one_time_prekey());  // stock empty: signed prekey only
      }
    }
    // The owner was told while it was running low.
    auto low = owner->waitPush([](const auto& f) { return f.has_prekeys_low(); });
    QVERIFY(low);
    QVERIFY(low->prekeys_low().one_time_prekeys_left() < 10);
  }

  // However many accounts fetch a user's bundle, at most --one-time-prekeys-per-hour of its
  // one-time keys go out (all fetchers together); past that, bundles carry the signed
  // prekey only, and the rest of the stock stays for later.
  void oneTimePrekeysGoOutAtTheOwnersHourlyBudget() {
    RelayProcess relay({"--one-time-prekeys-per-hour", "3"});
    QVERIFY(relay.start());
    auto owner = online(relay, "b-owner");
    const auto spk = std::string(32, 's');
    const auto up = owner->prekeyUploadFrame(spk, 12);
    QVERIFY(owner->request(up));
    wire::ClientFrame fetch;
    fetch.mutable_fetch_prekey_bundle()->set_username("b-owner");
    int with_one_time = 0;
    for (const auto* name : {"b-first", "b-second", "b-third"}) {  // three accounts
      auto asker = online(relay, name);
      for (int i = 0; i < 2; ++i) {
        auto b = asker->request(fetch);
        QVERIFY(b && b->has_prekey_bundle());
        const auto& dev = b->prekey_bundle().devices(0);
        QCOMPARE(dev.signed_prekey().public_key(), spk);
        with_one_time += dev.has_one_time_prekey() ? 1 : 0;
      }
    }
    QCOMPARE(with_one_time, 3);
    wire::ClientFrame count;  // an upload of nothing answers with the stock
    count.mutable_upload_prekeys();
    auto left = owner->request(count);
    QVERIFY(left && left->has_prekeys_stored());
    QCOMPARE(left->prekeys_stored().one_time_prekeys_left(), 9u);
  }

  // A device's undelivered entries may weigh --inbox-quota-mib. Past it a send is refused
  // with INBOX_FULL, kept nowhere, and goes once the device has caught up; the weight is
  // the stored inbox's, so a restart keeps it. Other recipients are not affected.
  void aFullInboxRefusesSendsUntilItsDeviceCatchesUp() {
    RelayProcess relay({"--inbox-quota-mib", "1", "--rate", "100000", "--rate-burst", "100000"});
    QVERIFY(relay.start());
    auto alice = online(relay, "q-alice");
    auto bob = online(relay, "q-bob");
    auto carol = online(relay, "q-carol");
    QVERIFY(alice && bob && carol);
    bob->disconnect();
    // 1 MiB holds five of the largest messages with their rows' 128 bytes each, not six: it
    // is full once less than one such entry (204,928 bytes) is left.
    const std::string big(200 * 1024, 'x');
    const auto first = TestClient::randomId();
    for (int i = 0; i < 5; ++i) {
      auto ack = alice->send("q-bob", big, i == 0 ? first : TestClient::randomId());
      QVERIFY(ack && ack->has_send_ack());
    }
    const auto sixth = TestClient::randomId();
    auto full = alice->send("q-bob", big, sixth);
    QVERIFY(full && full->has_error());
    QCOMPARE(full->error().code(), wire::INBOX_FULL);
    QCOMPARE(full->error().devices_size(), 1);
    QCOMPARE(full->error().devices(0), 1u);
    QVERIFY(full->error().retry_after_ms() >= 1000);
    QVERIFY(full->error().reason().find("q-bob") != std::string::npos);
    QVERIFY(!full->error().sender_share_full());  // the whole inbox, not one sender's share
    // A retry of a stored message is answered from the dedup window, full or not.
    auto again = alice->send("q-bob", big, first);
    QVERIFY(again && again->has_send_ack() && again->send_ack().duplicate());
    // 23,936 bytes are left, less than the largest entry: full for every size alike, so a
    // small message cannot overtake a large one refused; and for everyone, not one sender.
    QCOMPARE(alice->send("q-bob", "small")->error().code(), wire::INBOX_FULL);
    QCOMPARE(carol->send("q-bob", "hi")->error().code(), wire::INBOX_FULL);
    QVERIFY(alice->send("q-carol", big)->has_send_ack());  // others still receive
    auto to_carol = carol->waitDeliver();
    QVERIFY(to_carol);
    carol->ack(to_carol->inbox_seq());
    QVERIFY(QTest::qWaitFor([&] { return metric(relay, "parley_inbox_depth") == 5; }, 5000));
    QCOMPARE(metric(relay, "parley_inbox_full_total"), 3.0);

    QCOMPARE(relay.terminate(), 0);
    QVERIFY(relay.start());
    QVERIFY(alice->connect(relay.url()) && alice->login()->has_logged_in());
    QCOMPARE(alice->send("q-bob", big, sixth)->error().code(), wire::INBOX_FULL);

    // Bob drains and acknowledges: the refused message goes, next in the conversation.
    QVERIFY(relogin(relay, *bob));
    std::uint64_t last = 0;
    for (int i = 0; i < 5; ++i) {
      auto d = bob->waitDeliver();
      QVERIFY2(d, qPrintable(QString("entry %1 missing").arg(i)));
      last = d->inbox_seq();
    }
    bob->ack(last);
    QVERIFY(QTest::qWaitFor([&] { return metric(relay, "parley_inbox_depth") == 0; }, 5000));
    auto sent = alice->send("q-bob", big, sixth);
    QVERIFY(sent && sent->has_send_ack());
    QVERIFY(!sent->send_ack().duplicate());
    QCOMPARE(sent->send_ack().conv_seq(), 6u);
  }

  // One sender fills only its share of an inbox (--inbox-share-mib): everyone else's
  // messages still go in.
  void oneSenderFillsOnlyItsShareOfAnInbox() {
    RelayProcess relay({"--inbox-quota-mib", "2", "--inbox-share-mib", "1", "--rate", "100000",
                        "--rate-burst", "100000"});
    QVERIFY(relay.start());
    auto alice = online(relay, "s-alice");
    auto bob = online(relay, "s-bob");
    auto carol = online(relay, "s-carol");
    QVERIFY(alice && bob && carol);
    bob->disconnect();
    // 1 MiB holds five of the largest entries (204,928 bytes with the row), not six.
    const std::string big(200 * 1024, 'x');
    for (int i = 0; i < 5; ++i) QVERIFY(alice->send("s-bob", big)->has_send_ack());
    const auto sixth = TestClient::randomId();
    auto full = alice->send("s-bob", big, sixth);
    QVERIFY(full && full->has_error());
    QCOMPARE(full->error().code(), wire::INBOX_FULL);
    QCOMPARE(full->error().devices_size(), 1);
    QVERIFY(full->error().retry_after_ms() >= 1000);
    QVERIFY2(full->error().reason().find("from one sender") != std::string::npos,
             full->error().reason().c_str());
    QVERIFY(full->error().sender_share_full());
    QCOMPARE(alice->send("s-bob", "small")->error().code(), wire::INBOX_FULL);
    QVERIFY(carol->send("s-bob", big)->has_send_ack());
    // A user's own devices take no share of its inbox, only the quota.
    for (int i = 0; i < 6; ++i) QVERIFY(alice->send("s-alice", big)->has_send_ack());
    QCOMPARE(metric(relay, "parley_inbox_share_full_total"), 2.0);
    QCOMPARE(metric(relay, "parley_inbox_full_total"), 0.0);

    // Once Bob has caught up, Alice's share is free again.
    QVERIFY(relogin(relay, *bob));
    std::uint64_t last = 0;
    for (int i = 0; i < 6; ++i) {
      auto d = bob->waitDeliver();
      QVERIFY2(d, qPrintable(QString("entry %1 missing").arg(i)));
      last = d->inbox_seq();
    }
    bob->ack(last);
    QVERIFY(QTest::qWaitFor([&] { return alice->send("s-bob", big, sixth)->has_send_ack(); },
                            5000));
  }

  void signedPrekeyMustBeSignedByIdentity() {
    auto owner = online(relay_, "k-forger");
    wire::ClientFrame up;
    auto* sp = up.mutable_upload_prekeys()->mutable_signed_prekey();
    sp->set_id(1);
    sp->set_public_key(std::string(32, 'x'));
    sp->set_signature(Identity::generate().sign(std::string(32, 'x')));
    QCOMPARE(owner->request(up)->error().code(), wire::BAD_SIGNATURE);
  }

  void typingReachesOnlyOnlineContacts() {
    auto alice = online(relay_, "t-alice");
    auto bob = online(relay_, "t-bob");
    auto stranger = online(relay_, "t-stranger");
    wire::ClientFrame sub;
    sub.mutable_subscribe_presence()->add_usernames("t-alice");
    QVERIFY(bob->request(sub));  // Bob follows Alice: she is a contact
    wire::ClientFrame f;
    f.mutable_typing()->set_recipient("t-bob");
    f.mutable_typing()->set_active(true);
    stranger->post(f);  // not followed by Bob: dropped
    alice->post(f);
    auto t = bob->waitPush([](const auto& x) { return x.has_typing_event(); });
    QVERIFY(t);
    QCOMPARE(t->typing_event().sender(), std::string("t-alice"));
    QVERIFY(t->typing_event().active());
    QVERIFY(!bob->waitPush([](const auto& x) { return x.has_typing_event(); }, 300));
    // Offline: dropped, never stored.
    bob->disconnect();
    alice->post(f);
    QVERIFY(relogin(relay_, *bob));
    QVERIFY(!bob->waitPush([](const auto& x) { return x.has_typing_event(); }, 300));
  }

  // Once the frame rate refuses one of a connection's messages, the messages it sent behind
  // it wait for a second too, even once the rate would take them again, so none is numbered
  // ahead of the refused one; offered again in order after the second, they keep it. Frames
  // that are not messages (a ping) go as the rate allows.
  void aConnectionRefusedByTheFrameRateHoldsItsMessagesBack() {
    RelayProcess relay({"--rate", "20", "--rate-burst", "12"});  // a token each 50 ms
    QVERIFY(relay.start());
    auto alice = online(relay, "fr-alice");
    auto bob = online(relay, "fr-bob");
    QVERIFY(alice && bob);
    QTest::qWait(700);  // the burst is whole again after the login's frames
    constexpr int kCount = 20;
    std::vector<std::uint64_t> rids;
    std::vector<std::string> ids;
    for (int i = 0; i < kCount; ++i) {
      ids.push_back(TestClient::randomId());
      rids.push_back(alice->post(TestClient::sendFrame("fr-bob", "m" + std::to_string(i), ids.back())));
    }
    int taken = 0;
    for (int i = 0; i < kCount; ++i) {
      auto r = alice->waitResponse(rids[static_cast<std::size_t>(i)]);
      QVERIFY(r);
      if (r->has_send_ack()) {
        QCOMPARE(i, taken);  // none after a refused one
        QCOMPARE(r->send_ack().conv_seq(), std::uint64_t(i + 1));
        ++taken;
      } else {
        QVERIFY(r->has_error());
        QCOMPARE(r->error().code(), wire::RATE_LIMITED);
      }
    }
    QVERIFY2(taken >= 10 && taken < kCount, qPrintable(QString::number(taken)));
    QElapsedTimer since;
    since.start();
    QTest::qWait(300);  // the rate has tokens again; the hold has not ended
    wire::ClientFrame ping;
    ping.mutable_ping();
    QVERIFY(alice->request(ping)->has_pong());
    auto behind = alice->request(TestClient::sendFrame("fr-bob", "late"));
    QVERIFY(behind && behind->has_error());
    QCOMPARE(behind->error().code(), wire::RATE_LIMITED);
    QVERIFY2(QString::fromStdString(behind->error().reason()).contains("so they stay in order"),
             behind->error().reason().c_str());
    QVERIFY(behind->error().retry_after_ms() > 0 && behind->error().retry_after_ms() <= 1000);
    QTest::qWait(std::max<int>(0, 1100 - static_cast<int>(since.elapsed())));
    for (int i = taken; i < kCount; ++i) {
      auto r = alice->send("fr-bob", "m" + std::to_string(i), ids[static_cast<std::size_t>(i)]);
      QVERIFY2(r && r->has_send_ack(), r && r->has_error() ? r->error().reason().c_str() : "no answer");
      QCOMPARE(r->send_ack().conv_seq(), std::uint64_t(i + 1));
    }
    for (int i = 0; i < kCount; ++i) {
      auto d = bob->waitDeliver();
      QVERIFY(d);
      QCOMPARE(d->ciphertext(), "m" + std::to_string(i));
    }
  }

  // The same once a Send finds the store queue full (here one job long, so a burst finds it
  // full while a commit runs): the Sends behind it are held for a second, even once the queue
  // has room again.
  void aConnectionRefusedByAFullStoreQueueHoldsItsMessagesBack() {
    RelayProcess relay({"--store-queue", "1", "--rate", "100000", "--rate-burst", "100000"});
    QVERIFY(relay.start());
    auto alice = online(relay, "sq-alice");
    QVERIFY(alice && TestClient::registered(relay.url(), "sq-bob"));  // offline: no acks
    int taken = 0;
    bool refused = false;
    // Bounded: a burst that finds the queue full every time is all but certain at the first.
    for (int burst = 0; burst < 5 && !refused; ++burst) {
      std::vector<std::uint64_t> rids;
      for (int i = 0; i < 30; ++i)
        rids.push_back(alice->post(TestClient::sendFrame("sq-bob", "m" + std::to_string(taken + i))));
      for (auto rid : rids) {
        auto r = alice->waitResponse(rid);
        QVERIFY(r);
        if (r->has_send_ack()) {
          QVERIFY2(!refused, "a Send was taken behind a refused one");
          QCOMPARE(r->send_ack().conv_seq(), std::uint64_t(++taken));
        } else {
          QVERIFY(r->has_error());
          if (!refused) QCOMPARE(r->error().code(), wire::UNAVAILABLE);  // the first refused
          refused = true;
        }
      }
    }
    QVERIFY(refused);
    QTest::qWait(200);  // the queue is empty again; the hold has not ended
    auto behind = alice->request(TestClient::sendFrame("sq-bob", "late"));
    QVERIFY(behind && behind->has_error());
    QCOMPARE(behind->error().code(), wire::RATE_LIMITED);
    QVERIFY2(QString::fromStdString(behind->error().reason()).contains("so they stay in order"),
             behind->error().reason().c_str());
    QTest::qWait(1000);
    auto after = alice->request(TestClient::sendFrame("sq-bob", "after"));
    QVERIFY2(after && after->has_send_ack(), after && after->has_error() ? after->error().reason().c_str() : "");
    QCOMPARE(after->send_ack().conv_seq(), std::uint64_t(taken + 1));
  }

  // SubscribePresence and Typing reach other users' devices, so each has a limit of its own
  // per connection: five subscription changes at once, then one per 5 s (RATE_LIMITED with
  // the wait); ten typing notices at once, then two a second (the rest dropped: ephemeral).
  void presenceAndTypingHaveLimitsOfTheirOwn() {
    auto alice = online(relay_, "lim-alice");
    auto bob = online(relay_, "lim-bob");
    wire::ClientFrame sub;
    sub.mutable_subscribe_presence()->add_usernames("lim-alice");
    for (int i = 0; i < 5; ++i) {
      auto r = bob->request(sub);
      QVERIFY(r && r->has_presence_snapshot());
    }
    auto refused = bob->request(sub);
    QVERIFY(refused && refused->has_error());
    QCOMPARE(refused->error().code(), wire::RATE_LIMITED);
    QVERIFY(refused->error().retry_after_ms() > 0);
    wire::ClientFrame f;
    f.mutable_typing()->set_recipient("lim-bob");
    f.mutable_typing()->set_active(true);
    for (int i = 0; i < 20; ++i) alice->post(f);
    int seen = 0;
    while (bob->waitPush([](const auto& x) { return x.has_typing_event(); }, 300)) ++seen;
    QVERIFY2(seen >= 10 && seen <= 12, qPrintable(QString::number(seen)));  // + what refilled meanwhile
  }

  void presenceIsMutual() {
    auto alice = online(relay_, "v-alice");
    auto bob = online(relay_, "v-bob");
    auto eve = online(relay_, "v-eve");
    auto subscribe = [](TestClient& c, std::vector<std::string> names) {
      wire::ClientFrame f;
      auto* sub = f.mutable_subscribe_presence();  // an empty list is a valid request
      for (auto& n : names) sub->add_usernames(n);
      return c.request(f);
    };
    // Eve watches Alice, but Alice does not watch Eve: Eve learns nothing.
    auto e = subscribe(*eve, {"v-alice"});
    QVERIFY(e && e->has_presence_snapshot());
    QCOMPARE(e->presence_snapshot().users_size(), 0);
    auto a = subscribe(*alice, {"v-bob"});
    QCOMPARE(a->presence_snapshot().users_size(), 0);  // not mutual yet
    auto b = subscribe(*bob, {"v-alice"});
    QCOMPARE(b->presence_snapshot().users_size(), 1);
    QCOMPARE(b->presence_snapshot().users(0).username(), std::string("v-alice"));
    QVERIFY(b->presence_snapshot().users(0).online());
    // Alice hears that Bob is online, then offline with a last-seen time.
    auto on = alice->waitPush([](const auto& x) { return x.has_presence_update(); });
    QVERIFY(on && on->presence_update().online());
    bob->disconnect();
    auto off = alice->waitPush([](const auto& x) { return x.has_presence_update(); });
    QVERIFY(off);
    QCOMPARE(off->presence_update().username(), std::string("v-bob"));
    QVERIFY(!off->presence_update().online());
    QVERIFY(off->presence_update().last_seen_ms() > 0);
    QVERIFY(!eve->waitPush([](const auto& x) { return x.has_presence_update(); }, 200));

    // Alice stops following Bob: Bob (back online) is told she is no longer visible, and
    // her going offline later reaches him no more.
    QVERIFY(relogin(relay_, *bob));
    QVERIFY(subscribe(*bob, {"v-alice"})->presence_snapshot().users_size() == 1);
    QVERIFY(alice->waitPush([](const auto& x) { return x.has_presence_update(); }));
    auto none = subscribe(*alice, {});
    QVERIFY(none && none->has_presence_snapshot());
    QCOMPARE(none->presence_snapshot().users_size(), 0);
    auto gone = bob->waitPush([](const auto& x) { return x.has_presence_update(); });
    QVERIFY(gone);
    QCOMPARE(gone->presence_update().username(), std::string("v-alice"));
    QVERIFY(!gone->presence_update().online());
    QCOMPARE(gone->presence_update().last_seen_ms(), 0u);
    alice->disconnect();
    QVERIFY(!bob->waitPush([](const auto& x) { return x.has_presence_update(); }, 300));
  }

  void newConnectionDisplacesOldOne() {
    auto first = online(relay_, "x-dev");
    TestClient second("x-dev", 1, first->identity());
    QVERIFY(second.connect(relay_.url()));
    QVERIFY(second.login()->has_logged_in());
    QCOMPARE(first->waitClosed(), 4001);
  }

  // Each acked Send is timed from its frame to its ack (parley_send_ack_seconds,
  // request="send"), into buckets that add up to the count; a refused one is not timed.
  void sendsAreTimedUntilTheirAck() {
    auto alice = online(relay_, "tm-alice");
    auto bob = online(relay_, "tm-bob");
    QVERIFY(alice && bob);
    const char* count = "parley_send_ack_seconds_count{request=\"send\"}";
    const char* all = "parley_send_ack_seconds_bucket{request=\"send\",le=\"+Inf\"}";
    const char* within_5s = "parley_send_ack_seconds_bucket{request=\"send\",le=\"5\"}";
    const double before = metric(relay_, count), within_5s_before = metric(relay_, within_5s);
    QVERIFY(before >= 0 && within_5s_before >= 0);
    for (int i = 0; i < 5; ++i) QVERIFY(alice->send("tm-bob", "m" + std::to_string(i))->has_send_ack());
    auto refused = alice->send("tm-nobody", "m");
    QVERIFY(refused && refused->has_error());
    QCOMPARE(metric(relay_, count), before + 5);
    QCOMPARE(metric(relay_, all), before + 5);
    QCOMPARE(metric(relay_, within_5s), within_5s_before + 5);  // loopback: none took seconds
    QVERIFY(metric(relay_, "parley_send_ack_seconds_sum{request=\"send\"}") > 0);
  }

  // A reply or push starts its write when the handler queuing it ends (a frame read, a
  // commit's completions, a task), never posted behind the I/O thread's queue
  // (net/deferred_writes.hpp): refusals answered from the read, acks and errors from the
  // store, pushes, delivery marks and a presence snapshot. And the kernel takes each write
  // whole as it is made: none waits for a completion (ws_connection.cpp, do_write).
  void everyWriteStartsWhenItsHandlerEnds() {
    auto alice = online(relay_, "dw-alice");
    auto bob = online(relay_, "dw-bob");
    QVERIFY(alice && bob);
    const char* posted = "parley_writes_posted_total";
    const char* whole = "parley_writes_whole_total";
    const char* waited = "parley_writes_waited_total";
    const double before = metric(relay_, posted);
    QCOMPARE(before, 0.0);  // nor were any before: the logins, syncs and earlier tests' frames
    const double whole_before = metric(relay_, whole);
    const double waited_before = metric(relay_, waited);
    auto ack = alice->send("dw-bob", "m1");
    QVERIFY(ack && ack->has_send_ack());
    auto d = bob->waitDeliver();
    QVERIFY(d);
    bob->ack(d->inbox_seq());
    QVERIFY(!alice->waitMarks().empty());
    auto empty = alice->send("dw-bob", "");  // refused while the frame is read
    QVERIFY(empty && empty->has_error());
    auto unknown = alice->send("dw-nobody", "m2");  // refused by the store
    QVERIFY(unknown && unknown->has_error());
    wire::ClientFrame sub;
    sub.mutable_subscribe_presence()->add_usernames("dw-bob");
    auto snapshot = alice->request(sub);
    QVERIFY(snapshot && snapshot->has_presence_snapshot());
    QCOMPARE(metric(relay_, posted), before);
    // The ack, the delivery, the mark, two refusals and the snapshot: each write its own or
    // shared, at least one per client that was sent something.
    const double writes = metric(relay_, whole) - whole_before;
    QVERIFY2(writes >= 2, qPrintable(QString::number(writes)));
    QCOMPARE(metric(relay_, waited), waited_before);  // both clients read what they are sent
  }

  // Each of the relay's threads says what it is (top -H, perf, a debugger); the main thread
  // keeps the process's name, which ps, pgrep and killall look for.
  void threadsAreNamedForOperators() {
#if defined(__linux__)
    QStringList names;
    const auto read = [&] {
      names.clear();
      const QDir tasks(QStringLiteral("/proc/%1/task").arg(relay_.pid()));
      for (const auto& tid : tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        QFile comm(tasks.filePath(tid + "/comm"));
        if (comm.open(QIODevice::ReadOnly)) names << QString::fromUtf8(comm.readAll()).trimmed();
      }
      names.sort();
      // The I/O threads are named as they start, just after the relay says it listens.
      return names.contains("parley-store") && names.contains("parley-disk") &&
             names.count("parley-relay") == 1;
    };
    QVERIFY2(spinUntil(read, 5000), qPrintable(names.join(' ')));
#else
    QSKIP("thread names are read from /proc");
#endif
  }

  void healthAndMetrics() {
    QVERIFY(relay_.httpGet("/healthz").contains("200 OK"));
    const auto metrics = relay_.httpGet("/metrics");
    QVERIFY(metrics.contains("parley_connections "));
    QVERIFY(metrics.contains("parley_inbox_depth "));
    QVERIFY(metrics.contains("parley_store_commit_seconds_bucket"));
    QVERIFY(metrics.contains("parley_frames_in_total"));
    QVERIFY(relay_.httpGet("/nope").contains("404"));
    // (Non-loopback peers get 403 for /metrics; the tests only run on loopback.)
  }

  void wrongSubprotocolIsRefused() {
    TestClient c("w-any");
    QVERIFY(!c.connect(relay_.url(), "chat.v2"));
  }
};

QTEST_GUILESS_MAIN(MessagingTest)
#include "messaging_test.moc"
