// Streaming attachment encryption (secretstream) and the SHA-256 that names its ciphertext:
// round trips at chunk boundaries, and every way a stored file can be damaged is refused.
#include <QtTest>

#include "crypto/secret_stream.hpp"
#include "crypto/sha256.hpp"
#include "test_hex.hpp"

using namespace parley::crypto;
using parley::crypto::test::hex;
using parley::crypto::test::to_hex;

namespace {

Bytes pattern(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 31 + 7);
  return b;
}

Bytes encrypt(const StreamKey& key, const Bytes& plain) {
  StreamEncryptor enc(key);
  Bytes out(enc.header().begin(), enc.header().end());
  std::size_t off = 0;
  do {
    const auto n = std::min(kStreamChunkBytes, plain.size() - off);
    const bool last = off + n == plain.size();
    const auto at = out.size();
    out.resize(at + n + kStreamOverheadBytes);
    out.resize(at + enc.push({plain.data() + off, n}, last, out.data() + at));
    off += n;
    if (last) break;
  } while (true);
  return out;
}

// nullopt when any record fails or the stream ends without its final record.
std::optional<Bytes> decrypt(const StreamKey& key, const Bytes& cipher) {
  if (cipher.size() < kStreamHeaderBytes) return std::nullopt;
  auto dec = StreamDecryptor::open(key, {cipher.data(), kStreamHeaderBytes});
  if (!dec) return std::nullopt;
  Bytes out;
  for (std::size_t off = kStreamHeaderBytes; off < cipher.size();) {
    const auto n = std::min(kStreamRecordBytes, cipher.size() - off);
    Bytes piece(n);
    const auto got = dec->pull({cipher.data() + off, n}, piece.data());
    if (!got) return std::nullopt;
    out.insert(out.end(), piece.begin(), piece.begin() + static_cast<std::ptrdiff_t>(*got));
    off += n;
  }
  if (!dec->finished()) return std::nullopt;
  return out;
}

}  // namespace

class SecretStreamTest : public QObject {
  Q_OBJECT

 private slots:
  void roundTripsAtChunkBoundaries_data() {
    QTest::addColumn<int>("size");
    for (int n : {0, 1, 65535, 65536, 65537, 3 * 65536, 200000}) QTest::newRow(qPrintable(QString::number(n))) << n;
  }
  void roundTripsAtChunkBoundaries() {
    QFETCH(int, size);
    const auto key = new_stream_key();
    const auto plain = pattern(static_cast<std::size_t>(size));
    const auto cipher = encrypt(key, plain);
    QCOMPARE(cipher.size(), stream_ciphertext_size(plain.size()));
    const auto back = decrypt(key, cipher);
    QVERIFY(back);
    QVERIFY(*back == plain);
  }

  void freshKeysAndHeadersEveryTime() {
    const auto plain = pattern(1000);
    const auto a = new_stream_key(), b = new_stream_key();
    QVERIFY(to_hex(a.view()) != to_hex(b.view()));
    QVERIFY(encrypt(a, plain) != encrypt(a, plain));  // random header
  }

  void damageIsRefused() {
    const auto key = new_stream_key();
    const auto plain = pattern(3 * 65536 + 100);
    const auto cipher = encrypt(key, plain);
    // One flipped bit anywhere.
    for (std::size_t at : {std::size_t{0}, kStreamHeaderBytes + 5, cipher.size() / 2, cipher.size() - 1}) {
      auto bad = cipher;
      bad[at] ^= 0x01;
      QVERIFY2(!decrypt(key, bad), qPrintable(QString::number(at)));
    }
    // Truncated at a record boundary: every record authenticates, but no FINAL.
    Bytes cut(cipher.begin(), cipher.begin() + kStreamHeaderBytes + 2 * kStreamRecordBytes);
    QVERIFY(!decrypt(key, cut));
    // Truncated mid-record.
    Bytes mid(cipher.begin(), cipher.end() - 10);
    QVERIFY(!decrypt(key, mid));
    // Two records swapped.
    auto swapped = cipher;
    std::swap_ranges(swapped.begin() + kStreamHeaderBytes,
                     swapped.begin() + kStreamHeaderBytes + kStreamRecordBytes,
                     swapped.begin() + kStreamHeaderBytes + kStreamRecordBytes);
    QVERIFY(!decrypt(key, swapped));
    // Anything after the final record.
    auto longer = cipher;
    longer.insert(longer.end(), cipher.end() - 40, cipher.end());
    QVERIFY(!decrypt(key, longer));
    // The wrong key.
    QVERIFY(!decrypt(new_stream_key(), cipher));
    QVERIFY(decrypt(key, cipher));
  }

  void sha256KnownAnswers() {
    Sha256Stream h;
    QCOMPARE(to_hex(h.finish()), QByteArray("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    const auto abc = hex("616263");
    h.update(abc);
    QCOMPARE(to_hex(h.finish()), QByteArray("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    // In pieces equals at once.
    const auto big = pattern(1 << 20);
    Sha256Stream once, pieces;
    once.update(big);
    for (std::size_t off = 0; off < big.size(); off += 100000)
      pieces.update({big.data() + off, std::min<std::size_t>(100000, big.size() - off)});
    QCOMPARE(to_hex(once.finish()), to_hex(pieces.finish()));
  }
};

QTEST_GUILESS_MAIN(SecretStreamTest)
#include "secret_stream_test.moc"
