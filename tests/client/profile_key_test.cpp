// The profile's keys at rest (profile/store_key.hpp, profile/profile.hpp): a passphrase
// that locks and unlocks, a file that cannot be doctored into a weak or endless unlock, and
// a profile from before encryption at rest sealed as it is first loaded.
#include <QtTest>

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <sodium.h>

#include "crypto/keys.hpp"
#include "profile/profile.hpp"
#include "profile/store_key.hpp"

using parley::client::Profile;
using parley::client::StoreKey;
namespace store_key = parley::client::store_key;
using Status = store_key::Status;

namespace {

StoreKey random_key() {
  StoreKey k;
  randombytes_buf(k.data(), k.size());
  return k;
}

bool same(const StoreKey& a, const StoreKey& b) { return sodium_memcmp(a.data(), b.data(), a.size()) == 0; }

QByteArray file_bytes(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

}  // namespace

class ProfileKeyTest : public QObject {
  Q_OBJECT

  QTemporaryDir dir_;
  int n_ = 0;
  QString fresh() {
    const auto d = dir_.filePath(QString::number(++n_));
    QDir().mkpath(d);
    return d;
  }

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    QVERIFY(sodium_init() >= 0);
  }

  void aPassphraseLocksAndUnlocks() {
    const auto d = fresh();
    const auto key = random_key();
    QString error;
    QVERIFY2(store_key::write(d, key, "correct horse battery", &error), qPrintable(error));
    QVERIFY(store_key::isProtected(d));
    QVERIFY(!file_bytes(store_key::path(d)).contains(QByteArray(reinterpret_cast<const char*>(key.data()), 32)));
    QCOMPARE(store_key::unlock(d, QString()).status, Status::locked);
    const auto wrong = store_key::unlock(d, "correct horse battery!");
    QCOMPARE(wrong.status, Status::wrong_passphrase);
    QVERIFY(wrong.error.contains("wrong passphrase"));
    const auto right = store_key::unlock(d, "correct horse battery");
    QCOMPARE(right.status, Status::ok);
    QVERIFY(same(right.key, key));
    // Removed: the same key, kept as it is.
    QVERIFY2(store_key::write(d, key, QString(), &error), qPrintable(error));
    QVERIFY(!store_key::isProtected(d));
    const auto plain = store_key::unlock(d, QString());
    QCOMPARE(plain.status, Status::ok);
    QVERIFY(same(plain.key, key));
    // A passphrase given for a profile that has none is not needed, and does no harm.
    QCOMPARE(store_key::unlock(d, "anything").status, Status::ok);
  }

  void aDoctoredKeyFileIsDamagedNotObeyed() {
    const auto d = fresh();
    QString error;
    QVERIFY(store_key::write(d, random_key(), "correct horse battery", &error));
    const auto good = file_bytes(store_key::path(d));
    const auto write = [&](const QByteArray& bytes) {
      QFile f(store_key::path(d));
      QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
      f.write(bytes);
    };
    // Argon2's limits raised to take hours, or lowered to nothing: refused before deriving.
    for (const int at : {9 + 7, 9 + 8 + 7}) {
      auto doctored = good;
      doctored[at] = '\x7f';
      write(doctored);
      QCOMPARE(store_key::unlock(d, "correct horse battery").status, Status::damaged);
    }
    auto weak = good;
    for (int i = 0; i < 8; ++i) weak[9 + i] = 0;
    write(weak);
    QCOMPARE(store_key::unlock(d, "correct horse battery").status, Status::damaged);
    write(good.left(good.size() - 1));
    QCOMPARE(store_key::unlock(d, "correct horse battery").status, Status::damaged);
    write(QByteArray("not a key file at all"));
    const auto garbage = store_key::unlock(d, QString());
    QCOMPARE(garbage.status, Status::damaged);
    QVERIFY2(garbage.error.contains("is damaged") && garbage.error.contains("from a backup"),
             qPrintable(garbage.error));  // says what to do
    QFile::remove(store_key::path(d));
    QCOMPARE(store_key::unlock(d, QString()).status, Status::missing);
  }

  // profile.json and a plain identity.key, as every profile was before: loading gives it a
  // store key, seals the identity key and removes the plain one.
  void aProfileFromBeforeIsSealedWhenLoaded() {
    const auto d = fresh();
    const auto identity = parley::crypto::IdentityKeyPair::generate();
    const auto secret = identity.secret_bytes();
    {
      QFile key(d + "/identity.key");
      QVERIFY(key.open(QIODevice::WriteOnly));
      key.write(reinterpret_cast<const char*>(secret.data()), static_cast<qsizetype>(secret.size()));
      QFile meta(d + "/profile.json");
      QVERIFY(meta.open(QIODevice::WriteOnly));
      meta.write(QJsonDocument(QJsonObject{{"username", "olga"}, {"server", "ws://127.0.0.1:1"}, {"device", 1}})
                     .toJson());
    }
    QString error;
    auto p = Profile::load(d, &error);
    QVERIFY2(p, qPrintable(error));
    QCOMPARE(p->username, QString("olga"));
    QVERIFY(std::equal(secret.begin(), secret.end(), p->identity.secret_bytes().begin()));
    QVERIFY(!QFile::exists(d + "/identity.key"));
    QVERIFY(QFile::exists(d + "/identity.sealed"));
    const QByteArray raw(reinterpret_cast<const char*>(secret.data()), static_cast<qsizetype>(secret.size()));
    QVERIFY(!file_bytes(d + "/identity.sealed").contains(raw.left(32)));
    // The next load finds it sealed, with the same store key.
    auto again = Profile::load(d, &error);
    QVERIFY2(again, qPrintable(error));
    QVERIFY(same(again->storeKey, p->storeKey));
    QVERIFY(std::equal(secret.begin(), secret.end(), again->identity.secret_bytes().begin()));
  }

  void aProtectedProfileSaysWhatItNeeds() {
    const auto d = fresh();
    Profile p{d, "pia", QUrl("ws://127.0.0.1:1"), 1, parley::crypto::IdentityKeyPair::generate(), {}};
    QString error;
    QVERIFY2(p.save(&error, "correct horse battery"), qPrintable(error));
    Status status = Status::ok;
    QVERIFY(!Profile::load(d, QString(), &error, &status));
    QCOMPARE(status, Status::locked);
    QVERIFY(!Profile::load(d, "horse", &error, &status));
    QCOMPARE(status, Status::wrong_passphrase);
    auto loaded = Profile::load(d, "correct horse battery", &error, &status);
    QVERIFY2(loaded, qPrintable(error));
    QCOMPARE(status, Status::ok);
    QVERIFY(same(loaded->storeKey, p.storeKey));
    // A lost store.key is said plainly: nothing else can open the profile.
    QFile::remove(store_key::path(d));
    QVERIFY(!Profile::load(d, QString(), &error, &status));
    QVERIFY2(error.contains("lost its store.key") && error.contains("from a backup"), qPrintable(error));
  }
};

QTEST_GUILESS_MAIN(ProfileKeyTest)
#include "profile_key_test.moc"
