#include "util/mentions.hpp"

#include "parley/username.hpp"

namespace parley::client {

bool isNameChar(QChar c) {
  const auto u = c.unicode();
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_' || u == '.' ||
         u == '-';
}

bool mentionMayFollow(QChar before) {
  return before != QLatin1Char('/') &&
         (!isNameChar(before) || before == QLatin1Char('.') || before == QLatin1Char('-'));
}

QList<Mention> findMentions(const QString& text, const std::function<bool(const QString&)>& isMember) {
  QList<Mention> out;
  const qsizetype n = text.size();
  for (qsizetype i = 0; i < n && out.size() < kMaxMentions; ++i) {
    if (text[i] != QLatin1Char('@') || (i > 0 && !mentionMayFollow(text[i - 1]))) continue;
    qsizetype end = i + 1;
    while (end < n && isNameChar(text[end])) ++end;
    // Longer than any username: not one (and not tried letter by letter).
    if (end - i - 1 > kMaxNameChars + 2) {
      i = end - 1;
      continue;
    }
    QString name = text.mid(i + 1, end - i - 1).toLower();
    // "@bob." ending a sentence: "bob." is tried first (a username may end so), then "bob".
    while (!name.isEmpty()) {
      // Only a possible username is looked up (fold_username's rules, not a copy of them).
      if (!fold_username(name.toStdString()).empty() && isMember(name)) {
        out.push_back({i, name.size() + 1, name});
        break;
      }
      if (!name.endsWith(QLatin1Char('.')) && !name.endsWith(QLatin1Char('-'))) break;
      name.chop(1);
    }
    i = end - 1;
  }
  return out;
}

bool mentions(const QString& text, const QString& username) {
  if (!text.contains(QLatin1Char('@'))) return false;
  return !findMentions(text, [&](const QString& name) { return name == username; }).isEmpty();
}

}  // namespace parley::client
