// Who is in a group, decided against a relay that lies (fake_relay.hpp pushes whatever the
// test builds): a membership change counts only if its actor signed it with the key we know
// for them and it follows from the members we know; group messages open only from members.
#include <QtTest>

#include <QSqlQuery>
#include <QTemporaryDir>
#include <memory>

#include <sodium.h>

#include "client_user.hpp"
#include "crypto/keys.hpp"
#include "fake_relay.hpp"
#include "messenger.hpp"
#include "parley/group_change.hpp"
#include "store/database.hpp"
#include "test_client.hpp"
#include "sealed_db.hpp"

using namespace parley;
using namespace parley::client;
using parley::test::FakeRelay;
using parley::test::spinUntil;

namespace {

constexpr int kWaitMs = 10000;
const QByteArray kGroup = QByteArray::fromHex("b0b1b2b3b4b5b6b7b8b9babbbcbdbebf");

struct Signer {
  std::string name;
  crypto::IdentityKeyPair key = crypto::IdentityKeyPair::generate();
  std::string public_key() const {
    const auto v = key.public_key().view();
    return {reinterpret_cast<const char*>(v.data()), v.size()};
  }
};

struct Event {
  GroupChangeKind kind;
  const Signer* actor;           // named as the actor
  const Signer* signer;          // whose key signs (a forger: someone else's)
  std::uint64_t epoch;
  std::vector<std::string> targets;
  GroupSeats after;
  std::string offered_key = {};  // the key the relay claims for the actor (default: the signer's)
};

wire::ServerFrame deliver(std::uint64_t inbox_seq, std::uint64_t conv_seq, const std::string& sender) {
  wire::ServerFrame f;
  auto* d = f.mutable_deliver();
  d->set_inbox_seq(inbox_seq);
  d->set_sender(sender);
  d->set_sender_device(1);
  d->set_group_id(kGroup.toStdString());
  d->set_client_msg_id(std::string(16, '\0'));
  d->set_conv_seq(conv_seq);
  d->set_server_ts_ms(1'700'000'000'000 + conv_seq);
  return f;
}

wire::ServerFrame eventFrame(std::uint64_t inbox_seq, std::uint64_t conv_seq, const Event& e) {
  auto f = deliver(inbox_seq, conv_seq, e.actor->name);
  auto* d = f.mutable_deliver();
  d->set_kind(wire::GROUP_EVENT);
  auto* ev = d->mutable_event();
  ev->set_kind(static_cast<wire::GroupEvent::Kind>(e.kind));
  ev->set_actor(e.actor->name);
  for (const auto& t : e.targets) ev->add_targets(t);
  for (const auto& m : e.after) {
    auto* gm = ev->add_members_after();
    gm->set_username(m.username);
    gm->set_admin(m.admin);
  }
  ev->set_epoch(e.epoch);
  const auto transcript = group_change_transcript(kGroup.toStdString(), e.epoch, e.kind, e.actor->name, e.targets, e.after);
  const auto sig = e.signer->key.sign(
      crypto::ByteView(reinterpret_cast<const std::uint8_t*>(transcript.data()), transcript.size()));
  ev->set_signature(std::string(reinterpret_cast<const char*>(sig.bytes.data()), sig.bytes.size()));
  ev->set_actor_identity_key(e.offered_key.empty() ? e.signer->public_key() : e.offered_key);
  return f;
}

// The relay's answer to a membership change.
wire::ServerFrame updated(const QByteArray& group, std::uint64_t epoch, std::uint64_t seq) {
  wire::ServerFrame r;
  r.mutable_group_updated()->set_group_id(group.toStdString());
  r.mutable_group_updated()->set_epoch(epoch);
  r.mutable_group_updated()->set_seq(seq);
  return r;
}

// A group message; its ciphertext opens nothing (no sender key), so a member's is kept
// waiting for its key and a non-member's is dropped before that.
wire::ServerFrame messageFrame(std::uint64_t inbox_seq, std::uint64_t conv_seq, const std::string& sender,
                               std::size_t size = 100) {
  auto f = deliver(inbox_seq, conv_seq, sender);
  f.mutable_deliver()->set_kind(wire::GROUP_MESSAGE);
  f.mutable_deliver()->set_client_msg_id(std::string(14, 'm') + static_cast<char>(conv_seq >> 8) +
                                         static_cast<char>(conv_seq & 0xff));
  f.mutable_deliver()->set_ciphertext(std::string(1, '\x01') + std::string(16, 'k') + std::string(size, 'c'));
  return f;
}

// Whether the client acknowledged everything up to the entry a pushed Deliver carries.
bool acknowledged(const FakeRelay& relay, std::uint64_t inbox_seq, int wait_ms = kWaitMs) {
  return spinUntil([&] { return !relay.acks.isEmpty() && relay.acks.last() >= inbox_seq; }, wait_ms);
}

// Pushes one Deliver and waits for the client to acknowledge it.
bool pushAndWait(FakeRelay& relay, const wire::ServerFrame& f) {
  relay.push(f);
  return acknowledged(relay, f.deliver().inbox_seq());
}

}  // namespace

