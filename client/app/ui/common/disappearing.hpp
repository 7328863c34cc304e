#pragma once
// How disappearing messages read and look: the timer as words ("30 seconds", "8 hours",
// "1 week"), the line a change leaves in the history, and the small stopwatch beside the
// time of a message that will disappear (painted: a font may have no such symbol).
#include <QColor>
#include <QRect>
#include <QString>
#include <functional>

class QMenu;
class QPainter;

namespace parley::app {

// `seconds` in the largest unit that divides it exactly ("90 minutes", not "1.5 hours").
QString timerLabel(qint64 seconds);
// "You set disappearing messages to 1 day", "alice turned disappearing messages off".
QString timerChangeLine(const QString& who, bool mine, qint64 seconds);

// Adds the timers a menu offers — Off, 30 seconds, 5 minutes, 1 hour, 8 hours, 1 day,
// 1 week, 4 weeks, and `current` when it is another (one set elsewhere is offered as it is) —
// as checkable entries, `current` checked; `chosen` gets the seconds picked.
void addTimerChoices(QMenu* menu, qint64 current, const std::function<void(qint64)>& chosen);

inline constexpr int kTimerMarkSize = 10;
// A stopwatch fitting `r` (kTimerMarkSize square), centred.
void paintTimerMark(QPainter& p, const QRect& r, const QColor& color);

}  // namespace parley::app
