// Files between two profiles through a real relay (Messenger::sendFile / fetchAttachment):
// a 50 MiB round trip with the relay holding only ciphertext, an upload that survives the
// relay being killed mid-way and continues from what the relay has, a tampered blob refused
// with nothing saved, a file under another sender's message id refused, the relay's limits
// reaching the user as clear errors, and cancel; a file being sent when the app stops sent,
// once, when it opens again, going on from what the relay has when what was left checks out.
#include <QtTest>

#include <QBuffer>
#include <QCryptographicHash>
#include <QDirIterator>
#include <QFileInfo>
#include <QImage>
#include <QRandomGenerator>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <algorithm>
#include <vector>

#include "messenger.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"
#include "sealed_db.hpp"
#include "tcp_gate.hpp"

using namespace parley::client;
using parley::test::RelayProcess;
using parley::test::spinUntil;
using parley::test::TcpGate;

namespace {

constexpr int kWaitMs = 30000;

// What one transfer reported.
struct Outcome {
  bool done = false;
  QString error;
  QByteArray msg;
  QString path;
  qint64 last_done = -1, total = 0;
  QList<qint64> resumed;
  qint64 first_progress_after_resume = -1;
};

struct Profile {
  QString dir;
  std::unique_ptr<Messenger> m;
  std::map<qint64, std::shared_ptr<Outcome>> transfers;
  QList<QByteArray> received;

