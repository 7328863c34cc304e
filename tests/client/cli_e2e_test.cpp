// End to end through parley-cli and a real relay: two profiles, offline delivery in order,
// statuses up to read, an outbox and a file upload that survive a killed process, and a
// relay that never sees plaintext.
#include <QtTest>

#include <QDeadlineTimer>
#include <QDirIterator>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QThread>
#include <csignal>

#include "relay_process.hpp"
#include "client_user.hpp"
#include "sealed_db.hpp"

using namespace parley::test;

namespace {

struct Result {
  int code = -1;
  QList<QJsonObject> lines;
  QByteArray err;
};

class Cli {
 public:
  explicit Cli(QString profile) : profile_(std::move(profile)) {}

  Result run(const QStringList& args, int timeout_ms = 30000) {
    QProcess p;
    p.start(qEnvironmentVariable("PARLEY_CLI_BIN"), QStringList{"--profile", profile_} + args);
    if (!p.waitForFinished(timeout_ms)) {
      p.kill();
      p.waitForFinished();
    }
    Result r;
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.err = p.readAllStandardError();
    for (const auto& line : p.readAllStandardOutput().split('\n'))
      if (!line.trimmed().isEmpty()) r.lines << QJsonDocument::fromJson(line).object();
    return r;
  }

  // Starts a command without waiting (listen, or a send to be killed).
  QProcess* spawn(const QStringList& args) {
    auto* p = new QProcess;
    p->start(qEnvironmentVariable("PARLEY_CLI_BIN"), QStringList{"--profile", profile_} + args);
    p->waitForStarted();
    return p;
  }

 private:
  QString profile_;
};

QList<QJsonObject> of_type(const QList<QJsonObject>& lines, const QString& type) {
  QList<QJsonObject> out;
  for (const auto& l : lines)
    if (l.value("type").toString() == type) out << l;
  return out;
}

QByteArray read_all_files(const QString& dir) {
  QByteArray all;
  QDirIterator it(dir, QDir::Files, QDirIterator::Subdirectories);
  while (it.hasNext()) {
    QFile f(it.next());
    if (f.open(QIODevice::ReadOnly)) all += f.readAll();
  }
  return all;
}

}  // namespace

class CliE2eTest : public QObject {
  Q_OBJECT
  RelayProcess relay_;
  QTemporaryDir home_;

  QString profile(const QString& name) { return home_.filePath(name); }

 private slots:
  void initTestCase() {
    QVERIFY(!qEnvironmentVariableIsEmpty("PARLEY_CLI_BIN"));
    QVERIFY(relay_.start());
    for (const char* name : {"alice", "bob"}) {
      auto r = Cli(profile(name)).run({"register", "--server", relay_.url().toString(), name});
      QCOMPARE(r.code, 0);
      QCOMPARE(of_type(r.lines, "registered").size(), 1);
    }
  }

  // A profile protected from registration: nothing opens it without the passphrase, every
  // refusal says what to do, and what it stores is sealed on disk.
  void aProtectedProfileAsksForItsPassphrase() {
    const auto write = [&](const QString& name, const QByteArray& text) {
      QFile f(home_.filePath(name));
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write(text);
    };
    write("pam.pass", "correct horse battery\n");
    write("wrong.pass", "correct horse battery staple\n");
    write("short.pass", "7 chars\n");
    const auto pass = home_.filePath("pam.pass");
    Cli pam(profile("pam"));
    auto r = pam.run({"--passphrase-file", pass, "register", "--server", relay_.url().toString(), "pam"});
    QCOMPARE(r.code, 0);
    auto locked = pam.run({"contacts"});  // no terminal here: told how to give it
    QCOMPARE(locked.code, 8);
    QVERIFY2(locked.err.contains("protected by a passphrase") && locked.err.contains("--passphrase-file"),
             locked.err.constData());
    auto wrong = pam.run({"--passphrase-file", home_.filePath("wrong.pass"), "contacts"});
    QCOMPARE(wrong.code, 8);
    QVERIFY2(wrong.err.contains("wrong passphrase"), wrong.err.constData());
    const QString secret = "for pam's eyes only, about the surprise";
    QCOMPARE(pam.run({"--passphrase-file", pass, "send", "alice", secret}).code, 0);
    const auto stored = read_all_files(profile("pam"));
    QVERIFY(!stored.contains(secret.toUtf8()));
    QVERIFY(!stored.contains("surprise"));
    // The passphrase changes only with one of at least 8 characters, given somehow.
    auto too_short = pam.run({"--passphrase-file", pass, "passphrase", "set", "--new-passphrase-file",
                              home_.filePath("short.pass")});
    QCOMPARE(too_short.code, 2);
    QVERIFY2(too_short.err.contains("at least 8"), too_short.err.constData());
    auto no_terminal = pam.run({"--passphrase-file", pass, "passphrase", "set"});
    QCOMPARE(no_terminal.code, 2);
    QVERIFY2(no_terminal.err.contains("--new-passphrase-file"), no_terminal.err.constData());
    QCOMPARE(pam.run({"contacts"}).code, 8);
    // Removed: opens as any profile does, its history still there.
    auto removed = pam.run({"--passphrase-file", pass, "passphrase", "remove"});
    QCOMPARE(removed.code, 0);
    QCOMPARE(of_type(removed.lines, "passphrase").value(0).value("protected").toBool(), false);
    auto history = of_type(pam.run({"history", "alice"}).lines, "message");
    QCOMPARE(history.size(), 1);
    QCOMPARE(history[0].value("text").toString(), secret);
    auto again = pam.run({"passphrase", "set", "--new-passphrase-file", home_.filePath("wrong.pass")});
    QCOMPARE(again.code, 0);
    QCOMPARE(pam.run({"--passphrase-file", pass, "contacts"}).code, 8);
    QCOMPARE(pam.run({"--passphrase-file", home_.filePath("wrong.pass"), "contacts"}).code, 0);
  }

