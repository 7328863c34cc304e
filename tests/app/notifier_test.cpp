// Desktop notifications through a freedesktop notification service (ui/tray/
// desktop_notifier.hpp), against a fake service on a private D-Bus daemon: a message's text
// is escaped for a service that renders markup and left alone for one that does not, one
// conversation's notifications replace each other, a click opens the conversation, and
// without a service nothing is handed over (the tray's balloon takes it).
#include <QtTest>

#include <QDBusConnection>
#include <QDBusConnectionInterface>
#include <QProcess>
#include <QSignalSpy>

#include "tray/desktop_notifier.hpp"

using parley::app::DesktopNotifier;

namespace {

constexpr int kWaitMs = 5000;

class FakeNotifications : public QObject {
  Q_OBJECT
  Q_CLASSINFO("D-Bus Interface", "org.freedesktop.Notifications")
 public:
  struct Shown {
    uint replaces;
    QString summary, body;
    QStringList actions;
    QVariantMap hints;
  };
  QStringList caps;
  QList<Shown> shown;
  uint next = 1;

 public slots:
  QStringList GetCapabilities() { return caps; }
  uint Notify(const QString&, uint replaces, const QString&, const QString& summary,
              const QString& body, const QStringList& actions, const QVariantMap& hints, int) {
    shown.append({replaces, summary, body, actions, hints});
    return replaces != 0 ? replaces : next++;
  }

 signals:
  void ActionInvoked(uint id, const QString& action_key);
  void NotificationClosed(uint id, uint reason);
};

}  // namespace

class NotifierTest : public QObject {
  Q_OBJECT
  QProcess daemon_;
  QString address_;
  FakeNotifications fake_;

 private slots:
  void initTestCase() {
    daemon_.start(QStringLiteral("dbus-daemon"),
                  {"--session", "--nofork", "--nopidfile", "--print-address=1"});
    QVERIFY2(daemon_.waitForStarted(kWaitMs), "dbus-daemon (package dbus-daemon) is needed");
    QVERIFY(QTest::qWaitFor([&] { return daemon_.canReadLine(); }, kWaitMs));
    address_ = QString::fromUtf8(daemon_.readLine()).trimmed();
    auto service = QDBusConnection::connectToBus(address_, QStringLiteral("service"));
    QVERIFY(service.isConnected());
    QVERIFY(service.registerObject(QStringLiteral("/org/freedesktop/Notifications"), &fake_,
                                   QDBusConnection::ExportAllSlots | QDBusConnection::ExportAllSignals));
    QVERIFY(service.registerService(QStringLiteral("org.freedesktop.Notifications")));
  }

  void cleanupTestCase() {
    QDBusConnection::disconnectFromBus(QStringLiteral("service"));
    QDBusConnection::disconnectFromBus(QStringLiteral("client"));
    daemon_.terminate();
    daemon_.waitForFinished(kWaitMs);
  }

  void aServiceThatRendersMarkupGetsTheTextEscaped() {
    fake_.caps = {"body", "body-markup", "actions"};
    fake_.shown.clear();
    DesktopNotifier n(QDBusConnection::connectToBus(address_, QStringLiteral("client")));
    QVERIFY(QTest::qWaitFor([&] { return n.available(); }, kWaitMs));
    const QString text = "<b>pay</b> & <a href=\"https://evil.example\">here</a><img src=\"x\">";
    QVERIFY(n.notify("bob", "<i>bob</i>", text));
    QVERIFY(QTest::qWaitFor([&] { return fake_.shown.size() == 1; }, kWaitMs));
    const auto& s = fake_.shown.first();
    QCOMPARE(s.body, QStringLiteral("&lt;b&gt;pay&lt;/b&gt; &amp; &lt;a href=&quot;https://evil.example"
                                    "&quot;&gt;here&lt;/a&gt;&lt;img src=&quot;x&quot;&gt;"));
    QCOMPARE(s.summary, QStringLiteral("<i>bob</i>"));  // plain text by the spec
    QCOMPARE(s.replaces, 0u);
    QCOMPARE(s.actions, (QStringList{"default", "Open"}));
    QCOMPARE(s.hints.value("category").toString(), QStringLiteral("im.received"));

    // The conversation's next messages replace its notification (those that come before the
    // service answered wait, the latest for all); another conversation's do not.
    QVERIFY(n.notify("bob", "bob", "second"));
    QVERIFY(n.notify("bob", "bob", "third"));
    QVERIFY(n.notify("carol", "carol", "hi"));
    QVERIFY(QTest::qWaitFor([&] { return fake_.shown.size() == 3; }, kWaitMs));
    QTest::qWait(200);
    QCOMPARE(fake_.shown.size(), 3);
    QCOMPARE(fake_.shown[1].summary, QStringLiteral("carol"));
    QCOMPARE(fake_.shown[1].replaces, 0u);
    QCOMPARE(fake_.shown[2].body, QStringLiteral("third"));
    QCOMPARE(fake_.shown[2].replaces, 1u);

    // A click on bob's opens his conversation; a closed one is forgotten.
    QSignalSpy clicked(&n, &DesktopNotifier::clicked);
    emit fake_.ActionInvoked(1, "default");
    QVERIFY(clicked.wait(kWaitMs));
    QCOMPARE(clicked.takeFirst().at(0).toString(), QStringLiteral("bob"));
    emit fake_.NotificationClosed(1, 2);
    QTest::qWait(300);
    QVERIFY(n.notify("bob", "bob", "fourth"));
    QVERIFY(QTest::qWaitFor([&] { return fake_.shown.size() == 4; }, kWaitMs));
    QCOMPARE(fake_.shown[3].replaces, 0u);
    QDBusConnection::disconnectFromBus(QStringLiteral("client"));
  }

  void aPlainTextServiceGetsTheTextAsItIs() {
    fake_.caps = {"body"};
    fake_.shown.clear();
    DesktopNotifier n(QDBusConnection::connectToBus(address_, QStringLiteral("client")));
    QVERIFY(QTest::qWaitFor([&] { return n.available(); }, kWaitMs));
    QVERIFY(n.notify("bob", "bob", "a < b & c"));
    QVERIFY(QTest::qWaitFor([&] { return fake_.shown.size() == 1; }, kWaitMs));
    QCOMPARE(fake_.shown.first().body, QStringLiteral("a < b & c"));
    QVERIFY(fake_.shown.first().actions.isEmpty());  // the service offers no actions
    QDBusConnection::disconnectFromBus(QStringLiteral("client"));
  }

  void withoutAServiceNothingIsHandedOver() {
    // A second bus with no notification service on it.
    QProcess other;
    other.start(QStringLiteral("dbus-daemon"),
                {"--session", "--nofork", "--nopidfile", "--print-address=1"});
    QVERIFY(other.waitForStarted(kWaitMs));
    QVERIFY(QTest::qWaitFor([&] { return other.canReadLine(); }, kWaitMs));
    const auto address = QString::fromUtf8(other.readLine()).trimmed();
    {
      DesktopNotifier n(QDBusConnection::connectToBus(address, QStringLiteral("empty")));
      QTest::qWait(500);
      QVERIFY(!n.available());
      QVERIFY(!n.notify("bob", "bob", "hi"));
      // Nor without a bus at all.
      DesktopNotifier none(QDBusConnection(QStringLiteral("not-connected")));
      QVERIFY(!none.notify("bob", "bob", "hi"));
    }
    QDBusConnection::disconnectFromBus(QStringLiteral("empty"));
    other.terminate();
    other.waitForFinished(kWaitMs);
  }
};

QTEST_GUILESS_MAIN(NotifierTest)
#include "notifier_test.moc"
