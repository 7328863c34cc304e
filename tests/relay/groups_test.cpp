// Groups against a real relay: membership rules, ordering across online and offline members,
// removal, the member cap, the per-group rate limit, dedup and receipts.
#include <QtTest>

#include <map>
#include <set>

#include <sodium.h>

#include "group_helpers.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

namespace {

bool relogin(RelayProcess& relay, TestClient& c) {
  c.disconnect();
  if (!c.connect(relay.url())) return false;
  auto r = c.login(0);
  return r && r->has_logged_in();
}

std::string create(TestClient& c, const std::vector<std::string>& members) {
  auto r = c.request(createGroupFrame(c, members));
  if (!r || !r->has_group_created()) return {};
  return r->group_created().group_id();
}

// `n` clients registered as <prefix>0, <prefix>1, ... into `m`, the first creating a group
// of them all: its id, or empty if a registration or the creation failed.
std::string registeredGroup(RelayProcess& relay, const std::string& prefix, int n,
                            std::vector<std::unique_ptr<TestClient>>& m) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    m.push_back(TestClient::registered(relay.url(), prefix + std::to_string(i)));
    if (!m.back()) return {};
    if (i > 0) names.push_back(m.back()->username());
  }
  return create(*m[0], names);
}

// Next GROUP_EVENT delivered to `c`.
std::optional<wire::Deliver> nextEvent(TestClient& c, int timeout_ms = 5000) {
  auto f = c.waitPush([](const wire::ServerFrame& x) {
    return x.has_deliver() && x.deliver().kind() == wire::GROUP_EVENT;
  }, timeout_ms);
  if (!f) return std::nullopt;
  return f->deliver();
}

// Reads what `c` is delivered until nothing comes for a while, and acknowledges all of it.
// The number of entries read.
int drainAndAck(TestClient& c) {
  int n = 0;
  std::uint64_t last = 0;
  while (auto d = c.waitDeliver(1000)) {
    last = std::max(last, d->inbox_seq());
    ++n;
  }
  if (last > 0) c.ack(last);
  return n;
}

std::optional<wire::Deliver> nextGroupMessage(TestClient& c, int timeout_ms = 5000) {
  auto f = c.waitPush([](const wire::ServerFrame& x) {
    return x.has_deliver() && x.deliver().kind() == wire::GROUP_MESSAGE;
  }, timeout_ms);
  if (!f) return std::nullopt;
  return f->deliver();
}

}  // namespace

class GroupsTest : public QObject {
  Q_OBJECT
  RelayProcess relay_{{"--rate", "100000", "--rate-burst", "100000"}};

 private slots:
  void initTestCase() { QVERIFY(relay_.start()); }

  void membershipRules() {
    auto alice = TestClient::registered(relay_.url(), "g-alice");
    auto bob = TestClient::registered(relay_.url(), "g-bob");
    auto carol = TestClient::registered(relay_.url(), "g-carol");
    auto dave = TestClient::registered(relay_.url(), "g-dave");
    auto eve = TestClient::registered(relay_.url(), "g-eve");
    QVERIFY(alice && bob && carol && dave && eve);

    auto created = alice->request(createGroupFrame(*alice, {"g-bob", "G-Carol"}));
    QVERIFY(created && created->has_group_created());
    const auto gid = created->group_created().group_id();
    QCOMPARE(gid.size(), std::size_t{16});
    QCOMPARE(created->group_created().epoch(), 1u);

    // Every member's inbox starts with the CREATED event, at group seq 1.
    auto ev = nextEvent(*bob);
    QVERIFY(ev);
    QCOMPARE(ev->group_id(), gid);
    QCOMPARE(ev->conv_seq(), 1u);
    QCOMPARE(ev->event().kind(), wire::GroupEvent::CREATED);
    QCOMPARE(ev->event().actor(), std::string("g-alice"));
    QCOMPARE(ev->event().members_after_size(), 3);
    QVERIFY(nextEvent(*alice));

    // A non-admin can neither add, nor remove, nor change admins.
    auto r = bob->request(addMembersFrame(*bob, gid, {"g-dave"}));
    QVERIFY(isError(r, wire::FORBIDDEN));
    QVERIFY(QString::fromStdString(r->error().reason()).contains("admin"));
    QVERIFY(isError(bob->request(removeMembersFrame(*bob, gid, {"g-carol"})), wire::FORBIDDEN));
    QVERIFY(isError(bob->request(setAdminFrame(*bob, gid, "g-bob", true)), wire::FORBIDDEN));

    // Outsiders cannot read or send; an unknown id looks the same.
    QVERIFY(isError(eve->request(getGroupFrame(gid)), wire::FORBIDDEN));
    QVERIFY(isError(eve->request(groupSendFrame(gid, "x")), wire::FORBIDDEN));
    QVERIFY(isError(eve->request(getGroupFrame(std::string(16, 'z'))), wire::FORBIDDEN));

    // Unknown users are named.
    r = alice->request(addMembersFrame(*alice, gid, {"g-dave", "g-nobody"}));
    QVERIFY(isError(r, wire::UNKNOWN_RECIPIENT));
    QVERIFY(QString::fromStdString(r->error().reason()).contains("g-nobody"));

    r = alice->request(addMembersFrame(*alice, gid, {"g-dave"}));
    QVERIFY(r && r->has_group_updated());
    QCOMPARE(r->group_updated().epoch(), 2u);
    ev = nextEvent(*dave);
    QVERIFY(ev);
    QCOMPARE(ev->event().kind(), wire::GroupEvent::ADDED);
    QCOMPARE(ev->conv_seq(), 2u);  // dave's history starts at his own ADDED event

    auto info = dave->request(getGroupFrame(gid));
    QVERIFY(info && info->has_group_info());
    QCOMPARE(info->group_info().members_size(), 4);
    QCOMPARE(info->group_info().epoch(), 2u);
    std::map<std::string, bool> admins;
    for (const auto& m : info->group_info().members()) admins[m.username()] = m.admin();
    QVERIFY(admins.at("g-alice"));
    QVERIFY(!admins.at("g-bob"));

    // Promoted, bob may remove.
    QVERIFY(alice->request(setAdminFrame(*alice, gid, "g-bob", true))->has_group_updated());
    r = bob->request(removeMembersFrame(*bob, gid, {"g-carol"}));
    QVERIFY(r && r->has_group_updated());
    QCOMPARE(r->group_updated().epoch(), 4u);
    QVERIFY(isError(carol->request(groupSendFrame(gid, "after removal")), wire::FORBIDDEN));
    // Removing someone who is not a member is refused and names them.
    r = bob->request(removeMembersFrame(*bob, gid, {"g-carol"}));
    QVERIFY(isError(r, wire::BAD_REQUEST));

    // Anyone may leave.
    r = dave->request(leaveFrame(*dave, gid));
    QVERIFY(r && r->has_group_updated());
    QVERIFY(isError(dave->request(getGroupFrame(gid)), wire::FORBIDDEN));

    // The last admin cannot demote themselves away; when admins leave, someone is promoted.
    QVERIFY(alice->request(setAdminFrame(*alice, gid, "g-alice", false))->has_group_updated());
    QVERIFY(isError(bob->request(setAdminFrame(*bob, gid, "g-bob", false)), wire::BAD_REQUEST));
    QVERIFY(bob->request(leaveFrame(*bob, gid))->has_group_updated());
    info = alice->request(getGroupFrame(gid));
    QVERIFY(info && info->has_group_info());
    QCOMPARE(info->group_info().members_size(), 1);
    QVERIFY(info->group_info().members(0).admin());
  }

