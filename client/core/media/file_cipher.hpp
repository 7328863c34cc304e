#pragma once
// Encrypting a file to an attachment's ciphertext and back, streaming: memory use is a
// buffer of a few records whatever the file size.
//
// Thread: any; both functions block on disk and are meant for a worker thread. `progress`
// is called on that thread; `cancelled` is polled between buffers.
#include <QByteArray>
#include <QString>
#include <atomic>
#include <functional>
#include <optional>

#include "crypto/secret_stream.hpp"

namespace parley::client::media {

using Progress = std::function<void(qint64 done, qint64 total)>;

struct EncryptedFile {
  quint64 plaintext_size = 0;
  quint64 ciphertext_size = 0;
  QByteArray sha256;  // of the ciphertext, 32 bytes
};

// Writes the ciphertext of `source` under `key` to `target` (created 0600, replaced).
std::optional<EncryptedFile> encrypt_file(const QString& source, const QString& target,
                                          const crypto::StreamKey& key, const Progress& progress,
                                          const std::atomic<bool>& cancelled, QString* error);

// True when the file at `path` has `size` bytes hashing to `sha256` (an encrypted copy kept
// from an earlier run, checked before it is uploaded again: a crash may have cut it short).
bool file_matches(const QString& path, quint64 size, const QByteArray& sha256,
                  const std::atomic<bool>& cancelled);

// Checks that `ciphertext` has `expected_size` bytes and hashes to `expected_sha256`, and
// decrypts it into `target` through a temporary file that is renamed into place only when
// every record authenticated, the final one included, and the hash matched. On any failure
// nothing is left at `target`.
bool decrypt_file(const QString& ciphertext, quint64 expected_size, const QByteArray& expected_sha256,
                  const crypto::StreamKey& key, const QString& target, const Progress& progress,
                  const std::atomic<bool>& cancelled, QString* error);

}  // namespace parley::client::media
