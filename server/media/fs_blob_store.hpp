#pragma once
// BlobStore on the local filesystem:
//   <root>/staging/<media id hex>   unfinished uploads (appended in place)
//   <root>/blobs/<aa>/<sha256 hex>  finished ciphertext, <aa> the hash's first byte
// Files are 0600, directories 0700. A commit fsyncs the file, renames it into blobs/ and
// fsyncs the directory, so a finished upload survives power loss.
//
// Several relays may share one root (gateways of a tier on a network filesystem with POSIX
// locks and atomic rename): a staged file's writer holds an open-file-description write lock
// on it, and a blob is removed by renaming it aside first and checking its time there, so
// an identical upload committing meanwhile is never lost.
#include <filesystem>

#include "media/blob_store.hpp"

namespace parley::media {

class FsBlobStore final : public BlobStore {
 public:
  // Creates the directories; throws std::filesystem::filesystem_error when it cannot.
  explicit FsBlobStore(std::filesystem::path root);

  std::unique_ptr<StagedWriter> open_staged(std::string_view media_id, std::error_code& ec) override;
  std::unique_ptr<BlobReader> read_staged(std::string_view media_id, std::error_code& ec) override;
  std::optional<std::uint64_t> idle_staged_size(std::string_view media_id) override;
  std::error_code commit_staged(std::string_view media_id, const Sha256& hash) override;
  void drop_staged(std::string_view media_id) override;
  void discard_staged(std::string_view media_id) override;
  std::unique_ptr<BlobReader> open_blob(const Sha256& hash, std::error_code& ec) override;
  bool has_free(std::uint64_t bytes) override;
  bool remove_blob(const Sha256& hash,
                   std::chrono::system_clock::time_point unless_written_since) override;
  std::vector<Sha256> list_blobs(std::chrono::system_clock::time_point written_before,
                                 const std::optional<Sha256>& after, std::size_t limit) override;
  std::vector<std::string> list_staged(std::chrono::system_clock::time_point written_before,
                                       const std::optional<std::string>& after,
                                       std::size_t limit) override;

  std::filesystem::path blob_path(const Sha256& hash) const;
  std::filesystem::path staged_path(std::string_view media_id) const;

 private:
  // A blob remove_blob put aside, back under its name unless a commit took the name since.
  static void put_back(const std::filesystem::path& aside, const std::filesystem::path& path);

  std::filesystem::path root_;
};

}  // namespace parley::media
