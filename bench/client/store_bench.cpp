// Client store benchmark: storing one received text message, in the shape of
// Messenger::onDeliver (messenger_receive.cpp): one transaction that records the conv_seq in
// seen_seqs, makes sure the conversation exists, reads the peer's chain hash, inserts the
// message (INSERT OR IGNORE), updates the conversation and saves settings.last_acked.
// The statements are prepared once, as a tuned receive path would; the Database is opened
// with its real settings (WAL, synchronous=FULL) in a fresh temporary directory.
//
// The argument picks the durability settings, to show what the commit's fsync costs:
//   0  as Database::open leaves it: journal_mode=WAL, synchronous=FULL (what Parley ships)
//   1  journal_mode=WAL, synchronous=NORMAL (no fsync per commit; durable at checkpoints)
//   2  journal_mode=DELETE, synchronous=FULL (rollback journal, for comparison)
// A second argument of 1 also saves the ratchet session first, as Messenger::decrypt does
// today: one UPDATE of sessions outside the transaction, so a commit of its own. That is
// the store's whole share of receiving a message in an established session.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <QByteArray>
#include <QCoreApplication>
#include <QCryptographicHash>
#include <QSqlError>
#include <QSqlQuery>
#include <QString>
#include <QTemporaryDir>
#include <QVariant>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "crypto/secure_bytes.hpp"
#include "profile/store_key.hpp"
#include "store/database.hpp"

