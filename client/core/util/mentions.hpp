#pragma once
// Mentions in a group message: "@" followed by a member's username ("@bob", "@Bob." — case
// and a sentence's trailing "." or "-" do not matter). Found in the text itself, so no field
// of the protocol carries them and any client that writes "@bob" mentions bob; a username
// never changes, so neither does what a message mentioned. An "@" inside a word (an e-mail
// address, "x@bob") or after a "/" (a link to a profile, "https://social.example/@bob")
// mentions nobody.
#include <QList>
#include <QString>
#include <functional>

namespace parley::client {

struct Mention {
  qsizetype start = 0;   // the "@"
  qsizetype length = 0;  // "@" and the username as written
  QString username;      // folded
};

// A username's characters (fold_username): letters, digits, '_', '.' and '-'; at most this
// many of them.
bool isNameChar(QChar c);
inline constexpr qsizetype kMaxNameChars = 32;
// Whether an "@" right after `before` can start a mention: not inside a word
// ("bob@example.org") nor a link's path ("https://social.example/@bob"); a "." or "-" ends
// the name before it, as in "@bob.@carol", since no address ends so.
bool mentionMayFollow(QChar before);

// At most this many are reported for one text: a message of 64 KiB cannot make a view lay
// out thousands of highlights.
inline constexpr int kMaxMentions = 100;

// Each "@name" in `text` whose folded name `isMember` accepts, in order. Linear in the text:
// each name is read once, and tried at most a few times as its trailing "." and "-" go.
QList<Mention> findMentions(const QString& text, const std::function<bool(const QString&)>& isMember);
// Whether `text` mentions `username` (folded).
bool mentions(const QString& text, const QString& username);

}  // namespace parley::client
