// Desktop app benchmark: start-up to an interactive main window with a profile holding
// 100,000 messages in one conversation, the app's resident memory then, and the time to open
// that conversation. A plain Qt program: it starts the real parley-relay on 127.0.0.1,
// registers alice and bob through the client core, writes 100,000 messages (bodies of 20 to
// 200 characters, both directions, all numbered) into alice's store the way the receive path
// stores them, then runs the real `parley` binary on that profile N times with
// PARLEY_STARTUP_PROBE=1 (client/app/startup_probe.hpp) and prints medians.
//
// Usage: parley_app_bench [--messages N] [--runs N] [--scroll-pages N]
// Environment: PARLEY_RELAY_BIN, PARLEY_APP_BIN (default: the ones built alongside);
// QT_QPA_PLATFORM (default offscreen; set it and DISPLAY to measure on a real X server).
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QElapsedTimer>
#include <QProcess>
#include <QRandomGenerator>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <vector>

#include "client_user.hpp"
#include "messenger.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"
#include "sealed_db.hpp"

using namespace parley;

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// As messenger_receive.cpp / messenger_send.cpp leave them: a message row (the FTS trigger
// indexes it), its conv_seq in seen_seqs, the conversation's activity.
bool write_history(const QString& db_path, const QString& me, const QString& peer, int count) {
  bool ok = false;
  {
    auto db = parley::test::sealedDatabase(db_path, "bench-fill");
    db.setConnectOptions("QSQLITE_BUSY_TIMEOUT=5000;QSQLITE_OPEN_URI");  // the messenger may be committing
    ok = db.open() && db.transaction();
    QSqlQuery m(db), s(db);
    ok = ok && m.prepare("INSERT INTO messages(peer, sender, client_msg_id, conv_seq, body, status,"
                         " client_ts_ms, server_ts_ms, received_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)") &&
         s.prepare("INSERT OR IGNORE INTO seen_seqs(peer, conv_seq) VALUES(?, ?)");
    static const QString words[] = {"lunch", "tomorrow", "the", "build", "is", "green", "again", "see",
                                    "you", "at", "noon", "ok", "thanks", "sounds", "good", "meeting"};
    auto* rng = QRandomGenerator::global();
    const qint64 start = QDateTime::currentMSecsSinceEpoch() - qint64(count) * 60'000;
    for (int i = 1; ok && i <= count; ++i) {
      QString body;
      const int target = 20 + static_cast<int>(rng->bounded(181));
      while (body.size() < target) body += words[rng->bounded(16)] + QLatin1Char(' ');
      const bool mine = rng->bounded(2) == 0;
      QByteArray id(16, '\0');
      for (auto& c : id) c = static_cast<char>(rng->bounded(256));
      const qint64 ts = start + qint64(i) * 60'000;
      m.addBindValue(peer);
      m.addBindValue(mine ? me : peer);
      m.addBindValue(id);
      m.addBindValue(i);
      m.addBindValue(body.trimmed());
      m.addBindValue(mine ? 3 : 11);
      m.addBindValue(ts);
      m.addBindValue(ts);
      m.addBindValue(ts);
      s.addBindValue(peer);
      s.addBindValue(i);
      ok = m.exec() && s.exec();
      if (!ok) std::fprintf(stderr, "fill: %s %s\n", qPrintable(m.lastError().text()), qPrintable(s.lastError().text()));
    }
    QSqlQuery c(db);
    ok = ok && c.exec(QStringLiteral("INSERT INTO conversations(peer, last_activity_ms, unread) VALUES('%1', %2, 0)"
                                     " ON CONFLICT(peer) DO UPDATE SET last_activity_ms = excluded.last_activity_ms")
                          .arg(peer)
                          .arg(start + qint64(count) * 60'000)) &&
         db.commit();
    db.close();
  }
  QSqlDatabase::removeDatabase("bench-fill");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  int messages = 100'000, runs = 5, scroll_pages = 0;
  const auto args = app.arguments();
  for (int i = 1; i + 1 < args.size(); i += 2) {
    if (args[i] == "--messages") messages = args[i + 1].toInt();
    else if (args[i] == "--runs") runs = args[i + 1].toInt();
    else if (args[i] == "--scroll-pages") scroll_pages = args[i + 1].toInt();
  }
  QString app_bin = qEnvironmentVariable("PARLEY_APP_BIN", QStringLiteral(PARLEY_APP_BIN_DEFAULT));
  if (qEnvironmentVariableIsEmpty("PARLEY_RELAY_BIN")) qputenv("PARLEY_RELAY_BIN", PARLEY_RELAY_BIN_DEFAULT);

  QTemporaryDir home;
  test::RelayProcess relay;
  if (!home.isValid() || !relay.start()) return 1;
  const auto alice_dir = home.filePath("alice");
  {
    auto alice = test::registerClientUser(relay.url(), alice_dir, "alice");
    auto bob = test::registerClientUser(relay.url(), home.filePath("bob"), "bob");
    if (!alice || !bob) return 1;
    alice->stop();
    bob->stop();
  }
  QElapsedTimer fill;
  fill.start();
  if (!write_history(alice_dir + "/parley.db", "alice", "bob", messages)) return 1;
  std::printf("profile: %d messages with bob written in %.1f s; parley.db %.1f MB\n", messages,
              fill.elapsed() / 1000.0, QFileInfo(alice_dir + "/parley.db").size() / 1e6);

  std::vector<double> wall, ready, rss, open, rss_open;
  int rows = 0;
  for (int run = 0; run < runs; ++run) {
    QProcess p;
    auto env = QProcessEnvironment::systemEnvironment();
    if (!env.contains("QT_QPA_PLATFORM")) env.insert("QT_QPA_PLATFORM", "offscreen");
    env.insert("PARLEY_STARTUP_PROBE", "1");
    env.insert("PARLEY_PROBE_OPEN", "bob");
    if (scroll_pages > 0) env.insert("PARLEY_PROBE_SCROLL_PAGES", QString::number(scroll_pages));
    env.insert("XDG_CONFIG_HOME", home.filePath("config"));  // no remembered geometry or profile
    env.insert("XDG_DATA_HOME", home.filePath("data"));
    p.setProcessEnvironment(env);
    p.setProcessChannelMode(QProcess::SeparateChannels);
    QElapsedTimer t;
    t.start();
    p.start(app_bin, {"--profile", alice_dir});
    std::map<QString, double> got;
    double ready_wall = -1;
    while (p.state() != QProcess::NotRunning || p.bytesAvailable()) {
      p.waitForReadyRead(100);
      while (p.canReadLine()) {
        const auto line = QString::fromUtf8(p.readLine()).trimmed().split(' ');
        if (line.size() != 2) continue;
        if (line[0] == "ready_ms") ready_wall = static_cast<double>(t.elapsed());
        got[line[0]] = line[1].toDouble();
      }
      if (t.elapsed() > 60000) {
        p.kill();
        break;
      }
    }
    p.waitForFinished(10000);
    if (!got.count("open_ms")) {
      std::fprintf(stderr, "run %d: no probe output; stderr: %s\n", run, p.readAllStandardError().constData());
      return 1;
    }
    wall.push_back(ready_wall);
    ready.push_back(got["ready_ms"]);
    rss.push_back(got["rss_kib"] / 1024.0);
    open.push_back(got["open_ms"]);
    rss_open.push_back(got["rss_after_open_kib"] / 1024.0);
    rows = static_cast<int>(got["rows_loaded"]);
    std::printf("run %d: interactive %.0f ms after spawn (%.0f ms after main()), %.1f MB; "
                "open %d-message conversation %.1f ms (%d rows loaded), %.1f MB\n",
                run + 1, ready_wall, got["ready_ms"], rss.back(), messages, open.back(), rows, rss_open.back());
    if (got.count("scroll_pages"))
      std::printf("  scrolled up %.0f pages: per page median %.1f ms, max %.1f ms, last %.1f ms; %.0f rows loaded, %.1f MB\n",
                  got["scroll_pages"], got["scroll_page_median_ms"], got["scroll_page_max_ms"],
                  got["scroll_last_page_ms"], got["rows_after_scroll"], got["rss_after_scroll_kib"] / 1024.0);
  }
  std::printf("\nmedians of %d runs (%s platform):\n", runs,
              qPrintable(qEnvironmentVariable("QT_QPA_PLATFORM", "offscreen")));
  std::printf("  start to interactive window : %.0f ms (spawn to ready), %.0f ms (from main())\n", median(wall),
              median(ready));
  std::printf("  resident memory then        : %.1f MB\n", median(rss));
  std::printf("  open the %d-message chat : %.1f ms, resident memory after: %.1f MB\n", messages, median(open),
              median(rss_open));
  return 0;
}
