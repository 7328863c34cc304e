#include "tray/tray.hpp"

#include <QApplication>
#include <QMenu>
#include <QPainter>
#include <QWidget>

#include "common/plural.hpp"
#include "theme/theme.hpp"
#ifdef PARLEY_DESKTOP_NOTIFIER
#include "tray/desktop_notifier.hpp"
#endif

namespace parley::app {

Tray::Tray(QWidget* window) : QObject(window), window_(window) {
#ifdef PARLEY_DESKTOP_NOTIFIER
  notifier_ = new DesktopNotifier(QDBusConnection::sessionBus(), this);
  connect(notifier_, &DesktopNotifier::clicked, this, &Tray::notificationClicked);
  connect(notifier_, &DesktopNotifier::unavailable, this,
          [this](const QString&, const QString& title, const QString& text) { showFallback(title, text); });
#endif
  if (QSystemTrayIcon::isSystemTrayAvailable()) {
    icon_ = new QSystemTrayIcon(badgeIcon(0), this);
    auto* menu = new QMenu(window);
    connect(menu->addAction(tr("Show Parley")), &QAction::triggered, this, [this] {
      if (!window_) return;
      window_->showNormal();
      window_->raise();
      window_->activateWindow();
    });
    menu->addSeparator();
    connect(menu->addAction(tr("Quit")), &QAction::triggered, this, &Tray::quitRequested);
    icon_->setContextMenu(menu);
    icon_->setToolTip(QStringLiteral("Parley"));
    connect(icon_, &QSystemTrayIcon::activated, this, [this](QSystemTrayIcon::ActivationReason r) {
      if (r != QSystemTrayIcon::Trigger || !window_) return;
      if (window_->isVisible() && window_->isActiveWindow()) {
        window_->hide();
      } else {
        window_->showNormal();
        window_->raise();
        window_->activateWindow();
      }
    });
    connect(icon_, &QSystemTrayIcon::messageClicked, this, [this] {
      if (!last_peer_.isEmpty()) emit notificationClicked(last_peer_);
    });
    icon_->show();
  }
}

QIcon Tray::badgeIcon(int unread) {
  QIcon base(QStringLiteral(":/parley/icons/parley.svg"));
  if (unread <= 0) return base;
  QIcon out;
  for (int size : {16, 22, 24, 32, 48, 64}) {
    QPixmap pm = base.pixmap(size, size);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    const QString n = unread > 99 ? QStringLiteral("99+") : QString::number(unread);
    QFont f = p.font();
    f.setBold(true);
    f.setPixelSize(std::max(7, size * 9 / 20));
    p.setFont(f);
    const int w = std::max(size * 11 / 20, QFontMetrics(f).horizontalAdvance(n) + size / 6);
    const QRect badge(size - w, 0, w, size * 11 / 20);
    p.setPen(Qt::NoPen);
    p.setBrush(QColor("#e5484d"));
    p.drawRoundedRect(badge, badge.height() / 2.0, badge.height() / 2.0);
    p.setPen(Qt::white);
    p.drawText(badge, Qt::AlignCenter, n);
    p.end();
    out.addPixmap(pm);
  }
  return out;
}

void Tray::setUnread(int unread) {
  if (unread == unread_) return;
  unread_ = unread;
  const auto icon = badgeIcon(unread);
  if (icon_) {
    icon_->setIcon(icon);
    icon_->setToolTip(unread > 0 ? tr("Parley — %1").arg(counted(unread, tr("unread message"), tr("unread messages")))
                                 : QStringLiteral("Parley"));
  }
  if (window_) window_->setWindowTitle(unread > 0 ? QStringLiteral("(%1) Parley").arg(unread) : QStringLiteral("Parley"));
}

void Tray::notify(const QString& peer, const QString& title, const QString& body, bool show_body) {
  // Message text goes to the desktop's notification service only with the user's consent.
  const QString text = show_body ? body : tr("New message");
  last_ = title + QStringLiteral(": ") + text;
  last_peer_ = peer;
#ifdef PARLEY_DESKTOP_NOTIFIER
  if (notifier_->notify(peer, title, text)) return;
#endif
  showFallback(title, text);
}

void Tray::withdraw(const QString& peer) {
  if (last_peer_ == peer) {
    last_.clear();
    last_peer_.clear();
  }
#ifdef PARLEY_DESKTOP_NOTIFIER
  notifier_->close(peer);
#endif
}

void Tray::showFallback(const QString& title, const QString& text) {
  if (icon_ && icon_->isVisible()) icon_->showMessage(title, text, QSystemTrayIcon::Information, 5000);
  else if (window_) QApplication::alert(window_);
}

}  // namespace parley::app
