// Our prekeys: generated here, secrets kept in the local store, public halves uploaded.
#include <QDateTime>
#include <QSqlQuery>
#include <QVariant>

#include <algorithm>

#include "messenger.hpp"
#include "util/bytes.hpp"

namespace parley::client {
namespace {
constexpr int kSignedKind = 1;
constexpr int kOneTimeKind = 2;
constexpr std::uint32_t kLowWatermark = 20;
constexpr int kTopUpTo = 100;
constexpr int kMaxStored = 1000;  // one-time prekey secrets kept at most

int next_id(QSqlDatabase& db, int kind) {
  QSqlQuery q(db);
  q.prepare("SELECT COALESCE(MAX(id), 0) + 1 FROM prekeys WHERE kind = ?");
  q.addBindValue(kind);
  q.exec();
  return q.next() ? q.value(0).toInt() : 1;
}

bool insert_key(QSqlDatabase& db, int kind, int id, const crypto::KeyPair& key) {
  const SecretBytes secret(key.secret_bytes());
  QSqlQuery q(db);
  q.prepare("INSERT INTO prekeys(kind, id, secret, public_key, created_ms) VALUES(?, ?, ?, ?, ?)");
  q.addBindValue(kind);
  q.addBindValue(id);
  q.addBindValue(secret.get());
  q.addBindValue(qbytes(crypto::ByteView(key.public_key().bytes)));
  q.addBindValue(QDateTime::currentMSecsSinceEpoch());
  return q.exec();
}
}  // namespace

bool Messenger::createPrekeys(int one_time_count) {
  return db_->transaction([&] {
    auto& db = db_->db();
    if (next_id(db, kSignedKind) == 1 &&
        !insert_key(db, kSignedKind, 1, crypto::KeyPair::generate()))
      return false;
    const int first = next_id(db, kOneTimeKind);
    for (int i = 0; i < one_time_count; ++i)
      if (!insert_key(db, kOneTimeKind, first + i, crypto::KeyPair::generate())) return false;
    // Marks where the not-yet-uploaded keys start, unless earlier ones are still waiting.
    QSqlQuery mark(db);
    mark.prepare("INSERT OR IGNORE INTO settings(key, value) VALUES('otp_uploaded_below', ?)");
    mark.addBindValue(first);
    return mark.exec();
  });
}

// Uploads the newest signed prekey (if asked) and every one-time prekey not uploaded yet.
void Messenger::uploadPrekeys(bool include_signed, std::function<void(bool)> done) {
  auto& db = db_->db();
  wire::ClientFrame f;
  auto* up = f.mutable_upload_prekeys();
  if (include_signed) {
    QSqlQuery q(db);
    q.exec("SELECT id, public_key FROM prekeys WHERE kind = 1 ORDER BY id DESC LIMIT 1");
    if (q.next()) {
      const auto pub = q.value(1).toByteArray();
      const auto sig = profile_.identity.sign(view(pub));
      auto* sp = up->mutable_signed_prekey();
      sp->set_id(q.value(0).toUInt());
      sp->set_public_key(sbytes(pub));
      sp->set_signature(sbytes(crypto::ByteView(sig.bytes)));
    }
  }
  QSqlQuery from(db);
  from.exec("SELECT value FROM settings WHERE key = 'otp_uploaded_below'");
  const int first = from.next() ? from.value(0).toInt() : 1;
  QSqlQuery q(db);
  q.prepare("SELECT id, public_key FROM prekeys WHERE kind = 2 AND id >= ? ORDER BY id LIMIT 200");
  q.addBindValue(first);
  q.exec();
  int last = first - 1;
  while (q.next()) {
    auto* k = up->add_one_time_prekeys();
    k->set_id(q.value(0).toUInt());
    k->set_public_key(sbytes(q.value(1).toByteArray()));
    last = q.value(0).toInt();
  }
  relay_->request(f, [this, last, done = std::move(done)](const wire::ServerFrame& r) {
    const bool ok = r.has_prekeys_stored();
    if (ok) {
      QSqlQuery mark(db_->db());
      mark.prepare("INSERT OR REPLACE INTO settings(key, value) VALUES('otp_uploaded_below', ?)");
      mark.addBindValue(last + 1);
      mark.exec();
    } else {
      emit problem(QStringLiteral("could not upload prekeys; others may not reach you until it works"));
    }
    if (done) done(ok);
  });
}

// A new signed prekey every week; old ones are kept a month for first messages still in
// flight that name them.
void Messenger::rotateSignedPrekeyIfDue() {
  constexpr qint64 kWeekMs = 7LL * 24 * 3600 * 1000;
  constexpr qint64 kKeepMs = 30LL * 24 * 3600 * 1000;
  auto& db = db_->db();
  QSqlQuery newest(db);
  newest.exec("SELECT MAX(created_ms) FROM prekeys WHERE kind = 1");
  const auto now = QDateTime::currentMSecsSinceEpoch();
  if (newest.next() && now - newest.value(0).toLongLong() < kWeekMs) return;
  const bool ok = db_->transaction([&] {
    // A key stops being current when the next one is made, not when it is made itself:
    // drop only keys superseded by one that is already older than kKeepMs (the current key
    // of a device that was offline for longer than that may be named by waiting messages).
    QSqlQuery old(db);
    old.prepare("DELETE FROM prekeys WHERE kind = 1 AND id < (SELECT MAX(id) FROM prekeys"
                " WHERE kind = 1 AND created_ms < ?)");
    old.addBindValue(now - kKeepMs);
    // A first message naming a dropped key cannot open anything any more: its record goes.
    QSqlQuery seen(db);
    seen.prepare("DELETE FROM x3dh_seen WHERE signed_prekey_id NOT IN (SELECT id FROM prekeys WHERE kind = 1)");
    return old.exec() && seen.exec() &&
           insert_key(db, kSignedKind, next_id(db, kSignedKind), crypto::KeyPair::generate());
  });
  if (ok) uploadPrekeys(true);
}

void Messenger::topUpPrekeys(std::uint32_t left) {
  if (left >= kLowWatermark) return;
  // The relay's count is its word: keys made earlier and not uploaded yet are sent first,
  // and no more are made past kMaxStored, however often it says the stock is empty.
  auto& db = db_->db();
  if (left == 0) {
    // Every key uploaded was handed out. Ones handed out a month ago and never used are not
    // coming back (a fetch that was not followed by a message, or a drain of the stock): their
    // secrets go, so the cap below cannot stop us from ever uploading again.
    QSqlQuery stale(db);
    stale.prepare("DELETE FROM prekeys WHERE kind = 2 AND created_ms < ? AND id < COALESCE((SELECT"
                  " CAST(value AS INTEGER) FROM settings WHERE key = 'otp_uploaded_below'), 1)");
    stale.addBindValue(QDateTime::currentMSecsSinceEpoch() - 30LL * 24 * 3600 * 1000);
    stale.exec();
  }
  QSqlQuery waiting(db);
  waiting.exec("SELECT COUNT(*) FROM prekeys WHERE kind = 2 AND id >= COALESCE((SELECT CAST(value AS INTEGER) FROM settings"
               " WHERE key = 'otp_uploaded_below'), 1)");
  QSqlQuery stored(db);
  stored.exec("SELECT COUNT(*) FROM prekeys WHERE kind = 2");
  const int unsent = waiting.next() ? waiting.value(0).toInt() : 0;
  const int have = stored.next() ? stored.value(0).toInt() : 0;
  const int make = std::min(kTopUpTo - static_cast<int>(left), kMaxStored - have);
  if (unsent == 0 && make > 0 && !createPrekeys(make)) return;
  if (unsent > 0 || make > 0) uploadPrekeys(false);
}

}  // namespace parley::client
