// Desktop notifications through a freedesktop notification service (ui/tray/
// desktop_notifier.hpp), against a fake service on a private dbus-daemon (its own minimal
// configuration, so no real notification daemon is activated): a message's text is escaped
// for a service that renders markup and left alone for one that does not, and never handed
// to a service whose capabilities are not known yet; one conversation's notifications replace
// each other; a click opens the conversation; a service that starts later, or restarts, is
// asked again; without one, nothing is handed over (the tray's balloon takes it).
#include <QtTest>

#include <QDBusConnection>
#include <QDBusContext>
#include <QDBusMessage>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>

#include "tray/desktop_notifier.hpp"

using parley::app::DesktopNotifier;

namespace {

constexpr int kWaitMs = 5000;
const QString kService = QStringLiteral("org.freedesktop.Notifications");
const QString kPath = QStringLiteral("/org/freedesktop/Notifications");

class FakeNotifications : public QObject, protected QDBusContext {
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
  QList<uint> closed;  // CloseNotification calls
  uint next = 1;
  bool hold = false;  // answer only at release()
  QList<QDBusMessage> held;

  void release() {
    for (const auto& r : std::exchange(held, {})) QDBusConnection(QStringLiteral("service")).send(r);
  }

 public slots:
  QStringList GetCapabilities() {
    if (hold) {
      setDelayedReply(true);
      held.append(message().createReply(QVariant::fromValue(caps)));
    }
    return caps;
  }
  uint Notify(const QString&, uint replaces, const QString&, const QString& summary,
              const QString& body, const QStringList& actions, const QVariantMap& hints, int) {
    shown.append({replaces, summary, body, actions, hints});
    const uint id = replaces != 0 ? replaces : next++;
    if (hold) {
      setDelayedReply(true);
      held.append(message().createReply(QVariant::fromValue(id)));
    }
    return id;
  }

  void CloseNotification(uint id) { closed.append(id); }

 signals:
  void ActionInvoked(uint id, const QString& action_key);
  void NotificationClosed(uint id, uint reason);
};

// A dbus-daemon of our own: only what this test registers is on it.
struct PrivateBus {
  QTemporaryDir dir;
  QProcess process;
  QString address;
  bool start() {
    const auto config = dir.filePath("bus.conf");
    QFile f(config);
    if (!f.open(QIODevice::WriteOnly)) return false;
    f.write(QStringLiteral(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\""
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">"
                "<busconfig><type>session</type><listen>unix:tmpdir=%1</listen><auth>EXTERNAL</auth>"
                "<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
                "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>")
                .arg(dir.path())
                .toUtf8());
    f.close();
    process.start(QStringLiteral("dbus-daemon"),
                  {"--config-file=" + config, "--nofork", "--nopidfile", "--print-address=1"});
    if (!process.waitForStarted(kWaitMs)) return false;
    if (!QTest::qWaitFor([&] { return process.canReadLine(); }, kWaitMs)) return false;
    address = QString::fromUtf8(process.readLine()).trimmed();
    return !address.isEmpty();
  }
  ~PrivateBus() {
    process.terminate();
    process.waitForFinished(kWaitMs);
  }
};

}  // namespace

class NotifierTest : public QObject {
  Q_OBJECT
  PrivateBus bus_;
  FakeNotifications fake_;
  int clients_ = 0;

  QDBusConnection service() { return QDBusConnection(QStringLiteral("service")); }
  QDBusConnection newClient() {
    return QDBusConnection::connectToBus(bus_.address, QStringLiteral("client%1").arg(++clients_));
  }

 private slots:
  void initTestCase() {
    QVERIFY2(bus_.start(), "dbus-daemon (Debian package dbus-daemon) is needed");
    auto s = QDBusConnection::connectToBus(bus_.address, QStringLiteral("service"));
    QVERIFY(s.isConnected());
    QVERIFY(s.registerObject(kPath, &fake_,
                             QDBusConnection::ExportAllSlots | QDBusConnection::ExportAllSignals));
    QVERIFY(s.registerService(kService));
  }

  void init() {
    fake_.shown.clear();
    fake_.closed.clear();
    fake_.next = 1;
    fake_.hold = false;
    fake_.held.clear();
  }

