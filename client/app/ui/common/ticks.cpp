#include "common/ticks.hpp"

#include <QPainter>
#include <QPainterPath>

#include "messenger.hpp"
#include "theme/theme.hpp"

namespace parley::app {

namespace {

void draw_check(QPainter& p, QPointF at, qreal s) {
  QPainterPath path;
  path.moveTo(at + QPointF(0, s * 0.5));
  path.lineTo(at + QPointF(s * 0.35, s * 0.85));
  path.lineTo(at + QPointF(s, s * 0.1));
  p.drawPath(path);
}

}  // namespace

void paintTicks(QPainter& p, const QRect& r, int status, const QColor& color) {
  const auto& t = Theme::current();
  p.save();
  p.setRenderHint(QPainter::Antialiasing);
  p.setBrush(Qt::NoBrush);
  const qreal s = 8;
  const QPointF at(r.left() + 2, r.center().y() - s / 2);
  switch (static_cast<client::MessageStatus>(status)) {
    case client::MessageStatus::Queued: {
      p.setPen(QPen(color, 1.3));
      const QPointF c(r.left() + 8, r.center().y() + 0.5);
      p.drawEllipse(c, 5, 5);
      p.drawLine(c, c + QPointF(0, -3));
      p.drawLine(c, c + QPointF(2.5, 0));
      break;
    }
    case client::MessageStatus::Sent:
      p.setPen(QPen(color, 1.6, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
      draw_check(p, at + QPointF(3, 0), s);
      break;
    case client::MessageStatus::Delivered:
    case client::MessageStatus::Read: {
      const bool read = status == static_cast<int>(client::MessageStatus::Read);
      p.setPen(QPen(read ? t.readTick : color, 1.6, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
      draw_check(p, at, s);
      draw_check(p, at + QPointF(5, 0), s);
      break;
    }
    case client::MessageStatus::Failed: {
      p.setPen(Qt::NoPen);
      p.setBrush(t.error);
      const QPointF c(r.left() + 8, r.center().y() + 0.5);
      p.drawEllipse(c, 6, 6);
      p.setPen(QPen(Qt::white, 1.6, Qt::SolidLine, Qt::RoundCap));
      p.drawLine(c + QPointF(0, -3), c + QPointF(0, 0.8));
      p.drawPoint(c + QPointF(0, 3));
      break;
    }
    default: break;
  }
  p.restore();
}

}  // namespace parley::app
