#include "commands.hpp"

#include <algorithm>
#include <utility>

#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QFile>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkProxy>
#include <QRegularExpression>
#include <QTimer>
#include <cstdio>

#include "messenger.hpp"
#include "parley/username.hpp"
#include "passphrase_input.hpp"

namespace parley::cli {
namespace {

using client::Messenger;
using client::MessageStatus;
using client::RelayClient;

void emit_json(const QJsonObject& o) {
  std::fputs(QJsonDocument(o).toJson(QJsonDocument::Compact).constData(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// The profile this run opened (one per run), for its store's health at the end.
Messenger* opened = nullptr;
bool damage_said = false;
// The newest thing the messenger told its user: why a message failed, when it did.
QString last_problem;

int fail(const QString& message, int code) {
  std::fprintf(stderr, "parley-cli: %s\n", message.toUtf8().constData());
  return code;
}

// A message that failed: for want of its recipient, or refused for what it was (the reason
// was printed as the messenger said it).
int failed_send(const QString& peer) {
  if (last_problem.startsWith(QStringLiteral("there is no user")))
    return fail("no such user: " + peer, kExitUnknownContact);
  return fail("the message to " + peer + " was not sent", kExitError);
}

QString status_name(int s) {
  switch (static_cast<MessageStatus>(s)) {
    case MessageStatus::Failed: return "failed";
    case MessageStatus::Queued: return "queued";
    case MessageStatus::Sent: return "sent";
    case MessageStatus::Delivered: return "delivered";
    case MessageStatus::Read: return "read";
    case MessageStatus::Received: return "received";
    case MessageStatus::Seen: return "seen";
  }
  return "unknown";
}

QString state_name(RelayClient::State s) {
  switch (s) {
    case RelayClient::State::Offline: return "offline";
    case RelayClient::State::Connecting: return "connecting";
    case RelayClient::State::Syncing: return "syncing";
    case RelayClient::State::Online: return "online";
  }
  return "unknown";
}

// Progress on stderr, at most every 250 ms and whenever the percentage moves, so a
// terminal shows it live and a log does not fill up.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(const char* verb) : verb_(verb) { clock_.start(); }
  void operator()(qint64 done, qint64 total) {
    const int percent = total > 0 ? static_cast<int>(done * 100 / total) : 0;
    if (percent == last_ || (clock_.elapsed() < 250 && done < total)) return;
    last_ = percent;
    clock_.restart();
    std::fprintf(stderr, "parley-cli: %s %.1f of %.1f MiB (%d%%)\n", verb_, done / 1048576.0,
                 total / 1048576.0, percent);
  }

 private:
  const char* verb_;
  QElapsedTimer clock_;
  int last_ = -1;
};

QJsonObject message_json(const client::StoredMessage& m) {
  QJsonObject json{{"type", "message"},
                   {"peer", m.peer},
                   {"from", m.sender},
                   {"id", QString::fromLatin1(m.clientMsgId.toHex())},
                   {"conv_seq", m.convSeq},
                   {"text", m.body},
                   {"status", status_name(static_cast<int>(m.status))},
                   {"client_ts_ms", m.clientTsMs},
                   {"server_ts_ms", m.serverTsMs},
                   {"chain_ok", m.chainOk}};
  if (!m.reactions.isEmpty()) {
    QJsonArray reactions;
    for (const auto& r : m.reactions) reactions.append(QJsonObject{{"from", r.reactor}, {"emoji", r.emoji}});
    json["reactions"] = reactions;
  }
  if (!m.reply.clientMsgId.isEmpty())
    json["reply_to"] = QJsonObject{{"id", QString::fromLatin1(m.reply.clientMsgId.toHex())},
                                   {"from", m.reply.author},
                                   {"text", m.reply.text},
                                   {"on_device", m.reply.messageId != 0},
                                   {"unsent", m.reply.unsent},
                                   {"expired", m.reply.expired}};
  if (m.editedMs > 0) json["edited_ms"] = m.editedMs;
  if (m.unsent) json["unsent"] = true;
  if (m.forwarded) json["forwarded"] = true;
  if (m.mentionsMe) json["mentions_me"] = true;
  if (m.expireS > 0) json["expire_s"] = m.expireS;
  if (m.expiresAtMs > 0) json["expires_at_ms"] = m.expiresAtMs;
  return json;
}

// A history entry: a message, or the line a change of the disappearing-messages timer left.
QJsonObject entry_json(const client::StoredMessage& m) {
  if (m.timerChange < 0) return message_json(m);
  return {{"type", "timer"},
          {"peer", m.peer},
          {"from", m.sender},
          {"id", QString::fromLatin1(m.clientMsgId.toHex())},
          {"conv_seq", m.convSeq},
          {"seconds", m.timerChange},
          {"client_ts_ms", m.clientTsMs},
          {"server_ts_ms", m.serverTsMs}};
}

// The local id of the message `hex` names in conversation `peer`, for --reply-to or react
// (`what`, which errors name; 0: no id given); nullopt with `error` when it names none, or two.
std::optional<qint64> message_target(Messenger* m, const QString& peer, const std::string& hex,
                                     const QString& what, QString* error) {
  if (hex.empty()) return 0;
  const auto id = QByteArray::fromHex(QByteArray::fromStdString(hex));
  if (id.size() != 16 || id.toHex() != QByteArray::fromStdString(hex).toLower()) {
    *error = QStringLiteral("%1: %2 is not a message id (32 hex digits)").arg(what, QString::fromStdString(hex));
    return std::nullopt;
  }
  bool ambiguous = false;
  const auto local = m->messageIdOf(peer, id, &ambiguous);
  if (local != 0) return local;
  *error = ambiguous ? QStringLiteral("%1: two messages in this conversation have the id %2")
                           .arg(what, QString::fromStdString(hex))
                     : QStringLiteral("%1: no message with the id %2 in this conversation")
                           .arg(what, QString::fromStdString(hex));
  return std::nullopt;
}

QString group_event_name(int kind) {
  switch (kind) {
    case wire::GroupEvent::CREATED: return "created";
    case wire::GroupEvent::ADDED: return "added";
    case wire::GroupEvent::REMOVED: return "removed";
    case wire::GroupEvent::LEFT: return "left";
    case wire::GroupEvent::ADMIN_CHANGED: return "admin_changed";
    default: return "unknown";
  }
}

std::optional<QNetworkProxy> parse_proxy(const std::string& text) {
  if (text.empty()) return QNetworkProxy(QNetworkProxy::NoProxy);
  const QUrl url(QString::fromStdString(text));
  if (!url.isValid() || url.host().isEmpty() || url.port() <= 0) return std::nullopt;
  if (url.scheme() == "socks5") return QNetworkProxy(QNetworkProxy::Socks5Proxy, url.host(), url.port());
  if (url.scheme() == "http") return QNetworkProxy(QNetworkProxy::HttpProxy, url.host(), url.port());
  return std::nullopt;
}

// The passphrase given for the profile without asking: --passphrase-file, else
// PARLEY_PASSPHRASE; empty when neither is given. nullopt (with `code` set) on a bad file.
std::optional<QString> given_passphrase(const Options& o, int* code) {
  if (!o.passphrase_file.empty()) {
    QString error;
    auto p = readPassphraseFile(o.passphrase_file, &error);
    if (!p) *code = fail(error, kExitUsage);
    return p;
  }
  // Read once, then taken out of the environment, so no program this one starts inherits it.
  const QString passphrase = qEnvironmentVariable("PARLEY_PASSPHRASE");
  qunsetenv("PARLEY_PASSPHRASE");
  return passphrase;
}

// The messenger of a running command; lives until the process exits.
Messenger* open_or_fail(const Options& o, int* code) {
  const auto proxy = parse_proxy(o.proxy);
  if (!proxy) {
    *code = fail("--proxy must look like socks5://127.0.0.1:1080 or http://127.0.0.1:3128", kExitUsage);
    return nullptr;
  }
  auto passphrase = given_passphrase(o, code);
  if (!passphrase) return nullptr;
  const auto dir = QString::fromStdString(o.profile);
  QString error;
  client::store_key::Status status;
  auto m = Messenger::open(dir, *passphrase, &error, &status);
  if (!m && status == client::store_key::Status::locked) {
    passphrase = askPassphrase("Passphrase: ");
    if (!passphrase) {
      *code = fail(error + QStringLiteral(": give it with --passphrase-file FILE or PARLEY_PASSPHRASE,"
                                          " or run parley-cli on a terminal to be asked"),
                   kExitLocked);
      return nullptr;
    }
    m = Messenger::open(dir, *passphrase, &error, &status);
  }
  if (!m) {
    const bool locked = status == client::store_key::Status::locked ||
                        status == client::store_key::Status::wrong_passphrase;
    *code = fail(error, locked ? kExitLocked : kExitError);
    return nullptr;
  }
  m->setProxy(*proxy);
  auto* raw = m.release();
  raw->setParent(QCoreApplication::instance());
  QObject::connect(raw, &Messenger::problem, [](const QString& p) {
    last_problem = p;
    fail(p, 0);
  });
  QObject::connect(raw, &Messenger::storeDamageFound, [](const QString& report) {
    damage_said = true;
    fail(report, 0);
  });
  opened = raw;
  return raw;
}

void exit_after(int seconds, int code) {
  if (seconds > 0) QTimer::singleShot(seconds * 1000, [code] { QCoreApplication::exit(code); });
}

int do_register(const Options& o) {
  int bad_file = 0;
  const auto passphrase = given_passphrase(o, &bad_file);
  if (!passphrase) return bad_file;
  Messenger::registerProfile(
      QString::fromStdString(o.profile), QUrl(QString::fromStdString(o.server)),
      QString::fromStdString(o.name), [](std::unique_ptr<Messenger> m, QString error, int code) {
        if (!m) {
          const int exit = code == wire::USERNAME_TAKEN      ? kExitNameTaken
                           : code == wire::INVALID_USERNAME  ? kExitUsage
                           : code == wire::UNAVAILABLE       ? kExitUnreachable
                                                             : kExitError;
          QCoreApplication::exit(fail(error, exit));
          return;
        }
        emit_json({{"type", "registered"}, {"username", m->username()}});
        // Lives until the application ends, which closes it after exit() below.
        m.release()->setParent(QCoreApplication::instance());
        QCoreApplication::exit(kExitOk);
      },
      *passphrase);
  return kKeepRunning;
}

// `passphrase set`: a new passphrase from --new-passphrase-file, or asked twice. At least
// 8 characters: it is all that stands between a copied profile and its history.
int do_passphrase(const Options& o) {
  if (o.passphrase_action != "set" && o.passphrase_action != "remove")
    return fail("passphrase takes set or remove", kExitUsage);
  int code = 0;
  auto* m = open_or_fail(o, &code);
  if (!m) return code;
  QString next;
  if (o.passphrase_action == "set") {
    if (!o.new_passphrase_file.empty()) {
      QString error;
      auto p = readPassphraseFile(o.new_passphrase_file, &error);
      if (!p) return fail(error, kExitUsage);
      next = *p;
    } else {
      auto first = askPassphrase("New passphrase: ");
      if (!first)
        return fail("no terminal to ask the new passphrase on: give it with --new-passphrase-file FILE",
                    kExitUsage);
      auto again = askPassphrase("The same again: ");
      if (!again || *again != *first) return fail("the two passphrases differ; nothing changed", kExitUsage);
      next = *first;
    }
    if (next.size() < 8) return fail("a passphrase needs at least 8 characters; nothing changed", kExitUsage);
  }
  QString error;
  if (!m->setPassphrase(next, &error)) return fail(error, kExitError);
  emit_json({{"type", "passphrase"}, {"protected", !next.isEmpty()}});
  return kExitOk;
}

// A message held because `peer`'s identity key changed: nothing more goes out to them until
// the user compares the new number and accepts that key.
void exit_held(const QString& peer) {
  QCoreApplication::exit(fail(peer + "'s identity key changed; the message waits. Run `verify " + peer +
                                  "` to see the new safety number, compare it with " + peer +
                                  ", then run `verify " + peer + " --accept NUMBER`",
                              kExitIdentityChanged));
}

// The change found during this run, or (`peer` given) already waiting before it: then no
// signal comes, and waiting would end in a silent timeout.
void exit_when_identity_changes(Messenger* m, const QString& already_for = {}) {
  QObject::connect(m, &Messenger::identityKeyChangedFor, &exit_held);
  if (!already_for.isEmpty() && m->identityKeyChanged(already_for))
    QTimer::singleShot(0, [already_for] { exit_held(already_for); });
}

int do_send(const Options& o) {
  int code = 0;
  auto* m = open_or_fail(o, &code);
  if (!m) return code;
  QString error;
  // A name that does not fold is sendText's to refuse, with its reason.
  const auto to = QString::fromStdString(fold_username(o.name));
  const auto reply_to = to.isEmpty() ? std::optional<qint64>(0) : message_target(m, to, o.reply_to, "--reply-to", &error);
  if (!reply_to) return fail(error, kExitUsage);
  const auto id = m->sendText(QString::fromStdString(o.name), QString::fromStdString(o.text), &error, *reply_to);
  if (!id) return fail(error, kExitUsage);
  QObject::connect(m, &Messenger::messageStatusChanged,
                   [id = *id](const QString& peer, const QByteArray& which, int status) {
                     if (which != id) return;
                     if (status == static_cast<int>(MessageStatus::Failed))
                       QCoreApplication::exit(failed_send(peer));
                     if (status >= static_cast<int>(MessageStatus::Sent)) {
                       emit_json({{"type", "sent"}, {"peer", peer},
                                  {"id", QString::fromLatin1(which.toHex())}});
                       QCoreApplication::exit(kExitOk);
                     }
                   });
  exit_when_identity_changes(m, QString::fromStdString(o.name).toLower());
  m->start();
  exit_after(o.timeout_s > 0 ? o.timeout_s : 20, kExitQueued);
  return kKeepRunning;
}

void when_online(Messenger* m, std::function<void()> f);
void exit_when_drained(Messenger* m);

// NAME as a conversation: a folded username, or "#" and a group id; empty when it is neither.
QString conversation_of(const std::string& name) {
  const auto raw = QString::fromStdString(name);
  return raw.startsWith(QLatin1Char('#')) ? raw.toLower() : QString::fromStdString(fold_username(name));
}

// Message MSGID of conversation NAME in the opened profile (named `what` in errors); nullopt
// once the failure is told, with the exit code in `code`.
struct MessageAt {
  Messenger* m;
  QString conversation;
  qint64 message;
};
std::optional<MessageAt> message_at(const Options& o, const QString& what, int* code) {
  auto* m = open_or_fail(o, code);
  if (!m) return std::nullopt;
  const auto conversation = conversation_of(o.name);
  QString error = conversation.isEmpty() ? "not a username: " + QString::fromStdString(o.name) : QString();
  const auto target = conversation.isEmpty() ? std::nullopt : message_target(m, conversation, o.msg_id, what, &error);
  if (!target) {
    *code = fail(error, kExitUsage);
    return std::nullopt;
  }
  return MessageAt{m, conversation, *target};
}

// Opens the profile, finds message MSGID of conversation NAME (for `what`) and, once the
// inbox is synced (in a group, a removal waiting there rotates our key first), runs `act`
// on it: true with the JSON to print, then exits once the outbox is drained; false with the
// reason, then exits with a usage error.
using MessageAction = std::function<bool(Messenger*, const QString& conversation, qint64 message,
                                         QJsonObject* out, QString* why)>;
int act_on_message_online(const Options& o, const QString& what, MessageAction act) {
  int code = 0;
  const auto at = message_at(o, what, &code);
  if (!at) return code;
  auto* m = at->m;
  when_online(m, [m, conversation = at->conversation, target = at->message, act = std::move(act)] {
    QString why;
    QJsonObject out;
    if (!act(m, conversation, target, &out, &why)) return QCoreApplication::exit(fail(why, kExitUsage));
    emit_json(out);
    exit_when_drained(m);
  });
  m->start();
  exit_after(o.timeout_s > 0 ? o.timeout_s : 20, kExitQueued);
  return kKeepRunning;
}

int do_react(const Options& o) {
  if (o.clear == !o.text.empty())
    return fail("usage: react NAME MSGID (EMOJI | --remove)", kExitUsage);
  return act_on_message_online(
      o, "react", [emoji = QString::fromStdString(o.text), id = QString::fromStdString(o.msg_id).toLower()](
                      Messenger* m, const QString& conversation, qint64 target, QJsonObject* out, QString* why) {
        if (!m->react(conversation, target, emoji, why)) return false;
        *out = {{"type", "reacted"}, {"peer", conversation}, {"id", id}, {"emoji", emoji}};
        return true;
      });
}

int do_edit(const Options& o) {
  return act_on_message_online(
      o, "edit", [text = QString::fromStdString(o.text), id = QString::fromStdString(o.msg_id).toLower()](
                     Messenger* m, const QString& conversation, qint64 target, QJsonObject* out, QString* why) {
        if (!m->editMessage(conversation, target, text, why)) return false;
        *out = {{"type", "edited"}, {"peer", conversation}, {"id", id}, {"text", text}};
        return true;
      });
}

int do_delete(const Options& o) {
  const auto id = QString::fromStdString(o.msg_id).toLower();
  if (o.for_everyone)
    return act_on_message_online(o, "delete", [id](Messenger* m, const QString& conversation, qint64 target,
                                                   QJsonObject* out, QString* why) {
      if (!m->unsendMessage(conversation, target, why)) return false;
      *out = {{"type", "deleted"}, {"peer", conversation}, {"id", id}, {"for_everyone", true}};
      return true;
    });
  // From this device only: nothing to send, so no connection.
  int code = 0;
  const auto at = message_at(o, "delete", &code);
  if (!at) return code;
  QString error;
  if (!at->m->deleteLocally(at->conversation, at->message, &error)) return fail(error, kExitUsage);
  emit_json({{"type", "deleted"}, {"peer", at->conversation}, {"id", id}, {"for_everyone", false}});
  return kExitOk;
}

int do_send_file(const Options& o) {
  int code = 0;
  auto* m = open_or_fail(o, &code);
  if (!m) return code;
  QString error;
  const auto name = QString::fromStdString(o.name);
  // The conversation's key: a group's "#" and hex id, or the folded name (one that does not
  // fold is sendFile's to refuse, with its reason).
  const auto conversation = name.startsWith(QLatin1Char('#')) ? name.toLower()
                                                               : QString::fromStdString(fold_username(o.name));
  const auto reply_to =
      conversation.isEmpty() ? std::optional<qint64>(0) : message_target(m, conversation, o.reply_to, "--reply-to", &error);
  if (!reply_to) return fail(error, kExitUsage);
  const auto transfer = m->sendFile(name, QString::fromStdString(o.path), QString::fromStdString(o.text),
                                    &error, *reply_to);
  if (transfer == 0) return fail(error, kExitUsage);
  auto printer = std::make_shared<ProgressPrinter>("uploaded");
  QObject::connect(m, &Messenger::transferProgress, [transfer, printer](qint64 id, qint64 done, qint64 total) {
    if (id == transfer) (*printer)(done, total);
  });
  QObject::connect(m, &Messenger::transferResumed, [transfer](qint64 id, qint64 offset) {
    if (id == transfer)
      std::fprintf(stderr, "parley-cli: the relay has %.1f MiB of it already; sending the rest\n",
                   offset / 1048576.0);
  });
  QObject::connect(m, &Messenger::transferFailed, [transfer](qint64 id, const QString& why) {
    if (id == transfer) QCoreApplication::exit(fail(why, kExitError));
  });
  // The file is on the relay; the message announcing it goes through the outbox like a text.
  auto msg = std::make_shared<QByteArray>();
  QObject::connect(m, &Messenger::transferFinished,
                   [m, transfer, msg, peer = QString::fromStdString(o.name).toLower()](
                       qint64 id, const QByteArray& which, const QString&) {
                     if (id != transfer) return;
                     *msg = which;
                     // Uploaded; the message announcing it waits for an accepted key.
                     if (m->identityKeyChanged(peer)) exit_held(peer);
                   });
  QObject::connect(m, &Messenger::messageStatusChanged,
                   [msg, o](const QString& peer, const QByteArray& which, int status) {
                     if (msg->isEmpty() || which != *msg) return;
                     if (status == static_cast<int>(MessageStatus::Failed))
                       QCoreApplication::exit(failed_send(peer));
                     if (status >= static_cast<int>(MessageStatus::Sent)) {
                       emit_json({{"type", "sent"}, {"peer", peer},
                                  {"id", QString::fromLatin1(which.toHex())},
                                  {"file", QString::fromStdString(o.path)}});
                       QCoreApplication::exit(kExitOk);
                     }
                   });
  exit_when_identity_changes(m);
  m->start();
  exit_after(o.timeout_s, kExitQueued);
  return kKeepRunning;
}

int do_fetch(const Options& o) {
  const auto id = QByteArray::fromHex(QByteArray::fromStdString(o.msg_id));
  if (id.size() != 16 || QString::fromLatin1(id.toHex()) != QString::fromStdString(o.msg_id).toLower())
    return fail("a message id is 32 hex digits", kExitUsage);
  int code = 0;
  auto* m = open_or_fail(o, &code);
  if (!m) return code;
  if (!m->attachment(id)) return fail("no message with a file has that id", kExitUsage);
  auto printer = std::make_shared<ProgressPrinter>("downloaded");
  auto transfer = std::make_shared<qint64>(0);
  QObject::connect(m, &Messenger::transferProgress, [transfer, printer](qint64 t, qint64 done, qint64 total) {
    if (t == *transfer) (*printer)(done, total);
  });
  QObject::connect(m, &Messenger::transferResumed, [transfer](qint64 t, qint64 offset) {
    if (t == *transfer)
      std::fprintf(stderr, "parley-cli: resuming at %.1f MiB\n", offset / 1048576.0);
  });
  QObject::connect(m, &Messenger::transferFailed, [transfer](qint64 t, const QString& why) {
    if (t == *transfer) QCoreApplication::exit(fail(why, kExitError));
  });
  QObject::connect(m, &Messenger::transferFinished,
                   [transfer, o](qint64 t, const QByteArray& which, const QString& path) {
                     if (t != *transfer) return;
                     emit_json({{"type", "fetched"}, {"id", QString::fromLatin1(which.toHex())},
                                {"path", path}});
                     QCoreApplication::exit(kExitOk);
                   });
  // Tokens come over the logged-in connection: start once it is up.
  when_online(m, [m, id, transfer, o] {
    QString error;
    *transfer = m->fetchAttachment(id, QString::fromStdString(o.path), &error);
    if (*transfer == 0) QCoreApplication::exit(fail(error, kExitError));
  });
  m->start();
  exit_after(o.timeout_s, kExitUnreachable);
  return kKeepRunning;
}

void print_settings(Messenger* m, const QString& peer);

int do_listen(const Options& o) {
  int code = 0;
  auto* m = open_or_fail(o, &code);
  if (!m) return code;
  auto received = std::make_shared<int>(0);
  QObject::connect(m, &Messenger::reactionsChanged,
                   [m](const QString& peer, const QString& sender, const QByteArray& id) {
                     for (const auto& msg : m->history(peer)) {
                       if (msg.clientMsgId != id || msg.sender != sender) continue;
                       QJsonArray reactions;
                       for (const auto& r : msg.reactions)
                         reactions.append(QJsonObject{{"from", r.reactor}, {"emoji", r.emoji}});
                       emit_json({{"type", "reactions"}, {"peer", peer}, {"id", QString::fromLatin1(id.toHex())},
                                  {"from", sender}, {"reactions", reactions}});
                     }
                   });
  // A change of the disappearing-messages timer from the other side, or a mark cleared.
  QObject::connect(m, &Messenger::chatSettingsChanged, [m](const QString& peer) { print_settings(m, peer); });
  QObject::connect(m, &Messenger::messageRevised,
                   [m](const QString& peer, const QString& sender, const QByteArray& id) {
                     // The message as it is now: edited, or taken back ("unsent"). One
                     // deleted from this device only is in no history: nothing to print.
                     for (const auto& msg : m->history(peer)) {
                       if (msg.clientMsgId != id || msg.sender != sender) continue;
                       auto json = message_json(msg);
                       json["type"] = "revised";
                       emit_json(json);
                     }
                   });
  QObject::connect(m, &Messenger::messageReceived,
                   [m, o, received](const QString& peer, const QByteArray& id) {
                     const bool group = peer.startsWith(QLatin1Char('#'));
                     for (const auto& msg : m->history(peer)) {
                       if (msg.clientMsgId != id || (!group && msg.sender != peer)) continue;
                       auto json = message_json(msg);
                       if (group) json["group"] = peer.mid(1);
                       if (const auto a = m->attachment(id)) {
                         json["file"] = QJsonObject{{"name", a->fileName}, {"mime", a->mimeType},
                                                    {"size", a->size}, {"width", a->width},
                                                    {"height", a->height},
                                                    {"thumbnail_bytes", a->thumbnail.size()}};
                       }
                       emit_json(json);
                     }
                     if (o.mark_read) m->markRead(peer);
                     if (o.count > 0 && ++*received >= o.count) {
                       // Let the read receipt and the ack go out first.
                       QTimer::singleShot(o.mark_read ? 1500 : 300, [] { QCoreApplication::exit(0); });
                     }
                   });
  QObject::connect(m, &Messenger::messageStatusChanged,
                   [](const QString& peer, const QByteArray& id, int status) {
                     emit_json({{"type", "receipt"}, {"peer", peer},
                                {"id", QString::fromLatin1(id.toHex())},
                                {"status", status_name(status)}});
                   });
  QObject::connect(m, &Messenger::groupChanged,
                   [](const QByteArray& gid, int kind, const QString& actor, const QStringList& targets) {
                     emit_json({{"type", "group_event"}, {"group", QString::fromLatin1(gid.toHex())},
                                {"kind", group_event_name(kind)}, {"actor", actor},
                                {"targets", QJsonArray::fromStringList(targets)}});
                   });
  QObject::connect(m, &Messenger::groupDeliveryChanged,
                   [](const QByteArray& gid, const QByteArray& id, int delivered) {
                     emit_json({{"type", "group_receipt"}, {"group", QString::fromLatin1(gid.toHex())},
                                {"id", QString::fromLatin1(id.toHex())}, {"delivered", delivered}});
                   });
  QObject::connect(m, &Messenger::groupReadChanged,
                   [](const QByteArray& gid, const QByteArray& id, const QString& reader, int read) {
                     emit_json({{"type", "group_read"}, {"group", QString::fromLatin1(gid.toHex())},
                                {"id", QString::fromLatin1(id.toHex())}, {"reader", reader},
                                {"read", read}});
                   });
  QObject::connect(m, &Messenger::groupInfoChanged,
                   [](const QByteArray& gid, const QString& actor, const QString& name,
                      const QString& description) {
                     emit_json({{"type", "group_info"}, {"group", QString::fromLatin1(gid.toHex())},
                                {"actor", actor}, {"name", name}, {"description", description}});
                   });
  QObject::connect(m, &Messenger::presenceChanged, [](const QString& peer, bool online, qint64 seen) {
    emit_json({{"type", "presence"}, {"peer", peer}, {"online", online}, {"last_seen_ms", seen}});
  });
  QObject::connect(m, &Messenger::typingChanged, [](const QString& peer, bool active) {
    emit_json({{"type", "typing"}, {"peer", peer}, {"active", active}});
  });
  QObject::connect(m, &Messenger::stateChanged, [m, o](RelayClient::State s) {
    emit_json({{"type", "state"}, {"state", state_name(s)}});
    if (s == RelayClient::State::Syncing && !o.subscribe.empty()) {
      QStringList peers;
      for (const auto& p : o.subscribe) peers << QString::fromStdString(p);
      m->subscribePresence(peers);
    }
  });
  QObject::connect(m, &Messenger::identityKeyChangedFor, [](const QString& peer) {
    emit_json({{"type", "identity_changed"}, {"peer", peer}});
  });
  QObject::connect(m, &Messenger::chainBroken, [](const QString& peer, const QByteArray& id) {
    emit_json({{"type", "chain_broken"}, {"peer", peer}, {"id", QString::fromLatin1(id.toHex())}});
  });
  m->start();
  exit_after(o.timeout_s, kExitOk);
  return kKeepRunning;
}

int do_history(const Options& o) {
  int code = 0;
  auto* m = open_or_fail(o, &code);
  if (!m) return code;
  const auto peer = QString::fromStdString(o.name).toLower();
  if (!m->contacts().contains(peer) && m->history(peer).isEmpty())
    return fail("no conversation with " + peer, kExitUnknownContact);
  for (const auto& msg : m->history(peer)) emit_json(entry_json(msg));
  for (auto gap : m->gaps(peer)) emit_json({{"type", "gap"}, {"peer", peer}, {"conv_seq", gap}});
  return kExitOk;
}

int do_contacts(const Options& o) {
  int code = 0;
  auto* m = open_or_fail(o, &code);
  if (!m) return code;
  for (const auto& c : m->contacts())
    emit_json({{"type", "contact"}, {"username", c}, {"identity_changed", m->identityKeyChanged(c)}});
  return kExitOk;
}

// This device's settings of chat `c` as `chats` and the setting commands print them.
void put_settings(QJsonObject& out, const client::ConversationSummary& c) {
  const bool muted = c.mutedAt(QDateTime::currentMSecsSinceEpoch());
  out["pinned"] = c.pinned;
  out["muted"] = muted;
  out["marked_unread"] = c.markedUnread;
  out["archived"] = c.archived;
  out["disappear_after_s"] = c.expireTimerS;  // the conversation's, not only this device's: 0 off
  // Absent when not muted or muted until unmuted.
  if (muted && c.mutedUntilMs != Messenger::kMutedForever) out["muted_until_ms"] = c.mutedUntilMs;
}

// {type: chat_settings, peer, ...}: chat `peer`'s settings as they are now.
void print_settings(Messenger* m, const QString& peer) {
  for (const auto& c : m->conversations()) {
    if (c.peer != peer) continue;
    QJsonObject out{{"type", "chat_settings"}, {"peer", peer}};
    put_settings(out, c);
    emit_json(out);
  }
}

// The conversations as the app lists them (pinned first, then most recent first), each with
// its last message as `history` would end.
int do_chats(const Options& o) {
  int code = 0;
  auto* m = open_or_fail(o, &code);
  if (!m) return code;
  for (const auto& c : m->conversations()) {
    QJsonObject chat{{"type", "chat"},
                     {"peer", c.peer},
                     {"unread", c.unread},
                     {"last_activity_ms", c.lastActivityMs},
                     {"identity_changed", c.identityChanged}};
    put_settings(chat, c);
    if (c.peer.startsWith(QLatin1Char('#'))) chat["group"] = m->groupInfo(Messenger::groupIdOf(c.peer)).name;
    if (c.unreadMentions > 0) chat["mentions"] = c.unreadMentions;
    if (!c.lastMsgId.isEmpty()) {
      QJsonObject last{{"id", QString::fromLatin1(c.lastMsgId.toHex())},
                       {"from", c.lastSender},
                       {"text", c.lastMessage},
                       {"status", status_name(static_cast<int>(c.lastStatus))}};
      if (!c.lastFileName.isEmpty()) last["file"] = c.lastFileName;
      if (c.lastUnsent) last["unsent"] = true;
      if (c.lastTimerChange >= 0) last["timer"] = c.lastTimerChange;
      chat["last"] = last;
    }
    emit_json(chat);
  }
  return kExitOk;
}

// The longest timed mute: longer is meant as "until unmuted", which says so.
constexpr qint64 kMaxMuteMs = 52LL * 7 * 24 * 3600 * 1000;

// "90s", "30m", "8h", "7d", "2w" in milliseconds; 0 when it is none of those or longer than
// `max_ms`.
qint64 duration_ms(const std::string& text, qint64 max_ms) {
  static const QRegularExpression form(QStringLiteral("^([1-9][0-9]{0,8})([smhdw])$"));
  const auto m = form.match(QString::fromStdString(text));
  if (!m.hasMatch()) return 0;
  const qint64 unit_s = QHash<QChar, qint64>{{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}}
                            .value(m.captured(2).at(0));
  const qint64 ms = m.captured(1).toLongLong() * unit_s * 1000;  // < 2^60: no overflow
  return ms <= max_ms ? ms : 0;
}

// A chat command's failure: 5 when there is no such conversation (the Messenger says so first
// in its error), 1 otherwise.
int fail_chat(const QString& error) {
  return fail(error, error.startsWith(QStringLiteral("no conversation")) ? kExitUnknownContact : kExitError);
}

// The profile, for a command on the chat NAME names (`peer`: a folded username, or "#" and a
// group id); null with `code` set when NAME is neither or the profile does not open.
Messenger* open_for_chat(const Options& o, QString* peer, int* code) {
  *peer = conversation_of(o.name);
  if (peer->isEmpty()) {
    *code = fail("not a username or # and a group id: " + QString::fromStdString(o.name), kExitUsage);
    return nullptr;
  }
  return open_or_fail(o, code);
}

// mute, unmute, pin, unpin, mark-unread, archive, unarchive: this device's settings of one conversation, printed as they are
// afterwards.
int do_chat_setting(const Options& o) {
  qint64 mute_ms = 0;
  if (o.command == "mute" && o.has_duration && (mute_ms = duration_ms(o.duration, kMaxMuteMs)) == 0)
    return fail(QStringLiteral("--for takes a number and a unit, e.g. 30m, 8h, 7d or 2w, up to 52w (leave it"
                               " out to mute until `unmute`); not \"%1\"")
                    .arg(QString::fromStdString(o.duration)),
                kExitUsage);
  QString peer;
  int code = 0;
  auto* m = open_for_chat(o, &peer, &code);
  if (!m) return code;
  QString error;
  bool ok = false;
  if (o.command == "mute")
    ok = m->setMuted(peer, mute_ms > 0 ? QDateTime::currentMSecsSinceEpoch() + mute_ms : Messenger::kMutedForever,
                     &error);
  else if (o.command == "unmute")
    ok = m->setMuted(peer, 0, &error);
  else if (o.command == "mark-unread")
    ok = m->setMarkedUnread(peer, !o.clear, &error);
  else if (o.command == "archive" || o.command == "unarchive")
    ok = m->setArchived(peer, o.command == "archive", &error);
  else
    ok = m->setPinned(peer, o.command == "pin", &error);
  if (!ok) return fail_chat(error);
  print_settings(m, peer);
  return kExitOk;
}

// The user has read conversation NAME: its read receipts go out (online, since the relay
// must take them) and a mark of mark-unread goes.
int do_read(const Options& o) {
  QString peer;
  int code = 0;
  auto* m = open_for_chat(o, &peer, &code);
  if (!m) return code;
  const auto unread_now = [m, peer] {
    for (const auto& c : m->conversations())
      if (c.peer == peer) return c.unread;
    return -1;
  };
  if (unread_now() < 0) return fail("no conversation with " + peer, kExitUnknownContact);
  // Once caught up, so what came while this profile was away is read too.
  when_online(m, [m, peer, unread_now] {
    const int unread = unread_now();
    m->markRead(peer);
    emit_json({{"type", "read"}, {"peer", peer}, {"messages", unread}});
    exit_when_drained(m);
  });
  m->start();
  exit_after(o.timeout_s > 0 ? o.timeout_s : 20, kExitQueued);
  return kKeepRunning;
}

// clear NAME: the conversation's history deleted from this device only.
int do_clear(const Options& o) {
  QString peer;
  int code = 0;
  auto* m = open_for_chat(o, &peer, &code);
  if (!m) return code;
  QString error;
  const int cleared = m->clearHistory(peer, &error);
  if (cleared < 0)
    return fail_chat(error);
  emit_json({{"type", "cleared"}, {"peer", peer}, {"messages", cleared}});
  return kExitOk;
}

// disappear NAME --after D | --off: the conversation's timer, for both sides. Goes online,
// since the change must reach the relay, and prints the settings as they are then.
int do_disappear(const Options& o) {
  if (o.has_duration == o.off)
    return fail("disappear takes --after (e.g. 30s, 8h, 7d, up to 365d) or --off", kExitUsage);
  const qint64 after_ms = o.off ? 0 : duration_ms(o.duration, Messenger::kMaxExpireTimerS * 1000LL);
  if (!o.off && after_ms == 0)
    return fail(QStringLiteral("--after takes a number and a unit, e.g. 30s, 5m, 8h, 7d or 4w, up to 365d;"
                               " not \"%1\"").arg(QString::fromStdString(o.duration)),
                kExitUsage);
  QString peer;
  int code = 0;
  auto* m = open_for_chat(o, &peer, &code);
  if (!m) return code;
  QString error;
  if (!m->setExpireTimer(peer, static_cast<int>(after_ms / 1000), &error))
    return fail_chat(error);
  print_settings(m, peer);
  when_online(m, [m] { exit_when_drained(m); });
  m->start();
  exit_after(o.timeout_s > 0 ? o.timeout_s : 20, kExitQueued);
  return kKeepRunning;
}

// {type: default_disappear, after_s}: the timer new chats take (0: none); set first with
// --after or --off.
int do_default_disappear(const Options& o) {
  qint64 after_ms = 0;
  if (o.has_duration) {
    after_ms = duration_ms(o.duration, Messenger::kMaxExpireTimerS * 1000LL);
    if (after_ms == 0)
      return fail(QStringLiteral("--after takes a number and a unit, e.g. 30s, 5m, 8h, 7d or 4w, up to 365d;"
                                 " not \"%1\"").arg(QString::fromStdString(o.duration)),
                  kExitUsage);
  }
  int code = 0;
  auto* m = open_or_fail(o, &code);
  if (!m) return code;
  QString error;
  if ((o.has_duration || o.off) && !m->setDefaultExpireTimer(static_cast<int>(after_ms / 1000), &error))
    return fail(error, kExitError);
  emit_json({{"type", "default_disappear"}, {"after_s", m->defaultExpireTimer()}});
  return kExitOk;
}

int do_queued(const Options& o) {
  int code = 0;
  auto* m = open_or_fail(o, &code);
  if (!m) return code;
  const auto files = m->queuedFiles();
  if (o.forget > 0) {
    const bool known = std::any_of(files.begin(), files.end(),
                                   [&](const Messenger::QueuedFile& f) { return f.id == o.forget; });
    if (!known) return fail(QStringLiteral("no queued file has id %1").arg(o.forget), kExitUsage);
    m->forgetFile(o.forget);
    emit_json({{"type", "forgotten"}, {"id", o.forget}});
    return kExitOk;
  }
  for (const auto& f : files)
    emit_json({{"type", "queued_file"}, {"id", f.id}, {"peer", f.peer}, {"path", f.path},
               {"caption", f.caption}, {"msg_id", QString::fromLatin1(f.clientMsgId.toHex())}});
  return kExitOk;
}

int do_verify(const Options& o) {
  int code = 0;
  auto* m = open_or_fail(o, &code);
  if (!m) return code;
  const auto peer = QString::fromStdString(o.name).toLower();
  QString error;
  const auto number = m->safetyNumber(peer, &error);
  if (number.isEmpty()) return fail(error, kExitUnknownContact);
  const auto pending = m->pendingIdentityKey(peer, &error);
  if (!o.accept.empty()) {
    if (!pending) return fail(error, kExitError);
    // Only the key whose number the user compared; digits only, as people copy them.
    const auto digits = [](QString n) {
      return n.remove(QRegularExpression(QStringLiteral("\\s")));
    };
    if (digits(QString::fromStdString(o.accept)) != digits(pending->safety_number))
      return fail("that is not the new safety number with " + peer + ": nothing accepted; run `verify " +
                      peer + "` and compare again",
                  kExitIdentityChanged);
    if (!m->acceptIdentityKey(peer, pending->key, &error)) return fail(error, kExitError);
  }
  // After an accept the pending key is the contact's key, and nothing waits any more.
  const bool waiting = pending && o.accept.empty();
  QJsonObject out{{"type", "safety_number"}, {"peer", peer},
                  {"safety_number", pending ? pending->safety_number : number},
                  {"identity_changed", waiting}};
  if (waiting) out.insert("previous_safety_number", number);
  emit_json(out);
  return kExitOk;
}

int do_status(const Options& o) {
  int code = 0;
  auto* m = open_or_fail(o, &code);
  if (!m) return code;
  auto report = [m](const QString& state) {
    emit_json({{"type", "status"}, {"username", m->username()}, {"state", state},
               {"outbox", m->outboxSize()}});
  };
  QObject::connect(m, &Messenger::stateChanged, [report](RelayClient::State s) {
    if (s == RelayClient::State::Online) {
      report("online");
      QCoreApplication::exit(kExitOk);
    }
  });
  QTimer::singleShot(5000, [report] {
    report("offline");
    QCoreApplication::exit(kExitUnreachable);
  });
  m->start();
  return kKeepRunning;
}

// Runs `f` once the messenger is online (after the inbox has been synced).
void when_online(Messenger* m, std::function<void()> f) {
  auto fired = std::make_shared<bool>(false);
  QObject::connect(m, &Messenger::stateChanged, [fired, f = std::move(f)](RelayClient::State s) {
    if (s != RelayClient::State::Online || *fired) return;
    *fired = true;
    f();
  });
}

// Exits once everything queued (e.g. our sender key for new members) has reached the relay.
void exit_when_drained(Messenger* m) {
  if (m->outboxSize() == 0) return QCoreApplication::exit(kExitOk);
  QObject::connect(m, &Messenger::outboxDrained, [] { QCoreApplication::exit(kExitOk); });
}

int do_group(const Options& o) {
  const auto& a = o.args;
  const auto& action = o.group_action;
  const bool two = action == "send" || action == "rename" || action == "receipts";
  const std::size_t need = action == "create" || action == "add" || action == "remove" || two ? 2 : 1;
  const bool avatar_args_ok = action != "avatar" || (o.clear ? a.size() == 1 : a.size() == 2);
  if (a.size() < need || (two && a.size() != 2) ||
      ((action == "leave" || action == "members" || action == "info") && a.size() != 1) ||
      !avatar_args_ok || (o.has_description && action != "rename") || (o.clear && action != "avatar") ||
      (!o.reply_to.empty() && action != "send"))
    return fail("usage: group create NAME MEMBER... | add ID USER... | remove ID USER... |"
                " leave ID | send ID TEXT [--reply-to MSGID] | members ID | rename ID NAME [--description TEXT] |"
                " avatar ID (FILE | --clear) | info ID | receipts ID MSGID",
                kExitUsage);
  QByteArray gid;
  if (action != "create") {
    gid = QByteArray::fromHex(QByteArray::fromStdString(a[0]));
    if (gid.size() != 16 || QString::fromLatin1(gid.toHex()) != QString::fromStdString(a[0]).toLower())
      return fail("a group id is 32 hex digits", kExitUsage);
  }
  QStringList rest;
  for (std::size_t i = 1; i < a.size(); ++i) rest << QString::fromStdString(a[i]);
  int code = 0;
  auto* m = open_or_fail(o, &code);
  if (!m) return code;
  const auto hex = QString::fromLatin1(gid.toHex());

  if (action == "members") {
    if (!m->groups().contains(gid) && m->groupMembers(gid).isEmpty())
      return fail("not a member of group " + hex, kExitUnknownContact);
    for (const auto& member : m->groupMembers(gid))
      emit_json({{"type", "member"}, {"group", hex}, {"username", member.username},
                 {"admin", member.admin}});
    return kExitOk;
  }
  if (action == "info") {
    if (!m->groups().contains(gid)) return fail("not a member of group " + hex, kExitUnknownContact);
    const auto info = m->groupInfo(gid);
    emit_json({{"type", "group"}, {"group", hex}, {"name", info.name}, {"description", info.description},
               {"avatar_bytes", static_cast<int>(info.avatar.size())},
               {"members", static_cast<int>(m->groupMembers(gid).size())}});
    return kExitOk;
  }
  if (action == "receipts") {
    const auto msg = QByteArray::fromHex(QByteArray::fromStdString(a[1]));
    if (msg.size() != 16) return fail("a message id is 32 hex digits", kExitUsage);
    if (!m->groups().contains(gid)) return fail("not a member of group " + hex, kExitUnknownContact);
    const auto details = m->receiptDetails(gid, msg);
    const auto counts = m->receiptsOf(gid, msg);
    emit_json({{"type", "receipts"}, {"group", hex}, {"id", QString::fromLatin1(msg.toHex())},
               {"delivered", counts.delivered}, {"read", counts.read}, {"of", counts.of}});
    for (const auto& d : details)
      emit_json({{"type", "receipt"}, {"member", d.member}, {"delivered_ms", d.deliveredMs},
                 {"read_ms", d.readMs}});
    return kExitOk;
  }
  if (action == "avatar") {
    QByteArray image;
    if (!o.clear) {
      QFile file(QString::fromStdString(a[1]));
      if (!file.open(QIODevice::ReadOnly))
        return fail(QStringLiteral("cannot read %1: %2").arg(file.fileName(), file.errorString()), kExitError);
      image = file.read(Messenger::kMaxGroupAvatarBytes + 1);
      if (const auto problem = Messenger::groupAvatarProblem(image); !problem.isEmpty())
        return fail(problem, kExitUsage);
    }
    when_online(m, [m, gid, hex, image] {
      QString error;
      if (!m->setGroupAvatar(gid, image, &error)) return QCoreApplication::exit(fail(error, kExitError));
      emit_json({{"type", "group_avatar"}, {"group", hex}, {"avatar_bytes", static_cast<int>(image.size())}});
      exit_when_drained(m);
    });
  } else if (action == "rename") {
    // Sent once the inbox is synced, so the member list (who is admin) is current.
    when_online(m, [m, gid, hex, name = rest.front(), o] {
      const auto description = o.has_description ? QString::fromStdString(o.description)
                                                 : m->groupDescription(gid);
      QString error;
      if (!m->renameGroup(gid, name, description, &error))
        return QCoreApplication::exit(fail(error, kExitError));
      emit_json({{"type", "group_renamed"}, {"group", hex}, {"name", m->groupName(gid)},
                 {"description", m->groupDescription(gid)}});
      exit_when_drained(m);
    });
  } else if (action == "send") {
    // Encrypted once the inbox is synced, so a removal waiting there rotates our key first.
    auto id = std::make_shared<QByteArray>();
    when_online(m, [m, gid, hex, text = rest.front(), id, reply_hex = o.reply_to] {
      QString error;
      const auto reply_to = message_target(m, "#" + hex, reply_hex, "--reply-to", &error);
      if (!reply_to) return QCoreApplication::exit(fail(error, kExitUsage));
      const auto queued = m->groupSend(gid, text, &error, *reply_to);
      if (!queued) return QCoreApplication::exit(fail(error, kExitUsage));
      *id = *queued;
    });
    QObject::connect(m, &Messenger::messageStatusChanged,
                     [id, hex](const QString&, const QByteArray& which, int status) {
                       if (id->isEmpty() || which != *id) return;
                       if (status == static_cast<int>(MessageStatus::Failed))
                         QCoreApplication::exit(fail("the relay refused the message", kExitError));
                       if (status >= static_cast<int>(MessageStatus::Sent)) {
                         emit_json({{"type", "sent"}, {"group", hex},
                                    {"id", QString::fromLatin1(which.toHex())}});
                         QCoreApplication::exit(kExitOk);
                       }
                     });
  } else {
    auto finish = [m, hex, action](const QString& error) {
      if (!error.isEmpty()) return QCoreApplication::exit(fail(error, kExitError));
      emit_json({{"type", "group_" + QString::fromStdString(action)}, {"group", hex}});
      exit_when_drained(m);
    };
    when_online(m, [m, action, gid, rest, a, finish] {
      if (action == "create") {
        m->createGroup(QString::fromStdString(a[0]), rest,
                       [m](const QByteArray& id, const QString& error) {
                         if (!error.isEmpty()) return QCoreApplication::exit(fail(error, kExitError));
                         emit_json({{"type", "group_created"}, {"group", QString::fromLatin1(id.toHex())}});
                         exit_when_drained(m);
                       });
      } else if (action == "add") {
        m->addMembers(gid, rest, finish);
      } else if (action == "remove") {
        m->removeMembers(gid, rest, finish);
      } else {
        m->leaveGroup(gid, finish);
      }
    });
  }
  m->start();
  exit_after(o.timeout_s > 0 ? o.timeout_s : 20, kExitQueued);
  return kKeepRunning;
}

}  // namespace

int finish(int code) {
  // From the messenger's flag, not its signal: the loop may have stopped before that came.
  if (!opened || !opened->storeDamaged()) return code;
  if (!std::exchange(damage_said, true)) fail(opened->storeDamageReport(), 0);
  return code == kExitOk ? kExitDamaged : code;
}

int run(const Options& o) {
  if (o.command == "register") return do_register(o);
  if (o.command == "passphrase") return do_passphrase(o);
  if (o.command == "send") return do_send(o);
  if (o.command == "send-file") return do_send_file(o);
  if (o.command == "queued") return do_queued(o);
  if (o.command == "fetch") return do_fetch(o);
  if (o.command == "react") return do_react(o);
  if (o.command == "edit") return do_edit(o);
  if (o.command == "delete") return do_delete(o);
  if (o.command == "listen") return do_listen(o);
  if (o.command == "history") return do_history(o);
  if (o.command == "contacts") return do_contacts(o);
  if (o.command == "chats") return do_chats(o);
  if (o.command == "mute" || o.command == "unmute" || o.command == "pin" || o.command == "unpin" ||
      o.command == "archive" || o.command == "unarchive" ||
      o.command == "mark-unread")
    return do_chat_setting(o);
  if (o.command == "read") return do_read(o);
  if (o.command == "disappear") return do_disappear(o);
  if (o.command == "default-disappear") return do_default_disappear(o);
  if (o.command == "clear") return do_clear(o);
  if (o.command == "verify") return do_verify(o);
  if (o.command == "status") return do_status(o);
  if (o.command == "group") return do_group(o);
  return fail("unknown command", kExitUsage);
}

}  // namespace parley::cli