  void aServiceThatRendersMarkupGetsTheTextEscaped() {
    fake_.caps = {"body", "body-markup", "actions"};
    DesktopNotifier n(newClient());
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
  }

  void aConversationsNotificationsReplaceEachOther() {
    fake_.caps = {"body", "actions"};
    DesktopNotifier n(newClient());
    QVERIFY(QTest::qWaitFor([&] { return n.available(); }, kWaitMs));
    fake_.hold = true;  // the service has not answered the first one yet...
    QVERIFY(n.notify("bob", "bob", "first"));
    QVERIFY(QTest::qWaitFor([&] { return fake_.shown.size() == 1; }, kWaitMs));
    QVERIFY(n.notify("bob", "bob", "second"));  // ...so these wait, the latest for both
    QVERIFY(n.notify("bob", "bob", "third"));
    QVERIFY(n.notify("carol", "carol", "hi"));  // another conversation does not
    QVERIFY(QTest::qWaitFor([&] { return fake_.shown.size() == 2; }, kWaitMs));
    QCOMPARE(fake_.shown[1].summary, QStringLiteral("carol"));
    QCOMPARE(fake_.shown[1].replaces, 0u);
    fake_.hold = false;
    fake_.release();
    QVERIFY(QTest::qWaitFor([&] { return fake_.shown.size() == 3; }, kWaitMs));
    QCOMPARE(fake_.shown[2].body, QStringLiteral("third"));
    QCOMPARE(fake_.shown[2].replaces, 1u);
    QVERIFY(QTest::qWaitFor([&] { return n.showing("bob") && n.showing("carol"); }, kWaitMs));

    // A click on bob's opens his conversation; a closed one is forgotten.
    QSignalSpy clicked(&n, &DesktopNotifier::clicked);
    emit fake_.ActionInvoked(1, "default");
    QVERIFY(clicked.wait(kWaitMs));
    QCOMPARE(clicked.takeFirst().at(0).toString(), QStringLiteral("bob"));
    emit fake_.NotificationClosed(1, 2);
    QVERIFY(QTest::qWaitFor([&] { return !n.showing("bob"); }, kWaitMs));
    QVERIFY(n.notify("bob", "bob", "fourth"));
    QVERIFY(QTest::qWaitFor([&] { return fake_.shown.size() == 4; }, kWaitMs));
    QCOMPARE(fake_.shown[3].replaces, 0u);
  }

  // A message taken back takes its notification with it: at once when it shows, once the
  // service has answered when it is on its way, and not at all when a newer one replaced it.
  void aNotificationTakenBackIsClosed() {
    fake_.caps = {"body"};
    DesktopNotifier n(newClient());
    QVERIFY(QTest::qWaitFor([&] { return n.available(); }, kWaitMs));
    QVERIFY(n.notify("bob", "bob", "the code is 4711"));
    QVERIFY(QTest::qWaitFor([&] { return n.showing("bob"); }, kWaitMs));
    n.close("bob");
    QVERIFY(QTest::qWaitFor([&] { return fake_.closed.size() == 1; }, kWaitMs));
    QCOMPARE(fake_.closed.first(), 1u);
    QVERIFY(!n.showing("bob"));
    n.close("bob");  // nothing left to close
    n.close("nobody");

    fake_.hold = true;
    QVERIFY(n.notify("carol", "carol", "meet at the back door"));
    QVERIFY(QTest::qWaitFor([&] { return fake_.held.size() == 1; }, kWaitMs));
    n.close("carol");
    fake_.hold = false;
    fake_.release();
    QVERIFY(QTest::qWaitFor([&] { return fake_.closed.size() == 2; }, kWaitMs));
    QCOMPARE(fake_.closed.last(), 2u);

    fake_.hold = true;
    QVERIFY(n.notify("dan", "dan", "first"));
    QVERIFY(QTest::qWaitFor([&] { return fake_.held.size() == 1; }, kWaitMs));
    n.close("dan");
    QVERIFY(n.notify("dan", "dan", "a newer message"));  // replaces rather than closes
    fake_.hold = false;
    fake_.release();
    QVERIFY(QTest::qWaitFor([&] { return fake_.shown.size() == 4; }, kWaitMs));
    QCOMPARE(fake_.shown.last().body, QStringLiteral("a newer message"));
    QCOMPARE(fake_.shown.last().replaces, 3u);
    QTest::qWait(100);
    QCOMPARE(fake_.closed.size(), 2);
    QVERIFY(n.showing("dan"));
  }

