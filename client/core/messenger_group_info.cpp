// A group's name, description and avatar. They travel only end to end, as GROUP_INFO group
// messages from admins; every member applies the one with the highest group seq, so all end
// with the same state whatever order they opened them in.
#include <QSqlQuery>
#include <QVariant>

#include "e2e.pb.h"
#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "util/bytes.hpp"

namespace parley::client {
namespace {

// An absent avatar is stored as NULL, not as an empty blob.
QVariant avatar_value(const QByteArray& avatar) {
  return avatar.isEmpty() ? QVariant(QMetaType(QMetaType::QByteArray)) : QVariant(avatar);
}

}  // namespace

QString Messenger::groupAvatarProblem(const QByteArray& avatar) {
  if (avatar.isEmpty()) return {};
  if (avatar.size() > kMaxGroupAvatarBytes)
    return QStringLiteral("the avatar is %1 KiB; at most %2 KiB fits (scale it down first)")
        .arg((avatar.size() + 1023) / 1024)
        .arg(kMaxGroupAvatarBytes / 1024);
  // Only formats every client can decode; the bytes are checked again where they are shown.
  const bool png = avatar.startsWith("\x89PNG\r\n\x1a\n");
  const bool jpeg = avatar.startsWith("\xff\xd8\xff");
  const bool webp = avatar.size() >= 12 && avatar.startsWith("RIFF") && avatar.mid(8, 4) == "WEBP";
  if (!png && !jpeg && !webp) return QStringLiteral("the avatar must be a PNG, JPEG or WebP image");
  return {};
}

GroupInfo Messenger::groupInfo(const QByteArray& group_id) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT name, description, avatar FROM groups WHERE id = ?");
  q.addBindValue(group_id);
  if (!q.exec() || !q.next()) return {};
  return {q.value(0).toString(), q.value(1).toString(), q.value(2).toByteArray()};
}

QString Messenger::groupName(const QByteArray& group_id) { return groupInfo(group_id).name; }

QString Messenger::groupDescription(const QByteArray& group_id) {
  return groupInfo(group_id).description;
}

QByteArray Messenger::groupAvatar(const QByteArray& group_id) { return groupInfo(group_id).avatar; }

bool Messenger::applyGroupInfo(const QByteArray& group_id, const e2e::Content& info, qint64 seq) {
  const auto avatar = qbytes(info.group_avatar());
  QSqlQuery q(db_->db());
  q.prepare("UPDATE groups SET name = ?, description = ?, avatar = ?, info_seq = ?"
            " WHERE id = ? AND info_seq < ?");
  q.addBindValue(QString::fromStdString(info.text()));
  q.addBindValue(QString::fromStdString(info.group_description()));
  q.addBindValue(avatar_value(avatar));
  q.addBindValue(seq);
  q.addBindValue(group_id);
  q.addBindValue(seq);
  return q.exec() && q.numRowsAffected() > 0;
}

bool Messenger::announceGroupInfo(const QByteArray& group_id, const GroupInfo& info, QString* error) {
  e2e::Content content;
  content.set_type(e2e::GROUP_INFO);
  content.set_text(info.name.toStdString());
  content.set_group_description(info.description.toStdString());
  content.set_group_avatar(sbytes(info.avatar));
  return enqueueGroup(group_id, std::move(content), {}, error).has_value();
}

bool Messenger::setGroupInfo(const QByteArray& group_id, const GroupInfo& wanted, QString* error) {
  GroupInfo info{wanted.name.trimmed(), wanted.description, wanted.avatar};
  if (!isAdmin(group_id, profile_.username)) {
    *error = QStringLiteral("only a group admin can change the group's name, description or avatar");
    return false;
  }
  if (info.name.isEmpty()) {
    *error = QStringLiteral("the group name is empty");
    return false;
  }
  if (info.name.toUtf8().size() + info.description.toUtf8().size() > detail::kMaxTextBytes) {
    *error = QStringLiteral("the name and description are longer than 64 KiB");
    return false;
  }
  if (const auto problem = groupAvatarProblem(info.avatar); !problem.isEmpty()) {
    *error = problem;
    return false;
  }
  if (!announceGroupInfo(group_id, info, error)) return false;
  // Shown here at once; the group seq from the SendAck then orders it against other admins'.
  QSqlQuery q(db_->db());
  q.prepare("UPDATE groups SET name = ?, description = ?, avatar = ? WHERE id = ?");
  q.addBindValue(info.name);
  q.addBindValue(info.description);
  q.addBindValue(avatar_value(info.avatar));
  q.addBindValue(group_id);
  q.exec();
  emit groupInfoChanged(group_id, profile_.username, info.name, info.description);
  return true;
}

bool Messenger::renameGroup(const QByteArray& group_id, const QString& name,
                            const QString& description, QString* error) {
  return setGroupInfo(group_id, {name, description, groupAvatar(group_id)}, error);
}

bool Messenger::setGroupAvatar(const QByteArray& group_id, const QByteArray& avatar, QString* error) {
  auto info = groupInfo(group_id);
  info.avatar = avatar;
  return setGroupInfo(group_id, info, error);
}

}  // namespace parley::client
