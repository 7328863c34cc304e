// Delivery marks and the outbox's retries through the Messenger, against a fake relay
// (fake_relay.hpp) so the test decides what arrives and when. Retries: the earliest wait the
// relay asked for wins; a busy or failing relay is asked again, in order. Marks: one frame
// turning several messages Delivered, member counts in a group (also through the model the
// GUI shows), a mark that arrives before the SendAck numbering its message,
// last_mark_version kept and sent at every login, a DELIVERY_RECEIPT entry from an older
// relay acknowledged and ignored, and a sender that is not a folded name dropped.
#include <QtTest>

#include <QElapsedTimer>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <memory>

#include "crypto/keys.hpp"
#include "crypto/secure_bytes.hpp"
#include "chat_users.hpp"
#include "client_user.hpp"
#include "fake_relay.hpp"
#include "messenger.hpp"
#include "models/message_model.hpp"
#include "parley/limits.hpp"
#include "store/database.hpp"
#include "test_client.hpp"
#include "sealed_db.hpp"

using namespace parley::client;
using parley::test::FakeRelay;
using parley::test::spinUntil;

namespace {

constexpr int kWaitMs = 10000;
const QByteArray kGroup = QByteArray::fromHex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
const QString kGroupPeer = Messenger::groupPeer(kGroup);

QByteArray msg_id(int n) { return QByteArray(15, 'i') + static_cast<char>(n); }

// A statement on a (closed or open) profile database, through its own connection.
bool exec(QSqlDatabase& db, const QString& sql, const QVariantList& binds = {}) {
  QSqlQuery q(db);
  q.prepare(sql);
  for (const auto& b : binds) q.addBindValue(b);
  if (q.exec()) return true;
  qWarning("%s: %s", qPrintable(sql), qPrintable(q.lastError().text()));
  return false;
}

parley::wire::ServerFrame marks_frame(
    std::initializer_list<std::tuple<const char*, std::uint32_t, QByteArray, std::uint64_t, std::uint64_t>> list) {
  parley::wire::ServerFrame f;
  auto* out = f.mutable_delivery_marks();
  for (const auto& [reader, device, group, up_to, version] : list) {
    auto* m = out->add_marks();
    m->set_reader(reader);
    m->set_reader_device(device);
    m->set_group_id(group.toStdString());
    m->set_up_to_conv_seq(up_to);
    m->set_from_conv_seq(1);
    m->set_server_ts_ms(1'700'000'000'000 + version);
    m->set_version(version);
  }
  return f;
}

// Inbox entry `seq` of `kind` from `sender` (in group `group_id`, if any) that nobody can
// decrypt: what a relay pushes when it makes an entry up.
parley::wire::ServerFrame unreadableEntry(std::uint64_t seq, parley::wire::EntryKind kind,
                                          const std::string& sender, const std::string& group_id) {
  parley::wire::ServerFrame f;
  auto* d = f.mutable_deliver();
  d->set_inbox_seq(seq);
  d->set_kind(kind);
  d->set_sender(sender);
  d->set_sender_device(1);
  d->set_client_msg_id(msg_id(static_cast<int>(seq)).toStdString());
  d->set_conv_seq(5);
  d->set_server_ts_ms(5);
  d->set_ciphertext("not for anyone");
  d->set_group_id(group_id);
  return f;
}

struct Alice {
  explicit Alice(QString d) : dir(std::move(d)) {}
  QString dir;
  std::unique_ptr<Messenger> m;
  QHash<QByteArray, QList<int>> statuses;
  QList<std::tuple<QByteArray, QByteArray, int>> group_delivery;  // (group, id, delivered)
  QStringList problems;

  bool open() {
    m = parley::test::openClientProfile(dir);
    if (!m) return false;
    auto* raw = m.get();
    QObject::connect(raw, &Messenger::messageStatusChanged, raw,
                     [this](const QString&, const QByteArray& id, int s) { statuses[id].append(s); });
    QObject::connect(raw, &Messenger::groupDeliveryChanged, raw,
                     [this](const QByteArray& gid, const QByteArray& id, int n) {
                       group_delivery.append({gid, id, n});
                     });
    QObject::connect(raw, &Messenger::problem, raw, [this](const QString& p) { problems << p; });
    return true;
  }
  bool start() {
    if (!open()) return false;
    m->start();
    return spinUntil([this] { return m->state() == RelayClient::State::Online; }, kWaitMs);
  }
  MessageStatus stored(const QString& peer, const QByteArray& id) const {
    for (const auto& s : m->history(peer))
      if (s.clientMsgId == id) return s.status;
    return MessageStatus::Failed;
  }
  bool waitStatus(const QByteArray& id, MessageStatus s) const {
    return spinUntil([&] { return statuses.value(id).contains(static_cast<int>(s)); }, kWaitMs);
  }
};

}  // namespace

class MarksMessengerTest : public QObject {
  Q_OBJECT
  QTemporaryDir home_;
  int profiles_ = 0;

