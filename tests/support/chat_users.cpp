#include "chat_users.hpp"

#include <QSqlError>
#include <QSqlQuery>

#include "client_user.hpp"
#include "e2e.pb.h"
#include "sealed_db.hpp"
#include "test_client.hpp"

namespace parley::test {

void ChatUser::attach() {
  QObject::connect(m.get(), &client::Messenger::messageReceived, m.get(),
                   [this](const QString&, const QByteArray& id) { received << id; });
  QObject::connect(m.get(), &client::Messenger::problem, m.get(), [this](const QString& p) { problems << p; });
}

bool ChatUser::reopen(bool start) {
  m.reset();
  m = openClientProfile(dir);
  if (!m) return false;
  attach();
  if (start) m->start();
  return true;
}

client::StoredMessage ChatUser::find(const QString& peer, const QByteArray& id) const {
  for (const auto& s : m->history(peer))
    if (s.clientMsgId == id) return s;
  return {};
}

bool ChatUser::waitReceived(const QByteArray& id, int timeout_ms) const {
  return spinUntil([&] { return received.contains(id); }, timeout_ms);
}

bool profileSql(const QString& dir, const QString& statement, const QVariantList& binds, QVariant* first) {
  static int n = 0;
  const QString name = QStringLiteral("chat-users-%1").arg(++n);
  bool ok = false;
  {
    auto db = sealedDatabase(dir + "/parley.db", name);
    if (db.open()) {
      QSqlQuery q(db);
      q.prepare(statement);
      for (const auto& b : binds) q.addBindValue(b);
      ok = q.exec();
      if (!ok) qWarning("%s: %s", qPrintable(statement), qPrintable(q.lastError().text()));
      if (ok && first && q.next()) *first = q.value(0);
      q.finish();
      db.close();
    }
  }
  QSqlDatabase::removeDatabase(name);
  return ok;
}

bool ChatUsers::startWith(const QStringList& names) {
  if (!home_.isValid() || !relay_.start()) {
    qWarning("no scratch folder or relay");
    return false;
  }
  for (const auto& name : names)
    if (!join(name).m) return false;
  return true;
}

ChatUser& ChatUsers::join(const QString& name) {
  auto u = std::make_unique<ChatUser>();
  u->name = name;
  u->dir = home_.filePath(name);
  u->m = registerClientUser(relay_.url(), u->dir, name);
  if (u->m) u->attach();
  return *(users_[name] = std::move(u));
}

QByteArray ChatUsers::send(ChatUser& from, const QString& to, const QString& text, qint64 reply_to) {
  QString error;
  const auto id = from.m->sendText(to, text, &error, reply_to);
  if (!id) qWarning("sendText: %s", qPrintable(error));
  return id.value_or(QByteArray());
}

QByteArray ChatUsers::sendDoctored(ChatUser& from, const std::function<bool(client::Messenger&)>& queue,
                                   const std::function<void(e2e::Content&)>& doctor) {
  if (!from.reopen(false) || !queue(*from.m)) return {};
  from.m.reset();
  QVariant sent, stored;
  if (!profileSql(from.dir, "SELECT client_msg_id FROM outbox ORDER BY seq DESC LIMIT 1", {}, &sent) ||
      !profileSql(from.dir, "SELECT content FROM outbox WHERE client_msg_id = ?", {sent}, &stored))
    return {};
  e2e::Content content;
  if (!content.ParseFromString(stored.toByteArray().toStdString())) return {};
  doctor(content);
  const auto bytes = QByteArray::fromStdString(content.SerializeAsString());
  if (!profileSql(from.dir, "UPDATE outbox SET content = ? WHERE client_msg_id = ?", {bytes, sent})) return {};
  if (!from.reopen()) return {};
  return sent.toByteArray();
}

client::StoredMessage ChatUsers::sendFile(ChatUser& from, ChatUser& to, const QString& path, const QString& caption,
                                          qint64 reply_to) {
  QString error;
  client::StoredMessage got;
  if (from.m->sendFile(to.name, path, caption, &error, reply_to) == 0) {
    qWarning("sendFile: %s", qPrintable(error));
    return got;
  }
  spinUntil([&] {
    for (const auto& m : to.m->history(from.name))
      if (m.hasAttachment && m.body == caption) got = m;
    return got.id != 0;
  }, 15000);
  return got;
}

QByteArray ChatUsers::delivered(ChatUser& from, ChatUser& to, const QString& text) {
  const auto id = send(from, to.name, text);
  if (id.isEmpty() || !to.waitReceived(id)) return {};
  return id;
}

QByteArray ChatUsers::makeGroup(ChatUser& admin, const QString& name, const QStringList& members) {
  QByteArray gid;
  QString error;
  admin.m->createGroup(name, members, [&](const QByteArray& id, const QString& e) {
    gid = id;
    error = e;
  });
  if (!spinUntil([&] { return !gid.isEmpty() || !error.isEmpty(); }, 15000)) return {};
  if (!error.isEmpty()) qWarning("createGroup: %s", qPrintable(error));
  return gid;
}

}  // namespace parley::test
