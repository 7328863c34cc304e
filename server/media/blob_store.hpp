#pragma once
// Where media ciphertext lives: unfinished uploads staged per media id, finished ones as
// immutable blobs named by the SHA-256 of their bytes (so identical ciphertext is stored
// once). The embedded default is FsBlobStore under the data directory; an S3-compatible store
// can implement the same interface (multipart upload for staging, the hash as object key).
//
// Contract: every method may block on storage; call them from the media disk thread, except
// the small append/read_at calls noted below. No method throws; failures come back as
// std::error_code.
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace parley::media {

using Sha256 = std::array<unsigned char, 32>;

std::string to_hex(std::string_view bytes);
std::string to_hex(const Sha256& hash);
// `hex` (either case) into `out`; false unless it is exactly 2 * out.size() hex digits.
bool from_hex(std::string_view hex, std::span<unsigned char> out);
// The hash as the store keeps it (32 bytes), and back; nullopt unless exactly 32 bytes.
std::string to_bytes(const Sha256& hash);
std::optional<Sha256> sha256_from_bytes(std::string_view bytes);

// Appends to one staged upload. Only one StagedWriter per media id exists at a time, across
// every process sharing the store (open_staged refuses a second with
// std::errc::device_or_resource_busy). append() writes one bounded piece (at most a request
// buffer, 256 KiB) and may run on an I/O thread.
class StagedWriter {
 public:
  virtual ~StagedWriter() = default;
  virtual std::uint64_t size() const = 0;  // bytes staged so far
  virtual std::error_code append(std::span<const char> bytes) = 0;
};

// Reads a blob or a staged upload. read_at() reads one bounded piece and may run on an I/O
// thread (page-cache reads, as Beast's own file body does).
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual std::uint64_t size() const = 0;
  // Reads up to out.size() bytes at `offset`; returns the count (0 only at the end).
  virtual std::size_t read_at(std::uint64_t offset, std::span<char> out, std::error_code& ec) = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Opens (creating if missing) the staging area of `media_id` for appending.
  virtual std::unique_ptr<StagedWriter> open_staged(std::string_view media_id,
                                                    std::error_code& ec) = 0;
  virtual std::unique_ptr<BlobReader> read_staged(std::string_view media_id,
                                                  std::error_code& ec) = 0;
  // Bytes staged for `media_id` (0 when nothing is); nullopt while a writer, in this process
  // or another sharing the store, holds it.
  virtual std::optional<std::uint64_t> idle_staged_size(std::string_view media_id) = 0;
  // Makes the staged bytes of `media_id` durable as the blob `hash`, or keeps an existing
  // blob with that hash (the same bytes), which then counts as written now. The staging
  // area stays, and with it the writer's hold, until drop_staged: its holder drops it once
  // the upload's record is written, so no request on another gateway sees the upload
  // neither staged nor finished. Whoever removes blobs must first ask BlobClaims whether one
  // committed meanwhile in this process; remove_blob's time covers other processes.
  virtual std::error_code commit_staged(std::string_view media_id, const Sha256& hash) = 0;
  // Removes a committed upload's staging area; by the holder of its StagedWriter, before
  // closing it.
  virtual void drop_staged(std::string_view media_id) = 0;
  // Removes the staging area, unless a writer (of any process sharing the store) holds it.
  virtual void discard_staged(std::string_view media_id) = 0;

  virtual std::unique_ptr<BlobReader> open_blob(const Sha256& hash, std::error_code& ec) = 0;
  // Whether at least `bytes` are free for new staged data and blobs; false also when that
  // cannot be told (one statvfs; any thread).
  virtual bool has_free(std::uint64_t bytes) = 0;
  // Removes the blob unless it was written at or after `unless_written_since`: an upload of
  // the same bytes in another process sharing the store may have committed it, its record
  // not yet written. Atomic against such a commit. True when it removed the blob.
  virtual bool remove_blob(const Sha256& hash,
                           std::chrono::system_clock::time_point unless_written_since) = 0;
  // Blobs last written before `written_before` whose hash sorts after `after` (all, if
  // nullopt), in ascending order, at most `limit`: what the orphan sweep checks against the
  // records, a slice at a time.
  virtual std::vector<Sha256> list_blobs(std::chrono::system_clock::time_point written_before,
                                         const std::optional<Sha256>& after, std::size_t limit) = 0;
  // The same for staged uploads: media ids (16 bytes) whose staging was last written before
  // `written_before`, after `after` in ascending order, at most `limit`.
  virtual std::vector<std::string> list_staged(std::chrono::system_clock::time_point written_before,
                                               const std::optional<std::string>& after,
                                               std::size_t limit) = 0;
};

}  // namespace parley::media