  // A store page that fails its check: the history prints what it could read, says why on
  // stderr and exits 9, so a script does not take a short history for the whole.
  void aDamagedStoreIsSaidAndFailsTheCommand() {
    const auto dir = profile("dora");
    QCOMPARE(Cli(dir).run({"register", "--server", relay_.url().toString(), "dora"}).code, 0);
    {
      auto m = parley::test::openClientProfile(dir);  // not started: the messages stay queued
      QVERIFY(m);
      QString error;
      for (int i = 0; i < 40; ++i)
        QVERIFY2(m->sendText("alice", QString::number(i) + QString(3000, QChar('d')), &error), qPrintable(error));
    }
    auto whole = Cli(dir).run({"history", "alice"});
    QCOMPARE(whole.code, 0);
    QCOMPARE(of_type(whole.lines, "message").size(), 40);
    QString error;
    const auto pages = parley::test::leafPagesOf(dir + "/parley.db", "messages", &error);
    QVERIFY2(pages.size() >= 4, qPrintable(QString::number(pages.size()) + error));
    QVERIFY(parley::test::flipByteInPage(dir + "/parley.db", pages[pages.size() / 2]));
    auto damaged = Cli(dir).run({"history", "alice"});
    QCOMPARE(damaged.code, 9);
    QVERIFY(of_type(damaged.lines, "message").size() < 40);
    QVERIFY2(damaged.err.contains("do not open") && damaged.err.contains("from a backup"), damaged.err.constData());
    QCOMPARE(damaged.err.count("do not open"), 1);
  }

  void registerErrorsAreClear() {
    auto taken = Cli(profile("bob-again")).run({"register", "--server", relay_.url().toString(), "BOB"});
    QCOMPARE(taken.code, 3);
    QVERIFY(taken.err.contains("taken"));
    QVERIFY(!QFile::exists(profile("bob-again") + "/identity.key"));  // nothing left behind
    auto invalid = Cli(profile("bad")).run({"register", "--server", relay_.url().toString(), "no spaces"});
    QCOMPARE(invalid.code, 2);
    auto unreachable = Cli(profile("nowhere")).run({"register", "--server", "ws://127.0.0.1:1", "someone"});
    QCOMPARE(unreachable.code, 4);
    QVERIFY(unreachable.err.contains("127.0.0.1:1"));
    // Key files are private.
    QCOMPARE(QFile::permissions(profile("alice") + "/identity.key") & 0x0077, QFileDevice::Permissions());
  }

  void offlineMessagesArriveOnceInOrderAndReachRead() {
    Cli alice(profile("alice")), bob(profile("bob"));
    const QStringList texts{"first", "second", "third — ünïcödé ✓"};
    for (const auto& t : texts) QCOMPARE(alice.run({"send", "bob", t}).code, 0);

    auto got = bob.run({"listen", "--count", "3", "--mark-read", "--timeout", "20"});
    QCOMPARE(got.code, 0);
    auto messages = of_type(got.lines, "message");
    QCOMPARE(messages.size(), 3);
    for (int i = 0; i < 3; ++i) {
      QCOMPARE(messages[i].value("text").toString(), texts[i]);
      QCOMPARE(messages[i].value("from").toString(), QString("alice"));
      QCOMPARE(messages[i].value("conv_seq").toInt(), i + 1);
      QVERIFY(messages[i].value("chain_ok").toBool());
    }
    // Alice comes online and learns delivered/read.
    auto receipts = alice.run({"listen", "--timeout", "3"});
    QVERIFY(!of_type(receipts.lines, "receipt").isEmpty());
    auto history = of_type(alice.run({"history", "bob"}).lines, "message");
    QCOMPARE(history.size(), 3);
    for (const auto& m : history) QCOMPARE(m.value("status").toString(), QString("read"));
    // Bob's copy is stored once and marked seen.
    auto bobs = of_type(bob.run({"history", "alice"}).lines, "message");
    QCOMPARE(bobs.size(), 3);
    QCOMPARE(bobs[2].value("status").toString(), QString("seen"));
  }

  void repliesUseTheEstablishedSession() {
    Cli alice(profile("alice")), bob(profile("bob"));
    QCOMPARE(bob.run({"send", "alice", "reply"}).code, 0);
    auto got = alice.run({"listen", "--count", "1", "--timeout", "15"});
    auto messages = of_type(got.lines, "message");
    QCOMPARE(messages.size(), 1);
    QCOMPARE(messages[0].value("text").toString(), QString("reply"));
    // One sequence for the conversation, in both directions: after Alice's three messages
    // (and Bob's read receipts, which take numbers too), with no gap on either side.
    QVERIFY(messages[0].value("conv_seq").toInt() > 3);
    QVERIFY(of_type(alice.run({"history", "bob"}).lines, "gap").isEmpty());
    QVERIFY(of_type(bob.run({"history", "alice"}).lines, "gap").isEmpty());
  }

