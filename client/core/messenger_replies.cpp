// Replies: a message may answer an earlier one of its conversation (Content.quote). The quote
// names the earlier message by sender and id and carries its first words, so a device that
// never had it (a member added later, a lost history) still shows what was answered; a
// device that has it shows its own copy (messenger_history.cpp), which a sender cannot
// misquote.
#include <QSqlQuery>
#include <QStringDecoder>
#include <QVariant>

#include "e2e.pb.h"
#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "parley/username.hpp"
#include "util/bytes.hpp"

namespace parley::client {
namespace detail {

QString quote_snippet(const QString& body) { return cut_whole_chars(body, kMaxQuoteChars); }

namespace {
bool is_utf8(const std::string& bytes) {
  QStringDecoder decode(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
  const QString text = decode(QByteArrayView(bytes.data(), static_cast<qsizetype>(bytes.size())));
  return !decode.hasError();
}
}  // namespace

QString quote_problem(const std::string& client_msg_id, const std::string& author,
                      const std::string& text) {
  if (client_msg_id.size() != 16) return QStringLiteral("its message id is not 16 bytes");
  if (author.empty() || !is_utf8(author) || fold_username(author) != author)
    return QStringLiteral("its author is not a username");
  if (text.size() > static_cast<std::size_t>(kMaxQuoteBytes))
    return QStringLiteral("its text is longer than %1 bytes").arg(kMaxQuoteBytes);
  if (!is_utf8(text)) return QStringLiteral("its text is not UTF-8");
  return {};
}

void bind_quote(QSqlQuery& q, const e2e::Content& content) {
  if (!content.has_quote()) {
    q.addBindValue(QVariant(QMetaType::fromType<QByteArray>()));
    q.addBindValue(QVariant(QMetaType::fromType<QString>()));
    q.addBindValue(QVariant(QMetaType::fromType<QString>()));
    return;
  }
  const auto& quote = content.quote();
  q.addBindValue(qbytes(quote.client_msg_id()));
  q.addBindValue(QString::fromUtf8(quote.author()));
  q.addBindValue(QString::fromUtf8(quote.text()));
}

}  // namespace detail

bool Messenger::quoteMessage(const QString& peer, qint64 reply_to, e2e::Content& content,
                             QString* error) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT sender, client_msg_id, body FROM messages WHERE id = ? AND peer = ? AND removed = 0 AND kind = 0");
  q.addBindValue(reply_to);
  q.addBindValue(peer);
  if (!q.exec() || !q.next()) {
    *error = QStringLiteral("the message to reply to is not in this conversation (or was deleted)");
    return false;
  }
  auto* quote = content.mutable_quote();
  quote->set_author(q.value(0).toString().toStdString());
  quote->set_client_msg_id(sbytes(q.value(1).toByteArray()));
  quote->set_text(detail::quote_snippet(q.value(2).toString()).toUtf8().toStdString());
  return true;
}

void Messenger::dropGoneQuote(const QString& peer, e2e::Content& content) {
  if (!content.has_quote() || content.quote().text().empty()) return;
  QSqlQuery gone(db_->db());
  gone.prepare("SELECT 1 FROM messages WHERE peer = ? AND sender = ? AND client_msg_id = ? AND removed IN (1, 3, 4)");
  gone.addBindValue(peer);
  gone.addBindValue(QString::fromUtf8(content.quote().author()));
  gone.addBindValue(qbytes(content.quote().client_msg_id()));
  if (gone.exec() && gone.next()) content.mutable_quote()->clear_text();
}

void Messenger::checkQuote(e2e::Content& content, const QString& peer, const QString& sender,
                           const QStringList& parties) {
  if (!content.has_quote()) return;
  const auto& quote = content.quote();
  auto why = detail::quote_problem(quote.client_msg_id(), quote.author(), quote.text());
  if (why.isEmpty() && !parties.isEmpty() && !parties.contains(QString::fromUtf8(quote.author())))
    why = QStringLiteral("it names someone outside this conversation");
  if (why.isEmpty()) {
    // A reply written before its message was taken back (or came to its end: disappearing
    // messages), arriving after: the words it quotes are not kept either.
    dropGoneQuote(peer, content);
    return;
  }
  content.clear_quote();
  QMetaObject::invokeMethod(this, [this, sender, why] {
    emit problem(QStringLiteral("%1 answered a message, but the quote cannot be used (%2); the "
                                "answer is shown without it")
                     .arg(sender, why));
  }, Qt::QueuedConnection);
}

qint64 Messenger::messageIdOf(const QString& peer, const QByteArray& client_msg_id, bool* ambiguous) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT id FROM messages WHERE peer = ? AND client_msg_id = ? AND removed < 2 LIMIT 2");
  q.addBindValue(peer);
  q.addBindValue(client_msg_id);
  qint64 id = 0;
  int found = 0;
  if (q.exec())
    while (q.next()) {
      id = q.value(0).toLongLong();
      ++found;
    }
  if (ambiguous) *ambiguous = found > 1;
  return found == 1 ? id : 0;
}

}  // namespace parley::client
