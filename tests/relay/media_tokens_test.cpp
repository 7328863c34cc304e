// Media tokens are signed, not remembered: a gateway holding the same key takes another's
// tokens, a different key or any change to a token's bytes is refused, and expiry holds.
#include <QtTest>

#include <sodium.h>

#include "media/media_tokens.hpp"

using parley::media::MediaTokens;
using parley::media::TokenGrant;
using parley::media::TokenKind;

namespace {
std::array<unsigned char, MediaTokens::kKeyBytes> key(unsigned char fill) {
  std::array<unsigned char, MediaTokens::kKeyBytes> k{};
  k.fill(fill);
  return k;
}
}  // namespace

class MediaTokensTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(sodium_init() >= 0); }

  void aGrantComesBackWhole() {
    const MediaTokens tokens(std::chrono::minutes(5));
    const std::string media_id(16, '\x7f');
    const auto up = tokens.check(tokens.issue({TokenKind::Upload, 42, media_id, 123456789}));
    QVERIFY(up);
    QCOMPARE(up->kind, TokenKind::Upload);
    QCOMPARE(up->user, parley::store::UserId{42});
    QCOMPARE(up->media_id, media_id);
    QCOMPARE(up->size, std::uint64_t{123456789});
    const auto down = tokens.check(tokens.issue({TokenKind::Download, 7, {}, 0}));
    QVERIFY(down);
    QCOMPARE(down->kind, TokenKind::Download);
    QCOMPARE(down->user, parley::store::UserId{7});
    QVERIFY(down->media_id.empty());
  }

  // What lets an upload resume, or a download start, on another gateway of the tier.
  void anotherRelayWithTheSameKeyTakesTheToken() {
    const MediaTokens a(std::chrono::minutes(5), key(1)), b(std::chrono::minutes(5), key(1));
    const MediaTokens other(std::chrono::minutes(5), key(2));
    const auto token = a.issue({TokenKind::Upload, 5, std::string(16, 'm'), 10});
    QVERIFY(b.check(token));
    QCOMPARE(b.check(token)->user, parley::store::UserId{5});
    QVERIFY(!other.check(token));
    // Keys of the processes' own differ.
    const MediaTokens mine(std::chrono::minutes(5)), theirs(std::chrono::minutes(5));
    QVERIFY(!theirs.check(mine.issue({TokenKind::Download, 1, {}, 0})));
  }

  void expiredChangedOrMalformedTokensAreRefused() {
    const MediaTokens tokens(std::chrono::minutes(5), key(3));
    const auto now = MediaTokens::Clock::now();
    const auto token = tokens.issue({TokenKind::Upload, 9, std::string(16, 'x'), 99}, now);
    QVERIFY(tokens.check(token, now + std::chrono::minutes(4)));
    QVERIFY(!tokens.check(token, now + std::chrono::minutes(5)));
    // Every single character changed (a user, a size, a media id, an expiry or the MAC
    // altered) is refused; base64url's last character may carry unused bits, so it is
    // changed to one that differs in its top bits.
    for (std::size_t i = 0; i < token.size(); ++i) {
      auto changed = token;
      changed[i] = changed[i] == 'A' ? 'g' : 'A';
      QVERIFY2(!tokens.check(changed, now), qPrintable(QString("changed at %1").arg(i)));
    }
    QVERIFY(!tokens.check(token.substr(0, token.size() - 1), now));
    QVERIFY(!tokens.check(token + "A", now));
    QVERIFY(!tokens.check("", now));
    QVERIFY(!tokens.check("not base64 at all!", now));
    QVERIFY(!tokens.check(std::string(4096, 'A'), now));
  }
};

QTEST_GUILESS_MAIN(MediaTokensTest)
#include "media_tokens_test.moc"