  // --reply-to names a message by the id history printed; the answer carries its quote, and
  // an id that names nothing here is refused before anything is queued.
  void aReplyQuotesTheMessageItAnswers() {
    Cli alice(profile("alice")), bob(profile("bob"));
    const auto sent = of_type(alice.run({"send", "bob", "Which platform?"}).lines, "sent");
    QCOMPARE(sent.size(), 1);
    const auto question = sent[0].value("id").toString();
    auto heard = of_type(bob.run({"listen", "--count", "1", "--timeout", "15"}).lines, "message");
    QCOMPARE(heard.size(), 1);
    QCOMPARE(heard[0].value("id").toString(), question);

    auto refused = bob.run({"send", "alice", "Four", "--reply-to", QString(32, '0')});
    QCOMPARE(refused.code, 2);
    QVERIFY2(refused.err.contains("no message with the id"), refused.err.constData());
    refused = bob.run({"send", "alice", "Four", "--reply-to", "xyz"});
    QCOMPARE(refused.code, 2);
    QVERIFY2(refused.err.contains("not a message id"), refused.err.constData());

    QCOMPARE(bob.run({"send", "alice", "Platform four", "--reply-to", question}).code, 0);
    auto got = of_type(alice.run({"listen", "--count", "1", "--timeout", "15"}).lines, "message");
    QCOMPARE(got.size(), 1);
    QCOMPARE(got[0].value("text").toString(), QString("Platform four"));
    const auto quote = got[0].value("reply_to").toObject();
    QCOMPARE(quote.value("id").toString(), question);
    QCOMPARE(quote.value("from").toString(), QString("alice"));
    QCOMPARE(quote.value("text").toString(), QString("Which platform?"));
    QVERIFY(quote.value("on_device").toBool());
    // Bob's history has the same, and no stray "Four" was queued by the refusals.
    const auto bobs = of_type(bob.run({"history", "alice"}).lines, "message");
    QCOMPARE(bobs.last().value("reply_to").toObject().value("id").toString(), question);
    for (const auto& m : bobs) QVERIFY(m.value("text").toString() != "Four");
  }

  // react puts an emoji on a message by its id; listen says the reactions changed, history
  // lists them; --remove takes ours back, and bad use is refused.
  void reactionsThroughTheCli() {
    Cli alice(profile("alice")), bob(profile("bob"));
    const auto sent = of_type(alice.run({"send", "bob", "Dinner at 7?"}).lines, "sent");
    QCOMPARE(sent.size(), 1);
    const auto id = sent[0].value("id").toString();
    QCOMPARE(of_type(bob.run({"listen", "--count", "1", "--timeout", "15"}).lines, "message").size(), 1);

    QCOMPARE(bob.run({"react", "alice", id}).code, 2);                       // neither emoji nor --remove
    QCOMPARE(bob.run({"react", "alice", id, "👍", "--remove"}).code, 2);     // both
    auto refused = bob.run({"react", "alice", QString(32, 'a'), "👍"});
    QCOMPARE(refused.code, 2);
    QVERIFY2(refused.err.contains("react: no message with the id"), refused.err.constData());

    const auto reacted = bob.run({"react", "alice", id, "👍"});
    QCOMPARE(reacted.code, 0);
    QCOMPARE(of_type(reacted.lines, "reacted").size(), 1);
    auto heard = of_type(alice.run({"listen", "--timeout", "3"}).lines, "reactions");
    QVERIFY(!heard.isEmpty());
    QCOMPARE(heard.last().value("id").toString(), id);
    const auto list = heard.last().value("reactions").toArray();
    QCOMPARE(list.size(), 1);
    QCOMPARE(list[0].toObject().value("from").toString(), QString("bob"));
    QCOMPARE(list[0].toObject().value("emoji").toString(), QString("👍"));
    const auto message_with_id = [&] {
      for (const auto& m : of_type(alice.run({"history", "bob"}).lines, "message"))
        if (m.value("id").toString() == id) return m;
      return QJsonObject();
    };
    QCOMPARE(message_with_id().value("reactions").toArray().size(), 1);

    QCOMPARE(bob.run({"react", "alice", id, "--remove"}).code, 0);
    alice.run({"listen", "--timeout", "3"});
    const auto after = message_with_id();
    QCOMPARE(after.value("text").toString(), QString("Dinner at 7?"));
    QVERIFY(!after.contains("reactions"));
  }

  void editsAndDeletionThroughTheCli() {
    Cli alice(profile("alice")), bob(profile("bob"));
    const auto sent = of_type(alice.run({"send", "bob", "See you at the station"}).lines, "sent");
    QCOMPARE(sent.size(), 1);
    const auto id = sent[0].value("id").toString();
    QCOMPARE(of_type(bob.run({"listen", "--count", "1", "--timeout", "15"}).lines, "message").size(), 1);
    const auto message_in = [&](Cli& who, const QString& peer) {
      for (const auto& m : of_type(who.run({"history", peer}).lines, "message"))
        if (m.value("id").toString() == id) return m;
      return QJsonObject();
    };

    // Bob cannot edit Alice's words; a made-up id names nothing.
    auto refused = bob.run({"edit", "alice", id, "Bob's words"});
    QCOMPARE(refused.code, 2);
    QVERIFY2(refused.err.contains("only your own"), refused.err.constData());
    refused = alice.run({"edit", "bob", QString(32, 'a'), "x"});
    QCOMPARE(refused.code, 2);
    QVERIFY2(refused.err.contains("edit: no message with the id"), refused.err.constData());

    const auto edited = alice.run({"edit", "bob", id, "See you at the bus stop"});
    QCOMPARE(edited.code, 0);
    QCOMPARE(of_type(edited.lines, "edited").size(), 1);
    auto heard = of_type(bob.run({"listen", "--timeout", "3"}).lines, "revised");
    QVERIFY(!heard.isEmpty());
    QCOMPARE(heard.last().value("id").toString(), id);
    QCOMPARE(heard.last().value("text").toString(), QString("See you at the bus stop"));
    QVERIFY(heard.last().value("edited_ms").toDouble() > 0);
    QCOMPARE(message_in(bob, "alice").value("text").toString(), QString("See you at the bus stop"));

    const auto gone = alice.run({"delete", "bob", id, "--for-everyone"});
    QCOMPARE(gone.code, 0);
    QCOMPARE(of_type(gone.lines, "deleted")[0].value("for_everyone").toBool(), true);
    heard = of_type(bob.run({"listen", "--timeout", "3"}).lines, "revised");
    QVERIFY(!heard.isEmpty());
    QVERIFY(heard.last().value("unsent").toBool());
    QCOMPARE(heard.last().value("text").toString(), QString());
    QVERIFY(message_in(bob, "alice").value("unsent").toBool());

    // From this device only: Bob's history loses it, Alice's keeps the trace.
    const auto here = bob.run({"delete", "alice", id});
    QCOMPARE(here.code, 0);
    QCOMPARE(of_type(here.lines, "deleted")[0].value("for_everyone").toBool(), false);
    QVERIFY(message_in(bob, "alice").isEmpty());
    QVERIFY(message_in(alice, "bob").value("unsent").toBool());
    refused = bob.run({"delete", "alice", id});
    QCOMPARE(refused.code, 2);
    QVERIFY2(refused.err.contains("no message with the id"), refused.err.constData());
  }

