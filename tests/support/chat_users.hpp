#pragma once
// People talking through a real relay, for tests of what travels inside conversations
// (replies, reactions, edits): each a profile with its messenger, the messages it was told
// of and the problems it was shown, and a way to make one send what no Parley client would.
#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>
#include <QVariant>
#include <functional>
#include <map>
#include <memory>

#include "messenger.hpp"
#include "relay_process.hpp"

namespace parley::e2e {
class Content;
}

namespace parley::test {

struct ChatUser {
  QString name;
  QString dir;
  QList<QByteArray> received;  // messageReceived ids
  QStringList problems;        // what problem() said
  // Last, so it goes first: a messenger closing may still say something to the lists above.
  std::unique_ptr<client::Messenger> m;

  void attach();  // connects received and problems to m
  // Closes the profile and opens it again (after a change to its files), connecting to the
  // relay if `start`; false when it cannot be opened.
  bool reopen(bool start = true);
  client::StoredMessage find(const QString& peer, const QByteArray& id) const;
  bool waitReceived(const QByteArray& id, int timeout_ms = 15000) const;
};

// One statement on a closed profile's database; `first` gets the first row's first column.
bool profileSql(const QString& dir, const QString& statement, const QVariantList& binds,
                QVariant* first = nullptr);

class ChatUsers {
 protected:
  // Starts relay_ and registers each of `names`; false (with a warning) on any failure.
  bool startWith(const QStringList& names);
  // Registers `name` on relay_ in a profile under home_ (m null on failure).
  ChatUser& join(const QString& name);
  ChatUser& user(const QString& name) { return *users_.at(name); }
  QByteArray send(ChatUser& from, const QString& to, const QString& text, qint64 reply_to = 0);
  // A message from `from` to `to` that `to` has (empty when it never came).
  QByteArray delivered(ChatUser& from, ChatUser& to, const QString& text);
  // A group `name` that `admin` made with `members` (empty, with a warning, on failure).
  QByteArray makeGroup(ChatUser& admin, const QString& name, const QStringList& members);
  // `from` sends the file at `path` to `to` with `caption` (answering `reply_to`); the message
  // as `to` keeps it once it is there (id 0 if it never came).
  client::StoredMessage sendFile(ChatUser& from, ChatUser& to, const QString& path, const QString& caption,
                                 qint64 reply_to = 0);
  // Queues something from `from` while it is offline (`queue`, on its messenger), then changes
  // the newest outbox row's content with `doctor` before it leaves, as no Parley client would
  // write it, and brings `from` online. Returns that row's client_msg_id (empty on failure).
  QByteArray sendDoctored(ChatUser& from, const std::function<bool(client::Messenger&)>& queue,
                          const std::function<void(e2e::Content&)>& doctor);

  RelayProcess relay_;
  QTemporaryDir home_;
  std::map<QString, std::unique_ptr<ChatUser>> users_;
};

}  // namespace parley::test
