#include "tray/desktop_notifier.hpp"

#include <QDBusMessage>
#include <QDBusPendingCallWatcher>
#include <QDBusPendingReply>
#include <QDBusServiceWatcher>
#include <QVariantMap>

namespace parley::app {
namespace {

const QString kService = QStringLiteral("org.freedesktop.Notifications");
const QString kPath = QStringLiteral("/org/freedesktop/Notifications");
const QString kInterface = QStringLiteral("org.freedesktop.Notifications");

}  // namespace

DesktopNotifier::DesktopNotifier(QDBusConnection bus, QObject* parent)
    : QObject(parent), bus_(std::move(bus)) {
  if (!bus_.isConnected()) return;
  bus_.connect(kService, kPath, kInterface, QStringLiteral("ActionInvoked"), this,
               SLOT(onActionInvoked(uint, QString)));
  bus_.connect(kService, kPath, kInterface, QStringLiteral("NotificationClosed"), this,
               SLOT(onClosed(uint, uint)));
  // A service started after us, or restarted, may do otherwise than the one asked: ask again.
  watcher_ = new QDBusServiceWatcher(kService, bus_, QDBusServiceWatcher::WatchForOwnerChange, this);
  connect(watcher_, &QDBusServiceWatcher::serviceOwnerChanged, this,
          [this](const QString&, const QString&, const QString& owner) {
            shown_.clear();  // its ids were the old service's
            if (owner.isEmpty()) {
              service_ = Service::Absent;
            } else {
              askCapabilities();
            }
          });
  askCapabilities();
}

void DesktopNotifier::askCapabilities() {
  service_ = Service::Unknown;
  const int asked = ++asking_;
  // Asking starts a service the bus activates on demand.
  const auto call = QDBusMessage::createMethodCall(kService, kPath, kInterface,
                                                   QStringLiteral("GetCapabilities"));
  auto* watcher = new QDBusPendingCallWatcher(bus_.asyncCall(call), this);
  connect(watcher, &QDBusPendingCallWatcher::finished, this, [this, asked](QDBusPendingCallWatcher* w) {
    w->deleteLater();
    if (asked != asking_) return;  // a newer owner is being asked
    const QDBusPendingReply<QStringList> caps = *w;
    auto held = std::exchange(held_, {});
    if (caps.isError()) {
      service_ = Service::Absent;
      for (auto it = held.cbegin(); it != held.cend(); ++it)
        emit unavailable(it.key(), it.value().first, it.value().second);
      return;
    }
    markup_ = caps.value().contains(QStringLiteral("body-markup"));
    actions_ = caps.value().contains(QStringLiteral("actions"));
    service_ = Service::Present;
    for (auto it = held.cbegin(); it != held.cend(); ++it)
      notify(it.key(), it.value().first, it.value().second);
  });
}

QString DesktopNotifier::bodyFor(const QString& text) const {
  return markup_ ? text.toHtmlEscaped() : text;
}

bool DesktopNotifier::notify(const QString& peer, const QString& summary, const QString& body) {
  switch (service_) {
    case Service::Absent: return false;
    case Service::Unknown: held_.insert(peer, {summary, body}); return true;
    case Service::Present: break;
  }
  auto& shown = shown_[peer];
  if (shown.waiting) {
    shown.next.emplace(summary, body);
    shown.close = false;  // replaced rather than closed
    return true;
  }
  send(peer, summary, body);
  return true;
}

void DesktopNotifier::send(const QString& peer, const QString& summary, const QString& body) {
  auto& shown = shown_[peer];
  shown.waiting = true;
  QVariantMap hints;
  hints.insert(QStringLiteral("category"), QStringLiteral("im.received"));
  hints.insert(QStringLiteral("desktop-entry"), QStringLiteral("parley"));
  QStringList actions;
  if (actions_) actions << QStringLiteral("default") << tr("Open");
  auto call = QDBusMessage::createMethodCall(kService, kPath, kInterface, QStringLiteral("Notify"));
  call << QStringLiteral("Parley") << shown.id << QStringLiteral("parley") << summary
       << bodyFor(body) << actions << hints << -1;
  auto* watcher = new QDBusPendingCallWatcher(bus_.asyncCall(call), this);
  connect(watcher, &QDBusPendingCallWatcher::finished, this,
          [this, peer](QDBusPendingCallWatcher* w) {
            w->deleteLater();
            const QDBusPendingReply<uint> id = *w;
            const auto it = shown_.find(peer);
            if (it == shown_.end()) return;  // the service changed hands meanwhile
            it->waiting = false;
            it->id = id.isError() ? 0 : id.value();
            if (it->close) {
              closeNow(it->id);
              shown_.erase(it);
            } else if (auto next = std::exchange(it->next, std::nullopt)) {
              notify(peer, next->first, next->second);
            } else if (it->id == 0) {
              shown_.erase(it);
            }
          });
}

void DesktopNotifier::close(const QString& peer) {
  held_.remove(peer);
  const auto it = shown_.find(peer);
  if (it == shown_.end()) return;
  it->next.reset();
  if (it->waiting) {
    it->close = true;
    return;
  }
  closeNow(it->id);
  shown_.erase(it);
}

void DesktopNotifier::closeNow(uint id) {
  if (id == 0) return;
  auto call = QDBusMessage::createMethodCall(kService, kPath, kInterface, QStringLiteral("CloseNotification"));
  call << id;
  bus_.asyncCall(call);  // nothing to do with the answer: closed, or already gone
}

void DesktopNotifier::onActionInvoked(uint id, const QString& action) {
  if (action != QStringLiteral("default") || id == 0) return;
  for (auto it = shown_.cbegin(); it != shown_.cend(); ++it)
    if (it.value().id == id) return emit clicked(it.key());
}

void DesktopNotifier::onClosed(uint id, uint) {
  if (id == 0) return;
  for (auto it = shown_.begin(); it != shown_.end(); ++it) {
    if (it.value().id == id) {
      if (it.value().waiting) {
        it.value().id = 0;  // its replacement is on the way: that one shows anew
      } else {
        shown_.erase(it);
      }
      return;
    }
  }
}

}  // namespace parley::app
