#include "conversation/jump_button.hpp"

#include <QPainter>
#include <QPainterPath>

#include "common/plural.hpp"
#include "theme/theme.hpp"

namespace parley::app {

JumpButton::JumpButton(QWidget* parent) : QAbstractButton(parent) {
  setObjectName(QStringLiteral("jumpToLatest"));
  setCursor(Qt::PointingHandCursor);
  // The list keeps the keyboard (End goes down there); this is for the pointer.
  setFocusPolicy(Qt::NoFocus);
  setToolTip(tr("Go to the latest message"));
  setAccessibleName(tr("Go to the latest message"));
  resize(sizeHint());
}

void JumpButton::setCount(int count) {
  if (count == count_) return;
  count_ = count;
  setAccessibleDescription(count > 0 ? counted(count, tr("new message"), tr("new messages")) : QString());
  update();
}

void JumpButton::paintEvent(QPaintEvent*) {
  const auto& t = Theme::current();
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  const QRectF circle(0.5, kBadgeRise + 0.5, kSize - 1, kSize - 1);
  p.setPen(QPen(t.separator, 1));
  p.setBrush(isDown() ? t.panel : t.window);
  p.drawEllipse(circle);
  // A chevron pointing down.
  QPainterPath chevron;
  const QPointF c = circle.center();
  chevron.moveTo(c + QPointF(-7, -3));
  chevron.lineTo(c + QPointF(0, 4));
  chevron.lineTo(c + QPointF(7, -3));
  p.setPen(QPen(t.muted, 2, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
  p.setBrush(Qt::NoBrush);
  p.drawPath(chevron);
  if (count_ <= 0) return;
  QFont f = font();
  f.setBold(true);
  f.setPointSizeF(f.pointSizeF() * 0.8);
  p.setFont(f);
  const QString n = count_ > 99 ? QStringLiteral("99+") : QString::number(count_);
  const int w = std::max(20, QFontMetrics(f).horizontalAdvance(n) + 10);
  const QRectF badge((kSize - w) / 2.0, 0, w, 20);
  p.setPen(Qt::NoPen);
  p.setBrush(t.badge);
  p.drawRoundedRect(badge, 10, 10);
  p.setPen(t.badgeText);
  p.drawText(badge, Qt::AlignCenter, n);
}

}  // namespace parley::app