  void fiveMembersTwoOfflineSeeOneOrder() {
    std::vector<std::unique_ptr<TestClient>> m;
    for (int i = 0; i < 5; ++i) {
      m.push_back(TestClient::registered(relay_.url(), "o5-" + std::to_string(i)));
      QVERIFY(m.back());
    }
    const auto gid = create(*m[0], {"o5-1", "o5-2", "o5-3", "o5-4"});
    QVERIFY(!gid.empty());
    m[3]->disconnect();
    m[4]->disconnect();

    // 20 messages from three online senders, pipelined so they interleave.
    std::map<std::uint64_t, std::string> order;  // group seq -> client_msg_id
    std::vector<std::pair<TestClient*, std::uint64_t>> posted;
    std::map<std::uint64_t, std::string> ids;
    for (int i = 0; i < 20; ++i) {
      auto* sender = m[static_cast<std::size_t>(i % 3)].get();
      auto f = groupSendFrame(gid, "burst " + std::to_string(i));
      const auto cmid = f.group_send().client_msg_id();
      const auto rid = sender->post(f);
      posted.push_back({sender, rid});
      ids[static_cast<std::uint64_t>(i)] = cmid;
    }
    std::map<TestClient*, std::map<std::uint64_t, std::string>> own;
    for (std::size_t i = 0; i < posted.size(); ++i) {
      auto r = posted[i].first->waitResponse(posted[i].second);
      QVERIFY(r && r->has_send_ack());
      const auto seq = r->send_ack().conv_seq();
      QVERIFY(order.emplace(seq, r->send_ack().client_msg_id()).second);  // seqs unique
      own[posted[i].first][seq] = r->send_ack().client_msg_id();
    }
    QCOMPARE(order.begin()->first, 2u);  // seq 1 is the CREATED event
    QCOMPARE(order.rbegin()->first, 21u);

    QVERIFY(relogin(relay_, *m[3]));
    QVERIFY(relogin(relay_, *m[4]));
    for (auto& c : m) {
      // What this member sees: deliveries of others' messages plus its own acks.
      std::map<std::uint64_t, std::string> seen = own[c.get()];
      std::uint64_t last = 0;
      const auto expect = 20 - seen.size();
      for (std::size_t k = 0; k < expect; ++k) {
        auto d = nextGroupMessage(*c);
        QVERIFY2(d, qPrintable(QString::fromStdString(c->username()) + " missed a message"));
        QVERIFY(d->conv_seq() > last);  // strictly in group order
        last = d->conv_seq();
        QCOMPARE(d->group_id(), gid);
        QVERIFY(seen.emplace(d->conv_seq(), d->client_msg_id()).second);
      }
      QCOMPARE(seen, order);
      QVERIFY(!nextGroupMessage(*c, 200));  // and nothing twice
    }
  }