  void attach() {
    auto* raw = m.get();
    QObject::connect(raw, &Messenger::messageReceived, raw,
                     [this](const QString&, const QByteArray& id) { received.append(id); });
    QObject::connect(raw, &Messenger::problem, raw,
                     [](const QString& text) { qWarning("problem: %s", qPrintable(text)); });
    QObject::connect(raw, &Messenger::transferProgress, raw, [this](qint64 id, qint64 done, qint64 total) {
      auto& o = outcome(id);
      if (!o.resumed.isEmpty() && o.first_progress_after_resume < 0) o.first_progress_after_resume = done;
      o.last_done = done;
      o.total = total;
    });
    QObject::connect(raw, &Messenger::transferResumed, raw,
                     [this](qint64 id, qint64 offset) { outcome(id).resumed.append(offset); });
    QObject::connect(raw, &Messenger::transferFinished, raw,
                     [this](qint64 id, const QByteArray& msg, const QString& path) {
                       auto& o = outcome(id);
                       o.done = true;
                       o.msg = msg;
                       o.path = path;
                     });
    QObject::connect(raw, &Messenger::transferFailed, raw, [this](qint64 id, const QString& e) {
      auto& o = outcome(id);
      o.done = true;
      o.error = e;
    });
  }
  Outcome& outcome(qint64 id) {
    auto& p = transfers[id];
    if (!p) p = std::make_shared<Outcome>();
    return *p;
  }
  // Runs until transfer `id` ends; its outcome (0, refused at once, ends it at once).
  Outcome wait(qint64 id, int timeout_ms = kWaitMs) {
    if (id == 0) {
      Outcome refused;
      refused.done = true;
      refused.error = QStringLiteral("refused at once: no transfer id");
      return refused;
    }
    spinUntil([&] { return outcome(id).done; }, timeout_ms);
    return outcome(id);
  }
  // Opens the profile again after `m` was closed, and starts it.
  bool reopen() {
    QString error;
    transfers.clear();  // the new messenger counts its transfers from 1 again
    m = Messenger::open(dir, &error);
    if (!m) {
      qWarning("open %s: %s", qPrintable(dir), qPrintable(error));
      return false;
    }
    attach();
    m->start();
    return true;
  }
  bool waitReceived(const QByteArray& id) {
    return spinUntil([&] { return received.contains(id); }, kWaitMs);
  }
};

std::unique_ptr<Profile> registerProfile(const QString& dir, const QUrl& url, const QString& name) {
  auto p = std::make_unique<Profile>();
  p->dir = dir;
  bool done = false;
  Messenger::registerProfile(dir, url, name, [&](std::unique_ptr<Messenger> m, QString error, int) {
    if (!m) qWarning("register %s: %s", qPrintable(name), qPrintable(error));
    p->m = std::move(m);
    done = true;
  });
  if (!spinUntil([&] { return done; }, kWaitMs) || !p->m) return nullptr;
  p->attach();
  p->m->start();
  if (!spinUntil([&] { return p->m->state() == RelayClient::State::Online; }, kWaitMs)) return nullptr;
  return p;
}

QByteArray randomBytes(qsizetype n) {
  QByteArray b(n, Qt::Uninitialized);
  QRandomGenerator::global()->fillRange(reinterpret_cast<quint32*>(b.data()), n / 4);
  for (qsizetype i = n / 4 * 4; i < n; ++i) b[i] = static_cast<char>(i);
  return b;
}

bool writeFile(const QString& path, const QByteArray& bytes) {
  QFile f(path);
  return f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size();
}

QByteArray readFile(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QStringList filesUnder(const QString& dir) {
  QStringList out;
  QDirIterator it(dir, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
  while (it.hasNext()) out << it.next();
  return out;
}

// True when some 64-byte window of `plain` starting at a multiple of 64 occurs anywhere in
// `blob`: every plaintext run of 127 bytes or more would contain one. A rolling hash over
// every position of the blob, checked against the windows' hashes, then compared byte by byte.
// A bitmap of the hashes' low bits turns away nearly every position before the sorted search:
// 50 MiB are 52 million positions, and a hash map's lookup for each took most of a minute
// in the sanitizers' unoptimised build.
bool containsPlaintextWindow(const QByteArray& plain, const QByteArray& blob) {
  constexpr qsizetype kW = 64;
  constexpr quint64 kBase = 1099511628211ull;
  constexpr quint64 kBitmapBits = quint64{1} << 27;
  quint64 top = 1;  // kBase^(kW-1)
  for (qsizetype i = 1; i < kW; ++i) top *= kBase;
  auto hash_of = [&](const unsigned char* p) {
    quint64 h = 0;
    for (qsizetype i = 0; i < kW; ++i) h = h * kBase + p[i];
    return h;
  };
  const auto* p = reinterpret_cast<const unsigned char*>(plain.constData());
  const auto* b = reinterpret_cast<const unsigned char*>(blob.constData());
  std::vector<std::pair<quint64, qsizetype>> windows;  // (hash, offset), sorted
  std::vector<quint64> bitmap(kBitmapBits / 64);
  windows.reserve(static_cast<std::size_t>(plain.size() / kW));
  for (qsizetype off = 0; off + kW <= plain.size(); off += kW) {
    const auto h = hash_of(p + off);
    windows.emplace_back(h, off);
    bitmap[(h % kBitmapBits) / 64] |= quint64{1} << (h % 64);
  }
  std::sort(windows.begin(), windows.end());
  if (blob.size() < kW) return false;
  quint64 h = hash_of(b);
  for (qsizetype pos = 0;; ++pos) {
    if (bitmap[(h % kBitmapBits) / 64] >> (h % 64) & 1) {
      for (auto it = std::lower_bound(windows.begin(), windows.end(), std::pair{h, qsizetype{0}});
           it != windows.end() && it->first == h; ++it)
        if (memcmp(p + it->second, b + pos, kW) == 0) return true;
    }
    if (pos + kW >= blob.size()) return false;
    h = (h - top * b[pos]) * kBase + b[pos + kW];
  }
}

}  // namespace

class MediaTest : public QObject {
  Q_OBJECT
  QTemporaryDir home_;

  QString path(const QString& name) { return home_.filePath(name); }

 private slots:
  void initTestCase() { QVERIFY(home_.isValid()); }

  void fiftyMebibytesBetweenTwoProfiles() {
    RelayProcess relay;
    QVERIFY(relay.start());
    auto alice = registerProfile(path("a1"), relay.url(), "alice");
    auto bob = registerProfile(path("b1"), relay.url(), "bob");
    QVERIFY(alice && bob);
    const auto data = randomBytes(50 << 20);
    QVERIFY(writeFile(path("big.bin"), data));

    QString error;
    const auto up = alice->m->sendFile("bob", path("big.bin"), "the big one", &error);
    QVERIFY2(up > 0, qPrintable(error));
    const auto sent = alice->wait(up, 120000);
    QVERIFY2(sent.error.isEmpty(), qPrintable(sent.error));
    QCOMPARE(sent.last_done, sent.total);
    QVERIFY(sent.total > data.size());
    // No plaintext left in the profile: the encrypted copy is gone too.
    QVERIFY(filesUnder(alice->dir + "/media-out").isEmpty());

    QVERIFY(bob->waitReceived(sent.msg));
    const auto info = bob->m->attachment(sent.msg);
    QVERIFY(info);
    QCOMPARE(info->fileName, QString("big.bin"));
    QCOMPARE(info->size, data.size());
    QCOMPARE(info->sender, QString("alice"));

    // Every file the relay keeps is ciphertext.
    const auto blobs = filesUnder(relay.dataDir() + "/media");
    QCOMPARE(blobs.size(), 1);
    const auto blob = readFile(blobs.front());
    QCOMPARE(blob.size(), sent.total);
    QVERIFY(!containsPlaintextWindow(data, blob));
    // The check itself finds a run of 127 plaintext bytes hidden at an odd place.
    QVERIFY(containsPlaintextWindow(data, blob.left(1001) + data.mid(777777, 127) + blob.mid(1001, 5000)));

    QDir().mkpath(path("bob-downloads"));
    const auto down = bob->m->fetchAttachment(sent.msg, path("bob-downloads"), &error);
    QVERIFY2(down > 0, qPrintable(error));
    const auto got = bob->wait(down, 120000);
    QVERIFY2(got.error.isEmpty(), qPrintable(got.error));
    QCOMPARE(got.path, path("bob-downloads/big.bin"));
    QVERIFY(readFile(got.path) == data);
    QCOMPARE(bob->m->attachment(sent.msg)->localPath, got.path);
    // Fetching again never overwrites: a second copy beside it. Two at once each take a
    // name of their own when they start, not when they finish.
    const auto second = bob->m->fetchAttachment(sent.msg, path("bob-downloads"), &error);
    const auto third = bob->m->fetchAttachment(sent.msg, path("bob-downloads"), &error);
    QVERIFY2(second > 0 && third > 0, qPrintable(error));
    // Each collects into a cache file of its own, made as it starts: sharing one, the first to
    // finish deleted it under the other.
    QCOMPARE(filesUnder(bob->dir + "/media-in").size(), 2);
    const auto again = bob->wait(second, 120000);
    const auto and_again = bob->wait(third, 120000);
    QVERIFY2(again.error.isEmpty(), qPrintable(again.error));
    QVERIFY2(and_again.error.isEmpty(), qPrintable(and_again.error));
    QCOMPARE(again.path, path("bob-downloads/big (1).bin"));
    QCOMPARE(and_again.path, path("bob-downloads/big (2).bin"));
    QVERIFY(readFile(again.path) == data && readFile(and_again.path) == data);
    // The ciphertext cache is cleaned up after a successful download.
    QVERIFY(filesUnder(bob->dir + "/media-in").isEmpty());

    // A second download cancelled takes its scratch cache with it; the first goes on with the
    // shared one (<media id>.part, the only name with one dot) and cleans it up when done.
    const auto fourth = bob->m->fetchAttachment(sent.msg, path("bob-downloads"), &error);
    const auto fifth = bob->m->fetchAttachment(sent.msg, path("bob-downloads"), &error);
    QVERIFY2(fourth > 0 && fifth > 0, qPrintable(error));
    QCOMPARE(filesUnder(bob->dir + "/media-in").size(), 2);  // both started: one file each
    bob->m->cancelTransfer(fifth);
    QCOMPARE(bob->wait(fifth).error, QString("cancelled"));
    for (const auto& f : filesUnder(bob->dir + "/media-in"))
      QVERIFY2(QFileInfo(f).fileName().count(QLatin1Char('.')) == 1, qPrintable(f));
    const auto fourth_done = bob->wait(fourth, 120000);
    QVERIFY2(fourth_done.error.isEmpty(), qPrintable(fourth_done.error));
    QVERIFY(readFile(fourth_done.path) == data);
    QVERIFY(filesUnder(bob->dir + "/media-in").isEmpty());

    // Closing the messenger mid-upload keeps the encrypted copy with the queued file, for the
    // next one to go on with; forgetting the file removes it.
    const auto again_up = alice->m->sendFile("bob", path("big.bin"), "once more", &error);
    QVERIFY2(again_up > 0, qPrintable(error));
    spinUntil([&] { return alice->outcome(again_up).done || alice->outcome(again_up).last_done > 0; },
              120000);
    if (!alice->outcome(again_up).done) {  // 50 MiB: nearly always still under way
      QCOMPARE(filesUnder(alice->dir + "/media-out").size(), 1);
      alice->m.reset();
      QCOMPARE(filesUnder(alice->dir + "/media-out").size(), 1);
      QVERIFY(alice->reopen());
      const auto queued = alice->m->queuedFiles();
      QCOMPARE(queued.size(), 1);
      QCOMPARE(queued[0].caption, QString("once more"));
      alice->m->forgetFile(queued[0].id);
      QVERIFY(filesUnder(alice->dir + "/media-out").isEmpty());
    }
  }

  void imageCarriesThumbnailAndDimensions() {
    RelayProcess relay;
    QVERIFY(relay.start());
    auto alice = registerProfile(path("a2"), relay.url(), "alice");
    auto bob = registerProfile(path("b2"), relay.url(), "bob");
    QVERIFY(alice && bob);
    QImage image(1200, 800, QImage::Format_RGB32);
    image.fill(Qt::darkCyan);
    QVERIFY(image.save(path("photo.png"), "PNG"));
    QString error;
    const auto sent = alice->wait(alice->m->sendFile("bob", path("photo.png"), {}, &error));
    QVERIFY2(sent.error.isEmpty(), qPrintable(sent.error));
    QVERIFY(bob->waitReceived(sent.msg));
    const auto info = bob->m->attachment(sent.msg);
    QVERIFY(info);
    QCOMPARE(info->mimeType, QString("image/png"));
    QCOMPARE(info->width, 1200);
    QCOMPARE(info->height, 800);
    QImage thumb;
    QVERIFY(thumb.loadFromData(info->thumbnail, "JPEG"));
    QVERIFY(thumb.width() <= 320 && thumb.height() <= 320);
    QVERIFY(info->thumbnail.size() <= 16 * 1024);
  }

  void uploadResumesAfterTheRelayDies() {
    RelayProcess relay;
    QVERIFY(relay.start());
    TcpGate gate(relay.url());
    QVERIFY(gate.listen());
    auto alice = registerProfile(path("a3"), gate.url(), "alice");
    auto bob = registerProfile(path("b3"), relay.url(), "bob");
    QVERIFY(alice && bob);
    const auto data = randomBytes(60 << 20);
    QVERIFY(writeFile(path("resume.bin"), data));
    QString error;
    const auto up = alice->m->sendFile("bob", path("resume.bin"), {}, &error);
    QVERIFY(up > 0);
    // Kill the relay once a good part is across (and no more, tcp_gate.hpp), and bring it
    // back on the same port.
    gate.holdNextUpload(20 << 20);
    QVERIFY(spinUntil([&] { return gate.holding(); }, kWaitMs));
    // Killed once it has written half of that: a busy relay reads behind what was sent.
    const auto staged = relay.dataDir() + "/media/staging";
    QVERIFY(spinUntil([&] {
      const auto files = QDir(staged).entryInfoList(QDir::Files);
      return files.size() == 1 && files[0].size() > (10 << 20);
    }, kWaitMs));
    relay.kill9();
    QVERIFY(relay.start());
    const auto sent = alice->wait(up, 120000);
    QVERIFY2(sent.error.isEmpty(), qPrintable(sent.error));
    // It continued from what the relay had kept, not from 0.
    QVERIFY(!sent.resumed.isEmpty());
    QVERIFY2(sent.resumed.front() > (10 << 20), qPrintable(QString::number(sent.resumed.front())));
    QVERIFY(sent.first_progress_after_resume >= sent.resumed.front());
    QVERIFY(bob->waitReceived(sent.msg));
    QDir().mkpath(path("bob3"));
    const auto got = bob->wait(bob->m->fetchAttachment(sent.msg, path("bob3"), &error), 120000);
    QVERIFY2(got.error.isEmpty(), qPrintable(got.error));
    QVERIFY(readFile(got.path) == data);
  }

  void tamperedBlobIsRefusedAndNothingSaved() {
    RelayProcess relay;
    QVERIFY(relay.start());
    auto alice = registerProfile(path("a4"), relay.url(), "alice");
    auto bob = registerProfile(path("b4"), relay.url(), "bob");
    QVERIFY(alice && bob);
    QVERIFY(writeFile(path("secret.txt"), randomBytes(300000)));
    QString error;
    const auto sent = alice->wait(alice->m->sendFile("bob", path("secret.txt"), {}, &error));
    QVERIFY2(sent.error.isEmpty(), qPrintable(sent.error));
    QVERIFY(bob->waitReceived(sent.msg));
    const auto blobs = filesUnder(relay.dataDir() + "/media");
    QCOMPARE(blobs.size(), 1);
    {
      QFile blob(blobs.front());
      QVERIFY(blob.open(QIODevice::ReadWrite));
      blob.seek(150000);
      char c = 0;
      blob.getChar(&c);
      blob.seek(150000);
      blob.putChar(static_cast<char>(c ^ 0x20));
    }
    QDir().mkpath(path("bob4"));
    const auto got = bob->wait(bob->m->fetchAttachment(sent.msg, path("bob4"), &error));
    QVERIFY(got.done);
    QVERIFY2(got.error.contains("tampered"), qPrintable(got.error));
    QVERIFY(QDir(path("bob4")).entryList(QDir::Files | QDir::Hidden).isEmpty());
    QVERIFY(filesUnder(bob->dir + "/media-in").isEmpty());
  }

  // Files are looked up by message id alone, so a second file under an id another sender's
  // file already has (a group member copying the id of a message it saw) would stand in for
  // the first. It is refused: the first file stays what the id names.
  void fileUnderAnotherMessagesIdIsRefused() {
    RelayProcess relay;
    QVERIFY(relay.start());
    auto carol = registerProfile(path("c6"), relay.url(), "carol");
    auto bob = registerProfile(path("b6"), relay.url(), "bob");
    QVERIFY(carol && bob);
    bob->m.reset();  // offline: what carol sends waits in the relay
    QVERIFY(writeFile(path("copied-id.bin"), randomBytes(1000)));
    QString error;
    const auto sent = carol->wait(carol->m->sendFile("bob", path("copied-id.bin"), {}, &error));
    QVERIFY2(sent.error.isEmpty(), qPrintable(sent.error));
    QCOMPARE(sent.msg.size(), 16);
    const auto after = carol->m->sendText("bob", "and a line after it", &error);
    QVERIFY(after);
    {
      // Bob already holds alice's file under that id.
      auto db = parley::test::sealedDatabase(bob->dir + "/parley.db", "first-file");
      QVERIFY(db.open());
      QSqlQuery q(db);
      q.prepare("INSERT INTO attachments(sender, client_msg_id, peer, media_id, key, ciphertext_size,"
                " sha256, plaintext_size, file_name, mime_type) VALUES('alice', ?, 'alice', ?, ?, 41,"
                " ?, 24, 'alices.txt', 'text/plain')");
      q.addBindValue(sent.msg);
      q.addBindValue(QByteArray(16, 'm'));
      q.addBindValue(QByteArray(32, 'k'));
      q.addBindValue(QByteArray(32, 's'));
      QVERIFY(q.exec());
    }
    QSqlDatabase::removeDatabase("first-file");
    QVERIFY(bob->reopen());
    QVERIFY(bob->waitReceived(*after));  // in order: the file came first
    QVERIFY(!bob->received.contains(sent.msg));
    const auto info = bob->m->attachment(sent.msg);
    QVERIFY(info);
    QCOMPARE(info->sender, QString("alice"));
    QCOMPARE(info->fileName, QString("alices.txt"));
  }

  // The sender names the file; the receiver saves it under a name that is neither hidden nor
  // a path, however the sender dressed it.
  void receivedFileNameIsNeverHidden() {
    RelayProcess relay;
    QVERIFY(relay.start());
    auto alice = registerProfile(path("a7"), relay.url(), "alice");
    auto bob = registerProfile(path("b7"), relay.url(), "bob");
    QVERIFY(alice && bob);
    QVERIFY(writeFile(path(" . .profile"), randomBytes(100)));
    QString error;
    const auto sent = alice->wait(alice->m->sendFile("bob", path(" . .profile"), {}, &error));
    QVERIFY2(sent.error.isEmpty(), qPrintable(sent.error));
    QVERIFY(bob->waitReceived(sent.msg));
    QDir().mkpath(path("b7-downloads"));
    const auto got = bob->wait(bob->m->fetchAttachment(sent.msg, path("b7-downloads"), &error));
    QVERIFY2(got.error.isEmpty(), qPrintable(got.error));
    QCOMPARE(QFileInfo(got.path).fileName(), QString("profile"));
    QCOMPARE(QFileInfo(got.path).absolutePath(), QFileInfo(path("b7-downloads")).absoluteFilePath());
    // Nor one that hides its real extension: a right-to-left override would show
    // "invoice\u202Efdp.hta" as "invoiceath.pdf".
    const auto disguised = QStringLiteral("invoice\u202Efdp.hta");
    QVERIFY(writeFile(path(disguised), randomBytes(100)));
    const auto sent2 = alice->wait(alice->m->sendFile("bob", path(disguised), {}, &error));
    QVERIFY2(sent2.error.isEmpty(), qPrintable(sent2.error));
    QVERIFY(bob->waitReceived(sent2.msg));
    const auto got2 = bob->wait(bob->m->fetchAttachment(sent2.msg, path("b7-downloads"), &error));
    QVERIFY2(got2.error.isEmpty(), qPrintable(got2.error));
    QCOMPARE(QFileInfo(got2.path).fileName(), QString("invoice_fdp.hta"));
  }

  // A file being sent when the app stops is still queued when it opens, under the message id
  // it was given, and goes exactly once; one whose message was queued is not sent again.
  void aFileBeingSentWhenTheAppStopsIsSentWhenItOpens() {
    RelayProcess relay;
    QVERIFY(relay.start());
    TcpGate gate(relay.url());
    QVERIFY(gate.listen());
    auto alice = registerProfile(path("a8"), gate.url(), "alice");
    auto bob = registerProfile(path("b8"), relay.url(), "bob");
    QVERIFY(alice && bob);
    const auto data = randomBytes(24 << 20);
    QVERIFY(writeFile(path("kept.bin"), data));
    QString error;
    const auto file = alice->m->queueFile("bob", path("kept.bin"), "the kept one", &error);
    QVERIFY2(file > 0, qPrintable(error));
    auto queued = alice->m->queuedFiles();
    QCOMPARE(queued.size(), 1);
    QCOMPARE(queued[0].id, file);
    QCOMPARE(queued[0].peer, QString("bob"));
    QCOMPARE(queued[0].caption, QString("the kept one"));
    QCOMPARE(queued[0].clientMsgId.size(), 16);
    const auto msg_id = queued[0].clientMsgId;

    gate.holdNextUpload(3 << 20);
    const auto up = alice->m->sendQueuedFile(file, &error);
    QVERIFY2(up > 0, qPrintable(error));
    QCOMPARE(alice->m->sendQueuedFile(file, &error), 0);
    QVERIFY2(error.contains("already being sent"), qPrintable(error));
    // The app stops part-way through the upload (tcp_gate.hpp: part-way for the relay too).
    QVERIFY(spinUntil([&] { return gate.holding(); }, kWaitMs));
    QVERIFY(!alice->outcome(up).done);
    alice->m.reset();
    gate.dropHeld();
    // The encrypted copy stays with the queued file, to go on with.
    QCOMPARE(filesUnder(alice->dir + "/media-out"),
             QStringList{alice->dir + QString("/media-out/file-%1.enc").arg(file)});
    QVERIFY(alice->reopen());
    queued = alice->m->queuedFiles();
    QCOMPARE(queued.size(), 1);
    QCOMPARE(queued[0].id, file);
    QCOMPARE(queued[0].clientMsgId, msg_id);
    const auto sent = alice->wait(alice->m->sendQueuedFile(file, &error), 120000);
    QVERIFY2(sent.error.isEmpty(), qPrintable(sent.error));
    QCOMPARE(sent.msg, msg_id);
    // It went on from what the relay had, not from 0.
    QVERIFY(!sent.resumed.isEmpty());
    QVERIFY2(sent.resumed.front() > (2 << 20), qPrintable(QString::number(sent.resumed.front())));
    QVERIFY(alice->m->queuedFiles().isEmpty());
    QVERIFY(filesUnder(alice->dir + "/media-out").isEmpty());
    QCOMPARE(alice->m->sendQueuedFile(file, &error), 0);
    QVERIFY2(error.contains("no longer waiting"), qPrintable(error));
    QVERIFY(bob->waitReceived(msg_id));

    // Stopped between queuing the message and forgetting the file: the message says it went.
    alice->m.reset();
    {
      auto db = parley::test::sealedDatabase(alice->dir + "/parley.db", "queued-file");
      QVERIFY(db.open());
      QSqlQuery q(db);
      q.prepare("INSERT INTO file_sends(peer, path, caption, client_msg_id, created_ms)"
                " VALUES('bob', ?, '', ?, 0)");
      q.addBindValue(path("kept.bin"));
      q.addBindValue(msg_id);
      QVERIFY(q.exec());
    }
    QSqlDatabase::removeDatabase("queued-file");
    QVERIFY(alice->reopen());
    QVERIFY(alice->m->queuedFiles().isEmpty());
    const auto after = alice->m->sendText("bob", "and a line after it", &error);
    QVERIFY(after);
    QVERIFY(bob->waitReceived(*after));
    QCOMPARE(bob->received.count(msg_id), 1);
    QDir().mkpath(path("bob8"));
    const auto got = bob->wait(bob->m->fetchAttachment(msg_id, path("bob8"), &error));
    QVERIFY2(got.error.isEmpty(), qPrintable(got.error));
    QVERIFY(readFile(got.path) == data);
  }

  // A damaged page of the queue of files to send cuts its scan short: the encrypted copies
  // of the files it could not read stay (they may be ones still waiting), rather than being
  // taken for copies no queued file names.
  void copiesStayWhenTheQueueCannotBeReadWhole() {
    RelayProcess relay;
    QVERIFY(relay.start());
    auto alice = registerProfile(path("a12"), relay.url(), "alice");
    QVERIFY(alice);
    alice->m->stop();
    QVERIFY(writeFile(path("many.bin"), randomBytes(1000)));
    QDir().mkpath(alice->dir + "/media-out");
    QStringList copies;
    for (int i = 0; i < 400; ++i) {  // the index the scan reads spans a few pages
      QString error;
      const auto file = alice->m->queueFile("bob", path("many.bin"), QString("file %1").arg(i), &error);
      QVERIFY2(file > 0, qPrintable(error));
      copies << alice->dir + QString("/media-out/file-%1.enc").arg(file);
      QVERIFY(writeFile(copies.last(), "ciphertext"));  // as an earlier run's encryption left it
    }
    alice->m.reset();
    QString error;
    // The scan reads the ids from the index of client_msg_id (smaller than the table).
    const auto pages = parley::test::leafPagesOf(alice->dir + "/parley.db", "sqlite_autoindex_file_sends_1", &error);
    QVERIFY2(pages.size() >= 2, qPrintable(QString::number(pages.size()) + error));
    QVERIFY(parley::test::flipByteInPage(alice->dir + "/parley.db", pages.last()));  // not the first it reads
    QVERIFY(alice->reopen());
    QVERIFY(alice->m->storeDamaged());
    for (const auto& copy : copies) QVERIFY2(QFile::exists(copy), qPrintable(copy));
  }

  // What an earlier run left is checked before it is used: an upload the relay no longer has
  // is made again, and a damaged encrypted copy is encrypted again; either way the file
  // arrives whole. A copy no queued file names is removed when the profile opens.
  void whatAnEarlierRunLeftIsCheckedBeforeItIsUsed() {
    RelayProcess relay;
    QVERIFY(relay.start());
    TcpGate gate(relay.url());
    QVERIFY(gate.listen());
    auto alice = registerProfile(path("a9"), gate.url(), "alice");
    auto bob = registerProfile(path("b9"), relay.url(), "bob");
    QVERIFY(alice && bob);
    QDir().mkpath(path("bob9"));
    const auto data = randomBytes(24 << 20);
    QVERIFY(writeFile(path("checked.bin"), data));
    // Queues and starts the file, and closes the profile part-way through its upload.
    auto stopMidUpload = [&](qint64* file) {
      QString error;
      *file = alice->m->queueFile("bob", path("checked.bin"), {}, &error);
      QVERIFY2(*file > 0, qPrintable(error));
      gate.holdNextUpload(3 << 20);
      const auto up = alice->m->sendQueuedFile(*file, &error);
      QVERIFY2(up > 0, qPrintable(error));
      QVERIFY(spinUntil([&] { return gate.holding(); }, kWaitMs));
      QVERIFY(!alice->outcome(up).done);
      alice->m.reset();
      gate.dropHeld();
    };
    auto sendAndCheck = [&](qint64 file) {
      QString error;
      const auto sent = alice->wait(alice->m->sendQueuedFile(file, &error), 120000);
      QVERIFY2(sent.error.isEmpty(), qPrintable(sent.error + error));
      QVERIFY(sent.resumed.isEmpty());  // a new upload, from 0
      QVERIFY(bob->waitReceived(sent.msg));
      const auto got = bob->wait(bob->m->fetchAttachment(sent.msg, path("bob9"), &error));
      QVERIFY2(got.error.isEmpty(), qPrintable(got.error + error));
      QVERIFY(readFile(got.path) == data);
    };
    auto editRow = [&](const QString& sql, const QVariant& value, qint64 file) {
      auto db = parley::test::sealedDatabase(alice->dir + "/parley.db", "earlier-run");
      QVERIFY(db.open());
      QSqlQuery q(db);
      q.prepare(sql);
      q.addBindValue(value);
      q.addBindValue(file);
      QVERIFY(q.exec());
      QCOMPARE(q.numRowsAffected(), 1);
    };

    // The relay no longer has the upload the row names.
    qint64 file = 0;
    stopMidUpload(&file);
    if (QTest::currentTestFailed()) return;
    editRow("UPDATE file_sends SET media_id = ? WHERE id = ? AND media_id IS NOT NULL", randomBytes(16), file);
    QSqlDatabase::removeDatabase("earlier-run");
    QVERIFY(alice->reopen());
    sendAndCheck(file);
    if (QTest::currentTestFailed()) return;

    // The encrypted copy was damaged (one byte, the size unchanged).
    stopMidUpload(&file);
    if (QTest::currentTestFailed()) return;
    const auto copy = alice->dir + QString("/media-out/file-%1.enc").arg(file);
    {
      QFile f(copy);
      QVERIFY(f.open(QIODevice::ReadWrite));
      QVERIFY(f.seek(1 << 20));
      char c = 0;
      QVERIFY(f.getChar(&c));
      QVERIFY(f.seek(1 << 20));
      QVERIFY(f.putChar(static_cast<char>(c ^ 0x5a)));
    }
    // And a copy nothing names any more.
    QVERIFY(writeFile(alice->dir + "/media-out/file-999999.enc", "left over"));
    QVERIFY(alice->reopen());
    QVERIFY(!QFileInfo::exists(alice->dir + "/media-out/file-999999.enc"));
    QVERIFY(QFileInfo::exists(copy));
    sendAndCheck(file);
  }

  void limitsAndCancelReachTheUser() {
    RelayProcess relay({"--media-max-bytes", "2000000", "--media-quota-bytes", "3000000"});
    QVERIFY(relay.start());
    auto alice = registerProfile(path("a5"), relay.url(), "alice");
    auto bob = registerProfile(path("b5"), relay.url(), "bob");
    QVERIFY(alice && bob);
    QVERIFY(writeFile(path("toolarge.bin"), randomBytes(2100000)));
    QVERIFY(writeFile(path("ok.bin"), randomBytes(1900000)));
    QString error;
    auto r = alice->wait(alice->m->sendFile("bob", path("toolarge.bin"), {}, &error));
    QVERIFY2(r.error.contains("too large"), qPrintable(r.error));
    r = alice->wait(alice->m->sendFile("bob", path("ok.bin"), {}, &error));
    QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
    r = alice->wait(alice->m->sendFile("bob", path("ok.bin"), {}, &error));
    QVERIFY2(r.error.contains("quota"), qPrintable(r.error));
    QVERIFY(filesUnder(alice->dir + "/media-out").isEmpty());
    // sendFile's caller was told: nothing is left queued to send again.
    QVERIFY(alice->m->queuedFiles().isEmpty());
    // A queued file whose transfer fails stays queued, to be tried again, until forgotten.
    const auto file = alice->m->queueFile("bob", path("toolarge.bin"), {}, &error);
    QVERIFY2(file > 0, qPrintable(error));
    r = alice->wait(alice->m->sendQueuedFile(file, &error));
    QVERIFY2(r.error.contains("too large"), qPrintable(r.error));
    QCOMPARE(alice->m->queuedFiles().size(), 1);
    alice->m->forgetFile(file);
    QVERIFY(alice->m->queuedFiles().isEmpty());

    // Bad input is refused at once.
    QCOMPARE(alice->m->sendFile("bob", path("missing.bin"), {}, &error), 0);
    QVERIFY(error.contains("cannot read"));
    QCOMPARE(alice->m->queueFile("bob", path("missing.bin"), {}, &error), 0);
    QVERIFY(error.contains("cannot read"));
    QVERIFY(alice->m->queuedFiles().isEmpty());
    QCOMPARE(bob->m->fetchAttachment(QByteArray(16, 'x'), path("."), &error), 0);

    // Cancel: reported once, nothing left behind.
    const auto id = alice->m->sendFile("bob", path("ok.bin"), {}, &error);
    alice->m->cancelTransfer(id);
    r = alice->wait(id);
    QCOMPARE(r.error, QString("cancelled"));
    QVERIFY(filesUnder(alice->dir + "/media-out").isEmpty());
    // A queued file's transfer cancelled: the user no longer wants it sent.
    const auto queued = alice->m->queueFile("bob", path("ok.bin"), {}, &error);
    const auto started = alice->m->sendQueuedFile(queued, &error);
    QVERIFY2(started > 0, qPrintable(error));
    alice->m->cancelTransfer(started);
    QCOMPARE(alice->wait(started).error, QString("cancelled"));
    QVERIFY(alice->m->queuedFiles().isEmpty());
  }
};

QTEST_GUILESS_MAIN(MediaTest)
#include "media_test.moc"
