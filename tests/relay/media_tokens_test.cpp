// Media tokens: a user's tokens are capped (its oldest is voided), so one user cannot use up
// the relay's; expiry, the global cap and secrets still hold.
#include <QtTest>

#include "media/media_tokens.hpp"

using parley::media::MediaTokens;
using parley::media::TokenGrant;
using parley::media::TokenKind;

class MediaTokensTest : public QObject {
  Q_OBJECT

 private slots:
  void aUsersNextTokenVoidsItsOldestOnly() {
    MediaTokens tokens(std::chrono::minutes(5), 1000, 3);
    const auto now = MediaTokens::Clock::now();
    std::vector<std::string> mine;
    for (int i = 0; i < 4; ++i)
      mine.push_back(tokens.issue({TokenKind::Upload, 1, std::string(16, static_cast<char>('a' + i)), 1}, now));
    const auto theirs = tokens.issue({TokenKind::Download, 2, {}, 0}, now);
    QVERIFY(!tokens.check(mine[0], now));
    for (int i = 1; i < 4; ++i) QVERIFY(tokens.check(mine[i], now));
    QVERIFY(tokens.check(theirs, now));
    QCOMPARE(tokens.check(theirs, now)->user, parley::store::UserId{2});
  }

  // A token voided because its upload was refused neither works nor counts against its
  // user's cap; a wrong secret or another user's token voids nothing.
  void aRevokedTokenIsGoneAndFreesItsPlace() {
    MediaTokens tokens(std::chrono::minutes(5), 1000, 3);
    const auto now = MediaTokens::Clock::now();
    std::vector<std::string> mine;
    for (int i = 0; i < 3; ++i)
      mine.push_back(tokens.issue({TokenKind::Upload, 1, std::string(16, static_cast<char>('a' + i)), 1}, now));
    auto forged = mine[2];
    forged[30] = forged[30] == 'A' ? 'B' : 'A';  // same id, another secret
    tokens.revoke(forged);
    tokens.revoke("not a token");
    QVERIFY(tokens.check(mine[2], now));
    tokens.revoke(mine[2]);
    QVERIFY(!tokens.check(mine[2], now));
    // Two live: the next one takes the freed place and voids nothing.
    const auto next = tokens.issue({TokenKind::Upload, 1, std::string(16, 'z'), 1}, now);
    QVERIFY(tokens.check(mine[0], now));
    QVERIFY(tokens.check(mine[1], now));
    QVERIFY(tokens.check(next, now));
  }

  // Download tokens name no media: many asked for at once are one token, so they cannot void
  // each other; a fresh one comes once the shared one is past half its life.
  void downloadTokensAskedForTogetherAreOne() {
    MediaTokens tokens(std::chrono::minutes(10), 1000, 3);
    const auto now = MediaTokens::Clock::now();
    const auto first = tokens.issue({TokenKind::Download, 1, {}, 0}, now);
    for (int i = 0; i < 300; ++i) QCOMPARE(tokens.issue({TokenKind::Download, 1, {}, 0}, now), first);
    QVERIFY(tokens.check(first, now));
    QVERIFY(tokens.issue({TokenKind::Download, 2, {}, 0}, now) != first);  // another user's own
    const auto later = tokens.issue({TokenKind::Download, 1, {}, 0}, now + std::chrono::minutes(6));
    QVERIFY(later != first);
    QVERIFY(tokens.check(first, now + std::chrono::minutes(6)));  // still good until it expires
    QVERIFY(tokens.check(later, now + std::chrono::minutes(6)));
  }

  void theRelaysCapStillHoldsAcrossUsers() {
    MediaTokens tokens(std::chrono::minutes(5), 4, 3);
    const auto now = MediaTokens::Clock::now();
    for (parley::store::UserId u = 1; u <= 4; ++u) QVERIFY(!tokens.issue({TokenKind::Download, u, {}, 0}, now).empty());
    QVERIFY(tokens.issue({TokenKind::Download, 5, {}, 0}, now).empty());
    // Once they expire there is room again.
    QVERIFY(!tokens.issue({TokenKind::Download, 5, {}, 0}, now + std::chrono::minutes(6)).empty());
  }

  void expiredWrongOrMalformedTokensAreRefused() {
    MediaTokens tokens(std::chrono::minutes(5), 10, 3);
    const auto now = MediaTokens::Clock::now();
    const auto t = tokens.issue({TokenKind::Upload, 7, std::string(16, 'm'), 42}, now);
    const auto grant = tokens.check(t, now);
    QVERIFY(grant && grant->kind == TokenKind::Upload && grant->size == 42);
    QVERIFY(!tokens.check(t, now + std::chrono::minutes(5)));
    auto wrong = t;
    wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
    QVERIFY(!tokens.check(wrong, now));
    QVERIFY(!tokens.check("not a token", now));
    QVERIFY(!tokens.check(std::string(200, 'A'), now));
  }
};

QTEST_GUILESS_MAIN(MediaTokensTest)
#include "media_tokens_test.moc"