  // Many members online at once (a fan-out step tells them all as it commits): each one gets
  // every message live, once and in order.
  void everyOnlineMemberOfALargeGroupHearsInOrder() {
    constexpr int kMembers = 70;
    std::vector<std::unique_ptr<TestClient>> m;
    const auto gid = registeredGroup(relay_, "big-", kMembers, m);
    QVERIFY(!gid.empty());
    const char* encoded = "parley_deliver_bodies_encoded_total";
    const double encoded_before = metric(relay_, encoded);
    constexpr int kMessages = 5;
    for (int k = 0; k < kMessages; ++k) m[0]->post(groupSendFrame(gid, "to all " + std::to_string(k)));
    for (int i = 1; i < kMembers; ++i) {
      std::uint64_t last = 0;
      for (int k = 0; k < kMessages; ++k) {
        auto d = nextGroupMessage(*m[static_cast<std::size_t>(i)]);
        QVERIFY2(d, qPrintable(QString("member %1 missed message %2").arg(i).arg(k)));
        QVERIFY(d->conv_seq() > last);
        last = d->conv_seq();
        QCOMPARE(d->ciphertext(), "to all " + std::to_string(k));
      }
    }
    // Nothing twice: one wait for anything late, then every member at once.
    QTest::qWait(200);
    for (int i = 1; i < kMembers; ++i) QVERIFY(!nextGroupMessage(*m[static_cast<std::size_t>(i)], 0));
    // Each entry's Deliver is encoded for the group, not for each member (deliver_bodies.hpp):
    // once per fan-out step that reaches it, if the step before let go of its body. A step
    // makes up to 256 appends (--fanout-chunk), so these six entries (the group's CREATED
    // event may still have been fanning out when counting began) to 69 members take a step
    // or two each: 6 or 11 bodies here, where one per member would be 345.
    const double bodies = metric(relay_, encoded) - encoded_before;
    qInfo("%.0f Deliver bodies encoded for %d messages to %d members", bodies, kMessages,
          kMembers - 1);
    QVERIFY2(bodies >= kMessages && bodies <= 4 * (kMessages + 1),
             qPrintable(QString::number(bodies)));
  }

  // Every member acknowledging one message raises the sender's mark for each of them. The
  // marks that reach the sender's connection together leave in one frame (marks.cpp): all
  // of them arrive, in fewer frames than marks.
  void membersMarksReachTheSenderTogether() {
    constexpr int kMembers = 40;
    constexpr std::size_t kReaders = kMembers - 1;
    std::vector<std::unique_ptr<TestClient>> m;
    const auto gid = registeredGroup(relay_, "marks-", kMembers, m);
    QVERIFY(!gid.empty());
    QVERIFY(m[0]->request(groupSendFrame(gid, "mark me")));
    std::vector<std::uint64_t> seqs(kMembers, 0);
    for (int i = 1; i < kMembers; ++i) {
      auto d = nextGroupMessage(*m[static_cast<std::size_t>(i)]);
      QVERIFY2(d, qPrintable(QString("member %1 missed the message").arg(i)));
      seqs[static_cast<std::size_t>(i)] = d->inbox_seq();
    }
    for (int i = 1; i < kMembers; ++i) m[static_cast<std::size_t>(i)]->ack(seqs[static_cast<std::size_t>(i)]);
    std::set<std::string> readers;
    int frames = 0;
    while (readers.size() < kReaders) {
      const auto marks = m[0]->waitMarks();
      QVERIFY2(!marks.empty(), qPrintable(QString("%1 of %2 marks").arg(readers.size()).arg(kReaders)));
      ++frames;
      for (const auto& mark : marks) {
        QCOMPARE(mark.group_id(), gid);
        QVERIFY(readers.insert(mark.reader()).second);  // each once
      }
    }
    qInfo("%zu marks in %d frames", readers.size(), frames);
    QVERIFY2(frames < static_cast<int>(kReaders), qPrintable(QString::number(frames)));
  }

  // Group entries are stored once and named by the members' inbox rows, 1:1 messages carry
  // their own ciphertext; an offline member's inbox mixing both replays in inbox order with
  // the right bodies, and again from where its acknowledgement left off.
  void mixedInboxReplaysInOrderAfterReconnect() {
    auto alice = TestClient::registered(relay_.url(), "mix-alice");
    auto bob = TestClient::registered(relay_.url(), "mix-bob");
    QVERIFY(alice && bob);
    const auto gid = create(*alice, {"mix-bob"});
    QVERIFY(!gid.empty());
    auto created = nextEvent(*bob);
    QVERIFY(created);
    const auto created_seq = created->inbox_seq();
    bob->disconnect();
    // Each group send waits for its fan-out, so the inbox order is the order below.
    auto fannedOut = [&] {
      return spinUntil([&] { return metric(relay_, "parley_group_fanout_backlog") == 0; }, 10000);
    };
    const std::vector<std::pair<bool, std::string>> sent{
        {false, "direct 1"}, {true, "group 1"}, {false, "direct 2"}, {true, "group 2"}};
    for (const auto& [group, body] : sent) {
      auto r = group ? alice->request(groupSendFrame(gid, body)) : alice->send("mix-bob", body);
      QVERIFY(r && r->has_send_ack());
      if (group) QVERIFY(fannedOut());
    }
    auto replay = [&](std::uint64_t last_acked, std::size_t from) {
      bob->disconnect();
      if (!bob->connect(relay_.url())) return false;
      auto r = bob->login(last_acked);
      if (!r || !r->has_logged_in()) return false;
      std::uint64_t prev = last_acked;
      for (std::size_t i = from; i < sent.size(); ++i) {
        auto d = bob->waitDeliver();
        if (!d || d->inbox_seq() <= prev || d->ciphertext() != sent[i].second) return false;
        if (d->kind() != (sent[i].first ? wire::GROUP_MESSAGE : wire::MESSAGE)) return false;
        if (sent[i].first && d->group_id() != gid) return false;
        prev = d->inbox_seq();
      }
      return !bob->waitDeliver(200);
    };
    QVERIFY(replay(created_seq, 0));
    QVERIFY(replay(created_seq + 2, 2));  // "direct 1" and "group 1" acknowledged
    // Each ack raises one mark per conversation it covers: the first (direct 1, group 1)
    // one per conversation at seq 1, the second both again; marks of one ack come in one
    // frame, or in two when alice's connection flushed between them.
    std::map<std::string, std::uint64_t> up_to;  // group id ("" for 1:1) -> highest mark
    bob->ack(created_seq + 4);
    while (up_to.size() < 2 || up_to[""] < 2 || up_to[gid] < 3) {
      const auto marks = alice->waitMarks();
      QVERIFY(!marks.empty());
      for (const auto& m : marks) {
        QCOMPARE(m.reader(), std::string("mix-bob"));
        up_to[m.group_id()] = std::max(up_to[m.group_id()], m.up_to_conv_seq());
      }
    }
    QCOMPARE(up_to.size(), std::size_t{2});
    QCOMPARE(up_to[""], 2u);   // direct 1 and direct 2
    QCOMPARE(up_to[gid], 3u);  // CREATED is seq 1, group 1 and group 2 are 2 and 3
    QVERIFY(alice->waitMarks(300).empty());
  }

