#include "messenger.hpp"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include <QCoreApplication>
#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QDir>
#include <QSqlError>
#include <QSqlQuery>
#include <QTimer>
#include <QVariant>
#include <sodium.h>

#include "crypto/ratchet.hpp"
#include "crypto/safety_number.hpp"
#include "crypto/x3dh.hpp"
#include "e2e.pb.h"
#include "media/transfer.hpp"
#include "messenger_internal.hpp"
#include "parley/limits.hpp"
#include "parley/username.hpp"
#include "sync/delivery_marks.hpp"
#include "util/bytes.hpp"

namespace parley::client {

namespace {
constexpr int kInitialOneTimePrekeys = 100;
}

Messenger::Messenger(std::unique_ptr<ProfileLock> lock, Profile profile, std::unique_ptr<Database> db)
    : lock_(std::move(lock)), profile_(std::move(profile)), db_(std::move(db)),
      relay_(std::make_unique<RelayClient>(profile_.server)) {
  retry_timer_.setSingleShot(true);
  connect(&retry_timer_, &QTimer::timeout, this, [this] { flushOutbox(); });
  key_expiry_timer_.setInterval(std::chrono::hours(1));
  connect(&key_expiry_timer_, &QTimer::timeout, this, [this] { expireSkippedKeysIfDue(); });
  key_expiry_timer_.start();
  scrub_timer_.setSingleShot(true);
  scrub_timer_.setInterval(std::chrono::seconds(2));
  connect(&scrub_timer_, &QTimer::timeout, this, [this] {
    if (db_->inBatch()) return scrub_timer_.start();  // a replay in progress: after it
    scrub_due_ = !db_->scrubRemovedWords();
    if (scrub_due_)
      emit problem(QStringLiteral("could not clear deleted words from the local search index; "
                                  "trying again after the next change"));
  });
  // A page that fails its check ends the query that read it, which most reads here take as
  // "no more rows": without this the user would see a shorter history, or a peer without its
  // session, and not know why. storeDamaged() is true at once, for whoever must not take what
  // it read for the whole; the report waits until the query's caller is done.
  db_->onDamage([this] {
    if (std::exchange(store_damaged_, true)) return;
    QMetaObject::invokeMethod(this, [this] { emit storeDamageFound(storeDamageReport()); }, Qt::QueuedConnection);
  });
  sweep_timer_.setSingleShot(true);
  connect(&sweep_timer_, &QTimer::timeout, this, [this] { sweepExpired(); });
  key_request_timer_.setSingleShot(true);
  connect(&key_request_timer_, &QTimer::timeout, this, [this] { requestMissingSenderKeys(); });
  wireRelay();
  removeStaleCopies();
  // What came to its end while Parley was not running goes before anything reads history.
  sweepExpired();
}

Messenger::~Messenger() {
  commitReceiveBatch();
  settleRemovals(true);
  if (scrub_due_) db_->scrubRemovedWords();  // not left for a next run
  // Transfers do not outlive the messenger. Each job is ended quietly (its reply aborted
  // before the file it uploads from goes, and nothing reported to this half-destroyed
  // object), then its files go as a failed transfer's do (endTransfer). A worker thread still
  // encrypting or checking may hold one open; on Windows it then stays. A download's shared
  // .part stays, for the next fetch to resume from, and a queued file's encrypted copy, for
  // the next run to go on uploading.
  for (auto& [id, t] : transfers_) {
    t.cancelled->store(true);
    if (t.job) {
      t.job->disconnect(this);
      t.job->cancel();
      delete t.job.data();
    }
    removeFilesOf(t, true);
  }
}

void Messenger::wireRelay() {
  connect(relay_.get(), &RelayClient::stateChanged, this, [this](RelayClient::State s) {
    emit stateChanged(s);
    if (s == RelayClient::State::Syncing || s == RelayClient::State::Online) flushOutbox();
  });
  relay_->onPush = [this](const wire::ServerFrame& f) { onPush(f); };
  relay_->beforeSend = [this] { return commitReceiveBatch(); };
  relay_->onLoggedIn = [this](const wire::ServerFrame& f) { onLoggedIn(f); };
  relay_->onAuthFailed = [this](const wire::Error& e) {
    emit problem(QStringLiteral("the relay refused this profile's login: %1")
                     .arg(detail::relay_reason(e.reason())));
  };
  relay_->onResumePastInbox = [this] {
    // What is still in a receive batch belongs to the old numbering too: stored first, so
    // that nothing raises the cursor back after it is forgotten.
    commitReceiveBatch();
    QSqlQuery q(db_->db());
    if (!q.exec("UPDATE settings SET value = 0 WHERE key = 'last_acked'")) {
      emit problem(QStringLiteral("could not reset this profile's inbox position: %1")
                       .arg(q.lastError().text()));
      return;
    }
    emit problem(QStringLiteral(
        "the relay has less of this device's inbox than this profile had already received "
        "(its data was restored from a backup); receiving everything it still has again"));
  };
}

void Messenger::registerProfile(const QString& dir, const QUrl& server, const QString& name,
                                Registered done, const QString& passphrase) {
  std::string why;
  const auto folded = fold_username(name.toStdString(), &why);
  if (folded.empty()) return done(nullptr, QString::fromStdString(why), wire::INVALID_USERNAME);
  const auto already = QStringLiteral("%1 already holds a profile").arg(dir);
  if (Profile::exists(dir)) return done(nullptr, already, 0);
  // The folder is locked before the relay is asked, and checked again under the lock: two
  // registrations into one folder at once (two windows) would otherwise both take a name on
  // the relay, and the second write over the first's identity key.
  const bool made_dir = !QFileInfo::exists(dir);
  if (!QDir().mkpath(dir)) return done(nullptr, QStringLiteral("cannot create %1").arg(dir), 0);
  QString refused;
  auto lock = ProfileLock::acquire(dir, &refused);
  if (!lock || Profile::exists(dir)) {
    if (lock) refused = already;
    lock.reset();
    if (made_dir) QDir().rmdir(dir);
    return done(nullptr, refused, 0);
  }
  crypto::init();
  auto profile = std::make_shared<Profile>(
      Profile{dir, QString::fromStdString(folded), server, 1, crypto::IdentityKeyPair::generate(), StoreKey{}});
  auto relay = std::make_shared<std::unique_ptr<RelayClient>>(std::make_unique<RelayClient>(server));
  auto held = std::make_shared<std::unique_ptr<ProfileLock>>(std::move(lock));
  RelayClient::Account account{profile->username, profile->device, &profile->identity};
  (*relay)->registerAccount(account, [profile, relay, held, made_dir, done, passphrase](const wire::ServerFrame& r) mutable {
    // Every outcome is reported from the event loop, outside this connection's own signal
    // handler: the connection goes with the last reference to `relay`, or with the messenger
    // (a caller that drops it, say a closed window). A refusal leaves nothing on disk but
    // what another process may have put there; a failure after the relay took the name
    // leaves what was written by then.
    // With a reason, `m` (if any) is only kept alive until then and the caller gets none.
    const auto report = [done, relay](std::unique_ptr<Messenger> m, QString reason, int code) {
      auto shared = std::make_shared<std::unique_ptr<Messenger>>(std::move(m));
      QMetaObject::invokeMethod(
          qApp,
          [shared, relay, done, reason, code] {
            if (!reason.isEmpty()) {
              shared->reset();  // its lock goes first: the caller may open the profile again
              return done(nullptr, reason, code);
            }
            done(std::move(*shared), {}, 0);
          },
          Qt::QueuedConnection);
    };
    const auto fail = [&](const QString& reason, int code) {
      held->reset();
      if (made_dir) QDir().rmdir(profile->dir);  // only when empty
      report(nullptr, reason, code);
    };
    if (!r.has_registered()) {
      return fail(r.has_error() ? QString::fromStdString(r.error().reason())
                                : QStringLiteral("unexpected answer from the relay"),
                  r.has_error() ? static_cast<int>(r.error().code()) : 0);
    }
    QString error;
    std::unique_ptr<Database> db;
    if (!profile->save(&error, passphrase) ||
        !(db = Database::open(profile->databasePath(), profile->storeKey.view(), &error)))
      return fail(error, 0);
    std::unique_ptr<Messenger> m(new Messenger(std::move(*held), std::move(*profile), std::move(db)));
    // The registered connection becomes the messenger's: it is already logged in.
    m->relay_ = std::move(*relay);
    m->relay_->setParent(nullptr);
    m->wireRelay();
    if (!m->createPrekeys(kInitialOneTimePrekeys)) {
      m->relay_->stop();
      return report(std::move(m), QStringLiteral("cannot store prekeys"), 0);
    }
    // From here the connection belongs to the messenger's account (its identity key
    // lives in the messenger now) and reconnects like any started one.
    m->start();
    auto* raw = m.get();
    auto holder = std::make_shared<std::unique_ptr<Messenger>>(std::move(m));
    raw->uploadPrekeys(true, [holder, report](bool ok) {
      if (!ok) {
        (*holder)->stop();
        return report(std::move(*holder), QStringLiteral("cannot upload prekeys"), 0);
      }
      report(std::move(*holder), {}, 0);
    });
  });
}

std::unique_ptr<Messenger> Messenger::open(const QString& dir, const QString& passphrase,
                                           QString* error, store_key::Status* status) {
  crypto::init();
  if (status) *status = store_key::Status::missing;
  if (!Profile::exists(dir)) return Profile::load(dir, error), nullptr;  // says why
  // Locked first: loading a profile from before encryption at rest seals its files.
  auto lock = ProfileLock::acquire(dir, error);
  if (!lock) return nullptr;
  auto profile = Profile::load(dir, passphrase, error, status);
  if (!profile) return nullptr;
  // Before any transfer of this process starts: whatever is left now is a dead process's.
  lock->removeLeftovers();
  auto db = Database::open(profile->databasePath(), profile->storeKey.view(), error);
  if (!db) return nullptr;
  return std::unique_ptr<Messenger>(new Messenger(std::move(lock), std::move(*profile), std::move(db)));
}

void Messenger::start() {
  RelayClient::Account account{profile_.username, profile_.device, &profile_.identity};
  relay_->start(account, [this](const std::string& relay_id) {
    return RelayClient::Resume{lastAcked(), marks::resume_version(db_->db(), qbytes(relay_id))};
  });
}

void Messenger::stop() {
  commitReceiveBatch();
  receive_broken_ = false;  // no refetch's reconnect after this
  relay_->stop();
}

void Messenger::beginReceiveBatch() {
  if (db_->inBatch() || !db_->beginBatch()) return;
  // Every Deliver handled in this turn of the event loop shares one commit.
  QTimer::singleShot(0, this, [this] { commitReceiveBatch(); });
}

bool Messenger::commitReceiveBatch() {
  if (!db_ || !db_->inBatch()) return true;
  if (db_->commitBatch()) {
    refetches_ = 0;
    return true;
  }
  refetchFromLastAck(QStringLiteral("could not save received messages (is the disk full?); they"
                                    " will be fetched from the relay again"));
  return false;
}

// Acks are cumulative and the saved cursor only rises: once one entry could not be stored,
// nothing after it may be stored or acknowledged either, or the relay would delete it. So the
// whole batch goes (the entries before it come again, and are stored then).
void Messenger::receiveFailed(const QString& what) {
  db_->abortBatch();
  refetchFromLastAck(what + QStringLiteral(" (is the disk full? free some space); it will be"
                                           " fetched from the relay again"));
}

void Messenger::refetchFromLastAck(const QString& why) {
  if (receive_broken_) return;
  // Nothing of the batch is stored, and nothing was acknowledged (acks go out only after
  // the commit): reconnect so the relay sends it all again from the last saved ack.
  receive_broken_ = true;
  ack_pending_ = 0;
  marks_paused_ = true;
  emit problem(why);
  // Offline at once; back after 0.5 s, doubling to a minute while storing keeps failing, so
  // a failure that does not go away (a full disk) does not become a reconnect loop.
  const int delay_ms = std::min(60'000, 500 << std::min(refetches_++, 7));
  QTimer::singleShot(0, this, [this, delay_ms] {
    relay_->stop();
    QTimer::singleShot(delay_ms, this, [this] {
      if (!receive_broken_) return;  // stopped (or started) by the user meanwhile
      receive_broken_ = false;
      start();
    });
  });
}

void Messenger::onLoggedIn(const wire::ServerFrame& f) {
  if (f.has_logged_in()) {
    // A restarted relay has forgotten the set, and so would not tell us when someone goes.
    presence_sent_ = false;
    if (!presence_watched_.isEmpty()) sendPresenceSet();
    marks_paused_ = false;  // this login asked for every mark after the last one stored
    topUpPrekeys(f.logged_in().one_time_prekeys_left());
    if (!f.logged_in().has_signed_prekey()) uploadPrekeys(true);
    rotateSignedPrekeyIfDue();
    expireSkippedKeysIfDue();
    adoptRelayOrder();
    armKeyRequests(0);  // runs once the replay is drained (it waits for that)
  }
  flushOutbox();
}

void Messenger::onPush(const wire::ServerFrame& f) {
  if (f.has_deliver()) {
    if (receive_broken_) return;  // sent again after the reconnect
    beginReceiveBatch();
    return onDeliver(f.deliver());
  }
  if (f.has_delivery_marks()) return onDeliveryMarks(f.delivery_marks());
  if (f.has_prekeys_low()) return topUpPrekeys(f.prekeys_low().one_time_prekeys_left());
  // Only about people this profile follows: the relay sends nothing else, and state kept
  // for names a relay made up would grow without a bound.
  if (f.has_typing_event()) {
    const auto sender = QString::fromStdString(f.typing_event().sender());
    if (presence_watched_.contains(sender)) emit typingChanged(sender, f.typing_event().active());
    return;
  }
  if (f.has_presence_update()) {
    const auto& p = f.presence_update();
    const auto who = QString::fromStdString(p.username());
    if (presence_watched_.contains(who))
      emit presenceChanged(who, p.online(), static_cast<qint64>(p.last_seen_ms()));
  }
}

std::uint64_t Messenger::lastAcked() {
  QSqlQuery q(db_->db());
  q.exec("SELECT value FROM settings WHERE key = 'last_acked'");
  return q.next() ? q.value(0).toULongLong() : 0;
}

void Messenger::setTyping(const QString& peer, bool active) { relay_->typing(peer, active); }

void Messenger::subscribePresence(const QStringList& peers) {
  constexpr auto kMaxWatched = static_cast<qsizetype>(limits::kMaxPresenceSubscriptions);
  bool grew = false;
  for (const auto& p : peers) {
    if (presence_watched_.size() >= kMaxWatched || presence_watched_.contains(p)) continue;
    presence_watched_.insert(p);
    grew = true;
  }
  if (grew || !presence_sent_) sendPresenceSet();
}

void Messenger::sendPresenceSet() {
  presence_sent_ = true;
  wire::ClientFrame f;
  auto* sub = f.mutable_subscribe_presence();
  for (const auto& p : presence_watched_) sub->add_usernames(p.toStdString());
  relay_->request(f, [this](const wire::ServerFrame& r) {
    if (!r.has_presence_snapshot()) {
      // Not taken: the next call sends the set even if it has not grown. A relay asking us
      // to come back (rate limited; Redis away among gateways) gets it again then by itself,
      // unless a login or a call sent it meanwhile; a dropped connection's next login does.
      presence_sent_ = false;
      const auto retry_ms = r.has_error() ? r.error().retry_after_ms() : 0;
      if (retry_ms > 0)
        QTimer::singleShot(std::chrono::milliseconds(std::min<std::uint32_t>(retry_ms, 60'000)),
                           this, [this] {
                             const auto state = relay_->state();
                             if (!presence_sent_ && (state == RelayClient::State::Syncing ||
                                                     state == RelayClient::State::Online))
                               sendPresenceSet();
                           });
      return;
    }
    // Someone followed but not in the snapshot does not follow us (or no longer): nothing
    // is known of them now, and what was shown before may be stale.
    QSet<QString> unseen = presence_watched_;
    for (const auto& p : r.presence_snapshot().users()) {
      const auto who = QString::fromStdString(p.username());
      if (!unseen.remove(who)) continue;
      emit presenceChanged(who, p.online(), static_cast<qint64>(p.last_seen_ms()));
    }
    for (const auto& who : unseen) emit presenceChanged(who, false, 0);
  });
}

QList<StoredMessage> Messenger::history(const QString& peer) {
  return historySlice(peer, 0, -1, -1);
}

QList<ConversationSummary> Messenger::conversations() {
  QList<ConversationSummary> out;
  QSqlQuery q(db_->db());
  // Each conversation's last message as the conversation shows it (historySlice): the newest
  // still queued, else the highest conv_seq; not the last stored, since a message numbered
  // before one of ours can arrive after it. Found once, with its file if it has one (a
  // picture is a file with a thumbnail). One deleted from this device is not there to be
  // the last. Both lookups walk the (peer, conv_seq) index from one end.
  q.exec("SELECT c.peer, c.last_activity_ms, c.unread, m.body,"
         " (SELECT pending_identity_key IS NOT NULL FROM contacts k WHERE k.username = c.peer),"
         " a.file_name, length(a.thumbnail) > 0, m.removed = 1, m.client_msg_id, m.sender, m.status,"
         " c.muted_until_ms, c.pinned_ms IS NOT NULL, c.marked_unread, c.expire_timer_s,"
         " CASE WHEN m.kind = 1 THEN m.expire_s ELSE -1 END, c.archived,"
         " substr(c.draft, 1, 300),"
         // Through the partial index, which holds only the unread ones.
         " (SELECT COUNT(*) FROM messages u WHERE u.peer = c.peer AND u.mentions_me = 1 AND u.status = 10"
         "  AND u.removed = 0)"
         " FROM conversations c"
         " LEFT JOIN messages m ON m.id = COALESCE("
         "  (SELECT max(id) FROM messages WHERE peer = c.peer AND conv_seq IS NULL AND removed < 2),"
         "  (SELECT id FROM messages WHERE peer = c.peer AND conv_seq IS NOT NULL AND removed < 2"
         "   ORDER BY conv_seq DESC, id DESC LIMIT 1))"
         " LEFT JOIN attachments a ON a.sender = m.sender AND a.client_msg_id = m.client_msg_id"
         // Pins first, the newest pin at the top; then by activity.
         " ORDER BY c.pinned_ms IS NULL, c.pinned_ms DESC, c.last_activity_ms DESC");
  while (q.next()) {
    ConversationSummary c;
    c.peer = q.value(0).toString();
    c.lastActivityMs = q.value(1).toLongLong();
    c.unread = q.value(2).toInt();
    c.lastMessage = q.value(3).toString();
    c.identityChanged = q.value(4).toBool();
    c.lastFileName = q.value(5).toString();
    c.lastFileIsImage = q.value(6).toBool();
    c.lastUnsent = q.value(7).toBool();
    c.lastMsgId = q.value(8).toByteArray();
    c.lastSender = q.value(9).toString();
    if (!q.value(10).isNull()) c.lastStatus = static_cast<MessageStatus>(q.value(10).toInt());
    c.mutedUntilMs = q.value(11).toLongLong();
    c.pinned = q.value(12).toBool();
    c.markedUnread = q.value(13).toBool();
    c.expireTimerS = q.value(14).toLongLong();
    c.lastTimerChange = q.value(15).isNull() ? -1 : q.value(15).toLongLong();
    c.archived = q.value(16).toBool();
    c.draft = q.value(17).toString();
    c.unreadMentions = q.value(18).toInt();
    out.push_back(c);
  }
  return out;
}

QStringList Messenger::contacts() {
  QStringList out;
  QSqlQuery q(db_->db());
  q.exec("SELECT username FROM contacts ORDER BY username");
  while (q.next()) out << q.value(0).toString();
  return out;
}

QList<qint64> Messenger::gaps(const QString& peer, qint64 from_seq) {
  QList<qint64> out;
  QSqlQuery q(db_->db());
  q.prepare("SELECT conv_seq FROM seen_seqs WHERE peer = ? AND conv_seq >= ? ORDER BY conv_seq");
  q.addBindValue(peer);
  q.addBindValue(from_seq);
  q.exec();
  qint64 expected = 1;
  // A group's numbers start where we joined it (its log was numbered before us); a window's
  // at its first number.
  const bool group = peer.startsWith(QLatin1Char('#')) || from_seq > 1;
  bool first = true;
  while (q.next() && out.size() < kMaxListedGaps) {
    if (group && first) expected = q.value(0).toLongLong();
    first = false;
    const auto seq = q.value(0).toLongLong();
    // The numbers come from the relay, which may jump by billions: a hole is listed by its
    // last kMaxListedPerHole numbers (those right before the next message), never walked.
    expected = std::max(expected, seq - kMaxListedPerHole);
    for (; expected < seq && out.size() < kMaxListedGaps; ++expected) out << expected;
    expected = seq + 1;
  }
  // Our own sends are numbered only when their SendAck arrives; if one was stored but its
  // ack was lost, it holds a number we have not seen. While we have at least as many
  // unnumbered sends as holes, the holes may be ours and are not reported.
  QSqlQuery pending(db_->db());
  pending.prepare("SELECT COUNT(*) FROM outbox WHERE peer = ?");
  pending.addBindValue(peer);
  pending.exec();
  const auto own_pending = pending.next() ? pending.value(0).toInt() : 0;
  if (own_pending >= out.size()) out.clear();
  return out;
}

int Messenger::outboxSize() {
  QSqlQuery q(db_->db());
  q.exec("SELECT COUNT(*) FROM outbox");
  return q.next() ? q.value(0).toInt() : 0;
}

QString Messenger::safetyNumberWith(const QString& peer, const QByteArray& stored_key,
                                   QString* error) const {
  const auto theirs = public_key(sbytes(stored_key));
  if (!theirs) {
    *error = QStringLiteral("stored identity key for %1 is damaged").arg(peer);
    return {};
  }
  return QString::fromStdString(crypto::safety_number(profile_.identity.public_key(),
                                                      profile_.username.toStdString(), *theirs,
                                                      peer.toStdString()));
}

QString Messenger::safetyNumber(const QString& peer, QString* error) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT identity_key FROM contacts WHERE username = ?");
  q.addBindValue(peer);
  if (!q.exec() || !q.next() || q.value(0).isNull()) {
    *error = QStringLiteral("no identity key for %1 yet: exchange a message first").arg(peer);
    return {};
  }
  return safetyNumberWith(peer, q.value(0).toByteArray(), error);
}

bool Messenger::identityKeyChanged(const QString& peer) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT pending_identity_key IS NOT NULL FROM contacts WHERE username = ?");
  q.addBindValue(peer);
  return q.exec() && q.next() && q.value(0).toBool();
}

std::optional<QByteArray> Messenger::pendingKeyOf(const QString& peer, QString* failure) {
  QSqlQuery q(db_->db());
  q.prepare("SELECT pending_identity_key FROM contacts"
            " WHERE username = ? AND pending_identity_key IS NOT NULL");
  q.addBindValue(peer);
  if (!q.exec()) {
    *failure = q.lastError().text();
    return std::nullopt;
  }
  if (!q.next()) return std::nullopt;
  return q.value(0).toByteArray();
}

std::optional<Messenger::PendingIdentityKey> Messenger::pendingIdentityKey(const QString& peer,
                                                                           QString* error) {
  QString failure;
  auto key = pendingKeyOf(peer, &failure);
  if (!key) {
    *error = failure.isEmpty() ? QStringLiteral("%1's identity key has not changed").arg(peer)
                               : QStringLiteral("cannot read %1's contact: %2").arg(peer, failure);
    return std::nullopt;
  }
  PendingIdentityKey pending{std::move(*key), {}};
  pending.safety_number = safetyNumberWith(peer, pending.key, error);
  if (pending.safety_number.isEmpty()) return std::nullopt;
  return pending;
}

bool Messenger::acceptIdentityKey(const QString& peer, const QByteArray& key, QString* error) {
  auto& db = db_->db();
  enum class Outcome { accepted, none_pending, changed_again, store_failed };
  Outcome outcome = Outcome::store_failed;
  QString failure;  // why the store refused, for the user
  const bool committed = db_->transaction([&] {
    const auto pending = pendingKeyOf(peer, &failure);
    if (!failure.isEmpty()) return false;
    if (!pending) {
      outcome = Outcome::none_pending;
      return true;
    }
    // Public keys: equality, not secrecy, is what matters here.
    if (*pending != key) {
      outcome = Outcome::changed_again;
      return true;
    }
    const auto theirs = public_key(sbytes(key));
    // Sessions under the old key go. One the new key opened stays: its owner keeps sending
    // with that first message's header until we answer, and a second session from the same
    // header is refused (one-time prekey used, x3dh_seen), so dropping it loses those messages.
    std::vector<qint64> stale;
    QSqlQuery sessions(db);
    sessions.prepare("SELECT id, state FROM sessions WHERE peer = ?");
    sessions.addBindValue(peer);
    if (!sessions.exec()) return false;
    while (sessions.next()) {
      const auto session = crypto::RatchetSession::deserialize(view(sessions.value(1).toByteArray()));
      if (!theirs || !session ||
          !crypto::associated_data_binds(session->associated_data(), profile_.identity.public_key(),
                                         *theirs))
        stale.push_back(sessions.value(0).toLongLong());
    }
    for (const auto id : stale) {
      QSqlQuery drop(db);
      drop.prepare("DELETE FROM sessions WHERE id = ?");
      drop.addBindValue(id);
      if (!drop.exec()) return false;
    }
    QSqlQuery accept(db);
    accept.prepare("UPDATE contacts SET identity_key = pending_identity_key,"
                   " pending_identity_key = NULL, verified = 0 WHERE username = ?");
    accept.addBindValue(peer);
    // What was encrypted under the old sessions goes out again under the new key.
    QSqlQuery reencrypt(db);
    reencrypt.prepare("UPDATE outbox SET envelope = NULL WHERE peer = ?");
    reencrypt.addBindValue(peer);
    for (auto* q : {&accept, &reencrypt}) {
      if (!q->exec()) {
        failure = q->lastError().text();
        return false;
      }
    }
    outcome = Outcome::accepted;
    return true;
  });
  if (!committed) outcome = Outcome::store_failed;
  switch (outcome) {
    case Outcome::accepted:
      flushOutbox();
      return true;
    case Outcome::none_pending:
      *error = QStringLiteral("%1's identity key has not changed: nothing to accept").arg(peer);
      return false;
    case Outcome::changed_again:
      *error = QStringLiteral("%1's identity key changed again since you compared it: compare the "
                              "new safety number first").arg(peer);
      return false;
    case Outcome::store_failed:
      break;
  }
  *error = QStringLiteral("could not save the accepted key (nothing changed; try again): %1")
               .arg(failure.isEmpty() ? db.lastError().text() : failure);
  return false;
}

bool Messenger::noteSeq(const QString& peer, std::uint64_t conv_seq) {
  QSqlQuery q(db_->db());
  q.prepare("INSERT OR IGNORE INTO seen_seqs(peer, conv_seq) VALUES(?, ?)");
  q.addBindValue(peer);
  q.addBindValue(static_cast<qulonglong>(conv_seq));
  return q.exec();
}

void Messenger::setStatus(const QString& peer, const QByteArray& id, MessageStatus s,
                          qint64 conv_seq, qint64 server_ts) {
  // Statuses only move forward (a late "sent" never overwrites "read"); only a queued
  // message can fail.
  const bool failed = s == MessageStatus::Failed;
  QSqlQuery q(db_->db());
  q.prepare(QStringLiteral("UPDATE messages SET status = %1, conv_seq = COALESCE(?, conv_seq),"
                           " server_ts_ms = COALESCE(?, server_ts_ms)"
                           " WHERE sender = ? AND client_msg_id = ? AND %2")
                .arg(failed ? "?" : "MAX(status, ?)", failed ? "status = 0 AND ? < 0" : "status < ?"));
  q.addBindValue(static_cast<int>(s));
  q.addBindValue(conv_seq >= 0 ? QVariant(conv_seq) : QVariant());
  q.addBindValue(server_ts > 0 ? QVariant(server_ts) : QVariant());
  q.addBindValue(profile_.username);
  q.addBindValue(id);
  q.addBindValue(static_cast<int>(s));
  if (q.exec() && q.numRowsAffected() > 0) emit messageStatusChanged(peer, id, static_cast<int>(s));
}

bool Messenger::hasPassphrase() const { return store_key::isProtected(profile_.dir); }

bool Messenger::setPassphrase(const QString& passphrase, QString* error) {
  return store_key::write(profile_.dir, profile_.storeKey, passphrase, error);
}

QString Messenger::storeDamageReport() const {
  return QStringLiteral("parts of this device's store (%1) do not open: the file was damaged, or changed "
                        "outside Parley, and what is in them is left out. To get it back, quit Parley and "
                        "restore the profile's folder from a backup.")
      .arg(QDir::toNativeSeparators(profile_.databasePath()));
}

bool Messenger::passphraseIs(const QString& candidate, QString* error) const {
  error->clear();
  if (candidate.isEmpty()) return false;
  const auto unlocked = store_key::unlock(profile_.dir, candidate);
  if (unlocked.status == store_key::Status::wrong_passphrase) return false;
  if (unlocked.status != store_key::Status::ok) {
    *error = unlocked.error;
    return false;
  }
  if (!hasPassphrase()) return false;  // a key kept as it is opens with anything typed
  if (sodium_memcmp(unlocked.key.data(), profile_.storeKey.data(), profile_.storeKey.size()) == 0) return true;
  *error = QStringLiteral("store.key in %1 no longer holds the key this profile was opened with (another "
                          "copy of Parley changed it?); quit Parley and open the profile again")
               .arg(profile_.dir);
  return false;
}

}  // namespace parley::client
