// A contact that lies: mallory's client encrypts, in a real session through a real relay,
// contents no Parley client writes. Every kind (text, reply, reaction, edit, unsend, read
// receipt, typing, sender key and a request for one, file, group info, group text), aimed at
// alice's messages and at carol's, then mutated on the protobuf wire format (tests/support/proto_mutator.hpp).
// Alice shows what mallory may change and nothing else: her own words and her chat with
// carol stay as they were, no conversation appears for a name mallory made up, what she is
// told fits in a line, and she goes on talking to both. (Mallory's own client meets its
// share: a message the relay refuses for good must fail, not hold her conversation back.)
// PARLEY_FUZZ_SEED and PARLEY_FUZZ_MESSAGES (per batch, 3 batches) run others.
#include <QtTest>

#include <QSqlQuery>


#include "chat_users.hpp"
#include "e2e.pb.h"
#include "fuzz_settings.hpp"
#include "proto_mutator.hpp"
#include "sealed_db.hpp"
#include "test_client.hpp"

using namespace parley::client;
using parley::test::ChatUser;
using parley::test::spinUntil;

namespace {

constexpr int kWaitMs = 20000;
constexpr int kBatches = 3;

// What alice shows of a conversation, field by field, for comparing before and after; only
// `only_sender`'s messages, and without the reactions, when that is set (in mallory's chat,
// mallory may react to alice's words).
QStringList snapshot(const ChatUser& u, const QString& peer, const QString& only_sender = {}) {
  QStringList out;
  for (const auto& m : u.m->history(peer)) {
    if (!only_sender.isEmpty() && m.sender != only_sender) continue;
    QStringList reactions;
    if (only_sender.isEmpty())
      for (const auto& r : m.reactions) reactions << r.reactor + ":" + r.emoji;
    out << QString("%1|%2|%3|%4|%5|%6").arg(m.sender, QString(m.clientMsgId.toHex()), m.body)
               .arg(m.editedMs).arg(m.unsent).arg(reactions.join(','));
  }
  return out;
}

}  // namespace

class HostilePeerTest : public QObject, parley::test::ChatUsers {
  Q_OBJECT

  std::vector<parley::e2e::Content> seeds_;

  // Contents of every kind, each aimed where mallory has no say as well as where she has.
  void makeSeeds(const QByteArray& alices, const QByteArray& mallorys, const QByteArray& carols,
                 const QByteArray& gid) {
    using parley::e2e::Content;
    const auto s = [](const QByteArray& b) { return b.toStdString(); };
    Content c;
    c.set_type(parley::e2e::TEXT);
    c.set_text("a reply");
    c.set_client_ts_ms(1);
    c.mutable_quote()->set_client_msg_id(s(alices));
    c.mutable_quote()->set_author("alice");
    c.mutable_quote()->set_text("what alice said");
    seeds_.push_back(c);
    c.mutable_quote()->set_client_msg_id(s(carols));
    c.mutable_quote()->set_author("carol");
    seeds_.push_back(c);
    for (const auto& [target, author] : {std::pair{alices, "alice"}, std::pair{carols, "carol"},
                                         std::pair{mallorys, "mallory"}}) {
      c.Clear();
      c.set_type(parley::e2e::REACTION);
      c.mutable_reaction()->set_client_msg_id(s(target));
      c.mutable_reaction()->set_author(author);
      c.mutable_reaction()->set_emoji("\xf0\x9f\x91\x8d");
      seeds_.push_back(c);
      c.Clear();
      c.set_type(parley::e2e::EDIT);
      c.set_client_ts_ms(2);
      c.mutable_edit()->set_client_msg_id(s(target));
      c.mutable_edit()->set_text("new words");
      seeds_.push_back(c);
      c.set_type(parley::e2e::UNSEND);
      c.mutable_edit()->clear_text();
      seeds_.push_back(c);
    }
    c.Clear();
    c.set_type(parley::e2e::READ_RECEIPT);
    c.add_read_client_msg_ids(s(alices));
    c.add_read_client_msg_ids(s(carols));
    seeds_.push_back(c);
    c.Clear();
    c.set_type(parley::e2e::TYPING);
    c.set_typing(true);
    seeds_.push_back(c);
    c.Clear();
    c.set_type(parley::e2e::SENDER_KEY);
    c.set_group_id(s(gid));
    c.set_sender_key_distribution(std::string(100, 'k'));
    c.set_text("a new name");
    c.set_group_description("a new description");
    seeds_.push_back(c);
    c.Clear();
    c.set_type(parley::e2e::ATTACHMENT);
    c.set_text("a caption");
    auto* a = c.mutable_attachment();
    a->set_media_id(std::string(16, 'm'));
    a->set_key(std::string(32, 'k'));
    a->set_ciphertext_size(1000);
    a->set_ciphertext_sha256(std::string(32, 'h'));
    a->set_plaintext_size(900);
    a->set_file_name("../../../outside.png");
    a->set_mime_type("image/png");
    a->set_width(10);
    a->set_height(10);
    a->set_thumbnail(std::string(64, 't'));
    seeds_.push_back(c);
    c.Clear();
    c.set_type(parley::e2e::GROUP_INFO);
    c.set_group_id(s(gid));
    c.set_text("renamed pairwise");
    seeds_.push_back(c);
    c.set_type(parley::e2e::GROUP_TEXT);
    c.set_text("a group text, pairwise");
    seeds_.push_back(c);
    c.Clear();
    c.set_type(parley::e2e::SENDER_KEY_REQUEST);
    c.set_group_id(s(gid));
    c.set_sender_key_id(std::string(16, 'i'));
    seeds_.push_back(c);
  }

