#include "tray/desktop_notifier.hpp"

#include <QDBusMessage>
#include <QDBusPendingCallWatcher>
#include <QDBusPendingReply>
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
  // Asking starts a service the bus activates on demand.
  const auto call = QDBusMessage::createMethodCall(kService, kPath, kInterface,
                                                   QStringLiteral("GetCapabilities"));
  auto* watcher = new QDBusPendingCallWatcher(bus_.asyncCall(call), this);
  connect(watcher, &QDBusPendingCallWatcher::finished, this, [this](QDBusPendingCallWatcher* w) {
    w->deleteLater();
    const QDBusPendingReply<QStringList> caps = *w;
    if (caps.isError()) return;  // no service: the tray's balloon or the window's alert
    markup_ = caps.value().contains(QStringLiteral("body-markup"));
    actions_ = caps.value().contains(QStringLiteral("actions"));
    bus_.connect(kService, kPath, kInterface, QStringLiteral("ActionInvoked"), this,
                 SLOT(onActionInvoked(uint, QString)));
    bus_.connect(kService, kPath, kInterface, QStringLiteral("NotificationClosed"), this,
                 SLOT(onClosed(uint, uint)));
    available_ = true;
    emit availableChanged();
  });
}

QString DesktopNotifier::bodyFor(const QString& text) const {
  return markup_ ? text.toHtmlEscaped() : text;
}

bool DesktopNotifier::notify(const QString& peer, const QString& summary, const QString& body) {
  if (!available_) return false;
  auto& shown = shown_[peer];
  if (shown.waiting) {
    shown.next.emplace(summary, body);
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
            auto& s = shown_[peer];
            s.waiting = false;
            s.id = id.isError() ? 0 : id.value();
            if (auto next = std::exchange(s.next, std::nullopt)) {
              send(peer, next->first, next->second);
            } else if (s.id == 0) {
              shown_.remove(peer);
            }
          });
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