  // Group marks follow the same rule as 1:1 ones: a member's first goes when the ack's
  // commit is done; one that follows it within --mark-linger-ms is held for the member's next
  // write (here its next GroupSend's ack).
  void groupMarksWaitOnlyWhenTheyFollowAnother() {
    RelayProcess relay({"--mark-linger-ms", "1000"});
    QVERIFY(relay.start());
    std::vector<std::unique_ptr<TestClient>> m;
    const auto gid = registeredGroup(relay, "gml", 2, m);
    QVERIFY(!gid.empty());
    auto& alice = *m[0];
    auto& bob = *m[1];
    QVERIFY(nextEvent(bob));  // CREATED, seq 1
    QElapsedTimer since;
    auto sendAndAck = [&](const std::string& body) {
      auto r = alice.request(groupSendFrame(gid, body));
      const auto d = nextGroupMessage(bob);
      if (!r || !r->has_send_ack() || !d) return false;
      since.restart();
      bob.ack(d->inbox_seq());
      return true;
    };
    QVERIFY(sendAndAck("one"));  // seq 2: alice's first mark, not held (a hold lasts 875 ms)
    auto marks = alice.waitMarks(5000);
    QCOMPARE(marks.size(), std::size_t{1});
    QCOMPARE(marks[0].up_to_conv_seq(), 2u);
    QVERIFY2(since.elapsed() < 600, qPrintable(QString::number(since.elapsed())));
    QVERIFY(sendAndAck("two"));  // seq 3, right after: held
    QVERIFY(alice.waitMarks(300).empty());
    since.restart();
    const auto r = alice.request(groupSendFrame(gid, "three"));
    QVERIFY(r && r->has_send_ack());
    marks = alice.waitMarks(200);
    QCOMPARE(marks.size(), std::size_t{1});
    QCOMPARE(marks[0].up_to_conv_seq(), 3u);
    QVERIFY2(since.elapsed() < 550, "the mark waited for its linger, not for the ack");
  }

  void removedMemberGetsNothingAfterRemoval() {
    auto a = TestClient::registered(relay_.url(), "rm-a");
    auto b = TestClient::registered(relay_.url(), "rm-b");
    auto c = TestClient::registered(relay_.url(), "rm-c");
    QVERIFY(a && b && c);
    const auto gid = create(*a, {"rm-b", "rm-c"});
    QVERIFY(!gid.empty());
    QVERIFY(a->request(groupSendFrame(gid, "before"))->has_send_ack());
    QVERIFY(a->request(removeMembersFrame(*a, gid, {"rm-c"}))->has_group_updated());
    QVERIFY(a->request(groupSendFrame(gid, "after"))->has_send_ack());

    std::vector<wire::Deliver> got;
    while (auto d = c->waitDeliver(700)) got.push_back(*d);
    QCOMPARE(got.size(), std::size_t{3});
    QCOMPARE(got[0].event().kind(), wire::GroupEvent::CREATED);
    QCOMPARE(got[1].ciphertext(), std::string("before"));
    QCOMPARE(got[2].kind(), wire::GROUP_EVENT);
    QCOMPARE(got[2].event().kind(), wire::GroupEvent::REMOVED);
    QCOMPARE(got[2].event().targets(0), std::string("rm-c"));
    QCOMPARE(got[2].event().members_after_size(), 2);

    // b gets both messages; after acking them, a gets one delivery mark naming the group.
    std::uint64_t last_inbox = 0;
    std::vector<std::string> texts;
    while (auto d = b->waitDeliver(700)) {
      last_inbox = d->inbox_seq();
      if (d->kind() == wire::GROUP_MESSAGE) texts.push_back(d->ciphertext());
    }
    QCOMPARE(texts, (std::vector<std::string>{"before", "after"}));
    b->ack(last_inbox);
    // One mark covers both: "after" is seq 4 (CREATED, before, REMOVED, after).
    const auto marks = a->waitMarks();
    QCOMPARE(marks.size(), std::size_t{1});
    QCOMPARE(marks[0].group_id(), gid);
    QCOMPARE(marks[0].reader(), std::string("rm-b"));
    QCOMPARE(marks[0].up_to_conv_seq(), 4u);
    QCOMPARE(marks[0].from_conv_seq(), 2u);  // seq 1 is the CREATED event, which raises none
    QVERIFY(a->waitMarks(300).empty());
  }

