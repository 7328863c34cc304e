// Attachment throughput on loopback: encrypt+upload (Messenger::sendFile, from the call until
// the relay has stored and hashed the last byte) and download+decrypt
// (Messenger::fetchAttachment, until the verified plaintext is renamed into place), for one
// file of --mib MiB (default 200), --reps times (default 3). A plain Qt program, like the
// relay group bench: it starts the real parley-relay on 127.0.0.1 with a fresh data
// directory and two profiles under a temporary directory, and prints MiB/s (of the file's
// size) per run and the median. Run it through bench/run-media.sh.
//
// Environment: PARLEY_RELAY_BIN (defaults to the parley-relay built alongside), TMPDIR.
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QRandomGenerator>
#include <QTemporaryDir>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "messenger.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley::client;
using parley::test::RelayProcess;
using parley::test::spinUntil;

namespace {

[[noreturn]] void fail(const QString& what) {
  std::fprintf(stderr, "media_bench: %s\n", qPrintable(what));
  std::exit(1);
}

std::unique_ptr<Messenger> registered(const QString& dir, const QUrl& url, const QString& name) {
  std::unique_ptr<Messenger> out;
  bool done = false;
  Messenger::registerProfile(dir, url, name, [&](std::unique_ptr<Messenger> m, QString error, int) {
    if (!m) fail("register: " + error);
    out = std::move(m);
    done = true;
  });
  if (!spinUntil([&] { return done; }, 30000)) fail("register timed out");
  out->start();
  if (!spinUntil([&] { return out->state() == RelayClient::State::Online; }, 30000))
    fail("did not get online");
  return out;
}

// Runs transfer `id` of `m` to its end; the message id and path, or exits on failure.
std::pair<QByteArray, QString> finish(Messenger& m, qint64 id) {
  bool done = false;
  QString error, path;
  QByteArray msg;
  auto ok = QObject::connect(&m, &Messenger::transferFinished,
                             [&](qint64 t, const QByteArray& which, const QString& p) {
                               if (t != id) return;
                               msg = which;
                               path = p;
                               done = true;
                             });
  auto bad = QObject::connect(&m, &Messenger::transferFailed, [&](qint64 t, const QString& e) {
    if (t != id) return;
    error = e;
    done = true;
  });
  spinUntil([&] { return done; }, 600000);
  QObject::disconnect(ok);
  QObject::disconnect(bad);
  if (!done) fail("transfer timed out");
  if (!error.isEmpty()) fail("transfer failed: " + error);
  return {msg, path};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  int mib = 200, reps = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (QByteArray(argv[i]) == "--mib") mib = std::atoi(argv[i + 1]);
    else if (QByteArray(argv[i]) == "--reps") reps = std::atoi(argv[i + 1]);
    else fail(QStringLiteral("usage: parley_media_bench [--mib N] [--reps N]"));
  }
  if (mib < 1 || reps < 1) fail("--mib and --reps must be positive");
#ifdef PARLEY_RELAY_BIN_DEFAULT
  if (qEnvironmentVariableIsEmpty("PARLEY_RELAY_BIN")) qputenv("PARLEY_RELAY_BIN", PARLEY_RELAY_BIN_DEFAULT);
#endif
  QTemporaryDir home;
  if (!home.isValid()) fail("no temporary directory");
  const qint64 limit = static_cast<qint64>(mib + 16) << 20;
  RelayProcess relay({"--media-max-bytes", QString::number(limit), "--media-quota-bytes",
                      QString::number(limit * (reps + 1))});
  if (!relay.start()) fail("relay did not start");
  auto alice = registered(home.filePath("alice"), relay.url(), "alice");
  auto bob = registered(home.filePath("bob"), relay.url(), "bob");

  // Random content: incompressible, like most media.
  const auto source = home.filePath("file.bin");
  {
    QFile f(source);
    if (!f.open(QIODevice::WriteOnly)) fail("cannot write the test file");
    QByteArray chunk(1 << 20, Qt::Uninitialized);
    for (int i = 0; i < mib; ++i) {
      QRandomGenerator::global()->fillRange(reinterpret_cast<quint32*>(chunk.data()), chunk.size() / 4);
      f.write(chunk);
    }
  }
  std::printf("attachment throughput, %d MiB file, loopback, %d runs (MiB/s of the file)\n", mib, reps);
  std::printf("%-4s %22s %22s\n", "run", "encrypt+upload", "download+decrypt");
  std::vector<double> up, down;
  for (int r = 1; r <= reps; ++r) {
    QString error;
    QElapsedTimer t;
    t.start();
    const auto sent = finish(*alice, alice->sendFile("bob", source, {}, &error));
    const double up_s = t.nsecsElapsed() / 1e9;
    // Wait until Bob has the message (not timed), then fetch.
    if (!spinUntil([&] { return bob->attachment(sent.first).has_value(); }, 60000)) fail("message not received");
    const auto dir = home.filePath(QStringLiteral("down%1").arg(r));
    QDir().mkpath(dir);
    t.restart();
    const auto got = finish(*bob, bob->fetchAttachment(sent.first, dir, &error));
    const double down_s = t.nsecsElapsed() / 1e9;
    if (QFileInfo(got.second).size() != static_cast<qint64>(mib) << 20) fail("wrong size downloaded");
    QFile::remove(got.second);
    up.push_back(mib / up_s);
    down.push_back(mib / down_s);
    std::printf("%-4d %15.1f (%5.2f s) %15.1f (%5.2f s)\n", r, up.back(), up_s, down.back(), down_s);
  }
  std::printf("%-4s %22.1f %22.1f\n", "med", median(up), median(down));
  return 0;
}
