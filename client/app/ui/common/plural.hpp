#pragma once
// English counts ("1 member", "3 members"). Parley ships no translations yet, and tr()'s %n
// only picks a plural form through a translation file.
#include <QString>

namespace parley::app {

inline QString counted(qint64 n, const QString& one, const QString& many) {
  return QStringLiteral("%1 %2").arg(n).arg(n == 1 ? one : many);
}

}  // namespace parley::app