  void retriedGroupSendIsDeduplicated() {
    auto a = TestClient::registered(relay_.url(), "dd-a");
    auto b = TestClient::registered(relay_.url(), "dd-b");
    QVERIFY(a && b);
    const auto gid = create(*a, {"dd-b"});
    const auto id = TestClient::randomId();
    auto first = a->request(groupSendFrame(gid, "once", id));
    auto again = a->request(groupSendFrame(gid, "once", id));
    QVERIFY(first && first->has_send_ack() && again && again->has_send_ack());
    QVERIFY(!first->send_ack().duplicate());
    QVERIFY(again->send_ack().duplicate());
    QCOMPARE(again->send_ack().conv_seq(), first->send_ack().conv_seq());
    QVERIFY(nextGroupMessage(*b));
    QVERIFY(!nextGroupMessage(*b, 300));
  }

  // Each acked GroupSend is timed from its frame to its ack (parley_send_ack_seconds,
  // request="group_send"); a refused one is not, and 1:1 sends' series does not move.
  void groupSendsAreTimedUntilTheirAck() {
    auto a = TestClient::registered(relay_.url(), "tm-a");
    auto b = TestClient::registered(relay_.url(), "tm-b");
    QVERIFY(a && b);
    const auto gid = create(*a, {"tm-b"});
    const char* groups = "parley_send_ack_seconds_count{request=\"group_send\"}";
    const char* groups_inf = "parley_send_ack_seconds_bucket{request=\"group_send\",le=\"+Inf\"}";
    const char* sends = "parley_send_ack_seconds_count{request=\"send\"}";
    const double before = metric(relay_, groups), sends_before = metric(relay_, sends);
    QVERIFY(before >= 0 && sends_before >= 0);
    for (int i = 0; i < 3; ++i) {
      auto ack = a->request(groupSendFrame(gid, "m" + std::to_string(i), TestClient::randomId()));
      QVERIFY(ack && ack->has_send_ack());
    }
    auto refused = a->request(groupSendFrame(std::string(16, 'x'), "m", TestClient::randomId()));
    QVERIFY(refused && refused->has_error());
    QCOMPARE(metric(relay_, groups), before + 3);
    QCOMPARE(metric(relay_, groups_inf), before + 3);
    QCOMPARE(metric(relay_, sends), sends_before);
  }

  void malformedGroupRequestsAreRefused() {
    auto a = TestClient::registered(relay_.url(), "bad-a");
    QVERIFY(a);
    const auto gid = create(*a, {});
    QVERIFY(!gid.empty());  // a group of one is allowed
    QVERIFY(isError(a->request(getGroupFrame("short")), wire::BAD_REQUEST));
    QVERIFY(isError(a->request(leaveFrame(*a, "")), wire::BAD_REQUEST));
    QVERIFY(isError(a->request(addMembersFrame(*a, gid, {})), wire::BAD_REQUEST));
    QVERIFY(isError(a->request(addMembersFrame(*a, gid, {"Not a name!"})), wire::UNKNOWN_RECIPIENT));
    QVERIFY(isError(a->request(groupSendFrame(gid, "")), wire::BAD_REQUEST));
    QVERIFY(isError(a->request(groupSendFrame(gid, "x", "short-id")), wire::BAD_REQUEST));
    QVERIFY(isError(a->request(groupSendFrame(gid, std::string(200 * 1024 + 1, 'x'))),
                    wire::TOO_LARGE));
    // A refusal naming many unknown users lists the first ten and counts the rest.
    std::vector<std::string> strangers;
    for (int i = 0; i < 25; ++i) strangers.push_back("bad-nobody-" + std::to_string(i));
    auto r = a->request(addMembersFrame(*a, gid, strangers));
    QVERIFY(isError(r, wire::UNKNOWN_RECIPIENT));
    const auto reason = QString::fromStdString(r->error().reason());
    QVERIFY2(reason.contains("bad-nobody-9") && !reason.contains("bad-nobody-10") &&
                 reason.endsWith("and 15 more"),
             qPrintable(reason));
    // Group requests need a login like everything else.
    TestClient anon("bad-anon");
    QVERIFY(anon.connect(relay_.url()));
    QVERIFY(isError(anon.request(groupSendFrame(gid, "x")), wire::UNAUTHENTICATED));
    // And the group still works.
    auto ack = a->request(groupSendFrame(gid, "fine"));
    QVERIFY(ack && ack->has_send_ack());
    QCOMPARE(ack->send_ack().conv_seq(), 2u);
  }

  // The relay makes a change only if its actor signed exactly that change at the epoch it
  // will have, and hands the signature on to members with the actor's key.
  void membershipChangesMustBeSignedByTheirActor() {
    auto a = TestClient::registered(relay_.url(), "sig-a");
    auto b = TestClient::registered(relay_.url(), "sig-b");
    QVERIFY(a && b);
    QVERIFY(registerOffline(relay_, "sig-c"));
    QVERIFY(registerOffline(relay_, "sig-d"));
    const auto gid = create(*a, {"sig-b"});
    QVERIFY(!gid.empty());
    auto ev = nextEvent(*b);
    QVERIFY(ev);
    const auto& created = ev->event();
    QCOMPARE(created.actor_identity_key(), a->identity().public_key);
    const GroupSeats seats{{"sig-a", true}, {"sig-b", false}};
    const auto transcript = group_change_transcript(gid, 1, GroupChangeKind::Created, "sig-a", {"sig-b"}, seats);
    QCOMPARE(crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(created.signature().data()),
                                         reinterpret_cast<const unsigned char*>(transcript.data()),
                                         transcript.size(),
                                         reinterpret_cast<const unsigned char*>(a->identity().public_key.data())),
             0);