  void outboxSurvivesAKilledSender() {
    Cli alice(profile("alice")), bob(profile("bob"));
    // The relay is frozen, so the send cannot be acknowledged; then the sender is killed.
    ::kill(static_cast<pid_t>(relay_.pid()), SIGSTOP);
    std::unique_ptr<QProcess> send(alice.spawn({"send", "bob", "survivor"}));
    QTest::qWait(1500);
    send->kill();
    send->waitForFinished();
    ::kill(static_cast<pid_t>(relay_.pid()), SIGCONT);
    QTest::qWait(300);
    // The next run flushes the outbox first, with the same client_msg_id.
    QCOMPARE(alice.run({"send", "bob", "after"}).code, 0);
    auto got = bob.run({"listen", "--count", "2", "--timeout", "15"});
    auto messages = of_type(got.lines, "message");
    QCOMPARE(messages.size(), 2);
    QCOMPARE(messages[0].value("text").toString(), QString("survivor"));
    QCOMPARE(messages[1].value("text").toString(), QString("after"));
    auto history = of_type(bob.run({"history", "alice"}).lines, "message");
    int survivors = 0;
    for (const auto& m : history) survivors += m.value("text").toString() == "survivor";
    QCOMPARE(survivors, 1);
  }

  // A send-file killed part-way through its upload goes on when the same command runs again:
  // from what the relay has, as one message, the file whole.
  void aKilledFileSendGoesOnWhenRunAgain() {
    Cli alice(profile("alice")), bob(profile("bob"));
    QByteArray data(64 << 20, Qt::Uninitialized);
    for (qsizetype i = 0; i < data.size(); i += 4) {
      const quint32 v = QRandomGenerator::global()->generate();
      memcpy(data.data() + i, &v, 4);
    }
    const auto path = home_.filePath("film.bin");
    {
      QFile f(path);
      QVERIFY(f.open(QIODevice::WriteOnly) && f.write(data) == data.size());
    }
    // What the relay has staged: every file under its data directory but the store's.
    auto staged = [&] {
      qint64 n = 0;
      QDirIterator it(relay_.dataDir(), QDir::Files, QDirIterator::Subdirectories);
      while (it.hasNext()) {
        const QFileInfo f(it.next());
        if (!f.fileName().startsWith("relay.db")) n += f.size();
      }
      return n;
    };
    const auto before = staged();
    std::unique_ptr<QProcess> send(alice.spawn({"send-file", "bob", path}));
    QDeadlineTimer deadline(30000);
    while (staged() - before < (4 << 20) && !deadline.hasExpired() && send->state() == QProcess::Running)
      QThread::msleep(2);
    ::kill(static_cast<pid_t>(relay_.pid()), SIGSTOP);
    const bool mid_way = staged() - before < data.size();
    send->kill();
    send->waitForFinished();
    ::kill(static_cast<pid_t>(relay_.pid()), SIGCONT);
    QVERIFY2(mid_way, "the upload ended before it could be cut short");
    auto queued = of_type(alice.run({"queued"}).lines, "queued_file");
    QCOMPARE(queued.size(), 1);
    QCOMPARE(queued[0].value("path").toString(), path);
    QCOMPARE(queued[0].value("peer").toString(), QString("bob"));

    const auto again = alice.run({"send-file", "bob", path}, 60000);
    QVERIFY2(again.code == 0, again.err.constData());
    QVERIFY2(again.err.contains("of it already; sending the rest"), again.err.constData());
    const auto sent = of_type(again.lines, "sent");
    QCOMPARE(sent.size(), 1);
    const auto id = sent[0].value("id").toString();

    auto got = bob.run({"listen", "--count", "1", "--timeout", "15"});
    const auto messages = of_type(got.lines, "message");
    QCOMPARE(messages.size(), 1);
    QCOMPARE(messages[0].value("id").toString(), id);
    const auto into = home_.filePath("bob-films");
    QVERIFY(QDir().mkpath(into));
    const auto fetched = bob.run({"fetch", id, into}, 60000);
    QVERIFY2(fetched.code == 0, fetched.err.constData());
    QFile out(into + "/film.bin");
    QVERIFY(out.open(QIODevice::ReadOnly));
    QVERIFY(out.readAll() == data);
    // Nothing is left queued to go again.
    QVERIFY(of_type(alice.run({"queued"}).lines, "queued_file").isEmpty());
    QVERIFY(QDir(profile("alice") + "/media-out").entryList(QDir::Files).isEmpty());

    // One stopped and not wanted any more is forgotten, with its encrypted copy.
    send.reset(alice.spawn({"send-file", "bob", path, "--caption", "never mind"}));
    deadline.setRemainingTime(30000);
    while (QDir(profile("alice") + "/media-out").entryList(QDir::Files).isEmpty() && !deadline.hasExpired())
      QThread::msleep(2);
    send->kill();
    send->waitForFinished();
    queued = of_type(alice.run({"queued"}).lines, "queued_file");
    QCOMPARE(queued.size(), 1);
    QCOMPARE(queued[0].value("caption").toString(), QString("never mind"));
    const auto bad = alice.run({"queued", "--forget", "999999"});
    QCOMPARE(bad.code, 2);
    QVERIFY2(bad.err.contains("no queued file has id 999999"), bad.err.constData());
    const auto id_text = QString::number(queued[0].value("id").toInteger());
    const auto forgot = alice.run({"queued", "--forget", id_text});
    QCOMPARE(forgot.code, 0);
    QCOMPARE(of_type(forgot.lines, "forgotten").size(), 1);
    QVERIFY(of_type(alice.run({"queued"}).lines, "queued_file").isEmpty());
    QVERIFY(QDir(profile("alice") + "/media-out").entryList(QDir::Files).isEmpty());
  }

