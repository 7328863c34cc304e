#include "relay_process.hpp"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QNetworkProxy>
#include <QRegularExpression>
#include <QTcpSocket>
#include <QtTest>

namespace parley::test {

RelayProcess::RelayProcess(QStringList extra_args) : extra_(std::move(extra_args)) {
  process_.setProcessChannelMode(QProcess::SeparateChannels);
}

namespace {

// What a sanitizer prints when it finds something; a run without sanitizers prints none.
// LeakSanitizer's tracer crashing at exit (google/sanitizers#1353) is the runtime's fault,
// not a finding, so it is not among them.
bool has_sanitizer_report(const QByteArray& log) {
  return log.contains("ERROR: AddressSanitizer") || log.contains("LeakSanitizer: detected") ||
         log.contains("WARNING: ThreadSanitizer") || log.contains(": runtime error: ");
}

}  // namespace

// Every relay a test starts is stopped as an operator stops it, and the exit is checked:
// the shutdown path (drain, store flush, the threads' teardown) is where use-after-scope
// and leaks hide, and a SIGKILL would hide them. The event loop keeps turning meanwhile so
// this thread's clients answer the relay's closing handshake instead of holding the drain.
RelayProcess::~RelayProcess() {
  bool stopped_here = false;
  if (process_.state() != QProcess::NotRunning) {
    process_.terminate();
    if (!waitTurningEvents(15000)) {
      // Its drain gives up after 5 s: a relay still running at 15 s hangs at exit.
      kill9();
      qFatal("the relay did not stop within 15 s of SIGTERM; its log ends:\n%s",
             log_.right(12000).constData());
    }
    stopped_here = true;
  }
  // A relay that ended earlier (a test's kill, or a crash) may have said why since.
  log_ += process_.readAllStandardError();
  bool bad_exit = stopped_here && (process_.exitStatus() != QProcess::NormalExit ||
                                   process_.exitCode() != 0);
  if (bad_exit && !has_sanitizer_report(log_) && log_.contains("Tracer caught signal") &&
      log_.contains("LeakSanitizer has encountered a fatal error")) {
    qWarning("the relay's LeakSanitizer tracer crashed at exit (google/sanitizers#1353)");
    bad_exit = false;
  }
  if (bad_exit || has_sanitizer_report(log_))
    qFatal("the relay %s; its log ends:\n%s",
           bad_exit ? "did not exit cleanly on SIGTERM" : "reported a sanitizer finding",
           log_.right(12000).constData());
}

QString freshPostgresDatabase() {
  const QString cluster = qEnvironmentVariable("PARLEY_TEST_POSTGRES");
  if (cluster.isEmpty()) return {};
  static int made = 0;
  const QString name = QStringLiteral("parley_%1_%2").arg(QCoreApplication::applicationPid()).arg(++made);
  QProcess psql;
  psql.start("psql", {cluster, "-qAtc", "CREATE DATABASE " + name});
  if (!psql.waitForFinished(30000) || psql.exitStatus() != QProcess::NormalExit ||
      psql.exitCode() != 0) {
    qWarning("cannot make a test database on PARLEY_TEST_POSTGRES (%s): %s", qPrintable(cluster),
             psql.readAllStandardError().constData());
    return QStringLiteral("");
  }
  return cluster + " dbname=" + name;
}

bool RelayProcess::start() {
  const QString bin = qEnvironmentVariable("PARLEY_RELAY_BIN");
  if (bin.isEmpty()) {
    qWarning("PARLEY_RELAY_BIN is not set");
    return false;
  }
  // Reuse the port across restarts so clients reconnect to the same URL.
  const QString listen =
      url_.isValid() ? QStringLiteral("127.0.0.1:%1").arg(url_.port()) : "127.0.0.1:0";
  QStringList args{"--listen", listen, "--data-dir", dir_.path(), "--threads", "2",
                   "--log-level", "debug"};
  // A test that names its own store (several gateways on one database) keeps it.
  if (postgres_.isEmpty() && !extra_.contains("--postgres") &&
      !(postgres_ = freshPostgresDatabase()).isNull() && postgres_.isEmpty())
    return false;
  if (!postgres_.isEmpty()) args += {"--postgres", postgres_};
  args += extra_;
  process_.start(bin, args);
  if (!process_.waitForStarted(5000)) return false;
  QElapsedTimer t;
  t.start();
  QByteArray out;
  static const QRegularExpression re(R"(listening on (wss?://[0-9.]+:\d+))");
  while (t.elapsed() < 10000) {
    if (!process_.waitForReadyRead(200) && process_.state() == QProcess::NotRunning) break;
    out += process_.readAllStandardOutput();
    auto m = re.match(QString::fromUtf8(out));
    if (m.hasMatch()) {
      url_ = QUrl(m.captured(1));
      return true;
    }
  }
  log_ += process_.readAllStandardError();
  qWarning("relay did not start: %s %s", out.constData(), log_.constData());
  return false;
}

void RelayProcess::setEnvironmentVariable(const QString& name, const QString& value) {
  auto env = process_.processEnvironment();
  if (env.isEmpty()) env = QProcessEnvironment::systemEnvironment();
  env.insert(name, value);
  process_.setProcessEnvironment(env);
}

void RelayProcess::kill9() {
  process_.kill();
  process_.waitForFinished(5000);
  log_ += process_.readAllStandardError();
}

// The clients of this thread answer the relay's close while it drains: a client left open
// would otherwise hold every stop for the drain's whole 5 s.
bool RelayProcess::waitTurningEvents(int timeout_ms) {
  QElapsedTimer t;
  t.start();
  while (process_.state() != QProcess::NotRunning && t.elapsed() < timeout_ms) {
    if (QCoreApplication::instance()) QCoreApplication::processEvents();
    process_.waitForFinished(20);
  }
  return process_.state() == QProcess::NotRunning;
}

int RelayProcess::terminate() {
  process_.terminate();
  if (!waitTurningEvents(10000)) {
    kill9();
    return -1;
  }
  log_ += process_.readAllStandardError();
  return process_.exitStatus() == QProcess::NormalExit ? process_.exitCode() : -1;
}

void RelayProcess::signalTerm() { process_.terminate(); }

int RelayProcess::waitExit(int timeout_ms) {
  if (!process_.waitForFinished(timeout_ms)) return -1;
  log_ += process_.readAllStandardError();
  return process_.exitStatus() == QProcess::NormalExit ? process_.exitCode() : -1;
}

qint64 RelayProcess::rssKiB() const {
  QFile f(QStringLiteral("/proc/%1/status").arg(process_.processId()));
  if (!f.open(QIODevice::ReadOnly)) return -1;
  for (const auto& line : f.readAll().split('\n')) {
    if (line.startsWith("VmRSS:")) return line.mid(6).trimmed().split(' ').first().toLongLong();
  }
  return -1;
}

QByteArray RelayProcess::stderrLog() {
  log_ += process_.readAllStandardError();
  return log_;
}

QByteArray RelayProcess::httpGet(const QString& path) {
  QTcpSocket s;
  s.setProxy(QNetworkProxy::NoProxy);
  s.connectToHost("127.0.0.1", static_cast<quint16>(url_.port()));
  if (!s.waitForConnected(3000)) return {};
  s.write(QStringLiteral("GET %1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
              .arg(path)
              .toUtf8());
  QByteArray all;
  while (s.waitForReadyRead(3000)) all += s.readAll();
  return all;
}

double metric(RelayProcess& relay, const char* name) {
  const auto body = relay.httpGet("/metrics");
  const QByteArray prefix = QByteArray(name) + ' ';
  for (const auto& line : body.split('\n'))
    if (line.startsWith(prefix)) return line.mid(prefix.size()).trimmed().toDouble();
  return -1;
}

namespace {
bool copy_store(const QDir& from, const QDir& to) {
  for (const auto& name : from.entryList({"relay.db", "relay.db-wal"}, QDir::Files))
    if (!QFile::copy(from.filePath(name), to.filePath(name))) return false;
  return true;
}
}  // namespace

bool RelayProcess::copyStoreTo(const QString& dir) const {
  return copy_store(QDir(dir_.path()), QDir(dir));
}

bool RelayProcess::restoreStoreFrom(const QString& dir) {
  QDir data(dir_.path());
  for (const auto& name : data.entryList({"relay.db*"}, QDir::Files))
    if (!data.remove(name)) return false;
  return copy_store(QDir(dir), data);
}

RelayRun runRelay(const QStringList& args, int timeout_ms) {
  QProcess p;
  p.start(qEnvironmentVariable("PARLEY_RELAY_BIN"), args);
  if (!p.waitForFinished(timeout_ms)) {
    p.kill();
    p.waitForFinished();
    return {-1, p.readAllStandardOutput(), p.readAllStandardError()};
  }
  RelayRun run{p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
               p.readAllStandardOutput(), p.readAllStandardError()};
  if (has_sanitizer_report(run.err))
    qFatal("the relay (%s) reported a sanitizer finding; its log ends:\n%s",
           qPrintable(args.join(' ')), run.err.right(12000).constData());
  return run;
}

}  // namespace parley::test
