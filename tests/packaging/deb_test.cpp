// The Debian packages as an administrator meets them: CPack makes `parley` and `parley-relay`
// from this build tree (stripped, dependencies from dpkg-shlibdeps); each is read back with
// dpkg-deb for its dependencies, files and maintainer scripts, then unpacked, and what it
// holds is run from there: the relay with the configuration the package ships (moved to a
// free loopback port and a temporary data folder), parley-cli for its help.
#include <QtTest>

#include <QDir>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>

namespace {

struct Run {
  int code = -1;
  QByteArray out;
  QByteArray err;
};

Run run(const QString& program, const QStringList& args, int timeout_ms = 60000) {
  QProcess p;
  p.start(program, args);
  Run r;
  if (!p.waitForStarted(10000)) {
    r.err = program.toUtf8() + " did not start";
    return r;
  }
  if (!p.waitForFinished(timeout_ms)) {
    p.kill();
    p.waitForFinished();
    r.err = program.toUtf8() + " did not finish in time";
    return r;
  }
  r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
  r.out = p.readAllStandardOutput();
  r.err = p.readAllStandardError();
  return r;
}

QString field(const QString& deb, const char* name) {
  return QString::fromUtf8(run("dpkg-deb", {"-f", deb, name}).out).trimmed();
}

QStringList contents(const QString& deb) {
  QStringList files;
  const auto listing = QString::fromUtf8(run("dpkg-deb", {"-c", deb}).out);
  for (const auto& line : listing.split('\n', Qt::SkipEmptyParts)) {
    const auto path = line.section(' ', -1);
    if (!path.endsWith('/')) files << path;  // files only, not the folders that hold them
  }
  return files;
}

// Names of the packages in a Depends field, without versions or alternatives' bars.
QStringList dependencyNames(const QString& depends) {
  QStringList names;
  for (const auto& part : depends.split(QRegularExpression("[,|]"), Qt::SkipEmptyParts))
    names << part.trimmed().section(' ', 0, 0);
  return names;
}

}  // namespace

class DebTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString relay_deb_;
  QString client_deb_;

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    const auto config = qEnvironmentVariable("PARLEY_CPACK_CONFIG");
    QVERIFY2(QFile::exists(config), "PARLEY_CPACK_CONFIG names no CPack configuration");
    const auto made = run("cpack", {"--config", config, "-G", "DEB", "-B", dir_.path()}, 240000);
    QVERIFY2(made.code == 0, made.out + made.err);
    const auto debs = QDir(dir_.path()).entryList({"*.deb"}, QDir::Files, QDir::Name);
    QCOMPARE(debs.size(), 2);
    for (const auto& deb : debs) {
      const auto path = dir_.filePath(deb);
      if (deb.startsWith("parley-relay_")) relay_deb_ = path;
      else if (deb.startsWith("parley_")) client_deb_ = path;
    }
    QVERIFY2(!relay_deb_.isEmpty() && !client_deb_.isEmpty(), qPrintable(debs.join(' ')));
  }

  void theRelayPackageHoldsTheRelayItsUnitAndItsConfiguration() {
    QCOMPARE(field(relay_deb_, "Package"), QString("parley-relay"));
    QVERIFY(!field(relay_deb_, "Version").isEmpty());
    const auto depends = dependencyNames(field(relay_deb_, "Depends"));
    for (const char* lib : {"libc6", "libsodium23", "libsqlite3-0", "libssl3", "libprotobuf-lite32"})
      QVERIFY2(depends.contains(lib), qPrintable(lib + QString(" not in ") + depends.join(", ")));
    for (const auto& d : depends) QVERIFY2(!d.startsWith("libqt"), qPrintable("the relay links no Qt: " + d));
    const auto files = contents(relay_deb_);
    QCOMPARE(files, QStringList({"./etc/parley/parley-relay.toml", "./usr/bin/parley-relay",
                                 "./usr/lib/systemd/system/parley-relay.service"}));

    // Maintainer scripts and conffiles, as dpkg will read them.
    const auto control = dir_.filePath("relay-control");
    QCOMPARE(run("dpkg-deb", {"-e", relay_deb_, control}).code, 0);
    QFile conffiles(control + "/conffiles");
    QVERIFY(conffiles.open(QIODevice::ReadOnly));
    QCOMPARE(conffiles.readAll(), QByteArray("/etc/parley/parley-relay.toml\n"));
    for (const char* script : {"postinst", "prerm", "postrm"}) {
      const QString path = control + "/" + script;
      QVERIFY2(QFileInfo(path).isExecutable(), script);
      const auto syntax = run("sh", {"-n", path});
      QVERIFY2(syntax.code == 0, syntax.err);
      // Where systemd is not running (a container, a chroot) they do nothing and succeed.
      QCOMPARE(run("sh", {path, "configure", ""}).code, 0);
    }

    // Unpacked: the unit starts what the package installed, with the configuration it ships,
    // and that relay starts with that configuration.
    const auto root = dir_.filePath("relay-root");
    QCOMPARE(run("dpkg-deb", {"-x", relay_deb_, root}).code, 0);
    QFile unit(root + "/usr/lib/systemd/system/parley-relay.service");
    QVERIFY(unit.open(QIODevice::ReadOnly));
    QVERIFY(unit.readAll().contains("\nExecStart=/usr/bin/parley-relay --config /etc/parley/parley-relay.toml\n"));
    QProcess relay;
    relay.start(root + "/usr/bin/parley-relay",
                {"--config", root + "/etc/parley/parley-relay.toml", "--listen", "127.0.0.1:0", "--data-dir",
                 dir_.filePath("relay-data")});
    QVERIFY(relay.waitForStarted(10000));
    QByteArray out;
    QDeadlineTimer deadline(15000);
    while (!out.contains("listening on ws://127.0.0.1:") && !deadline.hasExpired() &&
           relay.state() == QProcess::Running) {
      relay.waitForReadyRead(100);
      out += relay.readAllStandardOutput();
    }
    QVERIFY2(out.contains("listening on ws://127.0.0.1:"), out + relay.readAllStandardError());
    relay.terminate();  // SIGTERM: drains and exits 0
    QVERIFY(relay.waitForFinished(15000));
    QCOMPARE(relay.exitCode(), 0);
  }

  void theClientPackageHoldsTheAppAndTheCli() {
    QCOMPARE(field(client_deb_, "Package"), QString("parley"));
    const auto depends = dependencyNames(field(client_deb_, "Depends"));
    for (const char* lib : {"libqt6core6", "libqt6widgets6", "libqt6websockets6", "libqt6sql6", "libqt6sql6-sqlite",
                            "qt6-qpa-plugins", "libqt6svg6", "libsodium23", "libsqlite3-0"})
      QVERIFY2(depends.contains(lib), qPrintable(lib + QString(" not in ") + depends.join(", ")));
    QCOMPARE(contents(client_deb_),
             QStringList({"./usr/bin/parley", "./usr/bin/parley-cli", "./usr/share/applications/parley.desktop",
                          "./usr/share/icons/hicolor/scalable/apps/parley.svg"}));
    const auto root = dir_.filePath("client-root");
    QCOMPARE(run("dpkg-deb", {"-x", client_deb_, root}).code, 0);
    const auto help = run(root + "/usr/bin/parley-cli", {"--help"});
    QVERIFY2(help.code == 0 && help.out.contains("history"), help.out + help.err);
    QFile desktop(root + "/usr/share/applications/parley.desktop");
    QVERIFY(desktop.open(QIODevice::ReadOnly));
    QVERIFY(desktop.readAll().contains("\nExec=parley %U\n"));  // the binary the package installs on PATH
    const auto valid = run("desktop-file-validate", {desktop.fileName()});
    QVERIFY2(valid.code == 0 && valid.out.isEmpty(), valid.out + valid.err);  // warnings count too
  }
};

QTEST_GUILESS_MAIN(DebTest)
#include "deb_test.moc"