  // While `listen` holds Alice's profile, a second command on it is refused with who holds
  // it, and sends nothing; once the listener is gone it goes through.
  void aProfileIsUsedByOneCommandAtATime() {
    Cli alice(profile("alice")), bob(profile("bob"));
    const auto lock_path = profile("alice") + "/parley.lock";
    QVERIFY(!QFile::exists(lock_path));  // so that the one below is the listener's
    std::unique_ptr<QProcess> listen(alice.spawn({"listen", "--timeout", "20"}));
    QVERIFY(QTest::qWaitFor([&] { return QFile::exists(lock_path); }, 10000));
    auto r = alice.run({"send", "bob", "while locked"});
    QVERIFY2(r.code != 0 && r.err.contains("open in another Parley process") &&
                 r.err.contains(QByteArray::number(listen->processId())),
             r.err.constData());
    listen->terminate();
    QVERIFY(listen->waitForFinished(10000));
    QCOMPARE(alice.run({"send", "bob", "after the listener"}).code, 0);
    auto got = of_type(bob.run({"listen", "--count", "1", "--timeout", "15"}).lines, "message");
    QCOMPARE(got.size(), 1);
    QCOMPARE(got[0].value("text").toString(), QString("after the listener"));
  }

  void unknownRecipientAndSafetyNumbers() {
    Cli alice(profile("alice")), bob(profile("bob"));
    auto r = alice.run({"send", "nobody-at-all", "hi"});
    QCOMPARE(r.code, 5);
    QVERIFY(r.err.contains("nobody-at-all"));
    auto a = of_type(alice.run({"verify", "bob"}).lines, "safety_number");
    auto b = of_type(bob.run({"verify", "alice"}).lines, "safety_number");
    QCOMPARE(a.size(), 1);
    QCOMPARE(a[0].value("safety_number").toString(), b[0].value("safety_number").toString());
    QCOMPARE(a[0].value("safety_number").toString().remove(' ').size(), 60);
    QCOMPARE(alice.run({"verify", "stranger"}).code, 5);
  }

  // A changed identity key is accepted from the command line only with the number the user
  // compared: `verify` prints the new one, and any other number accepts nothing.
  void aChangedKeyIsAcceptedOnlyByTheNumberCompared() {
    Cli alice(profile("alice"));
    const auto before = of_type(alice.run({"verify", "bob"}).lines, "safety_number");
    QCOMPARE(before.size(), 1);
    QVERIFY(!before[0].value("identity_changed").toBool());
    // As if alice had known bob under another key: his real one is now the changed one.
    {
      auto db = parley::test::sealedDatabase(profile("alice") + "/parley.db", "alices-db");
      QVERIFY(db.open());
      QSqlQuery q(db);
      QVERIFY(q.exec("UPDATE contacts SET pending_identity_key = identity_key,"
                     " identity_key = randomblob(32) WHERE username = 'bob'"));
      QCOMPARE(q.numRowsAffected(), 1);
      db.close();
    }
    QSqlDatabase::removeDatabase("alices-db");
    const auto shown = of_type(alice.run({"verify", "bob"}).lines, "safety_number");
    QCOMPARE(shown.size(), 1);
    QVERIFY(shown[0].value("identity_changed").toBool());
    const auto number = shown[0].value("safety_number").toString();
    const auto previous = shown[0].value("previous_safety_number").toString();
    QCOMPARE(number, before[0].value("safety_number").toString());  // bob's real key's number
    QCOMPARE(QString(previous).remove(' ').size(), 60);
    QVERIFY(previous != number);

    // A send to him now is held, and says so at once rather than timing out in silence.
    const auto held = alice.run({"send", "bob", "held until the key is accepted"}, 10000);
    QCOMPARE(held.code, 6);
    QVERIFY2(held.err.contains("`verify bob --accept NUMBER`"), held.err.constData());

    const auto wrong = alice.run({"verify", "bob", "--accept", previous});
    QCOMPARE(wrong.code, 6);
    QVERIFY2(wrong.err.contains("nothing accepted"), wrong.err.constData());
    QVERIFY(of_type(alice.run({"verify", "bob"}).lines, "safety_number")[0].value("identity_changed").toBool());

    const auto right = alice.run({"verify", "bob", "--accept", QString(number).remove(' ')});
    QCOMPARE(right.code, 0);
    const auto after = of_type(right.lines, "safety_number");
    QCOMPARE(after.size(), 1);
    QVERIFY(!after[0].value("identity_changed").toBool());
    QCOMPARE(after[0].value("safety_number").toString(), number);
    const auto again = alice.run({"verify", "bob", "--accept", number});
    QCOMPARE(again.code, 1);
    QVERIFY2(again.err.contains("has not changed"), again.err.constData());

    // Accepted, the held message goes out first, before the next one.
    QCOMPARE(alice.run({"send", "bob", "after accepting"}).code, 0);
    Cli bob(profile("bob"));
    const auto got = of_type(bob.run({"listen", "--count", "2", "--timeout", "20"}).lines, "message");
    QCOMPARE(got.size(), 2);
    QCOMPARE(got[0].value("text").toString(), QString("held until the key is accepted"));
    QCOMPARE(got[1].value("text").toString(), QString("after accepting"));
  }