class GroupMembershipTest : public QObject {
  Q_OBJECT
  QTemporaryDir home_;

  // A saved profile for `name` on `relay`; its directory (empty on failure).
  QString makeProfile(const FakeRelay& relay, const QString& name,
                      crypto::IdentityKeyPair identity = crypto::IdentityKeyPair::generate()) {
    const auto dir = home_.filePath(name);
    return test::saveNewClientProfile(relay.url(), dir, name, std::move(identity)) ? dir : QString();
  }
  // Opens a profile and brings it online; what it reports goes to `problems`.
  static std::unique_ptr<Messenger> online(const QString& dir, QStringList* problems) {
    auto m = test::openClientProfile(dir);
    if (!m) return nullptr;
    connect(m.get(), &Messenger::problem, m.get(), [problems](const QString& s) { *problems << s; });
    m->start();
    if (!spinUntil([&] { return m->state() == RelayClient::State::Online; }, kWaitMs)) return nullptr;
    return m;
  }

  static QStringList members(Messenger& m, const QByteArray& group = kGroup) {
    QStringList out;
    for (const auto& g : m.groupMembers(group)) out << g.username + (g.admin ? "*" : "");
    return out;
  }

 private slots:
  void initTestCase() {
    QVERIFY(home_.isValid());
    QVERIFY(crypto::init());
  }

  void aRelayCannotChangeWhoIsInAGroup() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    auto olive_identity = crypto::IdentityKeyPair::generate();
    const auto pv = olive_identity.public_key().view();
    const std::string olive_public(reinterpret_cast<const char*>(pv.data()), pv.size());
    const auto sv = olive_identity.secret_bytes();
    std::vector<std::uint8_t> olive_secret(sv.begin(), sv.end());
    const auto dir = makeProfile(relay, "olive", std::move(olive_identity));
    QVERIFY(!dir.isEmpty());
    QStringList problems;
    QList<int> changes;
    auto m = online(dir, &problems);
    QVERIFY(m);
    connect(m.get(), &Messenger::groupChanged, m.get(),
            [&](const QByteArray&, int kind, const QString&, const QStringList&) { changes << kind; });
    QList<bool> out_of_step;  // groupOutOfStepChanged, after the restart below

    const Signer amy{"amy"}, bea{"bea"}, mal{"mal"};
    const GroupSeats three{{"amy", true}, {"bea", false}, {"olive", false}};
    std::uint64_t inbox = 0, seq = 0;
    auto push = [&](const wire::ServerFrame& f) { return pushAndWait(relay, f); };
    auto refused = [&](const Event& e, const char* why) {
      const auto before = problems.size();
      if (!push(eventFrame(++inbox, ++seq, e))) return false;
      if (problems.size() != before + 1 || !problems.last().contains(QLatin1String(why))) {
        qWarning("expected a problem with '%s', got: %s", why, qPrintable(problems.join(" | ")));
        return false;
      }
      return true;
    };

    // Joining: amy creates the group with bea and us. Her key is new to us: pinned.
    QVERIFY(push(eventFrame(++inbox, ++seq, {GroupChangeKind::Created, &amy, &amy, 1, {"bea", "olive"}, three})));
    QCOMPARE(members(*m), (QStringList{"amy*", "bea", "olive"}));
    QVERIFY(m->groups().contains(kGroup));
    QString no_key;
    QVERIFY(!m->safetyNumber("amy", &no_key).isEmpty());

