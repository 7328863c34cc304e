#pragma once
// Helpers shared by the messenger_*.cpp files (not part of the client API).
#include <QByteArray>
#include <QSqlDatabase>
#include <QStringList>
#include <cstdint>
#include <optional>
#include <string>

class QSqlQuery;
namespace parley::e2e {
class Content;
}

namespace parley::client::detail {

constexpr int kMaxTextBytes = 64 * 1024;               // a TEXT or GROUP_TEXT body
// Group messages waiting for their sender key: in all, and per (group, sender).
constexpr int kMaxPendingGroupMessages = 2000;
constexpr int kMaxPendingPerSender = 100;
constexpr int kMaxPendingBytesPerSender = 4 * 1024 * 1024;

// How long a copy of our sender key, as sent to a member, is kept to send them again if
// theirs was lost (messenger_sender_key_requests.cpp): it holds an early step of the chain.
constexpr qint64 kResendCopyKeptMs = 7LL * 24 * 3600 * 1000;

// A pairwise SENDER_KEY offering our key for `group_id` (`distribution`, encoded, a secret:
// the caller wipes its own copy) with the group's name and description as we know them.
e2e::Content sender_key_content(const QByteArray& group_id, const QString& name, const QString& description,
                                const std::string& distribution);

// Sessions with one device of a peer that are kept and tried on receipt: the newest (by
// last use) and a few older ones, for when both sides started one at the same time.
constexpr int kSessionsKept = 4;

// A time the relay stamped, as the relay gave it, unless no honest relay could have: 0, or
// more than a day ahead of our clock (which also covers values past what qint64 and
// QDateTime hold). Then `now_ms`, when it reached us, stands in: a relay cannot date
// messages or receipts into the future.
inline qint64 relay_time(std::uint64_t server_ts_ms, qint64 now_ms) {
  constexpr qint64 kClockSkewMs = 24LL * 3600 * 1000;
  if (server_ts_ms == 0 || server_ts_ms > static_cast<std::uint64_t>(now_ms + kClockSkewMs))
    return now_ms;
  return static_cast<qint64>(server_ts_ms);
}

// The start of `text`, at most `max` UTF-16 units, never half a pair.
inline QString cut_whole_chars(const QString& text, qsizetype max) {
  if (text.size() <= max) return text;
  return text.left(text.at(max - 1).isHighSurrogate() ? max - 1 : max);
}

// A reason the relay gave, for a line the user reads: at most 160 UTF-16 units, with an
// ellipsis where it was cut (a relay may send any length).
inline QString relay_reason(const std::string& reason) {
  constexpr qsizetype kMaxChars = 160;
  const auto text = QString::fromStdString(reason);
  return text.size() <= kMaxChars ? text : cut_whole_chars(text, kMaxChars) + QChar(0x2026);
}

// Replies (messenger_replies.cpp). The most of a quoted message's text a reply carries.
constexpr int kMaxQuoteChars = 160;   // UTF-16 units: at most 480 bytes of UTF-8
constexpr int kMaxQuoteBytes = 512;   // what a receiver accepts
// The start of `body` as a reply quotes it: at most kMaxQuoteChars, not splitting a pair.
QString quote_snippet(const QString& body);
// Why a received quote cannot be used (empty: it can): an id that is not 16 bytes, an
// author that is not a folded username, a text past kMaxQuoteBytes.
QString quote_problem(const std::string& client_msg_id, const std::string& author,
                      const std::string& text);
// Adds the message columns (reply_to, reply_author, reply_text) of `content`'s quote, NULL
// when it has none, to `q`'s bound values.
void bind_quote(QSqlQuery& q, const e2e::Content& content);

// Reactions (messenger_reactions.cpp): why a reaction cannot be used (empty: it can).
constexpr int kMaxReactionBytes = 32;
QString reaction_problem(const std::string& client_msg_id, const std::string& author,
                         const std::string& emoji);

// A new client_msg_id: time-ordered, 74 random bits (parley/message_id.hpp).
QByteArray new_message_id();

// Folds every name, each account once (first-seen order); nullopt with the first one's
// problem in `why`.
std::optional<QStringList> fold_usernames(const QStringList& users, QString* why);

// Stores an unsigned counter in `settings` unless a higher value is already there.
bool raise_setting(QSqlDatabase& db, const QString& key, std::uint64_t value);
// Records `seq` as the highest inbox entry handled (never lowers it); runs inside the
// transaction that stored what the entry carried.
bool save_last_acked(QSqlDatabase& db, std::uint64_t seq);
// Whether `peer`'s conversation is archived now (false when there is none): read before and
// after the statement that may bring it back, so the change can be announced.
bool is_archived(QSqlDatabase& db, const QString& peer);
// Whether there is a conversation with `peer` on this device (any message, either way).
bool has_conversation(QSqlDatabase& db, const QString& peer);
// Whether `name` is a current member of the group.
bool is_member(QSqlDatabase& db, const QByteArray& group_id, const QString& name);
// Deletes the sessions with (peer, device) beyond the kSessionsKept newest, which nothing
// would use again. Without it, every first message a peer sends with a fresh ephemeral key
// (no one-time prekey needed) stored one more session, skipped keys and all, for good.
bool prune_sessions(QSqlDatabase& db, const QString& peer, std::uint32_t device);

}  // namespace parley::client::detail
