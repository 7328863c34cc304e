// parley-loadgen against a real relay, small and short: every scenario completes, its
// counts add up (all sent messages delivered, all connections held), and several worker
// processes merge into one table; and parley-pace prints its rows. Speed is not checked
// here; bench/run measures it.
#include <QProcess>
#include <QRegularExpression>
#include <QtTest>

#include "relay_process.hpp"

using parley::test::RelayProcess;

class LoadgenSmokeTest : public QObject {
  Q_OBJECT

  // Runs the load generator; returns its table rows (figure -> value) and checks it exited 0.
  static QMap<QString, double> runLoadgen(RelayProcess& relay, QStringList args) {
    QProcess p;
    p.setProcessChannelMode(QProcess::SeparateChannels);
    args << "--relay" << QStringLiteral("127.0.0.1:%1").arg(relay.url().port()) << "--relay-pid"
         << QString::number(relay.pid());
    args << "--timeout" << "45";
    p.start(qEnvironmentVariable("PARLEY_LOADGEN_BIN"), args);
    [&] { QVERIFY(p.waitForStarted(5000)); }();
    const bool finished = p.waitForFinished(60000);
    const auto out = QString::fromUtf8(p.readAllStandardOutput());
    const auto err = QString::fromUtf8(p.readAllStandardError());
    if (!finished) p.kill();
    [&] {
      QVERIFY2(finished, qPrintable("loadgen did not finish in 60 s:\n" + out + err));
      QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0,
               qPrintable("loadgen failed:\n" + out + err));
    }();
    QMap<QString, double> rows;
    static const QRegularExpression row(R"(^\| (.+) \| (-?[0-9.]+) \| (.+) \|$)",
                                        QRegularExpression::MultilineOption);
    for (auto it = row.globalMatch(out); it.hasNext();) {
      const auto m = it.next();
      rows.insert(m.captured(1), m.captured(2).toDouble());
    }
    return rows;
  }

  static bool has(const QMap<QString, double>& rows, const QString& suffix) {
    for (auto it = rows.begin(); it != rows.end(); ++it)
      if (it.key().endsWith(suffix)) return true;
    return false;
  }

  static double find(const QMap<QString, double>& rows, const QString& suffix) {
    for (auto it = rows.begin(); it != rows.end(); ++it)
      if (it.key().endsWith(suffix)) return it.value();
    return -1;
  }

 private slots:
  void initTestCase() {
    QVERIFY(!qEnvironmentVariable("PARLEY_LOADGEN_BIN").isEmpty());
    QVERIFY(!qEnvironmentVariable("PARLEY_PACE_BIN").isEmpty());
  }

  // bench/run's first rows: the machine's pace, three positive figures.
  void paceToolPrintsItsThreeRows() {
    QProcess p;
    p.start(qEnvironmentVariable("PARLEY_PACE_BIN"), {"--quick", "--rounds", "3"});
    QVERIFY(p.waitForFinished(30000));
    const auto out = QString::fromUtf8(p.readAllStandardOutput());
    QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0,
             qPrintable(out + QString::fromUtf8(p.readAllStandardError())));
    static const QRegularExpression row(R"(^\| machine pace: (.+) \| ([0-9.]+) \| (.+) \|$)",
                                        QRegularExpression::MultilineOption);
    QStringList figures;
    for (auto it = row.globalMatch(out); it.hasNext();) {
      const auto m = it.next();
      QVERIFY2(m.captured(2).toDouble() > 0, qPrintable(m.captured(0)));
      figures << m.captured(1);
    }
    QCOMPARE(figures.size(), 3);
    QVERIFY(figures[0].startsWith("integer loop"));
    QVERIFY(figures[1].startsWith("system call"));
    QVERIFY(figures[2].startsWith("loopback TCP round trip"));
    QProcess bad;
    bad.start(qEnvironmentVariable("PARLEY_PACE_BIN"), {"--rounds", "0"});
    QVERIFY(bad.waitForFinished(10000));
    QVERIFY(bad.exitCode() != 0);
    QVERIFY(QString::fromUtf8(bad.readAllStandardError()).contains("--rounds"));
  }

  void idleConnectionsAreHeldAcrossWorkers() {
    RelayProcess relay;
    QVERIFY(relay.start());
    const auto rows = runLoadgen(relay, {"--scenario", "idle", "--connections", "300",
                                         "--workers", "2", "--settle", "0.5"});
    QCOMPARE(find(rows, "authenticated connections held"), 300.0);
    QCOMPARE(find(rows, "failed or dropped"), 0.0);
    // Memory is reported (its size at 300 connections says little: freed memory is reused).
    QVERIFY(has(rows, "relay RSS per connection"));
  }

  void pairsDeliverEverythingClosedAndOpenLoop() {
    RelayProcess relay({"--durability", "normal", "--rate", "100000",
                        "--rate-burst", "100000"});
    QVERIFY(relay.start());
    auto rows = runLoadgen(relay, {"--scenario", "pairs", "--pairs", "40", "--workers", "2",
                                   "--warmup", "0.5", "--duration", "1.5"});
    QVERIFY(find(rows, ": delivered") > 0);
    QCOMPARE(find(rows, "errors, dropped connections"), 0.0);
    QCOMPARE(find(rows, "undelivered 10 s after the end"), 0.0);
    QVERIFY(find(rows, "latency p99") >= find(rows, "latency p50"));
    // What the window cost: the relay's and the two workers' CPU per message (a saturated
    // loop keeps both busy for 1.5 s: hundreds of 10 ms clock ticks), and the machine's share.
    QVERIFY(find(rows, "relay CPU per delivered message") > 0);
    QVERIFY(find(rows, "load generator CPU per delivered message") > 0);
    const double busy = find(rows, "machine CPU busy (all cores)");
    QVERIFY2(busy > 0 && busy <= 100, qPrintable(QString::number(busy)));
    rows = runLoadgen(relay, {"--scenario", "pairs", "--pairs", "40", "--rate", "400",
                              "--warmup", "0.5", "--duration", "1.5"});
    // 400 msgs/s offered: the loadgen paces its sends, so never much more arrives; the
    // lower bound is loose (a sanitizer build on a busy machine is slow), not a speed check.
    const double delivered = find(rows, ": delivered");
    QVERIFY2(delivered < 460 && delivered > 100, qPrintable(QString::number(delivered)));
    QCOMPARE(find(rows, "errors, dropped connections"), 0.0);
    QCOMPARE(find(rows, "undelivered 10 s after the end"), 0.0);
  }

  void replayDrainsEveryQueuedMessage() {
    RelayProcess relay({"--durability", "normal", "--rate", "100000",
                        "--rate-burst", "100000"});
    QVERIFY(relay.start());
    const auto rows = runLoadgen(relay, {"--scenario", "replay", "--messages", "2000"});
    QVERIFY(find(rows, ": drained") > 0);
    QVERIFY(find(rows, "relay peak RSS during the drain") > 0);
  }

  void fanoutReachesEveryMember() {
    RelayProcess relay({"--durability", "normal", "--group-rate", "10000",
                        "--group-rate-burst", "10000"});
    QVERIFY(relay.start());
    const auto rows = runLoadgen(relay, {"--scenario", "fanout", "--members", "60",
                                         "--group-messages", "10"});
    QVERIFY(find(rows, "member deliveries") > 0);
    QCOMPARE(find(rows, "deliveries missing, send errors"), 0.0);
    // The relay's own timing of the same acks, read from its /metrics before and after.
    QVERIFY(find(rows, "sender ack p50 inside the relay (its histogram)") > 0);
    QVERIFY(find(rows, "sender ack p99 inside the relay (its histogram)") > 0);
    // The same acks to the kernel's receive stamp: the stamps came through (an ack read
    // without one would be dated when it was read), and each came before its handling, so no
    // percentile of them can be the later.
    QVERIFY(find(rows, "sender acks whose read the kernel stamped") > 0);
    for (const char* q : {"p50", "p99"}) {
      const double arrival = find(rows, QStringLiteral("sender ack %1 to its arrival").arg(q));
      const double handled = find(rows, QStringLiteral("sender ack %1").arg(q));
      QVERIFY2(arrival > 0 && arrival <= handled, qPrintable(QStringLiteral("%1: %2 against %3")
                                                             .arg(q).arg(arrival).arg(handled)));
    }
    // Open loop: 20 GroupSends at 100/s take at least 0.19 s from the first to the last, so
    // the 59 members' 1,180 deliveries come at most ~6,200/s (closed, tens of thousands).
    const auto paced = runLoadgen(relay, {"--scenario", "fanout", "--members", "60",
                                          "--group-messages", "20", "--rate", "100"});
    QVERIFY(has(paced, "open loop 100 GroupSends/s offered): member deliveries"));
    const double rate = find(paced, "member deliveries");
    QVERIFY2(rate > 0 && rate < 6300, qPrintable(QString::number(rate)));
    QCOMPARE(find(paced, "deliveries missing, send errors"), 0.0);
    // What the fan-out cost, read at its first send and its last delivery (0.19 s at least:
    // tens of the machine's clock ticks; the processes' own may be few, so only >= 0).
    QVERIFY(find(paced, "relay CPU per member delivery") >= 0);
    QVERIFY(find(paced, "load generator CPU per member delivery") >= 0);
    const double busy = find(paced, "machine CPU busy (all cores)");
    QVERIFY2(busy >= 0 && busy <= 100, qPrintable(QString::number(busy)));
  }

  // Whole-file requests as the client makes them, then pieces: PATCHes continuing at the
  // relay's Upload-Offset and ranged GETs (206). Every ETag and downloaded byte is checked
  // by the loadgen itself; a mismatch fails the run.
  void mediaUploadsAndDownloadsEveryFile() {
    RelayProcess relay({"--durability", "normal"});
    QVERIFY(relay.start());
    for (const char* chunk : {"0", "70000"}) {
      const auto rows = runLoadgen(relay, {"--scenario", "media", "--workers", "2", "--media-transfers", "3",
                                           "--media-files", "2", "--media-bytes", "200000",
                                           "--media-chunk-bytes", chunk});
      QVERIFY2(find(rows, ": upload") > 0, chunk);
      QVERIFY2(find(rows, ": download") > 0, chunk);
      QVERIFY(find(rows, "download request (GET) p99") >= find(rows, "download request (GET) p50"));
      QCOMPARE(find(rows, "transfers not completed (uploads + downloads)"), 0.0);
    }
  }

  // A bad --relay is refused before anything starts, saying what to give; a typo must never
  // aim thousands of connections at another machine.
  void badRelayAddressIsRefusedWithWhatToGive() {
    const QList<QPair<QString, QString>> cases{
        {"localhost", "must be HOST:PORT"},
        {"127.0.0.1:abc", "port must be a number from 1 to 65535"},
        {"127.0.0.1:70000", "port must be a number from 1 to 65535"},
        {"relay.example:7700", "is not an IP address"},
        {"192.0.2.1:7700", "is not a loopback address"},
    };
    for (const auto& [relay, says] : cases) {
      QProcess p;
      p.start(qEnvironmentVariable("PARLEY_LOADGEN_BIN"),
              {"--scenario", "idle", "--connections", "1", "--relay", relay});
      QVERIFY(p.waitForFinished(10000));
      const auto err = QString::fromUtf8(p.readAllStandardError());
      QVERIFY2(p.exitCode() == 2,
               qPrintable(relay + ": exit " + QString::number(p.exitCode()) + "\n" + err));
      QVERIFY2(err.contains("--relay") && err.contains(says), qPrintable(relay + ": " + err));
    }
  }
};

QTEST_GUILESS_MAIN(LoadgenSmokeTest)
#include "loadgen_smoke_test.moc"