  // Mallory, offline, queues `n` texts to alice; their contents are replaced by mutants of
  // the seeds before she comes back, each encrypted as it leaves. Then an honest text, which
  // alice shows once everything before it in the conversation was handled.
  bool lieInBatch(ChatUser& mallory, ChatUser& alice, parley::test::ProtoMutator& mutator, int n) {
    if (!mallory.reopen(false)) return false;
    QString error;
    for (int i = 0; i < n; ++i)
      if (!mallory.m->sendText("alice", QString("placeholder %1").arg(i), &error)) return false;
    mallory.m.reset();
    {
      auto db = parley::test::sealedDatabase(mallory.dir + "/parley.db", "mallory-outbox");
      if (!db.open()) return false;
      QSqlQuery rows(db);
      if (!rows.exec("SELECT seq FROM outbox WHERE peer = 'alice' ORDER BY seq")) return false;
      QList<qint64> seqs;
      while (rows.next()) seqs << rows.value(0).toLongLong();
      for (auto seq : seqs) {
        const auto& seed = seeds_[mutator.rng()() % seeds_.size()];
        const auto bytes = mutator.mutate(seed.SerializeAsString());
        QSqlQuery up(db);
        up.prepare("UPDATE outbox SET content = ? WHERE seq = ?");
        up.addBindValue(QByteArray::fromStdString(bytes));
        up.addBindValue(seq);
        if (!up.exec()) return false;
      }
      db.close();
    }
    QSqlDatabase::removeDatabase("mallory-outbox");
    if (!mallory.reopen()) return false;
    const auto marker = send(mallory, "alice", "honest again");
    if (!marker.isEmpty() && alice.waitReceived(marker, kWaitMs)) return true;
    // Say where it stuck: mallory's outbox (her own client holding the conversation back), or
    // alice.
    QVariant left;
    parley::test::profileSql(mallory.dir, "SELECT COUNT(*) FROM outbox", {}, &left);
    qWarning("the honest text did not arrive; mallory's outbox holds %d; mallory was told: %s; "
             "alice lately: %s", left.toInt(), qPrintable(mallory.problems.join(" | ").left(1000)),
             qPrintable(alice.problems.mid(alice.problems.size() - 5).join(" | ")));
    return false;
  }

 private slots:
  void initTestCase() { QVERIFY(startWith({"alice", "mallory", "carol"})); }
  void cleanupTestCase() { users_.clear(); }

  void aLyingContactChangesOnlyWhatIsHers() {
    auto& alice = user("alice");
    auto& mallory = user("mallory");
    auto& carol = user("carol");
    const auto alices = send(alice, "mallory", "alice's words");
    const auto mallorys = send(mallory, "alice", "mallory's words");
    const auto carols = send(carol, "alice", "carol's words");
    const auto to_carol = send(alice, "carol", "alice to carol");
    QVERIFY(mallory.waitReceived(alices) && alice.waitReceived(mallorys) && alice.waitReceived(carols) &&
            carol.waitReceived(to_carol));
    QByteArray gid;
    alice.m->createGroup("three", {"mallory", "carol"}, [&](const QByteArray& id, const QString& e) {
      QVERIFY2(e.isEmpty(), qPrintable(e));
      gid = id;
    });
    QVERIFY(spinUntil([&] { return !gid.isEmpty(); }, kWaitMs));
    makeSeeds(alices, mallorys, carols, gid);

    const auto with_carol = snapshot(alice, "carol");
    const auto own_to_mallory = snapshot(alice, "mallory", "alice");
    const auto peers = [&] {
      QStringList out;
      for (const auto& c : alice.m->conversations()) out << c.peer;
      out.sort();
      return out;
    };
    const auto conversations = peers();

    parley::test::ProtoMutator mutator(parley::test::fuzzSeed());
    const auto n = static_cast<int>(parley::test::fuzzSetting("PARLEY_FUZZ_MESSAGES", 40));
    for (int batch = 0; batch < kBatches; ++batch)
      QVERIFY2(lieInBatch(mallory, alice, mutator, n), qPrintable(QString("batch %1").arg(batch)));

    QCOMPARE(snapshot(alice, "carol"), with_carol);
    QCOMPARE(snapshot(alice, "mallory", "alice"), own_to_mallory);
    QCOMPARE(peers(), conversations);
    for (const auto& text : alice.problems)
      QVERIFY2(text.size() <= 300, qPrintable("told alice: " + text.left(400) + "..."));
    qInfo("alice was told %lld things, e.g. %s", static_cast<long long>(alice.problems.size()),
          qPrintable(QStringList(alice.problems.mid(0, 6)).join(" | ")));

    // Both still talk to her, and she to them.
    const auto from_carol = send(carol, "alice", "carol, afterwards");
    QVERIFY(alice.waitReceived(from_carol));
    const auto to_mallory = send(alice, "mallory", "alice, afterwards");
    QVERIFY(mallory.waitReceived(to_mallory));
    QCOMPARE(alice.find("carol", from_carol).body, QString("carol, afterwards"));
  }
};

QTEST_GUILESS_MAIN(HostilePeerTest)
#include "hostile_peer_test.moc"