  // Groups through the command line: create, send, read, an avatar from the admin only,
  // and the per-member receipts the sender sees.
  void groupsThroughTheCli() {
    Cli alice(profile("alice")), bob(profile("bob"));
    auto created = alice.run({"group", "create", "crew", "bob"});
    QCOMPARE(created.code, 0);
    const auto gid = of_type(created.lines, "group_created").value(0).value("group").toString();
    QCOMPARE(gid.size(), 32);
    auto sent = alice.run({"group", "send", gid, "hello crew"});
    QCOMPARE(sent.code, 0);
    const auto id = of_type(sent.lines, "sent").value(0).value("id").toString();
    QCOMPARE(id.size(), 32);
    auto got = bob.run({"listen", "--count", "1", "--mark-read", "--timeout", "20"});
    QCOMPARE(got.code, 0);
    auto messages = of_type(got.lines, "message");
    QCOMPARE(messages.size(), 1);
    QCOMPARE(messages[0].value("text").toString(), QString("hello crew"));
    QCOMPARE(messages[0].value("group").toString(), gid);

    // An avatar: files that are not images, and non-admins, are refused with clear errors.
    QFile text(home_.filePath("notes.txt"));
    QVERIFY(text.open(QIODevice::WriteOnly));
    text.write("just text");
    text.close();
    auto not_image = alice.run({"group", "avatar", gid, text.fileName()});
    QCOMPARE(not_image.code, 2);
    QVERIFY(not_image.err.contains("PNG, JPEG or WebP"));
    QCOMPARE(alice.run({"group", "avatar", gid}).code, 2);  // FILE or --clear
    QCOMPARE(alice.run({"group", "avatar", gid, "--clear", text.fileName()}).code, 2);
    QFile png(home_.filePath("crew.png"));
    QVERIFY(png.open(QIODevice::WriteOnly));
    png.write(QByteArray("\x89PNG\r\n\x1a\n", 8) + QByteArray(1000, 'x'));
    png.close();
    auto by_bob = bob.run({"group", "avatar", gid, png.fileName()});
    QCOMPARE(by_bob.code, 1);
    QVERIFY(by_bob.err.contains("admin"));
    auto avatar = alice.run({"group", "avatar", gid, png.fileName()});
    QCOMPARE(avatar.code, 0);
    QCOMPARE(of_type(avatar.lines, "group_avatar").value(0).value("avatar_bytes").toInt(), 1008);
    auto changed = bob.run({"listen", "--timeout", "4"});
    QCOMPARE(of_type(changed.lines, "group_info").size(), 1);
    auto info = bob.run({"group", "info", gid});
    QCOMPARE(info.code, 0);
    const auto g = of_type(info.lines, "group").value(0);
    QCOMPARE(g.value("name").toString(), QString("crew"));
    QCOMPARE(g.value("avatar_bytes").toInt(), 1008);
    QCOMPARE(g.value("members").toInt(), 2);

    // Alice catches up on receipts, then asks who has her message.
    alice.run({"listen", "--timeout", "3"});
    auto receipts = alice.run({"group", "receipts", gid, id});
    QCOMPARE(receipts.code, 0);
    const auto summary = of_type(receipts.lines, "receipts").value(0);
    QCOMPARE(summary.value("delivered").toInt(), 1);
    QCOMPARE(summary.value("read").toInt(), 1);
    QCOMPARE(summary.value("of").toInt(), 1);
    const auto per_member = of_type(receipts.lines, "receipt");
    QCOMPARE(per_member.size(), 1);
    QCOMPARE(per_member[0].value("member").toString(), QString("bob"));
    QVERIFY(per_member[0].value("read_ms").toDouble() > 0);
    QCOMPARE(alice.run({"group", "receipts", gid, "beef"}).code, 2);

    // `chats` puts the group first (most recent), named, with the last message and its
    // status: read for its writer (bob, every member, has read it), seen for the reader.
    for (auto* who : {&alice, &bob}) {
      auto chats = who->run({"chats"});
      QCOMPARE(chats.code, 0);
      const auto first = of_type(chats.lines, "chat").value(0);
      QCOMPARE(first.value("peer").toString(), "#" + gid);
      QCOMPARE(first.value("group").toString(), QString("crew"));
      QCOMPARE(first.value("unread").toInt(), 0);
      const auto last = first.value("last").toObject();
      QCOMPARE(last.value("id").toString(), id);
      QCOMPARE(last.value("from").toString(), QString("alice"));
      QCOMPARE(last.value("text").toString(), QString("hello crew"));
      QCOMPARE(last.value("status").toString(), QString(who == &alice ? "read" : "seen"));
    }

    // This device's settings of a chat: muted for a while, pinned above the more recent.
    const auto chats_of = [](Cli& who) { return of_type(who.run({"chats"}).lines, "chat"); };
    const auto place_of = [&](const QString& peer) {
      const auto chats = chats_of(alice);
      for (int i = 0; i < chats.size(); ++i)
        if (chats[i].value("peer").toString() == peer) return i;
      return -1;
    };
    QVERIFY(place_of("bob") > 0);
    const auto before = QDateTime::currentMSecsSinceEpoch();
    auto muted = alice.run({"mute", "#" + gid, "--for", "8h"});
    QCOMPARE(muted.code, 0);
    const auto setting = of_type(muted.lines, "chat_settings").value(0);
    QVERIFY(setting.value("muted").toBool());
    const auto until = static_cast<qint64>(setting.value("muted_until_ms").toDouble());
    QVERIFY(until >= before + 8 * 3600 * 1000 && until <= QDateTime::currentMSecsSinceEpoch() + 8 * 3600 * 1000);
    QVERIFY(chats_of(alice).value(0).value("muted").toBool());
    QCOMPARE(static_cast<qint64>(chats_of(alice).value(0).value("muted_until_ms").toDouble()), until);
    auto always = alice.run({"mute", "bob"});
    QCOMPARE(always.code, 0);
    QVERIFY(of_type(always.lines, "chat_settings").value(0).value("muted").toBool());
    QVERIFY(!of_type(always.lines, "chat_settings").value(0).contains("muted_until_ms"));
    QCOMPARE(alice.run({"unmute", "bob"}).code, 0);
    QCOMPARE(alice.run({"unmute", "#" + gid}).code, 0);
    QVERIFY(!chats_of(alice).value(0).value("muted").toBool());
    auto bad = alice.run({"mute", "bob", "--for", "8 hours"});
    QCOMPARE(bad.code, 2);
    QVERIFY2(bad.err.contains("30m, 8h, 7d or 2w"), bad.err.constData());
    auto nobody = alice.run({"pin", "nobody"});
    QCOMPARE(nobody.code, 5);
    QVERIFY2(nobody.err.contains("no conversation with nobody"), nobody.err.constData());
    auto pinned = alice.run({"pin", "bob"});
    QCOMPARE(pinned.code, 0);
    QVERIFY(of_type(pinned.lines, "chat_settings").value(0).value("pinned").toBool());
    QCOMPARE(chats_of(alice).value(0).value("peer").toString(), QString("bob"));
    QVERIFY(chats_of(alice).value(0).value("pinned").toBool());
    QCOMPARE(alice.run({"unpin", "bob"}).code, 0);
    QCOMPARE(chats_of(alice).value(0).value("peer").toString(), "#" + gid);
    auto marked = alice.run({"mark-unread", "bob"});
    QCOMPARE(marked.code, 0);
    QVERIFY(of_type(marked.lines, "chat_settings").value(0).value("marked_unread").toBool());
    QVERIFY(chats_of(alice).value(place_of("bob")).value("marked_unread").toBool());
    QCOMPARE(alice.run({"mark-unread", "bob", "--clear"}).code, 0);
    QVERIFY(place_of("bob") >= 0);
    QVERIFY(!chats_of(alice).value(place_of("bob")).value("marked_unread").toBool());
    // Archived: out of the pins, listed as archived, until unarchived.
    QCOMPARE(alice.run({"pin", "bob"}).code, 0);
    auto archived = alice.run({"archive", "bob"});
    QCOMPARE(archived.code, 0);
    QVERIFY(of_type(archived.lines, "chat_settings").value(0).value("archived").toBool());
    QVERIFY(!of_type(archived.lines, "chat_settings").value(0).value("pinned").toBool());
    QVERIFY(chats_of(alice).value(place_of("bob")).value("archived").toBool());
    QCOMPARE(alice.run({"unarchive", "bob"}).code, 0);
    QVERIFY(!chats_of(alice).value(place_of("bob")).value("archived").toBool());
    QCOMPARE(alice.run({"archive", "nobody"}).code, 5);
    // Read: online, receipts out, the mark gone; a chat that is not there, said so.
    QCOMPARE(alice.run({"mark-unread", "bob"}).code, 0);
    const int unread_before = chats_of(alice).value(place_of("bob")).value("unread").toInt();
    auto sent_to_read = bob.run({"send", "alice", "read me"});
    QCOMPARE(sent_to_read.code, 0);
    const auto read_me = of_type(sent_to_read.lines, "sent").value(0).value("id").toString();
    auto read = alice.run({"read", "bob"});
    QCOMPARE(read.code, 0);
    QCOMPARE(of_type(read.lines, "read").value(0).value("peer").toString(), QString("bob"));
    // bob's message came on the way, and was read with the rest.
    QCOMPARE(of_type(read.lines, "read").value(0).value("messages").toInt(), unread_before + 1);
    // bob learns it was read.
    QCOMPARE(bob.run({"listen", "--timeout", "3"}).code, 0);
    QString read_status;
    for (const auto& line : of_type(bob.run({"history", "alice"}).lines, "message"))
      if (line.value("id").toString() == read_me) read_status = line.value("status").toString();
    QCOMPARE(read_status, QString("read"));
    QVERIFY(!chats_of(alice).value(place_of("bob")).value("marked_unread").toBool());
    QCOMPARE(chats_of(alice).value(place_of("bob")).value("unread").toInt(), 0);
    QCOMPARE(alice.run({"read", "nobody"}).code, 5);
  }

