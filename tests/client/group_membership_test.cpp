// Who is in a group, decided against a relay that lies (fake_relay.hpp pushes whatever the
// test builds): a membership change counts only if its actor signed it with the key we know
// for them and it follows from the members we know; group messages open only from members.
#include <QtTest>

#include <QTemporaryDir>
#include <memory>

#include "client_user.hpp"
#include "crypto/keys.hpp"
#include "fake_relay.hpp"
#include "messenger.hpp"
#include "parley/group_change.hpp"
#include "profile/profile.hpp"
#include "test_client.hpp"

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

// A group message; its ciphertext opens nothing (no sender key), so a member's is kept
// waiting for its key and a non-member's is dropped before that.
wire::ServerFrame messageFrame(std::uint64_t inbox_seq, std::uint64_t conv_seq, const std::string& sender) {
  auto f = deliver(inbox_seq, conv_seq, sender);
  f.mutable_deliver()->set_kind(wire::GROUP_MESSAGE);
  f.mutable_deliver()->set_client_msg_id(std::string(15, 'm') + static_cast<char>(conv_seq));
  f.mutable_deliver()->set_ciphertext(std::string(1, '\x01') + std::string(16, 'k') + std::string(100, 'c'));
  return f;
}

}  // namespace

class GroupMembershipTest : public QObject {
  Q_OBJECT
  QTemporaryDir home_;

  static QStringList members(Messenger& m) {
    QStringList out;
    for (const auto& g : m.groupMembers(kGroup)) out << g.username + (g.admin ? "*" : "");
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
    const auto dir = home_.filePath("olive");
    Profile p{dir, QStringLiteral("olive"), relay.url(), 1, crypto::IdentityKeyPair::generate()};
    QString error;
    QVERIFY2(p.save(&error), qPrintable(error));
    auto m = test::openClientProfile(dir);
    QVERIFY(m);
    QStringList problems;
    QList<int> changes;
    connect(m.get(), &Messenger::problem, m.get(), [&](const QString& s) { problems << s; });
    connect(m.get(), &Messenger::groupChanged, m.get(),
            [&](const QByteArray&, int kind, const QString&, const QStringList&) { changes << kind; });
    m->start();
    QVERIFY(spinUntil([&] { return m->state() == RelayClient::State::Online; }, kWaitMs));

    const Signer amy{"amy"}, bea{"bea"}, mal{"mal"};
    const GroupSeats three{{"amy", true}, {"bea", false}, {"olive", false}};
    std::uint64_t inbox = 0, seq = 0;
    auto push = [&](const wire::ServerFrame& f) {
      relay.push(f);
      const auto at = f.deliver().inbox_seq();
      return spinUntil([&] { return !relay.acks.isEmpty() && relay.acks.last() >= at; }, kWaitMs);
    };
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
    // bea removed; a message of hers written before that still counts, one after it does not.
    const GroupSeats no_bea{{"amy", true}, {"olive", false}, {"cal", false}};
    const auto removed_at = ++seq;
    QVERIFY(push(eventFrame(++inbox, removed_at, {GroupChangeKind::Removed, &amy, &amy, 3, {"bea"}, no_bea})));
    QCOMPARE(members(*m), (QStringList{"amy*", "cal", "olive"}));
    before = problems.size();
    QVERIFY(push(messageFrame(++inbox, removed_at - 1, "bea")));
    QCOMPARE(problems.size(), before);  // kept until her key comes
    QVERIFY(push(messageFrame(++inbox, ++seq, "bea")));
    QCOMPARE(problems.size(), before + 1);
    QVERIFY(problems.last().contains("bea is not a member"));

    // An old change again (the relay replaying amy's addition of cal): changes nothing.
    before = problems.size();
    QVERIFY(push(eventFrame(++inbox, added_at, {GroupChangeKind::Added, &amy, &amy, 2, {"cal"}, with_cal})));
    QCOMPARE(members(*m), (QStringList{"amy*", "cal", "olive"}));
    QCOMPARE(problems.size(), before);

    // The state holds across a restart: the next change must still follow epoch 3.
    m.reset();
    m = test::openClientProfile(dir);
    QVERIFY(m);
    connect(m.get(), &Messenger::problem, m.get(), [&](const QString& s) { problems << s; });
    m->start();
    QVERIFY(spinUntil([&] { return m->state() == RelayClient::State::Online; }, kWaitMs));
    QCOMPARE(members(*m), (QStringList{"amy*", "cal", "olive"}));
    const GroupSeats then_mal{{"amy", true}, {"olive", false}, {"cal", false}, {"mal", false}};
    QVERIFY(refused({GroupChangeKind::Added, &amy, &amy, 5, {"mal"}, then_mal}, "does not follow"));
    QVERIFY(refused({GroupChangeKind::Added, &amy, &mal, 4, {"mal"}, then_mal}, "did not sign"));
    // Another change at an epoch already taken is not taken either.
    QVERIFY(push(eventFrame(++inbox, ++seq, {GroupChangeKind::Added, &amy, &amy, 3, {"mal"}, then_mal})));
    QCOMPARE(members(*m), (QStringList{"amy*", "cal", "olive"}));
    QVERIFY(m->groups().contains(kGroup));
  }
};

QTEST_GUILESS_MAIN(GroupMembershipTest)
#include "group_membership_test.moc"