    // Signed by someone else (b signs what a asks for).
    auto add = [&](const std::string& sig) {
      wire::ClientFrame f;
      f.mutable_add_members()->set_group_id(gid);
      f.mutable_add_members()->add_usernames("sig-c");
      f.mutable_add_members()->set_signature(sig);
      return a->request(f);
    };
    const GroupSeats with_c{{"sig-a", true}, {"sig-b", false}, {"sig-c", false}};
    const auto at2 = group_change_transcript(gid, 2, GroupChangeKind::Added, "sig-a", {"sig-c"}, with_c);
    auto r = add(b->identity().sign(at2));
    QVERIFY(isError(r, wire::GROUP_CHANGE_MISMATCH));
    QVERIFY(QString::fromStdString(r->error().reason()).contains("epoch 2"));
    // A different member list, or the epoch the group has now (a replay of an old change).
    QVERIFY(isError(add(a->identity().sign(group_change_transcript(gid, 2, GroupChangeKind::Added, "sig-a",
                                                                   {"sig-c"}, {{"sig-a", true}, {"sig-c", false}}))),
                    wire::GROUP_CHANGE_MISMATCH));
    QVERIFY(isError(add(a->identity().sign(group_change_transcript(gid, 1, GroupChangeKind::Added, "sig-a",
                                                                   {"sig-c"}, with_c))),
                    wire::GROUP_CHANGE_MISMATCH));
    QVERIFY(isError(add("short"), wire::BAD_REQUEST));
    // Nothing was changed by the refusals; the right signature is taken.
    auto info = a->request(getGroupFrame(gid));
    QVERIFY(info && info->has_group_info());
    QCOMPARE(info->group_info().epoch(), 1u);
    QCOMPARE(info->group_info().members_size(), 2);
    r = add(a->identity().sign(at2));
    QVERIFY(r && r->has_group_updated());
    QCOMPARE(r->group_updated().epoch(), 2u);
    ev = nextEvent(*b);
    QVERIFY(ev && ev->event().kind() == wire::GroupEvent::ADDED);
    QCOMPARE(ev->event().signature(), a->identity().sign(at2));