  void disappearingMessagesThroughTheCli() {
    Cli alice(profile("alice")), bob(profile("bob"));
    QCOMPARE(alice.run({"send", "bob", "before the timer"}).code, 0);
    auto set = alice.run({"disappear", "bob", "--after", "8h"});
    QCOMPARE(set.code, 0);
    QCOMPARE(of_type(set.lines, "chat_settings").value(0).value("disappear_after_s").toInt(), 8 * 3600);
    // Bob hears of it, and both histories have the line.
    auto heard = bob.run({"listen", "--timeout", "3"});
    QCOMPARE(heard.code, 0);
    bool told = false;
    for (const auto& s : of_type(heard.lines, "chat_settings"))
      told = told || (s.value("peer").toString() == "alice" && s.value("disappear_after_s").toInt() == 8 * 3600);
    QVERIFY(told);
    for (auto* who : {&alice, &bob}) {
      const auto lines = of_type(who->run({"history", who == &alice ? "bob" : "alice"}).lines, "timer");
      QCOMPARE(lines.size(), 1);
      QCOMPARE(lines[0].value("from").toString(), QString("alice"));
      QCOMPARE(lines[0].value("seconds").toInt(), 8 * 3600);
    }
    // What is sent now carries the timer, and counts down once the relay has it.
    auto sent = alice.run({"send", "bob", "gone by tonight"});
    QCOMPARE(sent.code, 0);
    const auto id = of_type(sent.lines, "sent").value(0).value("id").toString();
    QJsonObject mine;
    for (const auto& m : of_type(alice.run({"history", "bob"}).lines, "message"))
      if (m.value("id").toString() == id) mine = m;
    QCOMPARE(mine.value("expire_s").toInt(), 8 * 3600);
    QVERIFY(mine.value("expires_at_ms").toDouble() > QDateTime::currentMSecsSinceEpoch() + 7 * 3600 * 1000.0);
    // Bad requests say what is wrong.
    for (const QStringList& bad : {QStringList{"disappear", "bob"}, QStringList{"disappear", "bob", "--after", "8 hours"},
                                   QStringList{"disappear", "bob", "--after", "366d"},
                                   QStringList{"disappear", "bob", "--after", "1h", "--off"}}) {
      auto r = alice.run(bad);
      QVERIFY2(r.code == 2, qPrintable(bad.join(' ') + ": " + QString::fromUtf8(r.err)));
    }
    QCOMPARE(alice.run({"disappear", "nobody", "--off"}).code, 5);
    auto off = bob.run({"disappear", "alice", "--off"});
    QCOMPARE(off.code, 0);
    QCOMPARE(of_type(off.lines, "chat_settings").value(0).value("disappear_after_s").toInt(), 0);
    QCOMPARE(alice.run({"listen", "--timeout", "3"}).code, 0);
    for (const auto& c : of_type(alice.run({"chats"}).lines, "chat"))
      if (c.value("peer").toString() == "bob") {
        QCOMPARE(c.value("disappear_after_s").toInt(), 0);
        QCOMPARE(c.value("last").toObject().value("timer").toInt(-1), 0);
      }

    // Clearing the chat here: bob keeps his.
    auto cleared = alice.run({"clear", "bob"});
    QCOMPARE(cleared.code, 0);
    QVERIFY(of_type(cleared.lines, "cleared").value(0).value("messages").toInt() >= 3);
    QVERIFY(of_type(alice.run({"history", "bob"}).lines, "message").isEmpty());
    QVERIFY(!of_type(bob.run({"history", "alice"}).lines, "message").isEmpty());
    QCOMPARE(alice.run({"clear", "nobody"}).code, 5);
  }

