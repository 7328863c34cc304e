#pragma once
// How times read in the list and the conversation: the clock today, "Yesterday", a weekday
// within the week, a date before that.
#include <QDate>
#include <QString>

namespace parley::app {

QString listTime(qint64 ms, const QDateTime& now);      // conversation list column
QString clockTime(qint64 ms);                           // inside a bubble
QString dayLabel(const QDate& day, const QDate& today); // day separators
QString fullTime(qint64 ms);                            // tooltips
QDate localDay(qint64 ms);

}  // namespace parley::app