    // The relay adds its own account: signed by mal, offered as amy's key.
    const GroupSeats with_mal{{"amy", true}, {"bea", false}, {"olive", false}, {"mal", false}};
    QVERIFY(refused({GroupChangeKind::Added, &amy, &mal, 2, {"mal"}, with_mal}, "did not sign"));
    // amy's real signature over another change than the one shown (its list adds mal too).
    const GroupSeats cal_and_mal{{"amy", true}, {"bea", false}, {"olive", false}, {"cal", false}, {"mal", false}};
    QVERIFY(refused({GroupChangeKind::Added, &amy, &amy, 2, {"cal"}, cal_and_mal}, "does not follow"));
    // A member who is not an admin, signing for itself.
    const GroupSeats with_cal{{"amy", true}, {"bea", false}, {"olive", false}, {"cal", false}};
    QVERIFY(refused({GroupChangeKind::Added, &bea, &bea, 2, {"cal"}, with_cal}, "does not follow"));
    // A change that skips one (epoch 3 after 1).
    QVERIFY(refused({GroupChangeKind::Added, &amy, &amy, 3, {"cal"}, with_cal}, "does not follow"));
    QVERIFY(m->groupOutOfStep(kGroup));  // until a change at epoch 3 is taken
    // A promotion nobody signed: bea made admin "by amy".
    const GroupSeats bea_admin{{"amy", true}, {"bea", true}, {"olive", false}};
    QVERIFY(refused({GroupChangeKind::AdminChanged, &amy, &bea, 2, {"bea"}, bea_admin}, "did not sign"));
    QCOMPARE(members(*m), (QStringList{"amy*", "bea", "olive"}));
    QCOMPARE(changes, (QList<int>{wire::GroupEvent::CREATED}));
    QVERIFY(m->safetyNumber("mal", &no_key).isEmpty());  // a refused change pins nothing

    // A message from mal, whom the relay says is in the group: dropped, not kept for a key.
    auto before = problems.size();
    QVERIFY(push(messageFrame(++inbox, ++seq, "mal")));
    QCOMPARE(problems.size(), before + 1);
    QVERIFY(problems.last().contains("mal is not a member"));

    // amy's real change is taken.
    const auto added_at = ++seq;
    QVERIFY(push(eventFrame(++inbox, added_at, {GroupChangeKind::Added, &amy, &amy, 2, {"cal"}, with_cal})));
    QCOMPARE(members(*m), (QStringList{"amy*", "bea", "cal", "olive"}));
    QVERIFY(m->groupOutOfStep(kGroup));
    // bea's message before her removal is kept for its key; after the removal, nothing of hers
    // opens, whatever number the relay gives it (entries come in group order).
    before = problems.size();
    QVERIFY(push(messageFrame(++inbox, ++seq, "bea")));
    QCOMPARE(problems.size(), before);
    const GroupSeats no_bea{{"amy", true}, {"olive", false}, {"cal", false}};
    const auto removed_at = ++seq;
    QVERIFY(push(eventFrame(++inbox, removed_at, {GroupChangeKind::Removed, &amy, &amy, 3, {"bea"}, no_bea})));
    QCOMPARE(members(*m), (QStringList{"amy*", "cal", "olive"}));
    QVERIFY(!m->groupOutOfStep(kGroup));  // epoch 3 reached by changes that each followed
    QVERIFY(push(messageFrame(++inbox, removed_at - 1, "bea")));
    QCOMPARE(problems.size(), before + 1);
    QVERIFY(problems.last().contains("bea is not a member"));

    // An old change again (the relay replaying amy's addition of cal): changes nothing, and
    // is not shown again.
    before = problems.size();
    const auto shown = changes.size();
    QVERIFY(push(eventFrame(++inbox, added_at, {GroupChangeKind::Added, &amy, &amy, 2, {"cal"}, with_cal})));
    QCOMPARE(members(*m), (QStringList{"amy*", "cal", "olive"}));
    QCOMPARE(problems.size(), before);
    QCOMPARE(changes.size(), shown);