  // A profile for alice on `relay` with a conversation with bob and a group (bob, carol,
  // alice); `seed` adds messages and outbox entries before the Messenger opens it.
  QString makeProfile(const FakeRelay& relay, const std::function<bool(QSqlDatabase&)>& seed) {
    const auto dir = home_.filePath(QStringLiteral("alice-%1").arg(++profiles_));
    if (!parley::test::saveNewClientProfile(relay.url(), dir, QStringLiteral("alice"))) return {};
    QString error;
    auto db = parley::test::openStore(dir + "/parley.db", &error);
    if (!db) {
      qWarning("%s", qPrintable(error));
      return {};
    }
    auto& d = db->db();
    bool ok = exec(d, "INSERT INTO conversations(peer, last_activity_ms) VALUES('bob', 1), (?, 1)", {kGroupPeer}) &&
              exec(d, "INSERT INTO groups(id, name) VALUES(?, 'trio')", {kGroup});
    for (const char* u : {"alice", "bob", "carol"})
      ok = ok && exec(d, "INSERT INTO group_members(group_id, username) VALUES(?, ?)", {kGroup, QString(u)});
    return ok && seed(d) ? dir : QString();
  }

  // Our message waiting in the outbox, already encrypted (the fake relay opens nothing).
  static bool queue(QSqlDatabase& d, const QString& peer, int n) {
    const bool group = peer.startsWith('#');
    return exec(d, "INSERT INTO messages(peer, sender, client_msg_id, body, status, client_ts_ms)"
                   " VALUES(?, 'alice', ?, 'hello', 0, 1)", {peer, msg_id(n)}) &&
           exec(d, "INSERT INTO outbox(client_msg_id, peer, content, envelope, created_ms, group_id)"
                   " VALUES(?, ?, x'00', x'01', 1, ?)",
                {msg_id(n), peer, group ? QVariant(kGroup) : QVariant(QMetaType::fromType<QByteArray>())});
  }
  // Our message already numbered and Sent.
  static bool sent(QSqlDatabase& d, const QString& peer, int n, int conv_seq) {
    return exec(d, "INSERT INTO messages(peer, sender, client_msg_id, conv_seq, body, status,"
                   " client_ts_ms) VALUES(?, 'alice', ?, ?, 'hello', 1, 1)", {peer, msg_id(n), conv_seq});
  }
  static qulonglong setting(const QString& dir, const char* key) {
    QString error;
    auto db = parley::test::openStore(dir + "/parley.db", &error);
    QSqlQuery q(db->db());
    q.prepare("SELECT value FROM settings WHERE key = ?");
    q.addBindValue(QString::fromLatin1(key));
    return q.exec() && q.next() ? q.value(0).toULongLong() : 0;
  }
  // Rows in `table` of the closed profile in `dir`; -1 if it cannot be read.
  static int countRows(const QString& dir, const char* table) {
    QString error;
    auto db = parley::test::openStore(dir + "/parley.db", &error);
    if (!db) return -1;
    QSqlQuery q(db->db());
    return q.exec(QStringLiteral("SELECT COUNT(*) FROM %1").arg(QLatin1String(table))) && q.next()
               ? q.value(0).toInt() : -1;
  }

 private slots:
  void initTestCase() {
    QVERIFY(home_.isValid());
    QVERIFY(parley::crypto::init());
  }

  void oneFrameDeliversSeveralMessages() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    Alice alice(makeProfile(relay, [](QSqlDatabase& d) {
      return queue(d, "bob", 1) && queue(d, "bob", 2) && queue(d, "bob", 3) && queue(d, "bob", 4);
    }));
    QVERIFY(!alice.dir.isEmpty());
    QVERIFY(alice.start());
    for (int n = 1; n <= 4; ++n) QVERIFY(alice.waitStatus(msg_id(n), MessageStatus::Sent));
    QCOMPARE(relay.sends.size(), 4);
    QCOMPARE(relay.sends[2].conv_seq, std::uint64_t(3));

