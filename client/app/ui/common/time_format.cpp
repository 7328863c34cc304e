#include "common/time_format.hpp"

#include <QDateTime>
#include <QLocale>
#include <QObject>
#include <QRegularExpression>

namespace parley::app {

QDate localDay(qint64 ms) { return QDateTime::fromMSecsSinceEpoch(ms).toLocalTime().date(); }

QString clockTime(qint64 ms) {
  // The locale's short time without seconds (some locales' short format has them).
  static const QString format = [] {
    auto f = QLocale().timeFormat(QLocale::ShortFormat);
    f.remove(QRegularExpression(QStringLiteral("[:.]ss?")));
    return f;
  }();
  return QLocale().toString(QDateTime::fromMSecsSinceEpoch(ms).toLocalTime().time(), format);
}

QString listTime(qint64 ms, const QDateTime& now) {
  if (ms <= 0) return {};
  const auto day = localDay(ms);
  const auto today = now.toLocalTime().date();
  if (day == today) return clockTime(ms);
  if (day == today.addDays(-1)) return QObject::tr("Yesterday");
  if (day > today.addDays(-7)) return QLocale().dayName(day.dayOfWeek(), QLocale::ShortFormat);
  return QLocale().toString(day, QLocale::ShortFormat);
}

QString dayLabel(const QDate& day, const QDate& today) {
  if (day == today) return QObject::tr("Today");
  if (day == today.addDays(-1)) return QObject::tr("Yesterday");
  if (day > today.addDays(-7)) return QLocale().dayName(day.dayOfWeek(), QLocale::LongFormat);
  if (day.year() == today.year()) return QLocale().toString(day, QStringLiteral("dddd, d MMMM"));
  return QLocale().toString(day, QLocale::LongFormat);
}

QString fullTime(qint64 ms) {
  return QLocale().toString(QDateTime::fromMSecsSinceEpoch(ms).toLocalTime(), QLocale::LongFormat);
}

}  // namespace parley::app
