#pragma once
// The system tray icon with the unread count drawn on it, and desktop notifications for
// messages in conversations the user is not looking at. The body appears only when the
// "show message text in notifications" setting is on; otherwise only who wrote.
//
// Where the desktop has a freedesktop notification service, notifications go there
// (desktop_notifier.hpp: the body escaped for services that render markup); otherwise
// through the tray icon's balloon, and without a system tray (some desktops, Xvfb) to the
// window manager's attention hint.
//
// Thread: the GUI thread.
#include <QIcon>
#include <QObject>
#include <QPointer>
#include <QSystemTrayIcon>

class QWidget;

namespace parley::app {

class DesktopNotifier;

class Tray : public QObject {
  Q_OBJECT
 public:
  explicit Tray(QWidget* window);

  void setUnread(int unread);
  int unread() const { return unread_; }
  void notify(const QString& peer, const QString& title, const QString& body, bool show_body);
  // `peer`'s notification is taken back (its message was): off the screen where the
  // notification service can do that, and out of lastNotification.
  void withdraw(const QString& peer);
  // The last notification's text, for tests and for the tray tooltip.
  QString lastNotification() const { return last_; }
  static QIcon badgeIcon(int unread);

 signals:
  void notificationClicked(const QString& peer);
  void quitRequested();

 private:
  // The tray icon's balloon, or the window's attention hint: where there is no
  // notification service (the balloon then shows plain text).
  void showFallback(const QString& title, const QString& text);

  QPointer<QWidget> window_;
  QSystemTrayIcon* icon_ = nullptr;
  DesktopNotifier* notifier_ = nullptr;  // null where there is no D-Bus
  int unread_ = 0;
  QString last_;
  QString last_peer_;
};

}  // namespace parley::app