    // One frame: bob's device has the first three; a mark for a conversation we do not have
    // (carol) changes nothing.
    relay.push(marks_frame({{"bob", 1, {}, 3, 10}, {"carol", 1, {}, 4, 11}}));
    for (int n = 1; n <= 3; ++n) QVERIFY(alice.waitStatus(msg_id(n), MessageStatus::Delivered));
    QTest::qWait(100);
    for (int n = 1; n <= 3; ++n) {
      QCOMPARE(alice.statuses.value(msg_id(n)),
               (QList<int>{int(MessageStatus::Sent), int(MessageStatus::Delivered)}));
      QCOMPARE(alice.stored("bob", msg_id(n)), MessageStatus::Delivered);
    }
    QCOMPARE(alice.statuses.value(msg_id(4)), QList<int>{int(MessageStatus::Sent)});
    QCOMPARE(alice.stored("bob", msg_id(4)), MessageStatus::Sent);
    // A second device of bob's: the fourth now, nothing twice.
    relay.push(marks_frame({{"bob", 2, {}, 4, 12}}));
    QVERIFY(alice.waitStatus(msg_id(4), MessageStatus::Delivered));
    QTest::qWait(100);
    QCOMPARE(alice.statuses.value(msg_id(1)).size(), 2);
    QVERIFY(relay.acks.isEmpty());  // marks need no Ack
    QVERIFY2(alice.problems.isEmpty(), qPrintable(alice.problems.join("; ")));
  }

  void groupMarksGiveMemberCounts() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    Alice alice(makeProfile(relay, [](QSqlDatabase& d) {
      return queue(d, kGroupPeer, 1) && queue(d, kGroupPeer, 2);
    }));
    QVERIFY(!alice.dir.isEmpty());
    QVERIFY(alice.start());
    QVERIFY(alice.waitStatus(msg_id(1), MessageStatus::Sent));
    QVERIFY(alice.waitStatus(msg_id(2), MessageStatus::Sent));
    MessageModel model(alice.m.get(), kGroupPeer);
    QCOMPARE(model.rowCount(), 2);

    // bob has both, carol the first only: "delivered to 2 of 2" and "1 of 2".
    relay.push(marks_frame({{"bob", 1, kGroup, 2, 20}, {"carol", 1, kGroup, 1, 21}}));
    QVERIFY(spinUntil([&] { return alice.group_delivery.size() >= 2; }, kWaitMs));
    QTest::qWait(100);
    QCOMPARE(alice.group_delivery.size(), 2);  // one per message, with the final count
    QCOMPARE(alice.group_delivery[0], std::make_tuple(kGroup, msg_id(1), 2));
    QCOMPARE(alice.group_delivery[1], std::make_tuple(kGroup, msg_id(2), 1));
    QCOMPARE(alice.m->deliveredCount(kGroup, msg_id(1)), 2);
    QCOMPARE(alice.m->deliveredCount(kGroup, msg_id(2)), 1);
    QCOMPARE(alice.m->recipientCount(kGroup), 2);
    for (int row = 0; row < 2; ++row) {
      const auto index = model.index(row);
      const auto id = index.data(MessageModel::ClientMsgIdRole).toByteArray();
      QCOMPARE(index.data(MessageModel::DeliveredCountRole).toInt(), id == msg_id(1) ? 2 : 1);
      QCOMPARE(index.data(MessageModel::RecipientCountRole).toInt(), 2);
      // Two ticks once every member has it: the first only.
      QCOMPARE(index.data(MessageModel::StatusRole).toInt(),
               int(id == msg_id(1) ? MessageStatus::Delivered : MessageStatus::Sent));
    }
    // Per member, with the time of the mark that covered it.
    for (const auto& r : alice.m->receiptDetails(kGroup, msg_id(2))) {
      if (r.member == "bob") QCOMPARE(r.deliveredMs, qint64(1'700'000'000'020));
      else QCOMPARE(r.deliveredMs, qint64(0));
    }
    // carol's mark rises: the second message gains her.
    relay.push(marks_frame({{"carol", 1, kGroup, 2, 22}}));
    QVERIFY(spinUntil([&] { return alice.group_delivery.size() == 3; }, kWaitMs));
    QCOMPARE(alice.group_delivery[2], std::make_tuple(kGroup, msg_id(2), 2));
    QVERIFY(alice.waitStatus(msg_id(2), MessageStatus::Delivered));
    QCOMPARE(alice.stored(kGroupPeer, msg_id(2)), MessageStatus::Delivered);
  }

  // A relay's times past tomorrow (here, past what qint64 holds) are not taken: the time
  // they reached us stands in, for a SendAck and for a delivery mark alike.
  void relayTimesFromTheFutureAreNotTaken() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    relay.send_ack_ts_ms = std::numeric_limits<std::uint64_t>::max();
    Alice alice(makeProfile(relay, [](QSqlDatabase& d) {
      return queue(d, kGroupPeer, 1) && queue(d, "bob", 2);
    }));
    QVERIFY(!alice.dir.isEmpty());
    const auto before = QDateTime::currentMSecsSinceEpoch();
    QVERIFY(alice.start());
    QVERIFY(alice.waitStatus(msg_id(1), MessageStatus::Sent));
    QVERIFY(alice.waitStatus(msg_id(2), MessageStatus::Sent));
    auto frame = marks_frame({{"bob", 1, kGroup, 1, 30}});
    const auto in_two_days = static_cast<std::uint64_t>(QDateTime::currentMSecsSinceEpoch()) +
                             2ull * 24 * 3600 * 1000;
    frame.mutable_delivery_marks()->mutable_marks(0)->set_server_ts_ms(in_two_days);
    relay.push(frame);
    QVERIFY(spinUntil([&] { return alice.m->deliveredCount(kGroup, msg_id(1)) == 1; }, kWaitMs));
    const auto after = QDateTime::currentMSecsSinceEpoch();
    for (const auto& peer : {kGroupPeer, QStringLiteral("bob")})
      for (const auto& s : alice.m->history(peer)) {
        QVERIFY2(s.serverTsMs >= before && s.serverTsMs <= after, qPrintable(QString::number(s.serverTsMs)));
      }
    const auto details = alice.m->receiptDetails(kGroup, msg_id(1));
    const auto bob = std::find_if(details.begin(), details.end(), [](const auto& r) { return r.member == "bob"; });
    QVERIFY(bob != details.end());
    QVERIFY2(bob->deliveredMs >= before && bob->deliveredMs <= after, qPrintable(QString::number(bob->deliveredMs)));
  }

  // The SendAck is lost with the connection; the relay's marks cover the message before the
  // retry's duplicate SendAck tells us its number.
  void markBeforeTheSendAck() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    relay.hold_send_acks = true;
    Alice alice(makeProfile(relay, [](QSqlDatabase& d) {
      return queue(d, "bob", 1) && queue(d, kGroupPeer, 2);
    }));
    QVERIFY(!alice.dir.isEmpty());
    QVERIFY(alice.start());
    QVERIFY(spinUntil([&] { return relay.sends.size() == 2; }, kWaitMs));
    relay.push(marks_frame({{"bob", 1, {}, relay.sends[0].conv_seq, 30},
                      {"carol", 1, kGroup, relay.sends[1].conv_seq, 31}}));
    QTest::qWait(200);
    QVERIFY(alice.statuses.isEmpty());  // not numbered yet: nothing to mark
    QCOMPARE(alice.stored("bob", msg_id(1)), MessageStatus::Queued);
    QCOMPARE(alice.m->deliveredCount(kGroup, msg_id(2)), 0);

    relay.dropClient();
    QVERIFY(spinUntil([&] { return relay.logins.size() == 2 && relay.sends.size() == 4; }, kWaitMs));
    QCOMPARE(relay.logins[1].last_mark_version(), std::uint64_t(31));
    relay.answerSend(2, true);
    relay.answerSend(3, true);
    QVERIFY(alice.waitStatus(msg_id(1), MessageStatus::Delivered));
    QCOMPARE(alice.statuses.value(msg_id(1)),
             (QList<int>{int(MessageStatus::Sent), int(MessageStatus::Delivered)}));
    QCOMPARE(alice.stored("bob", msg_id(1)), MessageStatus::Delivered);
    // The group message counts carol; bob, the other member, has not got it yet.
    QVERIFY(alice.waitStatus(msg_id(2), MessageStatus::Sent));
    QVERIFY(spinUntil([&] { return alice.m->deliveredCount(kGroup, msg_id(2)) == 1; }, kWaitMs));
    QCOMPARE(alice.group_delivery, (QList<std::tuple<QByteArray, QByteArray, int>>{{kGroup, msg_id(2), 1}}));
    QCOMPARE(alice.statuses.value(msg_id(2)), QList<int>{int(MessageStatus::Sent)});
  }

  void lastMarkVersionIsKeptAndSentAtLogin() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    Alice alice(makeProfile(relay, [](QSqlDatabase& d) { return sent(d, "bob", 1, 5); }));
    QVERIFY(!alice.dir.isEmpty());
    QVERIFY(alice.start());
    QCOMPARE(relay.logins.size(), 1);
    QCOMPARE(relay.logins[0].last_mark_version(), std::uint64_t(0));
    relay.push(marks_frame({{"bob", 1, {}, 2, 40}, {"bob", 1, {}, 5, 41}}));
    QVERIFY(alice.waitStatus(msg_id(1), MessageStatus::Delivered));

    // A reconnect asks from there, and so does the next start of the profile.
    relay.dropClient();
    QVERIFY(spinUntil([&] { return relay.logins.size() == 2; }, kWaitMs));
    QCOMPARE(relay.logins[1].last_mark_version(), std::uint64_t(41));
    alice.m.reset();
    QCOMPARE(setting(alice.dir, "last_mark_version"), qulonglong(41));
    QVERIFY(alice.start());
    QCOMPARE(relay.logins.size(), 3);
    QCOMPARE(relay.logins[2].last_mark_version(), std::uint64_t(41));
    QCOMPARE(relay.logins[2].last_acked_inbox_seq(), std::uint64_t(0));  // marks are not entries
    // Resent after that login (a relay that lost track): nothing changes, nothing goes back.
    relay.push(marks_frame({{"bob", 1, {}, 5, 39}}));
    QTest::qWait(200);
    QVERIFY(alice.statuses.value(msg_id(1)).size() == 1);
    QCOMPARE(setting(alice.dir, "last_mark_version"), qulonglong(41));
  }

  // A full inbox asks for half a minute and a rate limit for a second: the outbox goes again
  // after the second (one timer served both, and the first refusal's wait held the other).
  void theEarliestRetryWins() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    QStringList attempts;
    QElapsedTimer limited_at;
    qint64 retried_after_ms = -1;
    relay.answer = [&](const parley::wire::ClientFrame& f) -> std::optional<parley::wire::ServerFrame> {
      if (!f.has_send()) return std::nullopt;
      const auto to = QString::fromStdString(f.send().recipient());
      attempts << to;
      parley::wire::ServerFrame r;
      auto* e = r.mutable_error();
      if (to == "bob") {
        e->set_code(parley::wire::INBOX_FULL);
        e->set_retry_after_ms(30000);
        e->add_devices(1);
        return r;
      }
      if (!limited_at.isValid()) {
        limited_at.start();
        e->set_code(parley::wire::RATE_LIMITED);
        e->set_retry_after_ms(1000);
        return r;
      }
      if (retried_after_ms < 0) retried_after_ms = limited_at.elapsed();
      return std::nullopt;  // the built-in SendAck
    };
    // bob's message first: its refusal (30 s) comes before carol's (1 s).
    Alice alice(makeProfile(relay, [](QSqlDatabase& d) {
      return queue(d, "bob", 1) && queue(d, "carol", 2);
    }));
    QVERIFY(!alice.dir.isEmpty());
    QVERIFY(alice.start());
    // While they wait, each says why (the conversation's tooltip).
    QVERIFY(spinUntil([&] { return alice.m->whyQueued("carol").startsWith("the relay asked this device to slow down; trying again in "); }, 900));
    QVERIFY2(alice.m->whyQueued("bob").startsWith("bob has too many undelivered messages waiting on the relay"),
             qPrintable(alice.m->whyQueued("bob")));
    QVERIFY(alice.waitStatus(msg_id(2), MessageStatus::Sent));
    QVERIFY2(retried_after_ms >= 900 && retried_after_ms < 5000,
             qPrintable(QString::number(retried_after_ms)));
    QCOMPARE(attempts.mid(0, 2), (QStringList{"bob", "carol"}));
    // bob's waits its turn, queued, not failed.
    QCOMPARE(alice.stored("bob", msg_id(1)), MessageStatus::Queued);
  }

  // A relay too busy to take a message (UNAVAILABLE) or failing to store it (INTERNAL) is
  // asked again after its wait, with no other flush to prompt it; the messages behind it
  // (held, as the relay holds them) go only once the oldest is taken, so they keep their
  // order. A bundle fetch that fails is asked again the same way.
  void aBusyOrFailingRelayIsAskedAgainInOrder_data() {
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("why");
    QTest::newRow("unavailable") << int(parley::wire::UNAVAILABLE) << "the relay is busy or out of reach";
    QTest::newRow("internal") << int(parley::wire::INTERNAL) << "the relay could not store it";
  }
  void aBusyOrFailingRelayIsAskedAgainInOrder() {
    QFETCH(int, code);
    QFETCH(QString, why);
    FakeRelay relay;
    QVERIFY(relay.listen());
    QList<int> attempts;  // the last byte of each Send's id, as it arrived
    QElapsedTimer refused_at;
    qint64 retried_after_ms = -1;
    relay.answer = [&](const parley::wire::ClientFrame& f) -> std::optional<parley::wire::ServerFrame> {
      if (!f.has_send()) return std::nullopt;
      const int n = static_cast<unsigned char>(f.send().client_msg_id().back());
      attempts << n;
      parley::wire::ServerFrame r;
      auto* e = r.mutable_error();
      if (attempts.size() == 1) {
        refused_at.start();
        e->set_code(static_cast<parley::wire::ErrorCode>(code));
        e->set_retry_after_ms(1000);
        return r;
      }
      if (attempts.size() <= 3) {  // sent behind it: held, as the relay holds them
        e->set_code(parley::wire::RATE_LIMITED);
        e->set_retry_after_ms(900);
        return r;
      }
      if (retried_after_ms < 0) retried_after_ms = refused_at.elapsed();
      return std::nullopt;  // the built-in SendAck
    };
    Alice alice(makeProfile(relay, [](QSqlDatabase& d) {
      return queue(d, "bob", 1) && queue(d, "bob", 2) && queue(d, "bob", 3);
    }));
    QVERIFY(!alice.dir.isEmpty());
    QVERIFY(alice.start());
    QVERIFY(spinUntil([&] { return attempts.size() == 3; }, kWaitMs));
    // The fake relay counts a Send as it reads it; the client takes the refusal a turn of
    // the event loop later (seen under load with four tests at once).
    QVERIFY2(spinUntil([&] { return alice.m->whyQueued("bob").startsWith(why + "; trying again in "); },
                       kWaitMs),
             qPrintable(alice.m->whyQueued("bob")));
    for (int n : {1, 2, 3}) QVERIFY(alice.waitStatus(msg_id(n), MessageStatus::Sent));
    QVERIFY2(retried_after_ms >= 800 && retried_after_ms < 5000, qPrintable(QString::number(retried_after_ms)));
    // The oldest went alone and was answered before the others followed (the fake relay
    // answers as it reads, so a message sent with it would be listed before its answer).
    QCOMPARE(attempts, (QList<int>{1, 2, 3, 1, 2, 3}));
    QCOMPARE(relay.sends.size(), 3);
    for (int i = 0; i < 3; ++i) QCOMPARE(relay.sends[i].client_msg_id, msg_id(i + 1));
    QCOMPARE(alice.m->outboxSize(), 0);
  }

  // The bug this mends: alone in the outbox, nothing else flushed it, so a message the
  // relay could not take stayed queued while the connection stayed up.
  void aLoneMessageTheRelayCouldNotTakeIsAskedAgain() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    int attempts = 0;
    relay.answer = [&](const parley::wire::ClientFrame& f) -> std::optional<parley::wire::ServerFrame> {
      if (!f.has_send() || ++attempts > 1) return std::nullopt;
      parley::wire::ServerFrame r;
      r.mutable_error()->set_code(parley::wire::UNAVAILABLE);  // no retry_after: at least 1 s
      return r;
    };
    Alice alice(makeProfile(relay, [](QSqlDatabase& d) { return queue(d, "bob", 1); }));
    QVERIFY(!alice.dir.isEmpty());
    QVERIFY(alice.start());
    QVERIFY(alice.waitStatus(msg_id(1), MessageStatus::Sent));
    QCOMPARE(attempts, 2);
  }

  void aBundleFetchThatFailsIsAskedAgain() {
    FakeRelay relay;  // answers FetchPrekeyBundle with UNAVAILABLE ("not offered")
    QVERIFY(relay.listen());
    QElapsedTimer since;
    QList<qint64> fetches;
    relay.answer = [&](const parley::wire::ClientFrame& f) -> std::optional<parley::wire::ServerFrame> {
      if (f.has_fetch_prekey_bundle()) fetches << (since.isValid() ? since.elapsed() : (since.start(), 0));
      return std::nullopt;
    };
    Alice alice(makeProfile(relay, [](QSqlDatabase&) { return true; }));
    QVERIFY(!alice.dir.isEmpty());
    QVERIFY(alice.start());
    QString error;
    QVERIFY2(alice.m->sendText("dave", "hello dave", &error), qPrintable(error));
    QVERIFY(spinUntil([&] { return fetches.size() >= 3; }, kWaitMs));
    QVERIFY2(fetches[1] >= 900, qPrintable(QString::number(fetches[1])));  // the relay's wait, at least 1 s
    QVERIFY2(alice.m->whyQueued("dave").startsWith("could not fetch dave's keys from the relay; trying again in ") ||
                 alice.m->whyQueued("dave").startsWith("setting up an encrypted session with dave"),
             qPrintable(alice.m->whyQueued("dave")));
    QCOMPARE(alice.m->outboxSize(), 1);
  }

  // A refusal of our share of someone's inbox (Error.sender_share_full) says so: it is our
  // messages that fill it, not everyone's; the message waits the same.
  void aFullShareSaysWhoseMessagesFillIt() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    relay.answer = [&](const parley::wire::ClientFrame& f) -> std::optional<parley::wire::ServerFrame> {
      if (!f.has_send()) return std::nullopt;
      parley::wire::ServerFrame r;
      auto* e = r.mutable_error();
      e->set_code(parley::wire::INBOX_FULL);
      e->set_retry_after_ms(30000);
      e->add_devices(1);
      e->set_sender_share_full(f.send().recipient() == "bob");
      return r;
    };
    Alice alice(makeProfile(relay, [](QSqlDatabase& d) {
      return queue(d, "bob", 1) && queue(d, "carol", 2);
    }));
    QVERIFY(!alice.dir.isEmpty());
    QVERIFY(alice.start());
    QVERIFY(spinUntil([&] { return alice.problems.size() == 2; }, kWaitMs));
    QVERIFY2(alice.m->whyQueued("bob").startsWith(
                 "the relay is holding as many of your messages for bob as it keeps from one sender"),
             qPrintable(alice.m->whyQueued("bob")));
    QVERIFY2(alice.m->whyQueued("carol").startsWith("carol has too many undelivered messages"),
             qPrintable(alice.m->whyQueued("carol")));
    QVERIFY(alice.problems.filter("as it keeps from one sender").size() == 1);
    QCOMPARE(alice.stored("bob", msg_id(1)), MessageStatus::Queued);
  }

  // The two reasons a message waits on this device's own work: a session being set up (the
  // peer's bundle on its way), and our group key on its way to a member.
  void aMessageWaitingOnASessionOrAGroupKeySaysSo() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    int fetches = 0;
    relay.hold = [&](const parley::wire::ClientFrame& f) {
      fetches += f.has_fetch_prekey_bundle() ? 1 : 0;
      return f.has_fetch_prekey_bundle();
    };
    // Not yet encrypted (no envelope): dave's needs a session; erin's is our group key.
    const auto unencrypted = [](QSqlDatabase& d, const QString& peer, int n, const QVariant& group) {
      return exec(d, "INSERT INTO messages(peer, sender, client_msg_id, body, status, client_ts_ms)"
                     " VALUES(?, 'alice', ?, 'hello', 0, 1)", {peer, msg_id(n)}) &&
             exec(d, "INSERT INTO outbox(client_msg_id, peer, content, created_ms, group_id)"
                     " VALUES(?, ?, x'00', 1, ?)", {msg_id(n), peer, group});
    };
    const QVariant none(QMetaType::fromType<QByteArray>());
    Alice alice(makeProfile(relay, [&](QSqlDatabase& d) {
      return unencrypted(d, "dave", 1, none) && unencrypted(d, "erin", 2, kGroup) &&
             queue(d, kGroupPeer, 3);
    }));
    QVERIFY(!alice.dir.isEmpty());
    QVERIFY(alice.start());
    QVERIFY(spinUntil([&] { return fetches == 2; }, kWaitMs));
    QCOMPARE(alice.m->whyQueued("dave"), QStringLiteral("setting up an encrypted session with dave"));
    QCOMPARE(alice.m->whyQueued(kGroupPeer),
             QStringLiteral("waiting until every member has this device's key for the group"));
    QTest::qWait(200);
    QVERIFY(relay.sends.isEmpty());  // the group's message waits for its key
    QCOMPARE(alice.stored(kGroupPeer, msg_id(3)), MessageStatus::Queued);
  }

  // An older relay's DELIVERY_RECEIPT entries: acknowledged, nothing else.
  void legacyReceiptIsAckedAndIgnored() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    Alice alice(makeProfile(relay, [](QSqlDatabase& d) {
      return sent(d, "bob", 1, 1) && sent(d, kGroupPeer, 2, 1);
    }));
    QVERIFY(!alice.dir.isEmpty());
    QVERIFY(alice.start());
    parley::wire::ServerFrame one;
    auto* d = one.mutable_deliver();
    d->set_inbox_seq(7);
    d->set_kind(parley::wire::DELIVERY_RECEIPT);
    d->set_sender("bob");
    d->set_sender_device(1);
    d->set_client_msg_id(msg_id(1).toStdString());
    d->set_conv_seq(1);
    d->set_server_ts_ms(5);
    auto group = one;
    group.mutable_deliver()->set_inbox_seq(8);
    group.mutable_deliver()->set_client_msg_id(msg_id(2).toStdString());
    group.mutable_deliver()->set_group_id(kGroup.toStdString());
    relay.push(one);
    relay.push(group);
    QVERIFY(spinUntil([&] { return relay.acks.contains(8); }, kWaitMs));
    QTest::qWait(100);
    QVERIFY(alice.statuses.isEmpty());
    QVERIFY(alice.group_delivery.isEmpty());
    QCOMPARE(alice.stored("bob", msg_id(1)), MessageStatus::Sent);
    QCOMPARE(alice.stored(kGroupPeer, msg_id(2)), MessageStatus::Sent);
    QCOMPARE(alice.m->deliveredCount(kGroup, msg_id(2)), 0);
    alice.m.reset();
    QCOMPARE(setting(alice.dir, "last_acked"), qulonglong(8));
    QVERIFY(alice.start());
    QCOMPARE(relay.logins.last().last_acked_inbox_seq(), std::uint64_t(8));
    QVERIFY2(alice.problems.isEmpty(), qPrintable(alice.problems.join("; ")));
  }

  // Names arrive folded. A relay naming a look-alike ("Bob") or a group ("#…") as the sender
  // of a 1:1 or group message gets it dropped and acknowledged, with no trace of that name.
  void senderThatIsNotAFoldedNameIsDropped() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    Alice alice(makeProfile(relay, [](QSqlDatabase&) { return true; }));
    QVERIFY(!alice.dir.isEmpty());
    QVERIFY(alice.start());
    std::uint64_t seq = 0;
    for (const auto& [sender, kind] :
         {std::pair{std::string("Bob"), parley::wire::MESSAGE},
          std::pair{kGroupPeer.toStdString(), parley::wire::MESSAGE},
          std::pair{std::string(), parley::wire::MESSAGE},
          std::pair{std::string("Carol"), parley::wire::GROUP_MESSAGE}}) {
      ++seq;
      relay.push(unreadableEntry(seq, kind, sender,
                                 kind == parley::wire::GROUP_MESSAGE ? kGroup.toStdString() : std::string()));
    }
    QVERIFY(spinUntil([&] { return relay.acks.contains(seq); }, kWaitMs));
    QCOMPARE(alice.problems.filter("invalid name").size(), 4);
    alice.m.reset();
    QCOMPARE(countRows(alice.dir, "seen_seqs"), 0);
    QCOMPARE(countRows(alice.dir, "pending_group_messages"), 0);
  }

  // A group's id is 16 bytes. A relay sending a group message or event under any other gets
  // it dropped and acknowledged, with no conversation made for it and no endless "#…" name
  // in what the user is told.
  void groupEntryUnderAnInvalidGroupIdIsDropped() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    Alice alice(makeProfile(relay, [](QSqlDatabase&) { return true; }));
    QVERIFY(!alice.dir.isEmpty());
    QVERIFY(alice.start());
    const auto conversations = alice.m->conversations().size();
    std::uint64_t seq = 0;
    for (const auto& [size, kind] :
         {std::pair{0, parley::wire::GROUP_MESSAGE}, std::pair{15, parley::wire::GROUP_MESSAGE},
          std::pair{17, parley::wire::GROUP_MESSAGE}, std::pair{100000, parley::wire::GROUP_MESSAGE},
          std::pair{300, parley::wire::GROUP_EVENT}}) {
      ++seq;
      relay.push(unreadableEntry(seq, kind, "bob", std::string(static_cast<std::size_t>(size), 'g')));
    }
    QVERIFY(spinUntil([&] { return relay.acks.contains(seq); }, kWaitMs));
    QCOMPARE(alice.problems.filter("invalid group id").size(), 5);
    for (const auto& text : alice.problems) QVERIFY2(text.size() < 200, qPrintable(text.left(300)));
    QCOMPARE(alice.m->conversations().size(), conversations);
    alice.m.reset();
    QCOMPARE(countRows(alice.dir, "seen_seqs"), 0);
    QCOMPARE(countRows(alice.dir, "pending_group_messages"), 0);
  }

  // A message the relay refuses for what it is (too large, malformed) fails, with a word to
  // the user, and the rest of the conversation goes on: offered again it would be refused
  // again at every flush, and show as on its way for ever. One too large for any relay is
  // never offered (over the frame limit it would cost the connection).
  void aMessageRefusedForGoodFailsAndTheRestGoes() {
    FakeRelay relay;
    QVERIFY(relay.listen());
    Alice alice(makeProfile(relay, [](QSqlDatabase& d) {
      return queue(d, "bob", 1) && queue(d, "bob", 2) && queue(d, "bob", 3) && queue(d, "bob", 4) &&
             exec(d, "UPDATE outbox SET envelope = zeroblob(?) WHERE client_msg_id = ?",
                  {static_cast<int>(parley::limits::kMaxCiphertextBytes + 1), msg_id(3)}) &&
             // Our sender key on its way to bob, refused too: he must be offered it again.
             exec(d, "INSERT INTO outbox(client_msg_id, peer, content, envelope, created_ms, group_id)"
                     " VALUES(?, 'bob', x'00', x'01', 1, ?)", {msg_id(5), kGroup}) &&
             exec(d, "UPDATE group_members SET key_sent = 7 WHERE username = 'bob'");
    }));
    QVERIFY(!alice.dir.isEmpty());
    QList<QByteArray> offered;
    relay.answer = [&](const parley::wire::ClientFrame& f) -> std::optional<parley::wire::ServerFrame> {
      if (!f.has_send()) return std::nullopt;
      const auto id = QByteArray::fromStdString(f.send().client_msg_id());
      offered << id;
      parley::wire::ServerFrame r;
      if (id == msg_id(1) || id == msg_id(5)) {
        r.mutable_error()->set_code(parley::wire::TOO_LARGE);
        r.mutable_error()->set_reason("ciphertext over 200 KiB");
      } else if (id == msg_id(2)) {
        r.mutable_error()->set_code(parley::wire::BAD_REQUEST);
        r.mutable_error()->set_reason(std::string(5000, 'r'));  // a relay's reason, cut to a line
      } else {
        return std::nullopt;
      }
      return r;
    };
    QVERIFY(alice.start());
    for (int n : {1, 2, 3}) QVERIFY(alice.waitStatus(msg_id(n), MessageStatus::Failed));
    QVERIFY(alice.waitStatus(msg_id(4), MessageStatus::Sent));
    QVERIFY(spinUntil([&] { return alice.m->outboxSize() == 0; }, kWaitMs));
    QCOMPARE(offered.count(msg_id(1)), 1);
    QCOMPARE(offered.count(msg_id(2)), 1);
    QCOMPARE(offered.count(msg_id(3)), 0);
    QCOMPARE(alice.problems.filter("refused a message to bob and it was not sent").size(), 3);
    QCOMPARE(alice.problems.filter("our group key for them").size(), 1);
    QCOMPARE(alice.problems.filter("too large to send").size(), 1);
    for (const auto& text : alice.problems) QVERIFY2(text.size() < 300, qPrintable(text.left(400)));
    alice.m.reset();
    QVariant key_sent;
    QVERIFY(parley::test::profileSql(alice.dir, "SELECT key_sent IS NULL FROM group_members WHERE username = 'bob'",
                                     {}, &key_sent));
    QVERIFY2(key_sent.toBool(), "bob is still marked as having our key");
  }
};

QTEST_GUILESS_MAIN(MarksMessengerTest)
#include "marks_messenger_test.moc"
