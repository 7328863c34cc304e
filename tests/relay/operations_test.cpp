// The relay as an operator meets it: flags, config file, TLS, clear start-up errors.
#include <QtTest>

#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;
using namespace parley::test;

class OperationsTest : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private slots:
  void helpListsTheFlags() {
    auto r = runRelay({"--help"});
    QCOMPARE(r.code, 0);
    for (const char* flag : {"--listen", "--data-dir", "--config", "--tls-cert", "--tls-key"})
      QVERIFY2(r.out.contains(flag), flag);
  }

  void badFlagsExplainThemselves() {
    auto r = runRelay({"--listen", "nonsense"});
    QCOMPARE(r.code, 2);
    QVERIFY((r.out + r.err).contains("HOST:PORT"));
    r = runRelay({"--durability", "sometimes"});
    QCOMPARE(r.code, 2);
    r = runRelay({"--tls-cert", "/etc/hostname"});
    QCOMPARE(r.code, 2);
    QVERIFY((r.out + r.err).contains("both or neither"));
  }

  void portInUseIsAClearError() {
    RelayProcess first;
    QVERIFY(first.start());
    auto r = runRelay({"--listen", QStringLiteral("127.0.0.1:%1").arg(first.url().port()),
                       "--data-dir", tmp_.filePath("second")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("cannot listen"), r.err.constData());
  }

  void unusableDataDirIsAClearError() {
    QFile blocker(tmp_.filePath("a-file"));
    QVERIFY(blocker.open(QIODevice::WriteOnly));
    blocker.close();
    auto r = runRelay({"--listen", "127.0.0.1:0", "--data-dir", tmp_.filePath("a-file/sub")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("data directory"), r.err.constData());
  }

  void configFileIsRead() {
    const QString conf = tmp_.filePath("relay.toml");
    QFile f(conf);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("listen = \"127.0.0.1:0\"\nlog-level = \"warn\"\ndata-dir = \"" +
            tmp_.filePath("conf-data").toUtf8() + "\"\n");
    f.close();
    QProcess p;
    p.start(qEnvironmentVariable("PARLEY_RELAY_BIN"), {"--config", conf});
    QVERIFY(p.waitForReadyRead(5000));
    const auto line = p.readAllStandardOutput();
    QVERIFY2(line.contains("listening on ws://127.0.0.1:"), line.constData());
    QVERIFY(line.contains("conf-data"));
    p.terminate();
    QVERIFY(p.waitForFinished(5000));
    const auto err = p.readAllStandardError();
    QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, err.constData());
    // log-level=warn: the info-level start line is not there.
    QVERIFY(!err.contains("event=started"));
  }

  // A stop that lands while start-up work (the first maintenance round's media sweep on the
  // disk thread) is still queued: that work must not outlive what it uses. A staging folder
  // full of names the sweep skips keeps its first slice busy, so the stop lands inside it;
  // the relay that freed the sweep's state too early failed here under AddressSanitizer.
  void aStopRightAfterStartIsClean() {
    const QString data = tmp_.filePath("quick");
    QVERIFY(QDir().mkpath(data + "/media/staging"));
    for (int i = 0; i < 3000; ++i) {
      QFile f(data + QString("/media/staging/not-ours-%1").arg(i));
      QVERIFY(f.open(QIODevice::WriteOnly));
    }
    for (int i = 0; i < 10; ++i) {
      QProcess p;
      p.start(qEnvironmentVariable("PARLEY_RELAY_BIN"),
              {"--listen", "127.0.0.1:0", "--data-dir", data});
      QVERIFY(p.waitForReadyRead(10000));
      p.terminate();
      QVERIFY(p.waitForFinished(10000));
      const auto err = p.readAllStandardError();
      QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, err.constData());
    }
  }

  void tlsServesWss() {
    const QString cert = tmp_.filePath("cert.pem"), key = tmp_.filePath("key.pem");
    QProcess openssl;
    openssl.start("openssl", {"req", "-x509", "-newkey", "ec", "-pkeyopt",
                              "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                              "/CN=127.0.0.1", "-keyout", key, "-out", cert});
    QVERIFY(openssl.waitForFinished(20000));
    QCOMPARE(openssl.exitCode(), 0);

    RelayProcess relay({"--tls-cert", cert, "--tls-key", key});
    QVERIFY(relay.start());
    QCOMPARE(relay.url().scheme(), QString("wss"));
    TestClient c("tls-user");
    // A self-signed certificate: trust exactly this one.
    QSslConfiguration ssl = QSslConfiguration::defaultConfiguration();
    ssl.setCaCertificates(QSslCertificate::fromPath(cert));
    ssl.setPeerVerifyMode(QSslSocket::VerifyNone);
    c.setSslConfiguration(ssl);
    QVERIFY(c.connect(relay.url()));
    auto r = c.registerAccount();
    QVERIFY(r && r->has_registered());
    // Plain ws:// to a TLS port gets nowhere.
    TestClient plain("plain-user");
    QUrl ws = relay.url();
    ws.setScheme("ws");
    QVERIFY(!plain.connect(ws));
  }
};

QTEST_GUILESS_MAIN(OperationsTest)
#include "operations_test.moc"