  void aPlainTextServiceGetsTheTextAsItIs() {
    fake_.caps = {"body"};
    DesktopNotifier n(newClient());
    QVERIFY(QTest::qWaitFor([&] { return n.available(); }, kWaitMs));
    QVERIFY(n.notify("bob", "bob", "a < b & c"));
    QVERIFY(QTest::qWaitFor([&] { return fake_.shown.size() == 1; }, kWaitMs));
    QCOMPARE(fake_.shown.first().body, QStringLiteral("a < b & c"));
    QVERIFY(fake_.shown.first().actions.isEmpty());  // the service offers no actions
  }

  // Until the service has said what it renders, nothing is handed to it.
  void notificationsWaitForTheServicesCapabilities() {
    fake_.caps = {"body", "body-markup"};
    fake_.hold = true;
    DesktopNotifier n(newClient());
    QVERIFY(QTest::qWaitFor([&] { return fake_.held.size() == 1; }, kWaitMs));
    QVERIFY(!n.available());
    QVERIFY(n.notify("bob", "bob", "<b>early</b>"));
    QTest::qWait(100);
    QVERIFY(fake_.shown.isEmpty());
    fake_.hold = false;
    fake_.release();
    QVERIFY(QTest::qWaitFor([&] { return fake_.shown.size() == 1; }, kWaitMs));
    QCOMPARE(fake_.shown.first().body, QStringLiteral("&lt;b&gt;early&lt;/b&gt;"));
  }

  // A service that comes later, or again, is asked again; while there is none, nothing is
  // taken, and what was waiting for an answer goes to unavailable().
  void aServiceThatComesLaterIsAskedAgain() {
    QVERIFY(service().unregisterService(kService));
    DesktopNotifier n(newClient());
    QSignalSpy unavailable(&n, &DesktopNotifier::unavailable);
    QVERIFY(n.notify("bob", "bob", "while asking"));  // taken while the question is out
    QVERIFY(unavailable.wait(kWaitMs));
    QCOMPARE(unavailable.takeFirst().at(2).toString(), QStringLiteral("while asking"));
    QVERIFY(!n.available());
    QVERIFY(!n.notify("bob", "bob", "none"));

    fake_.caps = {"body", "body-markup"};
    QVERIFY(service().registerService(kService));
    QVERIFY(QTest::qWaitFor([&] { return n.available(); }, kWaitMs));
    QVERIFY(n.notify("bob", "bob", "<i>now</i>"));
    QVERIFY(QTest::qWaitFor([&] { return fake_.shown.size() == 1; }, kWaitMs));
    QCOMPARE(fake_.shown.first().body, QStringLiteral("&lt;i&gt;now&lt;/i&gt;"));

    // Restarted as a plain-text service: asked again, so the text is no longer escaped.
    QVERIFY(service().unregisterService(kService));
    QVERIFY(QTest::qWaitFor([&] { return !n.available(); }, kWaitMs));
    fake_.caps = {"body"};
    QVERIFY(service().registerService(kService));
    QVERIFY(QTest::qWaitFor([&] { return n.available(); }, kWaitMs));
    QVERIFY(n.notify("bob", "bob", "<i>plain</i>"));
    QVERIFY(QTest::qWaitFor([&] { return fake_.shown.size() == 2; }, kWaitMs));
    QCOMPARE(fake_.shown[1].body, QStringLiteral("<i>plain</i>"));
    QCOMPARE(fake_.shown[1].replaces, 0u);  // the old service's ids mean nothing to it
  }

  void withoutABusNothingIsTaken() {
    DesktopNotifier none(QDBusConnection(QStringLiteral("not-connected")));
    QVERIFY(!none.available());
    QVERIFY(!none.notify("bob", "bob", "hi"));
  }
};

QTEST_GUILESS_MAIN(NotifierTest)
#include "notifier_test.moc"
