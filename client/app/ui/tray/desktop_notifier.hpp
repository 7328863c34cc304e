#pragma once
// Desktop notifications through the freedesktop notification service
// (org.freedesktop.Notifications on the session bus), where there is one: Linux and BSD
// desktops. Qt's tray icon would also reach that service, but it passes the body as is, and
// a service that renders markup in bodies ("body-markup") would then render a message's
// text: a link to click, an image to fetch. Here the body is escaped whenever the service
// renders markup, and left as it is otherwise (escaped text on a plain-text service would
// show "&lt;"). The summary (the sender or the group's name) is plain text by the spec.
//
// The service is asked for its capabilities at start and again whenever it changes hands
// (started late, restarted). Until it has answered, notifications wait; if there turns out
// to be none, they go to unavailable() for another way to show them. Neither path ever
// hands the text to a service whose capabilities are unknown.
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

class QDBusServiceWatcher;

namespace parley::app {

class DesktopNotifier : public QObject {
  Q_OBJECT
 public:
  explicit DesktopNotifier(QDBusConnection bus = QDBusConnection::sessionBus(),
                           QObject* parent = nullptr);

  // The service has answered and is there.
  bool available() const { return service_ == Service::Present; }
  // Takes a notification; false when there is no service (show it another way now).
  bool notify(const QString& peer, const QString& summary, const QString& body);
  // Takes `peer`'s notification off the screen (its message was taken back); one the
  // service has not answered yet is closed as soon as it has, unless a newer one replaces it.
  void close(const QString& peer);
  // The body as the service is given it.
  QString bodyFor(const QString& text) const;
  // A notification of `peer` is on screen as far as we know (tests).
  bool showing(const QString& peer) const { return shown_.value(peer).id != 0; }

 signals:
  void clicked(const QString& peer);
  // Taken while the service was being asked, and there turned out to be none.
  void unavailable(const QString& peer, const QString& summary, const QString& body);

 private slots:
  void onActionInvoked(uint id, const QString& action);
  void onClosed(uint id, uint reason);

 private:
  enum class Service { Unknown, Present, Absent };
  struct Shown {
    uint id = 0;           // the service's, once it answered; 0: none yet
    bool waiting = false;  // a Notify is unanswered
    std::optional<std::pair<QString, QString>> next;  // summary and body to show after it
    bool close = false;    // taken back while the Notify was unanswered
  };
  void closeNow(uint id);
  void askCapabilities();
  void send(const QString& peer, const QString& summary, const QString& body);

  QDBusConnection bus_;
  QDBusServiceWatcher* watcher_ = nullptr;
  Service service_ = Service::Absent;
  int asking_ = 0;       // GetCapabilities calls made; only the latest answer counts
  bool markup_ = true;   // until the service says otherwise: escaping is the safe side
  bool actions_ = false;
  QHash<QString, Shown> shown_;  // by conversation
  // Taken while the service was Unknown: the latest of each conversation.
  QHash<QString, std::pair<QString, QString>> held_;
};

}  // namespace parley::app