    // A creator's id is its own: one in use is refused, never joined.
    wire::ClientFrame again;
    again.mutable_create_group()->set_group_id(gid);
    again.mutable_create_group()->set_signature(a->identity().sign(
        group_change_transcript(gid, 1, GroupChangeKind::Created, "sig-a", {}, {{"sig-a", true}})));
    r = a->request(again);
    QVERIFY(isError(r, wire::BAD_REQUEST));
    QVERIFY(QString::fromStdString(r->error().reason()).contains("in use"));
  }

  void memberCap() {
    RelayProcess relay({"--max-group-members", "3"});
    QVERIFY(relay.start());
    auto a = TestClient::registered(relay.url(), "cap-a");
    QVERIFY(a);
    for (auto n : {"cap-b", "cap-c", "cap-d"}) QVERIFY(registerOffline(relay, n));
    auto r = a->request(createGroupFrame(*a, {"cap-b", "cap-c", "cap-d"}));
    QVERIFY(isError(r, wire::GROUP_FULL));
    QVERIFY(QString::fromStdString(r->error().reason()).contains("3"));
    const auto gid = create(*a, {"cap-b", "cap-c"});
    QVERIFY(!gid.empty());
    r = a->request(addMembersFrame(*a, gid, {"cap-d"}));
    QVERIFY(isError(r, wire::GROUP_FULL));
    // More names than a group holds are refused before any is looked up, in every request.
    const std::vector<std::string> four{"cap-b", "cap-c", "cap-d", "cap-e"};
    for (const auto& f : {createGroupFrame(*a, four), addMembersFrame(*a, gid, four),
                          removeMembersFrame(*a, gid, four)}) {
      r = a->request(f);
      QVERIFY(isError(r, wire::TOO_LARGE));
      QCOMPARE(r->error().reason(), std::string("at most 3 usernames in one request"));
    }
    QVERIFY(a->request(removeMembersFrame(*a, gid, {"cap-c"}))->has_group_updated());
    QVERIFY(a->request(addMembersFrame(*a, gid, {"cap-d"}))->has_group_updated());
  }

  // What one user's entries in group logs weigh until every member has them is bounded, all
  // its groups together (--group-share-mib): once less than the largest message is left, its
  // GroupSends of every size and its membership changes that would add an event are refused
  // INBOX_FULL with sender_share_full, while other senders go on and removing still goes;
  // once the members have caught up, the room is back.
  void aSendersGroupEntriesStayWithinItsShare() {
    RelayProcess relay({"--group-share-mib", "1", "--group-rate", "1000", "--group-rate-burst",
                        "1000", "--rate", "100000", "--rate-burst", "100000"});
    QVERIFY(relay.start());
    auto a = TestClient::registered(relay.url(), "gs-a");
    auto b = TestClient::registered(relay.url(), "gs-b");
    auto c = TestClient::registered(relay.url(), "gs-c");
    QVERIFY(a && b && c && registerOffline(relay, "gs-d"));
    b->disconnect();  // everything stays until gs-b has it
    const auto g1 = create(*a, {"gs-b", "gs-c"});
    const auto g2 = create(*c, {"gs-a"});
    QVERIFY(!g1.empty() && !g2.empty());
    const std::string big(200 * 1024, 'x');  // the largest a message may be
    auto fullShare = [](const std::optional<wire::ServerFrame>& r) {
      return isError(r, wire::INBOX_FULL) && r->error().sender_share_full() &&
             r->error().retry_after_ms() == 30000 &&
             QString::fromStdString(r->error().reason()).contains("group messages");
    };
    constexpr std::size_t row = 128;  // what each entry and each member's row weighs (kGroupEntryBytes)
    // Each entry is fanned out before the next is sent, so it gets rows of its own: one per
    // member device but its sender's for a message, every member's for an event (nobody
    // acknowledges until the end, so none goes). Their weight is the sender's too.
    auto fannedOut = [&] {
      return spinUntil([&] { return metric(relay, "parley_group_fanout_backlog") == 0; }, 5000);
    };
    // Fills the MiB of `sender` until `room` is left: four of the largest messages to `gid`
    // (three members), whose CREATED event it logged (its size as gs-c was pushed it), then a
    // filler to `filler_gid`, a message that gets `filler_rows` rows.
    auto fillLeaving = [&](TestClient& sender, const std::string& gid, const std::string& filler_gid,
                           std::size_t filler_rows, std::size_t room) {
      const auto created = c->waitPush([&](const wire::ServerFrame& x) {
        return x.has_deliver() && x.deliver().group_id() == gid && x.deliver().kind() == wire::GROUP_EVENT;
      });
      if (!created || !fannedOut()) return false;
      for (int i = 0; i < 4; ++i) {
        const auto r = sender.request(groupSendFrame(gid, big));
        if (!r || !r->has_send_ack() || !fannedOut()) return false;
      }
      const auto held = created->deliver().event().ByteSizeLong() + row + 3 * row +
                        4 * (big.size() + row + 2 * row);
      const auto filler = (std::size_t{1} << 20) - held - room - row - filler_rows * row;
      const auto r = sender.request(groupSendFrame(filler_gid, std::string(filler, 'f')));
      return r && r->has_send_ack() && fannedOut();
    };
    // gs-a, its filler in gs-c's group (one row, gs-c's), is left exactly the largest entry's
    // room (its payload and its log rows), which still takes a byte; then less is left (the
    // byte and its rows) and nothing goes, however small, in either group.
    QVERIFY(fillLeaving(*a, g1, g2, 1, big.size() + row));
    QVERIFY(a->request(groupSendFrame(g1, "1"))->has_send_ack());
    QVERIFY(fullShare(a->request(groupSendFrame(g1, big))));
    const int refusals_before = static_cast<int>(metric(relay, "parley_group_share_full_total"));
    // Small ones too, in either group; an add or an admin change would log an event too.
    QVERIFY(fullShare(a->request(groupSendFrame(g1, "1"))));
    QVERIFY(fullShare(a->request(groupSendFrame(g2, "1"))));
    QVERIFY(fullShare(a->request(addMembersFrame(*a, g1, {"gs-d"}))));
    QVERIFY(fullShare(a->request(setAdminFrame(*a, g1, "gs-c", true))));
    QVERIFY(fullShare(a->request(createGroupFrame(*a, {"gs-c"}))));
    QCOMPARE(static_cast<int>(metric(relay, "parley_group_share_full_total")), refusals_before + 5);
    // A byte less than the largest entry's room is full too: gs-e, in a group of its own.
    auto e = TestClient::registered(relay.url(), "gs-e");
    QVERIFY(e);
    const auto g3 = create(*e, {"gs-b", "gs-c"});
    QVERIFY(!g3.empty());
    QVERIFY(fillLeaving(*e, g3, g3, 2, big.size() + row - 1));
    QVERIFY(fullShare(e->request(groupSendFrame(g3, "1"))));
    // Others' entries are their own: gs-c still sends, to both groups.
    QVERIFY(c->request(groupSendFrame(g1, big))->has_send_ack());
    QVERIFY(c->request(groupSendFrame(g2, big))->has_send_ack());
    // Removing is never refused: nobody stays in a group for want of room.
    QVERIFY(a->request(removeMembersFrame(*a, g1, {"gs-c"}))->has_group_updated());
    // gs-b comes online and takes everything; with every member caught up (the others
    // acknowledge what they were pushed), gs-a has its room again.
    QVERIFY(relogin(relay, *b));
    QVERIFY(drainAndAck(*b) >= 8);  // gs-a's five messages in g1, gs-c's one, two events
    for (auto* m : {c.get(), a.get()}) QVERIFY(drainAndAck(*m) > 0);
    QVERIFY(spinUntil([&] {
      auto r = a->request(groupSendFrame(g1, big));
      return r && r->has_send_ack();
    }, 5000));
  }

  // A sender with --group-pending-max of its entries not yet fanned out to every member
  // waits (their rows are weighed only as they are written), whatever the group's rate
  // allows, and goes on once the fan-out is done.
  void aSendersUnfinishedFanOutIsBounded() {
    // One row per fan-out job, so the fan-out to 20 members takes 20 jobs per entry.
    RelayProcess relay({"--group-pending-max", "2", "--fanout-chunk", "1", "--group-rate", "1000",
                        "--group-rate-burst", "1000", "--rate", "100000", "--rate-burst", "100000"});
    QVERIFY(relay.start());
    auto a = TestClient::registered(relay.url(), "gp-a");
    QVERIFY(a);
    std::vector<std::string> names;
    for (int i = 0; i < 20; ++i) {
      names.push_back("gp-" + std::to_string(i));
      QVERIFY(registerOffline(relay, names.back()));
    }
    const auto g = create(*a, names);
    QVERIFY(!g.empty());
    auto fannedOut = [&] {
      return spinUntil([&] { return metric(relay, "parley_group_fanout_backlog") == 0; }, 10000);
    };
    QVERIFY(fannedOut());  // the CREATED event is everyone's
    // Twenty at once: the relay has read them all long before the first one's 20 fan-out
    // jobs are done, so two go, the third waits for them, and the rest, sent behind it, wait
    // with it (held for a second), so none is logged ahead of it.
    std::vector<std::uint64_t> rids;
    for (int i = 0; i < 20; ++i) rids.push_back(a->post(groupSendFrame(g, "m" + std::to_string(i))));
    for (std::size_t i = 0; i < rids.size(); ++i) {
      const auto r = a->waitResponse(rids[i]);
      QVERIFY(r);
      if (i < 2) {
        QVERIFY(r->has_send_ack());
        continue;
      }
      QVERIFY(isError(r, wire::RATE_LIMITED));
      QVERIFY(!r->error().sender_share_full());
      const auto reason = QString::fromStdString(r->error().reason());
      if (i == 2) {
        QCOMPARE(r->error().retry_after_ms(), 500u);
        QVERIFY2(reason.contains("still giving your earlier group messages"), qPrintable(reason));
      } else {
        QVERIFY(r->error().retry_after_ms() > 0 && r->error().retry_after_ms() <= 1000);
        QVERIFY2(reason.contains("waits with it, so they stay in order"), qPrintable(reason));
      }
    }
    QCOMPARE(static_cast<int>(metric(relay, "parley_group_pending_full_total")), 1);
    // Within the second it is held still, whatever the fan-out has done meanwhile.
    const auto again = a->request(groupSendFrame(g, "m2"));
    QVERIFY(isError(again, wire::RATE_LIMITED));
    QVERIFY(QString::fromStdString(again->error().reason()).contains("so they stay in order"));
    // Offered again after the wait, the client's way, the rest go in order.
    QTest::qWait(1000);
    QVERIFY(fannedOut());
    for (int i = 2; i < 20; ++i) {
      const auto r = a->request(groupSendFrame(g, "m" + std::to_string(i)));
      QVERIFY(r && r->has_send_ack());
      QCOMPARE(r->send_ack().conv_seq(), std::uint64_t(i) + 2);  // after the CREATED event, m0, m1
      QVERIFY(fannedOut());
    }
  }

  // Refused by the group's rate, a sender is held for that group for a second: a message it
  // sent behind the refused one waits too, even once the group has room again, so it is
  // not logged ahead of it. Its other groups are not held.
  void aSenderRefusedByTheRateIsHeldForThatGroup() {
    // A token each 200 ms, a burst of 1 (which a bucket once refused as its first token).
    RelayProcess relay({"--group-rate", "5", "--group-rate-burst", "1"});
    QVERIFY(relay.start());
    auto a = TestClient::registered(relay.url(), "rh-a");
    QVERIFY(a && registerOffline(relay, "rh-b"));
    const auto g1 = create(*a, {"rh-b"});
    const auto g2 = create(*a, {"rh-b"});
    QVERIFY(!g1.empty() && !g2.empty());
    const auto first = a->post(groupSendFrame(g1, "m0"));
    const auto second = a->post(groupSendFrame(g1, "m1"));
    const auto taken = a->waitResponse(first);
    QVERIFY2(taken && taken->has_send_ack(), taken && taken->has_error() ? taken->error().reason().c_str() : "");
    const auto refused = a->waitResponse(second);
    QVERIFY(isError(refused, wire::RATE_LIMITED));
    QVERIFY(refused->error().retry_after_ms() <= 200);  // the group's next token
    QTest::qWait(300);  // the group has a token again
    const auto behind = a->request(groupSendFrame(g1, "m2"));
    QVERIFY(isError(behind, wire::RATE_LIMITED));
    QVERIFY(QString::fromStdString(behind->error().reason()).contains("so they stay in order"));
    QVERIFY(a->request(groupSendFrame(g2, "elsewhere"))->has_send_ack());
    QTest::qWait(1000);
    const auto retried = a->request(groupSendFrame(g1, "m1"));
    QVERIFY(retried && retried->has_send_ack());
    QCOMPARE(retried->send_ack().conv_seq(), std::uint64_t{3});  // after the CREATED event and m0
  }

  void perGroupRateLimit() {
    RelayProcess relay({"--group-rate", "1", "--group-rate-burst", "5"});
    QVERIFY(relay.start());
    auto a = TestClient::registered(relay.url(), "rl-a");
    auto b = TestClient::registered(relay.url(), "rl-b");
    QVERIFY(a && b);
    const auto g1 = create(*a, {"rl-b"});
    const auto g2 = create(*a, {"rl-b"});
    std::vector<std::uint64_t> rids;
    for (int i = 0; i < 8; ++i) rids.push_back(a->post(groupSendFrame(g1, "m")));
    int acked = 0, limited = 0;
    for (auto rid : rids) {
      auto r = a->waitResponse(rid);
      QVERIFY(r);
      if (r->has_send_ack()) ++acked;
      if (isError(r, wire::RATE_LIMITED)) {
        ++limited;
        QVERIFY(r->error().retry_after_ms() > 0);
      }
    }
    QCOMPARE(acked, 5);
    QCOMPARE(limited, 3);
    // The budget is the group's: another group is unaffected, and so is another sender's
    // view of that group (it is limited too).
    QVERIFY(a->request(groupSendFrame(g2, "other group"))->has_send_ack());
    QVERIFY(isError(b->request(groupSendFrame(g1, "b too")), wire::RATE_LIMITED));
  }
};

QTEST_GUILESS_MAIN(GroupsTest)
#include "groups_test.moc"