    // The state holds across a restart: the next change must still follow epoch 3.
    m.reset();
    m = online(dir, &problems);
    QVERIFY(m);
    connect(m.get(), &Messenger::groupOutOfStepChanged, m.get(),
            [&](const QByteArray&, bool on) { out_of_step << on; });
    QCOMPARE(members(*m), (QStringList{"amy*", "cal", "olive"}));
    const GroupSeats then_mal{{"amy", true}, {"olive", false}, {"cal", false}, {"mal", false}};
    QVERIFY(refused({GroupChangeKind::Added, &amy, &amy, 4, {"mal"}, {{"amy", true}, {"mal", false}}},
                    "does not follow"));
    QVERIFY(refused({GroupChangeKind::Added, &amy, &mal, 4, {"mal"}, then_mal}, "did not sign"));
    // Another change at an epoch already taken is not taken either.
    QVERIFY(push(eventFrame(++inbox, ++seq, {GroupChangeKind::Added, &amy, &amy, 3, {"mal"}, then_mal})));
    QCOMPARE(members(*m), (QStringList{"amy*", "cal", "olive"}));
    QVERIFY(m->groups().contains(kGroup));

    // Our own change: amy makes us admin, we remove cal. The relay's answer applies it; cal's
    // messages written before it may still be on their way and open, until the removal's own
    // event comes back.
    const GroupSeats olive_admin{{"amy", true}, {"olive", true}, {"cal", false}};
    QVERIFY(push(eventFrame(++inbox, ++seq, {GroupChangeKind::AdminChanged, &amy, &amy, 4, {"olive"}, olive_admin})));
    QCOMPARE(members(*m), (QStringList{"amy*", "cal", "olive*"}));
    const auto cal_msg = ++seq;
    const auto removal = ++seq;
    std::string signed_removal;
    relay.answer = [&](const wire::ClientFrame& f) -> std::optional<wire::ServerFrame> {
      if (!f.has_remove_members()) return std::nullopt;
      signed_removal = f.remove_members().signature();
      return updated(kGroup, 5, removal);
    };
    QString removed_error = "pending";
    m->removeMembers(kGroup, {"Cal"}, [&](const QString& e) { removed_error = e; });
    QVERIFY(spinUntil([&] { return removed_error != "pending"; }, kWaitMs));
    QCOMPARE(removed_error, QString());
    QCOMPARE(members(*m), (QStringList{"amy*", "olive*"}));
    const GroupSeats no_cal{{"amy", true}, {"olive", true}};
    const auto ours = group_change_transcript(kGroup.toStdString(), 5, GroupChangeKind::Removed, "olive", {"cal"}, no_cal);
    QCOMPARE(crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signed_removal.data()),
                                         reinterpret_cast<const unsigned char*>(ours.data()), ours.size(),
                                         reinterpret_cast<const unsigned char*>(olive_public.data())),
             0);
    before = problems.size();
    QVERIFY(push(messageFrame(++inbox, cal_msg, "cal")));
    QCOMPARE(problems.size(), before);
    Signer olive{"olive"};
    olive.key = *crypto::IdentityKeyPair::from_secret(olive_secret);
    QVERIFY(push(eventFrame(++inbox, removal, {GroupChangeKind::Removed, &olive, &olive, 5, {"cal"}, no_cal})));
    QCOMPARE(problems.size(), before);  // our own change coming back
    QVERIFY(push(messageFrame(++inbox, cal_msg - 1, "cal")));
    QCOMPARE(problems.size(), before + 1);
    QVERIFY(problems.last().contains("cal is not a member"));

    // The relay's answer to our change can come after its event and a later change: it must
    // not put back what the later change undid (eve added by us, then removed by amy).
    const GroupSeats with_eve{{"amy", true}, {"olive", true}, {"eve", false}};
    const auto add_at = ++seq;
    const auto undo_at = ++seq;
    relay.answer = [&](const wire::ClientFrame& f) -> std::optional<wire::ServerFrame> {
      if (!f.has_add_members()) return std::nullopt;
      relay.push(eventFrame(++inbox, add_at, {GroupChangeKind::Added, &olive, &olive, 6, {"eve"}, with_eve}));
      relay.push(eventFrame(++inbox, undo_at, {GroupChangeKind::Removed, &amy, &amy, 7, {"eve"}, no_cal}));
      return updated(kGroup, 6, add_at);
    };
    QString add_error = "pending";
    m->addMembers(kGroup, {"eve"}, [&](const QString& e) { add_error = e; });
    QVERIFY(spinUntil([&] { return add_error != "pending"; }, kWaitMs));
    QCOMPARE(add_error, QString());
    QVERIFY(acknowledged(relay, inbox));
    QCOMPARE(members(*m), (QStringList{"amy*", "olive*"}));

    // A change that never reached us (epoch 9 after 7): we stop sending to the group, since
    // our list may hold someone removed in it, until an admin removes and re-adds us.
    QVERIFY(refused({GroupChangeKind::Added, &amy, &amy, 9, {"dan"}, {{"amy", true}, {"olive", true}, {"dan", false}}},
                    "has not reached this device"));
    QString send_error;
    QVERIFY(!m->groupSend(kGroup, "hello", &send_error));
    QVERIFY2(send_error.contains("ask an admin"), qPrintable(send_error));
    QVERIFY(m->groupOutOfStep(kGroup));
    QCOMPARE(out_of_step, (QList<bool>{true}));
    QVERIFY(push(eventFrame(++inbox, ++seq, {GroupChangeKind::Removed, &amy, &amy, 10, {"olive"}, {{"amy", true}, {"dan", false}}})));
    QCOMPARE(out_of_step, (QList<bool>{true, false}));
    QVERIFY(!m->groupOutOfStep(kGroup));
    QVERIFY(!m->groups().contains(kGroup));
    QVERIFY(push(eventFrame(++inbox, ++seq, {GroupChangeKind::Added, &amy, &amy, 11, {"olive"},
                                             {{"amy", true}, {"dan", false}, {"olive", false}}})));
    QCOMPARE(members(*m), (QStringList{"amy*", "dan", "olive"}));
    QVERIFY(m->groupSend(kGroup, "back in step", &send_error));
  }

  // The relay made our group but its answer was lost: the CREATED event, signed by us, makes
  // us its member all the same.
  void ourCreatedEventCountsWhenTheAnswerWasLost() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    const auto dir = makeProfile(relay, "pia");
    QStringList problems;
    auto m = online(dir, &problems);
    QVERIFY(m);
    wire::CreateGroup asked;
    relay.answer = [&](const wire::ClientFrame& f) -> std::optional<wire::ServerFrame> {
      if (!f.has_create_group()) return std::nullopt;
      asked = f.create_group();
      wire::ServerFrame r;
      r.mutable_error()->set_code(wire::UNAVAILABLE);
      r.mutable_error()->set_reason("lost");
      return r;
    };
    QString created_error;
    bool answered = false;
    m->createGroup("lost", {"Quin"}, [&](const QByteArray&, const QString& e) {
      created_error = e;
      answered = true;
    });
    QVERIFY(spinUntil([&] { return answered; }, kWaitMs));
    QVERIFY(!created_error.isEmpty());
    const auto gid = QByteArray::fromStdString(asked.group_id());
    QCOMPARE(gid.size(), 16);
    QVERIFY(!m->groups().contains(gid));

    wire::ServerFrame f;
    auto* d = f.mutable_deliver();
    d->set_inbox_seq(1);
    d->set_kind(wire::GROUP_EVENT);
    d->set_sender("pia");
    d->set_sender_device(1);
    d->set_group_id(asked.group_id());
    d->set_client_msg_id(std::string(16, '\0'));
    d->set_conv_seq(1);
    auto* ev = d->mutable_event();
    ev->set_kind(wire::GroupEvent::CREATED);
    ev->set_actor("pia");
    ev->add_targets("quin");
    auto* a = ev->add_members_after();
    a->set_username("pia");
    a->set_admin(true);
    ev->add_members_after()->set_username("quin");
    ev->set_epoch(1);
    ev->set_signature(asked.signature());
    relay.push(f);
    QVERIFY(spinUntil([&] { return relay.acks.contains(1); }, kWaitMs));
    QVERIFY(m->groups().contains(gid));
    QCOMPARE(members(*m, gid), (QStringList{"pia*", "quin"}));
  }

  // A member list from before lists were signed keeps its members, and takes the relay's
  // order of them (a creator stored itself last); one that differs from the relay's is out
  // of step.
  void aListFromBeforeSigningTakesTheRelaysOrderOnly() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    auto rue_identity = crypto::IdentityKeyPair::generate();
    const auto pv = rue_identity.public_key().view();
    const std::string rue_public(reinterpret_cast<const char*>(pv.data()), pv.size());
    const auto dir = makeProfile(relay, "rue", std::move(rue_identity));
    QVERIFY(!dir.isEmpty());
    QString error;
    const auto same = QByteArray(16, 's'), other = QByteArray(16, 'o');
    {
      auto db = parley::test::openStore(dir + "/parley.db", &error);
      QVERIFY2(db, qPrintable(error));
      for (const auto& gid : {same, other}) {
        QSqlQuery g(db->db());
        g.prepare("INSERT INTO groups(id, name, epoch, order_unchecked) VALUES(?, 'old', 3, 1)");
        g.addBindValue(gid);
        QVERIFY(g.exec());
        int seat = 0;
        for (const auto& [name, admin] : {std::pair{"bob", 0}, {"amy", 0}, {"rue", 1}}) {
          QSqlQuery m(db->db());
          m.prepare("INSERT INTO group_members(group_id, username, admin, seat) VALUES(?, ?, ?, ?)");
          m.addBindValue(gid);
          m.addBindValue(QString(name));
          m.addBindValue(admin);
          m.addBindValue(seat++);
          QVERIFY(m.exec());
        }
      }
    }
    int asked = 0;
    std::string removal_signature;
    relay.answer = [&](const wire::ClientFrame& f) -> std::optional<wire::ServerFrame> {
      wire::ServerFrame r;
      if (f.has_get_group()) {
        ++asked;
        auto* info = r.mutable_group_info();
        info->set_group_id(f.get_group().group_id());
        info->set_epoch(3);
        for (const auto& [name, admin] : {std::pair{"rue", true}, {"bob", false}, {"amy", false}}) {
          auto* m = info->add_members();
          m->set_username(name);
          m->set_admin(admin);
        }
        if (f.get_group().group_id() == other.toStdString()) info->add_members()->set_username("mal");
        return r;
      }
      if (!f.has_remove_members()) return std::nullopt;
      removal_signature = f.remove_members().signature();
      return updated(QByteArray::fromStdString(f.remove_members().group_id()), 4, 9);
    };
    QStringList problems;
    auto m = online(dir, &problems);
    QVERIFY(m);
    QVERIFY(spinUntil([&] { return asked == 2; }, kWaitMs));
    QTest::qWait(100);

    QString removed = "pending";
    m->removeMembers(same, {"bob"}, [&](const QString& e) { removed = e; });
    QVERIFY(spinUntil([&] { return removed != "pending"; }, kWaitMs));
    QCOMPARE(removed, QString());
    const auto t = group_change_transcript(same.toStdString(), 4, GroupChangeKind::Removed, "rue", {"bob"},
                                           {{"rue", true}, {"amy", false}});
    QCOMPARE(crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(removal_signature.data()),
                                         reinterpret_cast<const unsigned char*>(t.data()), t.size(),
                                         reinterpret_cast<const unsigned char*>(rue_public.data())),
             0);
    QCOMPARE(members(*m, other), (QStringList{"amy", "bob", "rue*"}));  // mal not taken
    QString send_error;
    QVERIFY(!m->groupSend(other, "hello", &send_error));
    QVERIFY2(send_error.contains("ask an admin"), qPrintable(send_error));
  }

  // Messages waiting for their sender's key: one member's flood (by count or by size) pushes
  // out its own, never another member's, and the user is told.
  void oneMembersFloodDoesNotPushOutAnothersWaitingMessages() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    const auto dir = makeProfile(relay, "uma");
    QStringList problems;
    auto m = online(dir, &problems);
    QVERIFY(m);
    const Signer amy{"amy"};
    std::uint64_t inbox = 0, seq = 0;
    auto push = [&](const wire::ServerFrame& f) { return pushAndWait(relay, f); };
    QVERIFY(push(eventFrame(++inbox, ++seq, {GroupChangeKind::Created, &amy, &amy, 1, {"bea", "cal", "uma"},
                                             {{"amy", true}, {"bea", false}, {"cal", false}, {"uma", false}}})));
    QVERIFY(push(messageFrame(++inbox, ++seq, "amy")));
    for (int i = 0; i < 101; ++i) QVERIFY(push(messageFrame(++inbox, ++seq, "bea")));
    for (int i = 0; i < 25; ++i) QVERIFY(push(messageFrame(++inbox, ++seq, "cal", 180 * 1024)));
    m.reset();
    QString error;
    auto db = parley::test::openStore(dir + "/parley.db", &error);
    QVERIFY2(db, qPrintable(error));
    QSqlQuery q(db->db());
    QVERIFY(q.exec("SELECT sender, COUNT(*), SUM(length(ciphertext)), MAX(conv_seq) FROM pending_group_messages"
                   " GROUP BY sender ORDER BY sender"));
    QVERIFY(q.next());
    QCOMPARE(q.value(0).toString(), QString("amy"));
    QCOMPARE(q.value(1).toInt(), 1);
    QVERIFY(q.next());
    QCOMPARE(q.value(0).toString(), QString("bea"));
    QCOMPARE(q.value(1).toInt(), 100);
    QCOMPARE(q.value(3).toLongLong(), 103LL);  // the newest kept
    QVERIFY(q.next());
    QCOMPARE(q.value(0).toString(), QString("cal"));
    QVERIFY(q.value(1).toInt() < 25);
    QVERIFY(q.value(2).toLongLong() <= 4 * 1024 * 1024);
    QCOMPARE(q.value(3).toLongLong(), static_cast<qlonglong>(seq));
    QVERIFY(!problems.filter("bea has sent many").isEmpty());
    QVERIFY(!problems.filter("cal has sent many").isEmpty());
    QVERIFY(problems.filter("oldest").isEmpty());
  }

  // Past the total (2,000 waiting, every sender within its share) the oldest go, whoever sent
  // them, and the notice blames no one.
  void theTotalsTrimBlamesNoSender() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    const auto dir = makeProfile(relay, "vera");
    QStringList problems;
    auto m = online(dir, &problems);
    QVERIFY(m);
    const Signer amy{"amy"};
    std::vector<std::string> senders;
    GroupSeats seats{{"amy", true}};
    for (int i = 0; i < 21; ++i) {
      senders.push_back(QStringLiteral("s%1").arg(i, 2, 10, QLatin1Char('0')).toStdString());
      seats.push_back({senders.back(), false});
    }
    seats.push_back({"vera", false});
    std::vector<std::string> targets;
    for (std::size_t i = 1; i < seats.size(); ++i) targets.push_back(seats[i].username);
    std::uint64_t inbox = 0, seq = 0;
    relay.push(eventFrame(++inbox, ++seq, {GroupChangeKind::Created, &amy, &amy, 1, targets, seats}));
    for (const auto& sender : senders)
      for (int i = 0; i < 96; ++i) relay.push(messageFrame(++inbox, ++seq, sender));  // 2,016
    // Each one is kept in its own transaction: under AddressSanitizer, beside other tests,
    // 2,016 of them took more than ten seconds.
    QVERIFY(acknowledged(relay, inbox, 6 * kWaitMs));
    QVERIFY(spinUntil([&] { return !problems.filter("oldest").isEmpty(); }, kWaitMs));
    QTest::qWait(50);  // the last turn's notice
    int told = 0;
    for (const auto& p : problems.filter("of the oldest group messages")) told += p.section(' ', 0, 0).toInt();
    QCOMPARE(told, 16);
    QVERIFY2(problems.filter("has sent many").isEmpty(), qPrintable(problems.join("; ")));
    m.reset();
    QString error;
    auto db = parley::test::openStore(dir + "/parley.db", &error);
    QVERIFY2(db, qPrintable(error));
    QSqlQuery q(db->db());
    QVERIFY(q.exec("SELECT sender, COUNT(*) FROM pending_group_messages GROUP BY sender ORDER BY sender"));
    QVERIFY(q.next());
    QCOMPARE(q.value(0).toString(), QString("s00"));
    QCOMPARE(q.value(1).toInt(), 96 - 16);
  }
};

QTEST_GUILESS_MAIN(GroupMembershipTest)
#include "group_membership_test.moc"
