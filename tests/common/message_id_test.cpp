// Message ids: the UUIDv7 layout the relay's dedup index relies on for locality.
#include <QtTest>

#include <algorithm>
#include <array>

#include "parley/message_id.hpp"

using parley::make_message_id;

class MessageIdTest : public QObject {
  Q_OBJECT

 private slots:
  void timeFirstThenVersionAndVariant() {
    std::array<std::uint8_t, 10> random;
    random.fill(0xFF);
    const std::uint64_t ms = 0x0192'3456'789AULL;
    const auto id = make_message_id(ms, random);
    const std::array<std::uint8_t, 6> time{0x01, 0x92, 0x34, 0x56, 0x78, 0x9A};
    QVERIFY(std::equal(time.begin(), time.end(), id.begin()));
    QCOMPARE(id[6], std::uint8_t{0x7F});  // version 7 over the random bits
    QCOMPARE(id[7], std::uint8_t{0xFF});
    QCOMPARE(id[8], std::uint8_t{0xBF});  // variant 10
    for (int i = 9; i < 16; ++i) QCOMPARE(id[i], std::uint8_t{0xFF});
    random.fill(0x00);
    const auto zero = make_message_id(ms, random);
    QCOMPARE(zero[6], std::uint8_t{0x70});
    QCOMPARE(zero[8], std::uint8_t{0x80});
  }

  // Later ids sort after earlier ones byte-wise whatever their random bits: the property
  // that makes the relay's index grow at its end.
  void laterMillisecondsSortLater() {
    std::array<std::uint8_t, 10> high, low;
    high.fill(0xFF);
    low.fill(0x00);
    const auto earlier = make_message_id(1'700'000'000'000ULL, high);
    const auto later = make_message_id(1'700'000'000'001ULL, low);
    QVERIFY(std::lexicographical_compare(earlier.begin(), earlier.end(), later.begin(), later.end()));
  }
};

QTEST_GUILESS_MAIN(MessageIdTest)
#include "message_id_test.moc"
