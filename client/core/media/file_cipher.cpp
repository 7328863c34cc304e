#include "media/file_cipher.hpp"

#include <QFile>
#include <QSaveFile>
#include <QScopeGuard>
#include <vector>

#include "crypto/sha256.hpp"

namespace parley::client::media {
namespace {

// Records handled per read/write: large enough to amortise system calls.
constexpr std::size_t kRecordsPerBuffer = 16;

crypto::ByteView view(const char* p, qint64 n) {
  return {reinterpret_cast<const std::uint8_t*>(p), static_cast<std::size_t>(n)};
}

// Reads exactly n bytes unless the file ends first; -1 on error.
qint64 read_full(QFile& f, char* out, qint64 n) {
  qint64 got = 0;
  while (got < n) {
    const auto r = f.read(out + got, n - got);
    if (r < 0) return -1;
    if (r == 0) break;
    got += r;
  }
  return got;
}

}  // namespace

std::optional<EncryptedFile> encrypt_file(const QString& source, const QString& target,
                                          const crypto::StreamKey& key, const Progress& progress,
                                          const std::atomic<bool>& cancelled, QString* error) {
  QFile in(source);
  if (!in.open(QIODevice::ReadOnly)) {
    *error = QStringLiteral("cannot read %1: %2").arg(source, in.errorString());
    return std::nullopt;
  }
  QFile out(target);
  if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
    *error = QStringLiteral("cannot write the encrypted copy: %1").arg(out.errorString());
    return std::nullopt;
  }
  out.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
  auto fail = [&](const QString& why) -> std::optional<EncryptedFile> {
    *error = why;
    out.close();
    out.remove();
    return std::nullopt;
  };
  const qint64 total = in.size();
  crypto::StreamEncryptor enc(key);
  crypto::Sha256Stream hash;
  EncryptedFile result;
  hash.update(enc.header());
  if (out.write(reinterpret_cast<const char*>(enc.header().data()), crypto::kStreamHeaderBytes) !=
      static_cast<qint64>(crypto::kStreamHeaderBytes))
    return fail(QStringLiteral("cannot write the encrypted copy: %1").arg(out.errorString()));
  result.ciphertext_size = crypto::kStreamHeaderBytes;
  std::vector<char> plain(crypto::kStreamChunkBytes * kRecordsPerBuffer);
  std::vector<char> cipher(crypto::kStreamRecordBytes * kRecordsPerBuffer);
  const auto wipe = qScopeGuard([&] { crypto::secure_zero(plain.data(), plain.size()); });
  bool last = false;
  while (!last) {
    if (cancelled.load()) return fail(QStringLiteral("cancelled"));
    const auto n = read_full(in, plain.data(), static_cast<qint64>(plain.size()));
    if (n < 0) return fail(QStringLiteral("cannot read %1: %2").arg(source, in.errorString()));
    // The record holding the file's last byte carries FINAL (an empty file: one empty
    // record), so the size is always stream_ciphertext_size(plaintext).
    last = n < static_cast<qint64>(plain.size()) || in.atEnd();
    std::size_t written = 0;
    for (qint64 off = 0; off < n || (last && off == 0 && n == 0);) {
      const auto len = std::min<qint64>(crypto::kStreamChunkBytes, n - off);
      const bool final_record = last && off + len == n;
      written += enc.push(view(plain.data() + off, len), final_record,
                          reinterpret_cast<std::uint8_t*>(cipher.data()) + written);
      off += len;
      if (final_record) break;
    }
    hash.update(view(cipher.data(), static_cast<qint64>(written)));
    if (out.write(cipher.data(), static_cast<qint64>(written)) != static_cast<qint64>(written))
      return fail(QStringLiteral("cannot write the encrypted copy: %1").arg(out.errorString()));
    result.plaintext_size += static_cast<quint64>(n);
    result.ciphertext_size += written;
    if (progress) progress(static_cast<qint64>(result.plaintext_size), total);
  }
  if (!out.flush()) return fail(QStringLiteral("cannot write the encrypted copy: %1").arg(out.errorString()));
  const auto digest = hash.finish();
  result.sha256 = QByteArray(reinterpret_cast<const char*>(digest.data()), digest.size());
  return result;
}