namespace {

using parley::client::Database;

constexpr int kBodyChars = 200;
constexpr int kPeers = 8;

[[noreturn]] void fail(const QString& what) {
  std::cerr << "store_bench: " << what.toStdString() << '\n';
  std::abort();
}

void exec(QSqlDatabase& db, const char* sql) {
  QSqlQuery q(db);
  if (!q.exec(QString::fromLatin1(sql))) fail(QStringLiteral("%1: %2").arg(sql, q.lastError().text()));
}

void prepare(QSqlQuery& q, const char* sql) {
  if (!q.prepare(QString::fromLatin1(sql)))
    fail(QStringLiteral("prepare %1: %2").arg(sql, q.lastError().text()));
}

QString durability(std::int64_t mode) {
  switch (mode) {
    case 0: return QStringLiteral("WAL,synchronous=FULL");
    case 1: return QStringLiteral("WAL,synchronous=NORMAL");
    default: return QStringLiteral("DELETE,synchronous=FULL");
  }
}

void BM_StoreInsertReceivedMessage(benchmark::State& state) {
  QTemporaryDir dir;
  if (!dir.isValid()) fail(QStringLiteral("no temporary directory"));
  QString error;
  parley::client::StoreKey key;  // every page sealed, as a profile's store is
  randombytes_buf(key.data(), key.size());
  auto store = Database::open(dir.filePath(QStringLiteral("profile.sqlite")), key.view(), &error);
  if (!store) fail(error);
  auto& db = store->db();
  switch (state.range(0)) {
    case 0: break;  // Database::open's own settings
    case 1: exec(db, "PRAGMA synchronous=NORMAL"); break;
    default:
      exec(db, "PRAGMA journal_mode=DELETE");
      exec(db, "PRAGMA synchronous=FULL");
      break;
  }
  const bool save_session = state.range(1) != 0;
  state.SetLabel((durability(state.range(0)) +
                  (save_session ? QStringLiteral(",+session save") : QString()))
                     .toStdString());

  QSqlQuery seen(db), conv(db), prev(db), msg(db), upd(db), acked(db);
  prepare(seen, "INSERT OR IGNORE INTO seen_seqs(peer, conv_seq) VALUES(?, ?)");
  prepare(conv, "INSERT INTO conversations(peer, last_activity_ms, unread) VALUES(?, ?, 0)"
                " ON CONFLICT(peer) DO NOTHING");
  prepare(prev, "SELECT peer_chain_hash FROM conversations WHERE peer = ?");
  prepare(msg, "INSERT OR IGNORE INTO messages(peer, sender, client_msg_id, conv_seq, body, status,"
               " client_ts_ms, server_ts_ms, received_ms, chain_ok) VALUES(?, ?, ?, ?, ?, 10, ?, ?, ?, ?)");
  prepare(upd, "UPDATE conversations SET peer_chain_hash = ?, last_activity_ms = ?,"
               " unread = unread + 1 WHERE peer = ?");
  prepare(acked, "INSERT INTO settings(key, value) VALUES('last_acked', ?)"
                 " ON CONFLICT(key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), excluded.value)");

  QString peers[kPeers];
  QByteArray last_hash[kPeers];
  for (int i = 0; i < kPeers; ++i) peers[i] = QStringLiteral("contact%1").arg(i);
  // A serialized session with no skipped keys is 250 bytes.
  QByteArray session_state(250, '\0');
  QSqlQuery add_session(db), save(db);
  prepare(add_session, "INSERT INTO sessions(id, peer, device, state, last_used_ms) VALUES(?, ?, 1, ?, 0)");
  for (int i = 0; i < kPeers; ++i) {
    add_session.bindValue(0, i + 1);
    add_session.bindValue(1, peers[i]);
    add_session.bindValue(2, session_state);
    if (!add_session.exec()) fail(add_session.lastError().text());
  }
  prepare(save, "UPDATE sessions SET state = ?, prekey_header = NULL, last_used_ms = ? WHERE id = ?");
  const QString body(kBodyChars, QLatin1Char('x'));
  const QByteArray plaintext = body.toUtf8();
  QByteArray msg_id(16, '\0');

  std::uint64_t seq = 0;
  qint64 now = 1'700'000'000'000;
  std::int64_t inserted = 0;
  for (auto _ : state) {
    ++seq;
    ++now;
    const QString& sender = peers[seq % kPeers];
    const auto conv_seq = static_cast<qlonglong>(seq / kPeers + 1);
    parley::crypto::random_bytes(reinterpret_cast<std::uint8_t*>(msg_id.data()),
                                 static_cast<std::size_t>(msg_id.size()));
    if (save_session) {
      parley::crypto::random_bytes(reinterpret_cast<std::uint8_t*>(session_state.data()),
                                   static_cast<std::size_t>(session_state.size()));
      save.bindValue(0, session_state);
      save.bindValue(1, now);
      save.bindValue(2, static_cast<int>(seq % kPeers) + 1);
      if (!save.exec() || save.numRowsAffected() != 1) fail(QStringLiteral("session save failed"));
    }
    const bool ok = store->transaction([&] {
      seen.bindValue(0, sender);
      seen.bindValue(1, static_cast<qulonglong>(conv_seq));
      if (!seen.exec()) return false;
      conv.bindValue(0, sender);
      conv.bindValue(1, now);
      prev.bindValue(0, sender);
      if (!conv.exec() || !prev.exec()) return false;
      const QByteArray expected =
          prev.next() && !prev.value(0).isNull() ? prev.value(0).toByteArray() : QByteArray();
      prev.finish();
      // The real path compares with the hash the sender put in the message.
      const bool chain_ok = expected == last_hash[seq % kPeers];
      msg.bindValue(0, sender);
      msg.bindValue(1, sender);
      msg.bindValue(2, msg_id);
      msg.bindValue(3, conv_seq);
      msg.bindValue(4, body);
      msg.bindValue(5, now - 50);
      msg.bindValue(6, now - 20);
      msg.bindValue(7, now);
      msg.bindValue(8, chain_ok ? 1 : 0);
      if (!msg.exec()) return false;
      if (msg.numRowsAffected() > 0) {
        ++inserted;
        last_hash[seq % kPeers] = QCryptographicHash::hash(plaintext, QCryptographicHash::Sha256);
        upd.bindValue(0, last_hash[seq % kPeers]);
        upd.bindValue(1, now);
        upd.bindValue(2, sender);
        if (!upd.exec()) return false;
      }
      acked.bindValue(0, static_cast<qulonglong>(seq));
      return acked.exec();
    });
    if (!ok) fail(QStringLiteral("transaction failed: %1").arg(db.lastError().text()));
  }
  if (inserted != state.iterations()) fail(QStringLiteral("a message was not inserted"));
  state.SetItemsProcessed(state.iterations());
}
// Real time: the cost is mostly waiting for the disk, which CPU time does not see.
BENCHMARK(BM_StoreInsertReceivedMessage)
    ->ArgNames({"durability", "session_save"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({0, 1})
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // Qt Sql loads its SQLite driver as a plugin, which needs an application object.
  QCoreApplication app(argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
