// Who is in a group. Every membership change is signed by its actor's identity key over the
// members after it (common/parley/group_change.hpp); we sign ours from the members we know,
// and take a change the relay delivers only if its actor signed it and it follows from the
// members we know by the same rules. Our sender key goes only to members known this way, so a
// relay cannot add a reader of its own (docs/protocol.md, "Signed membership changes").
#include <QDateTime>
#include <QSqlQuery>
#include <QVariant>

#include <algorithm>

#include "messenger.hpp"
#include "messenger_internal.hpp"
#include "sync/group_ticks.hpp"
#include "parley/username.hpp"
#include "util/bytes.hpp"

namespace parley::client {

using detail::save_last_acked;

namespace {

bool folded(const std::string& name) { return !name.empty() && fold_username(name) == name; }

}  // namespace

Messenger::GroupState Messenger::groupState(const QByteArray& group_id) {
  GroupState st;
  QSqlQuery g(db_->db());
  g.prepare("SELECT epoch, left, out_of_step FROM groups WHERE id = ?");
  g.addBindValue(group_id);
  if (!g.exec() || !g.next()) return st;
  st.epoch = g.value(0).toLongLong();
  st.member = !g.value(1).toBool();
  st.out_of_step = g.value(2).toBool();
  if (!st.member) return st;
  QSqlQuery m(db_->db());
  m.prepare("SELECT username, admin FROM group_members WHERE group_id = ? ORDER BY seat");
  m.addBindValue(group_id);
  m.exec();
  while (m.next()) st.seats.push_back({m.value(0).toString().toStdString(), m.value(1).toBool()});
  return st;
}

std::optional<Messenger::SignedGroupChange> Messenger::signGroupChange(const QByteArray& group_id,
                                                                      GroupChange change, QString* why) {
  const auto st = groupState(group_id);
  if (change.kind != GroupChangeKind::Created && !st.member) {
    *why = QStringLiteral("not a member of this group");
    return std::nullopt;
  }
  change.actor = profile_.username.toStdString();
  std::string problem;
  auto after = next_members(change.kind == GroupChangeKind::Created ? GroupSeats{} : st.seats, change, &problem);
  if (!after) {
    *why = QString::fromStdString(problem);
    return std::nullopt;
  }
  const auto epoch = change.kind == GroupChangeKind::Created ? 1 : st.epoch + 1;
  const auto transcript = group_change_transcript(sbytes(group_id), static_cast<std::uint64_t>(epoch),
                                                  change.kind, change.actor, change.targets, *after);
  const auto sig = profile_.identity.sign(crypto::ByteView(
      reinterpret_cast<const std::uint8_t*>(transcript.data()), transcript.size()));
  return SignedGroupChange{sbytes(sig.view()), std::move(*after), epoch};
}

bool Messenger::saveGroupSeats(const QByteArray& group_id, const GroupSeats& after, qint64 epoch,
                               qint64 joined_seq) {
  bool added = false;
  auto& db = db_->db();
  const auto me = profile_.username.toStdString();
  const bool member = std::any_of(after.begin(), after.end(), [&](const GroupSeat& s) { return s.username == me; });
  QSqlQuery g(db);
  // Out of step (the epoch of a signed change we could not take) ends when we join (an admin
  // added us back) or leave, or reach that epoch by changes that each followed.
  g.prepare("INSERT INTO groups(id, epoch, left) VALUES(?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
            " epoch = excluded.epoch, left = excluded.left, out_of_step = CASE WHEN groups.left = 1"
            " OR excluded.left = 1 OR excluded.epoch >= groups.out_of_step THEN 0 ELSE groups.out_of_step END");
  g.addBindValue(group_id);
  g.addBindValue(epoch);
  g.addBindValue(member ? 0 : 1);
  if (!g.exec()) return false;
  QStringList names;
  for (const auto& s : after) names << QString::fromStdString(s.username);
  {
    // Rows of members still in keep key_sent: they have the key they were sent.
    QSqlQuery existing(db);
    existing.prepare("SELECT username FROM group_members WHERE group_id = ?");
    existing.addBindValue(group_id);
    if (!existing.exec()) return false;
    QStringList gone, kept;
    while (existing.next()) {
      const auto name = existing.value(0).toString();
      (names.contains(name) ? kept : gone) << name;
    }
    // Members new to us joined at this change: our messages numbered after it went to them,
    // and may have been judged without them while their event was on its way.
    added = std::any_of(names.begin(), names.end(), [&](const QString& n) { return !kept.contains(n); });
    for (const auto& name : gone) {
      QSqlQuery del(db);
      del.prepare("DELETE FROM group_members WHERE group_id = ? AND username = ?");
      del.addBindValue(group_id);
      del.addBindValue(name);
      if (!del.exec()) return false;
    }
    // Our messages no longer wait for them (sync/group_ticks.hpp).
    if (!gone.isEmpty()) {
      const auto moved = group_ticks::resettle(db, profile_.username, group_id);
      if (!moved) return false;
      announceTicks(groupPeer(group_id), *moved);
    }
  }
  for (qsizetype i = 0; i < names.size(); ++i) {
    QSqlQuery up(db);
    // A member already there keeps the seq they joined at.
    up.prepare("INSERT INTO group_members(group_id, username, admin, seat, joined_seq) VALUES(?, ?, ?, ?, ?)"
               " ON CONFLICT(group_id, username) DO UPDATE SET admin = excluded.admin, seat = excluded.seat");
    up.addBindValue(group_id);
    up.addBindValue(names[i]);
    up.addBindValue(after[static_cast<std::size_t>(i)].admin ? 1 : 0);
    up.addBindValue(i);
    up.addBindValue(joined_seq);
    if (!up.exec()) return false;
  }
  if (added && joined_seq > 0) {
    const auto moved = group_ticks::resettle(db, profile_.username, group_id, joined_seq,
                                             group_ticks::Moves::Regrade);
    if (!moved) return false;
    announceTicks(groupPeer(group_id), *moved);
  }
  // A name and description offered with a member's key before we knew the member (an
  // admin's first): filled in where we have none yet.
  QSqlQuery offered(db);
  offered.prepare("SELECT k.offered_name, k.offered_description FROM sender_keys k JOIN group_members m"
                  " ON m.group_id = k.group_id AND m.username = k.sender WHERE k.group_id = ?"
                  " AND k.offered_name != '' ORDER BY m.admin DESC, k.created_ms DESC LIMIT 1");
  offered.addBindValue(group_id);
  if (!offered.exec()) return false;
  if (!offered.next()) return true;
  QSqlQuery fill(db);
  fill.prepare("UPDATE groups SET name = CASE WHEN name = '' THEN ? ELSE name END,"
               " description = CASE WHEN info_seq < 0 AND description = '' THEN ? ELSE description END"
               " WHERE id = ?");
  fill.addBindValue(offered.value(0).toString());
  fill.addBindValue(offered.value(1).toString());
  fill.addBindValue(group_id);
  return fill.exec();
}

bool Messenger::groupOutOfStep(const QByteArray& group_id) {
  QSqlQuery q(db_->db());  // not groupState(): the member list is not needed
  q.prepare("SELECT out_of_step FROM groups WHERE id = ?");
  q.addBindValue(group_id);
  return q.exec() && q.next() && q.value(0).toBool();
}

bool Messenger::isMember(const QByteArray& group_id, const QString& name) {
  return detail::is_member(db_->db(), group_id, name);
}

bool Messenger::mayWrite(const QByteArray& group_id, const QString& sender, qint64 conv_seq) {
  if (isMember(group_id, sender)) return true;
  QSqlQuery q(db_->db());
  q.prepare("SELECT 1 FROM group_departures WHERE group_id = ? AND username = ? AND left_seq > ?");
  q.addBindValue(group_id);
  q.addBindValue(sender);
  q.addBindValue(conv_seq);
  return q.exec() && q.next();
}

std::optional<crypto::PublicKey> Messenger::actorKey(const QString& actor, const std::string& offered) {
  if (actor == profile_.username) return profile_.identity.public_key();
  QSqlQuery q(db_->db());
  q.prepare("SELECT identity_key FROM contacts WHERE username = ?");
  q.addBindValue(actor);
  if (q.exec() && q.next() && !q.value(0).isNull())
    return crypto::PublicKey::from(view(q.value(0).toByteArray()));
  // Never met: the relay's word for the key is all there is, as for a first prekey bundle.
  // It is pinned (checkGroupEvent) so a later session with another key is held as a change.
  return crypto::PublicKey::from(view(offered));
}

Messenger::EventCheck Messenger::checkGroupEvent(const QByteArray& group_id, const wire::Deliver& d) {
  EventCheck c;
  const auto& ev = d.event();
  const auto kind = ev.kind();
  if (kind < wire::GroupEvent::CREATED || kind > wire::GroupEvent::ADMIN_CHANGED || ev.actor() != d.sender() ||
      !folded(ev.actor())) {
    c.problem = QStringLiteral("a malformed change to the members of group %1 was ignored");
    return c;
  }
  c.change.kind = static_cast<GroupChangeKind>(kind);
  c.change.actor = ev.actor();
  for (const auto& t : ev.targets()) {
    if (!folded(t)) {
      c.problem = QStringLiteral("a malformed change to the members of group %1 was ignored");
      return c;
    }
    c.change.targets.push_back(t);
  }
  for (const auto& m : ev.members_after()) {
    if (!folded(m.username())) {
      c.problem = QStringLiteral("a malformed change to the members of group %1 was ignored");
      return c;
    }
    c.after.push_back({m.username(), m.admin()});
  }
  const auto actor = QString::fromStdString(ev.actor());
  const auto key = actorKey(actor, ev.actor_identity_key());
  const auto sig = crypto::Signature::from(view(ev.signature()));
  const auto transcript = group_change_transcript(sbytes(group_id), ev.epoch(), c.change.kind, c.change.actor,
                                                  c.change.targets, c.after);
  if (!key || !sig ||
      !crypto::verify(*key, crypto::ByteView(reinterpret_cast<const std::uint8_t*>(transcript.data()),
                                              transcript.size()), *sig)) {
    c.problem = QStringLiteral("the relay sent group %1 a change to its members that %2 did not sign;"
                               " it was ignored")
                    .arg(QStringLiteral("%1"), actor);
    return c;
  }
  c.actor_key = *key;
  const auto st = groupState(group_id);
  const auto epoch = static_cast<qint64>(ev.epoch());
  const auto me = profile_.username.toStdString();
  const auto in = [&](const auto& list, auto&& match) { return std::any_of(list.begin(), list.end(), match); };
  const bool named = in(c.change.targets, [&](const std::string& t) { return t == me; });
  const bool in_after = in(c.after, [&](const GroupSeat& s) { return s.username == me; });
  const bool admin_actor = in(c.after, [&](const GroupSeat& s) { return s.username == c.change.actor && s.admin; });
  if (epoch <= st.epoch) {
    // Ours, applied when the relay answered, or one handled before a restart.
    c.outcome = EventCheck::AlreadyApplied;
    c.echo = c.change.actor == me && epoch == st.epoch;
    return c;
  }
  if (st.member && epoch == st.epoch + 1) {
    if (c.change.kind == GroupChangeKind::AdminChanged && c.change.targets.size() == 1)
      for (const auto& s : c.after)
        if (s.username == c.change.targets[0]) c.change.admin = s.admin;
    const auto expected = next_members(st.seats, c.change);
    if (expected && *expected == c.after) {
      c.outcome = EventCheck::Apply;
      return c;
    }
  } else if ((c.change.kind == GroupChangeKind::Created && epoch == 1 && c.change.actor == me && !st.member) ||
             ((c.change.kind == GroupChangeKind::Created || c.change.kind == GroupChangeKind::Added) && named)) {
    // We join (or, having missed a change, are added again): the members before us are the
    // actor's word, which it signed; it must be an admin among them, and a group is created
    // only at epoch 1 with the list the rule makes. Our own CREATED counts when the relay's
    // answer to it was lost.
    const auto created = next_members({}, c.change);
    if (admin_actor && in_after &&
        (c.change.kind != GroupChangeKind::Created || (epoch == 1 && created && *created == c.after))) {
      c.outcome = EventCheck::Apply;
      return c;
    }
  } else if (st.member && named && !in_after && admin_actor && c.change.kind == GroupChangeKind::Removed) {
    // Removed after a change we missed: an admin's signed word that we are out.
    c.outcome = EventCheck::Apply;
    return c;
  }
  // Signed but not following what we know: a change never reached us (or the relay made this
  // one up from real signatures). Nothing goes to the group until an admin's change brings
  // us back in step.
  c.out_of_step = st.member && epoch > st.epoch + 1;
  c.problem = QStringLiteral("the relay sent group %1 a change to its members (epoch %2, by %3) that does not"
                             " follow from the members known here (epoch %4); it was ignored")
                  .arg(QStringLiteral("%1"), QString::number(epoch), actor, QString::number(st.epoch));
  if (c.out_of_step)
    c.problem += QStringLiteral(". A change has not reached this device: nothing is sent to the group until an"
                                " admin removes you and adds you again");
  return c;
}

// Its group id is 16 bytes: onDeliver drops any other before it comes here.
void Messenger::onGroupEvent(const wire::Deliver& d) {
  const auto gid = qbytes(d.group_id());
  const auto peer = groupPeer(gid);
  const auto check = checkGroupEvent(gid, d);
  const auto& change = check.change;
  const bool departure = change.kind == GroupChangeKind::Removed || change.kind == GroupChangeKind::Left;
  const auto me = profile_.username.toStdString();
  const bool member = std::any_of(check.after.begin(), check.after.end(),
                                  [&](const GroupSeat& s) { return s.username == me; });
  const auto epoch = static_cast<qlonglong>(d.event().epoch());
  const bool was_out_of_step = groupOutOfStep(gid);
  const bool stored = db_->transaction([&] {
    auto& db = db_->db();
    const auto done = [&] { return noteSeq(peer, d.conv_seq()) && save_last_acked(db, d.inbox_seq()); };
    if (check.outcome == EventCheck::Refused) {
      QSqlQuery stuck(db);
      stuck.prepare("UPDATE groups SET out_of_step = MAX(out_of_step, ?) WHERE id = ?");
      stuck.addBindValue(epoch);
      stuck.addBindValue(gid);
      return (!check.out_of_step || stuck.exec()) && done();
    }
    // Our removals whose event this is (or is past): their members' later messages are not.
    QSqlQuery closed(db);
    closed.prepare("DELETE FROM group_departures WHERE group_id = ? AND left_seq <= ?");
    closed.addBindValue(gid);
    closed.addBindValue(static_cast<qlonglong>(d.conv_seq()));
    if (!closed.exec()) return false;
    if (check.outcome == EventCheck::AlreadyApplied) return done();
    if (change.actor != me) {
      QSqlQuery pin(db);  // first key we hear for this account (see actorKey)
      pin.prepare("INSERT INTO contacts(username, identity_key, added_ms) VALUES(?, ?, ?)"
                  " ON CONFLICT(username) DO UPDATE SET identity_key = excluded.identity_key"
                  " WHERE contacts.identity_key IS NULL");
      pin.addBindValue(QString::fromStdString(change.actor));
      pin.addBindValue(qbytes(check.actor_key.view()));
      pin.addBindValue(QDateTime::currentMSecsSinceEpoch());
      if (!pin.exec()) return false;
    }
    if (!saveGroupSeats(gid, check.after, epoch, static_cast<qint64>(d.conv_seq()))) return false;
    if (!member) {
      if (!dropOwnSenderKey(gid)) return false;
    } else if (departure) {
      // Someone who held our key is gone: unless our key is already newer than this change
      // (we removed them ourselves and have rotated), the next message uses a new key.
      QSqlQuery rot(db);
      rot.prepare("UPDATE groups SET needs_rotation = 1 WHERE id = ? AND my_sender_key IS NOT NULL"
                  " AND key_distributed_epoch < ?");
      rot.addBindValue(gid);
      rot.addBindValue(epoch);
      if (!rot.exec()) return false;
    }
    QSqlQuery conv(db);
    conv.prepare("INSERT INTO conversations(peer, last_activity_ms) VALUES(?, ?)"
                 " ON CONFLICT(peer) DO NOTHING");
    conv.addBindValue(peer);
    conv.addBindValue(QDateTime::currentMSecsSinceEpoch());
    return conv.exec() && done();
  });
  if (!stored) return receiveFailed(QStringLiteral("could not store a group change"));
  scheduleAck(d.inbox_seq());
  if (gid.size() == 16 && groupOutOfStep(gid) != was_out_of_step) emit groupOutOfStepChanged(gid, !was_out_of_step);
  if (check.outcome == EventCheck::Refused) {
    if (!check.problem.isEmpty()) emit problem(check.problem.arg(peer));
    return;
  }
  if (check.outcome == EventCheck::AlreadyApplied && !check.echo) return;  // a replay: shown before
  // New members (or a new group): they need our key.
  if (check.outcome == EventCheck::Apply && member &&
      (change.kind == GroupChangeKind::Created || change.kind == GroupChangeKind::Added))
    distributeSenderKey(gid);
  QStringList targets;
  for (const auto& t : change.targets) targets << QString::fromStdString(t);
  emit groupChanged(gid, static_cast<int>(change.kind), QString::fromStdString(change.actor), targets);
}

void Messenger::adoptRelayOrder() {
  QSqlQuery q(db_->db());
  q.exec("SELECT id, epoch FROM groups WHERE order_unchecked = 1 AND left = 0");
  while (q.next()) {
    const auto gid = q.value(0).toByteArray();
    const auto epoch = q.value(1).toLongLong();
    wire::ClientFrame f;
    f.mutable_get_group()->set_group_id(sbytes(gid));
    relay_->request(std::move(f), [this, gid, epoch](const wire::ServerFrame& r) {
      if (!r.has_group_info() && !(r.has_error() && r.error().code() == wire::FORBIDDEN)) return;  // next login
      const auto st = groupState(gid);
      if (st.epoch != epoch) return;  // a change came meanwhile: next login
      GroupSeats relay;
      for (const auto& m : r.group_info().members()) relay.push_back({m.username(), m.admin()});
      auto sorted = [](GroupSeats v) {
        std::sort(v.begin(), v.end(), [](const GroupSeat& a, const GroupSeat& b) { return a.username < b.username; });
        return v;
      };
      const bool same = r.has_group_info() && static_cast<qint64>(r.group_info().epoch()) == epoch &&
                        sorted(relay) == sorted(st.seats);
      const bool saved = db_->transaction([&] {
        if (same && !saveGroupSeats(gid, relay, epoch, 0)) return false;
        QSqlQuery done(db_->db());
        done.prepare("UPDATE groups SET order_unchecked = 0, out_of_step = ? WHERE id = ?");
        done.addBindValue(same ? 0 : epoch + 1);  // until a change after this one is taken
        done.addBindValue(gid);
        return done.exec();
      });
      if (saved && !same) emit groupOutOfStepChanged(gid, true);
    });
  }
}

}  // namespace parley::client