bool file_matches(const QString& path, quint64 size, const QByteArray& sha256,
                  const std::atomic<bool>& cancelled) {
  QFile in(path);
  if (!in.open(QIODevice::ReadOnly) || static_cast<quint64>(in.size()) != size) return false;
  crypto::Sha256Stream hash;
  std::vector<char> buffer(crypto::kStreamRecordBytes * kRecordsPerBuffer);
  for (;;) {
    if (cancelled.load()) return false;
    const auto n = read_full(in, buffer.data(), static_cast<qint64>(buffer.size()));
    if (n < 0) return false;
    if (n == 0) break;
    hash.update(view(buffer.data(), n));
  }
  const auto digest = hash.finish();
  return QByteArray(reinterpret_cast<const char*>(digest.data()), digest.size()) == sha256;
}

bool decrypt_file(const QString& ciphertext, quint64 expected_size, const QByteArray& expected_sha256,
                  const crypto::StreamKey& key, const QString& target, const Progress& progress,
                  const std::atomic<bool>& cancelled, QString* error) {
  QFile in(ciphertext);
  if (!in.open(QIODevice::ReadOnly)) {
    *error = QStringLiteral("cannot read the downloaded file: %1").arg(in.errorString());
    return false;
  }
  if (static_cast<quint64>(in.size()) != expected_size) {
    *error = QStringLiteral("the downloaded file has %1 bytes, not the %2 announced: it is "
                            "truncated or damaged; nothing was saved")
                 .arg(in.size())
                 .arg(expected_size);
    return false;
  }
  QSaveFile out(target);
  out.setDirectWriteFallback(false);
  if (!out.open(QIODevice::WriteOnly)) {
    *error = QStringLiteral("cannot write %1: %2").arg(target, out.errorString());
    return false;
  }
  auto fail = [&](const QString& why) {
    *error = why;
    out.cancelWriting();
    return false;
  };
  char header[crypto::kStreamHeaderBytes];
  crypto::Sha256Stream hash;
  if (read_full(in, header, sizeof header) != static_cast<qint64>(sizeof header))
    return fail(QStringLiteral("the downloaded file is truncated; nothing was saved"));
  hash.update(view(header, sizeof header));
  auto dec = crypto::StreamDecryptor::open(key, view(header, sizeof header));
  if (!dec) return fail(QStringLiteral("the downloaded file cannot be opened; nothing was saved"));
  const auto damaged = QStringLiteral(
      "the downloaded file is damaged or was tampered with (it does not decrypt); nothing was saved");
  std::vector<char> cipher(crypto::kStreamRecordBytes * kRecordsPerBuffer);
  std::vector<char> plain(crypto::kStreamChunkBytes * kRecordsPerBuffer);
  // The file's bytes in the clear do not go back to the allocator readable.
  const auto wipe = qScopeGuard([&] { crypto::secure_zero(plain.data(), plain.size()); });
  qint64 done = sizeof header;
  for (;;) {
    if (cancelled.load()) return fail(QStringLiteral("cancelled"));
    const auto n = read_full(in, cipher.data(), static_cast<qint64>(cipher.size()));
    if (n < 0) return fail(QStringLiteral("cannot read the downloaded file: %1").arg(in.errorString()));
    if (n == 0) break;
    hash.update(view(cipher.data(), n));
    std::size_t produced = 0;
    for (qint64 off = 0; off < n;) {
      const auto len = std::min<qint64>(crypto::kStreamRecordBytes, n - off);
      const auto got = dec->pull(view(cipher.data() + off, len),
                                 reinterpret_cast<std::uint8_t*>(plain.data()) + produced);
      if (!got) return fail(damaged);
      produced += *got;
      off += len;
    }
    if (out.write(plain.data(), static_cast<qint64>(produced)) != static_cast<qint64>(produced))
      return fail(QStringLiteral("cannot write %1: %2").arg(target, out.errorString()));
    done += n;
    if (progress) progress(done, static_cast<qint64>(expected_size));
  }
  const auto digest = hash.finish();
  if (QByteArray(reinterpret_cast<const char*>(digest.data()), digest.size()) != expected_sha256)
    return fail(QStringLiteral("the downloaded file does not match its SHA-256 (corrupted or "
                               "tampered with); nothing was saved"));
  if (!dec->finished())
    return fail(QStringLiteral("the downloaded file is truncated; nothing was saved"));
  // Cancelled meanwhile, the name we reserved may be given back already: do not save over it.
  if (cancelled.load()) return fail(QStringLiteral("cancelled"));
  if (!out.commit()) {
    *error = QStringLiteral("cannot save %1: %2").arg(target, out.errorString());
    return false;
  }
  return true;
}

}  // namespace parley::client::media
