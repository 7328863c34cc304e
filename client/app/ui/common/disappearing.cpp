#include "common/disappearing.hpp"

#include <QActionGroup>
#include <QCoreApplication>
#include <QMenu>
#include <QPainter>
#include <QPen>
#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "common/plural.hpp"

namespace parley::app {

QString timerLabel(qint64 seconds) {
  const auto tr = [](const char* s) { return QCoreApplication::translate("TimerLabel", s); };
  const std::array<std::pair<qint64, std::pair<QString, QString>>, 4> units{{
      {7 * 24 * 3600, {tr("week"), tr("weeks")}},
      {24 * 3600, {tr("day"), tr("days")}},
      {3600, {tr("hour"), tr("hours")}},
      {60, {tr("minute"), tr("minutes")}},
  }};
  for (const auto& [size, names] : units)
    if (seconds >= size && seconds % size == 0) return counted(seconds / size, names.first, names.second);
  return counted(seconds, tr("second"), tr("seconds"));
}

QString timerChangeLine(const QString& who, bool mine, qint64 seconds) {
  const auto tr = [](const char* s) { return QCoreApplication::translate("TimerLabel", s); };
  if (seconds <= 0)
    return mine ? tr("You turned disappearing messages off") : tr("%1 turned disappearing messages off").arg(who);
  return mine ? tr("You set disappearing messages to %1").arg(timerLabel(seconds))
              : tr("%1 set disappearing messages to %2").arg(who, timerLabel(seconds));
}

void addTimerChoices(QMenu* menu, qint64 current, const std::function<void(qint64)>& chosen) {
  auto* choices = new QActionGroup(menu);
  constexpr qint64 kMinute = 60, kHour = 60 * kMinute, kDay = 24 * kHour;
  std::vector<qint64> offered{0, 30, 5 * kMinute, kHour, 8 * kHour, kDay, 7 * kDay, 28 * kDay};
  if (std::find(offered.begin(), offered.end(), current) == offered.end()) offered.push_back(current);
  for (const auto seconds : offered) {
    auto* choice = menu->addAction(seconds == 0 ? QCoreApplication::translate("TimerLabel", "Off") : timerLabel(seconds));
    choice->setCheckable(true);
    choice->setChecked(seconds == current);
    choice->setActionGroup(choices);
    choice->setData(seconds);
    QObject::connect(choice, &QAction::triggered, menu, [chosen, seconds] { chosen(seconds); });
  }
}

void paintTimerMark(QPainter& p, const QRect& r, const QColor& color) {
  p.save();
  p.setRenderHint(QPainter::Antialiasing);
  const QRectF box = QRectF(r).adjusted(0.5, 0.5, -0.5, -0.5);
  const qreal s = std::min(box.width(), box.height());
  const QPointF c(box.center().x(), box.center().y() + s * 0.08);
  const qreal radius = s * 0.40;
  p.setPen(QPen(color, std::max<qreal>(1.0, s / 9), Qt::SolidLine, Qt::RoundCap));
  p.setBrush(Qt::NoBrush);
  p.drawEllipse(c, radius, radius);
  p.drawLine(c, c - QPointF(0, radius * 0.6));                       // the hand
  p.drawLine(QPointF(c.x() - s * 0.15, c.y() - radius - s * 0.12),   // the crown
             QPointF(c.x() + s * 0.15, c.y() - radius - s * 0.12));
  p.restore();
}

}  // namespace parley::app
