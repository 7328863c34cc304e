#include "conversations/row_marks.hpp"

#include <QPainter>
#include <QPainterPath>

namespace parley::app {

void paintMutedMark(QPainter& p, const QRect& r, const QColor& color, const QColor& behind) {
  p.save();
  p.setRenderHint(QPainter::Antialiasing);
  p.translate(r.center().x() - 7.0 + 0.5, r.center().y() - 7.0 + 0.5);
  QPainterPath bell;
  bell.moveTo(2.5, 10.5);
  bell.quadTo(4.0, 9.0, 4.0, 6.5);
  bell.cubicTo(4.0, 2.0, 10.0, 2.0, 10.0, 6.5);
  bell.quadTo(10.0, 9.0, 11.5, 10.5);
  bell.closeSubpath();
  p.setPen(Qt::NoPen);
  p.setBrush(color);
  p.drawPath(bell);
  p.drawEllipse(QPointF(7.0, 11.6), 1.5, 1.3);
  p.drawEllipse(QPointF(7.0, 2.2), 0.9, 0.9);
  p.setBrush(Qt::NoBrush);
  p.setPen(QPen(behind, 3.2, Qt::SolidLine, Qt::RoundCap));
  p.drawLine(QPointF(1.5, 1.5), QPointF(12.5, 12.5));
  p.setPen(QPen(color, 1.4, Qt::SolidLine, Qt::RoundCap));
  p.drawLine(QPointF(1.5, 1.5), QPointF(12.5, 12.5));
  p.restore();
}

void paintPinnedMark(QPainter& p, const QRect& r, const QColor& color) {
  p.save();
  p.setRenderHint(QPainter::Antialiasing);
  p.translate(QRectF(r).center());
  p.rotate(45);
  p.setPen(Qt::NoPen);
  p.setBrush(color);
  p.drawRoundedRect(QRectF(-2.6, -6.5, 5.2, 2.0), 0.8, 0.8);  // head
  QPainterPath body;
  body.moveTo(-1.7, -4.5);
  body.lineTo(1.7, -4.5);
  body.lineTo(3.2, 0.5);
  body.lineTo(-3.2, 0.5);
  body.closeSubpath();
  p.drawPath(body);
  p.setPen(QPen(color, 1.3, Qt::SolidLine, Qt::RoundCap));
  p.drawLine(QPointF(0, 0.5), QPointF(0, 6.0));  // needle
  p.restore();
}

}  // namespace parley::app
