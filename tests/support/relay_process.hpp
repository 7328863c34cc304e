#pragma once
// Starts the real parley-relay binary (PARLEY_RELAY_BIN) on 127.0.0.1 with a throwaway data
// directory, and reads the URL it prints. With PARLEY_TEST_POSTGRES set (a libpq connection
// string for a test cluster, scripts/test-postgres), its store is a database of its own made
// there instead of relay.db: the same tests then run against the multi-gateway store.
#include <QProcess>
#include <QStringList>
#include <QTemporaryDir>
#include <QUrl>

namespace parley::test {

class RelayProcess {
 public:
  explicit RelayProcess(QStringList extra_args = {});
  ~RelayProcess();

  // Starts (or restarts, on the same data directory) and waits for the listening line.
  bool start();
  // The options (beyond the defaults) for the next start().
  void setExtraArgs(QStringList extra_args) { extra_ = std::move(extra_args); }
  // Set in the environment of the next start(), beside the test's own (e.g. LD_PRELOAD).
  void setEnvironmentVariable(const QString& name, const QString& value);
  void kill9();                 // SIGKILL, then wait for the process to go
  // SIGTERM, then waits with this thread's event loop turning (its clients answer the
  // relay's close); returns the exit code (-1 if it had to be killed).
  int terminate();
  void signalTerm();            // SIGTERM without waiting
  // The exit code, or -1 if still running or killed by a signal. No event loop turns
  // meanwhile: this thread's clients hold the relay's drain as an unresponsive peer would.
  int waitExit(int timeout_ms);
  bool running() const { return process_.state() != QProcess::NotRunning; }

  QUrl url() const { return url_; }
  // The --postgres connection string of its store; empty when the store is relay.db.
  QString postgres() const { return postgres_; }
  QString dataDir() const { return dir_.path(); }
  qint64 pid() const { return process_.processId(); }
  qint64 rssKiB() const;        // VmRSS from /proc
  QByteArray stderrLog();       // everything the relay logged so far
  QByteArray httpGet(const QString& path);  // a plain GET on the relay's port

  // The store's files (relay.db and its WAL) copied into `dir` as they are now; false on any
  // failure. Taken while the relay idles or is stopped, the copy is what a crash or a power
  // cut at that moment would leave, or a backup.
  bool copyStoreTo(const QString& dir) const;
  // Replaces the store's files by the copy in `dir` (the relay stopped): the commits made
  // since the copy are gone, as a power cut or a restored backup takes them.
  bool restoreStoreFrom(const QString& dir);

 private:
  QTemporaryDir dir_;
  QStringList extra_;
  QString postgres_;
  QProcess process_;
  QUrl url_;
  QByteArray log_;

  bool waitTurningEvents(int timeout_ms);  // true once the process has ended
};

// With PARLEY_TEST_POSTGRES set (the test cluster), a new empty database there and the
// libpq connection string for it; "" if it could not be made (said why); a null string
// without the variable.
QString freshPostgresDatabase();

// The value of one un-labelled metric from the relay's /metrics, or -1.
double metric(RelayProcess& relay, const char* name);

// The relay run to its end with `args` (PARLEY_RELAY_BIN), for what it says and does before
// it serves: --help, a start-up error. `code` is -1 when it crashed, or was still running
// after timeout_ms and was killed. A sanitizer report in its stderr fails the test binary,
// as it does for a RelayProcess.
struct RelayRun {
  int code;
  QByteArray out;
  QByteArray err;
};
RelayRun runRelay(const QStringList& args, int timeout_ms = 10000);

}  // namespace parley::test