  // `default-disappear` shows or sets the timer a chat we start takes: fred's first message
  // to alice goes with it, her history shows the change first.
  void aDefaultTimerForNewChatsThroughTheCli() {
    Cli fred(profile("fred")), alice(profile("alice"));
    QCOMPARE(fred.run({"register", "--server", relay_.url().toString(), "fred"}).code, 0);
    const auto after_s = [](const Result& r) {
      return of_type(r.lines, "default_disappear").value(0).value("after_s").toInt(-1);
    };
    QCOMPARE(after_s(fred.run({"default-disappear"})), 0);
    QCOMPARE(after_s(fred.run({"default-disappear", "--after", "1d"})), 86400);
    QCOMPARE(after_s(fred.run({"default-disappear"})), 86400);
    for (const QStringList& bad : {QStringList{"default-disappear", "--after", "1 day"},
                                   QStringList{"default-disappear", "--after", "366d"},
                                   QStringList{"default-disappear", "--after", "1h", "--off"}}) {
      auto r = fred.run(bad);
      QVERIFY2(r.code == 2, qPrintable(bad.join(' ') + ": " + QString::fromUtf8(r.err)));
    }
    QCOMPARE(fred.run({"send", "alice", "new here"}).code, 0);
    QCOMPARE(alice.run({"listen", "--timeout", "3"}).code, 0);
    const auto history = alice.run({"history", "fred"}).lines;
    QCOMPARE(of_type(history, "timer").value(0).value("seconds").toInt(), 86400);
    QCOMPARE(of_type(history, "message").value(0).value("expire_s").toInt(), 86400);
    QCOMPARE(after_s(fred.run({"default-disappear", "--off"})), 0);
  }

  void relayNeverSeesPlaintext() {
    const auto stored = read_all_files(relay_.dataDir()) + relay_.stderrLog();
    QVERIFY(!stored.isEmpty());
    for (const char* secret : {"first", "second", "survivor", "after", "reply"})
      QVERIFY2(!stored.contains(secret), secret);
  }
};

QTEST_GUILESS_MAIN(CliE2eTest)
#include "cli_e2e_test.moc"
