#pragma once
// Desktop notifications through the freedesktop notification service
// (org.freedesktop.Notifications on the session bus), where there is one: Linux and BSD
// desktops. Qt's tray icon would also reach that service, but it passes the body as is, and
// a service that renders markup in bodies ("body-markup") would then render a message's
// text: a link to click, an image to fetch. Here the body is escaped whenever the service
// renders markup, and left as it is otherwise (escaped text on a plain-text service would
// show "&lt;"). The summary (the sender or the group's name) is plain text by the spec.
//
// One notification per conversation: a new message replaces the conversation's previous
// notification. While the service has not answered a conversation's last one, newer ones
// wait, the latest replacing the others, and go as its replacement once it has. Clicking a
// notification ("default" action) emits clicked(peer). Every call is asynchronous: a slow or
// stuck service never holds the GUI thread.
//
// Thread: the GUI thread.
#include <QDBusConnection>
#include <QHash>
#include <QObject>
#include <QString>
#include <optional>
#include <utility>

namespace parley::app {

class DesktopNotifier : public QObject {
  Q_OBJECT
 public:
  explicit DesktopNotifier(QDBusConnection bus = QDBusConnection::sessionBus(),
                           QObject* parent = nullptr);

  // True once the service has answered (the constructor asks it for its capabilities).
  bool available() const { return available_; }
  // Hands a notification to the service; false when there is none (use another way).
  bool notify(const QString& peer, const QString& summary, const QString& body);
  // The body as the service is given it.
  QString bodyFor(const QString& text) const;

 signals:
  void availableChanged();
  void clicked(const QString& peer);

 private slots:
  void onActionInvoked(uint id, const QString& action);
  void onClosed(uint id, uint reason);

 private:
  QDBusConnection bus_;
  bool available_ = false;
  bool markup_ = true;  // until the service says otherwise: escaping is the safe side
  bool actions_ = false;
  struct Shown {
    uint id = 0;           // the service's, once it answered; 0: none yet
    bool waiting = false;  // a Notify is unanswered
    std::optional<std::pair<QString, QString>> next;  // summary and body to show after it
  };
  void send(const QString& peer, const QString& summary, const QString& body);
  QHash<QString, Shown> shown_;  // by conversation
};

}  // namespace parley::app
