#include "app_fixture.hpp"

#include <QApplication>
#include <QDialog>
#include <QDir>
#include <QPointer>
#include <QStandardPaths>
#include <QTimer>
#include <QtTest>

#include <memory>

#include "client_user.hpp"
#include "test_client.hpp"

namespace parley::test {

void isolateSettings(const QString& dir) {
  QDir().mkpath(dir + "/config");
  QDir().mkpath(dir + "/data");
  qputenv("XDG_CONFIG_HOME", QFile::encodeName(dir + "/config"));
  qputenv("XDG_DATA_HOME", QFile::encodeName(dir + "/data"));
  QCoreApplication::setApplicationName(QStringLiteral("parley-test"));
}

std::unique_ptr<client::Messenger> registerUser(const QUrl& relay, const QString& dir, const QString& name) {
  return registerClientUser(relay, dir, name, kGuiWaitMs);
}

QByteArray createGroup(client::Messenger* m, const QString& name, const QStringList& members) {
  // Shared with the callback, which may still come after a timeout.
  struct Answer {
    bool given = false;
    QByteArray gid;
    QString error = QStringLiteral("no answer from the relay");
  };
  auto answer = std::make_shared<Answer>();
  m->createGroup(name, members, [answer](const QByteArray& id, const QString& e) {
    *answer = {true, id, e};
  });
  if (!spinUntil([&] { return answer->given; }, kGuiWaitMs) || !answer->error.isEmpty()) {
    qWarning("could not create group %s: %s", qPrintable(name), qPrintable(answer->error));
    return {};
  }
  return answer->gid;
}

void screenshot(QWidget* w, const QString& name) {
  const auto dir = qEnvironmentVariable("PARLEY_SCREENSHOT_DIR");
  if (dir.isEmpty()) return;
  QDir().mkpath(dir);
  QCoreApplication::processEvents();
  QVERIFY(w->grab().save(dir + "/" + name + ".png"));
}

void onNextDialog(const std::function<void(QWidget*)>& action) {
  // Polls: exec() opens the dialog inside its own event loop, after this returns.
  auto* timer = new QTimer(qApp);
  timer->setInterval(20);
  auto polls = std::make_shared<int>(0);
  QObject::connect(timer, &QTimer::timeout, qApp, [timer, action, polls] {
    // No dialog within the wait: give up, so `action` (which may refer to the caller's
    // stack) never runs after the caller returned.
    if (++*polls > kGuiWaitMs / 20) {
      timer->stop();
      timer->deleteLater();
      return;
    }
    if (auto* d = QApplication::activeModalWidget()) {
      timer->stop();
      timer->deleteLater();
      QPointer<QWidget> alive(d);
      action(d);
      // A failed check returns early from `action`: never leave exec() waiting forever.
      if (auto* dialog = qobject_cast<QDialog*>(alive.data()); dialog && dialog->isVisible()) dialog->reject();
    }
  });
  timer->start();
}

}  // namespace parley::test
