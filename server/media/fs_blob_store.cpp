#include "media/fs_blob_store.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <random>
#include <utility>

namespace parley::media {
namespace {

std::error_code last_error() { return {errno, std::generic_category()}; }

// One open file descriptor, closed on destruction.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

class FileWriter final : public StagedWriter {
 public:
  FileWriter(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  std::uint64_t size() const override { return size_; }
  std::error_code append(std::span<const char> bytes) override {
    while (!bytes.empty()) {
      const auto n = ::pwrite(fd_.get(), bytes.data(), bytes.size(), static_cast<off_t>(size_));
      if (n < 0) {
        if (errno == EINTR) continue;
        return last_error();
      }
      size_ += static_cast<std::uint64_t>(n);
      bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return {};
  }

 private:
  Fd fd_;
  std::uint64_t size_;
};

class FileReader final : public BlobReader {
 public:
  FileReader(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  std::uint64_t size() const override { return size_; }
  std::size_t read_at(std::uint64_t offset, std::span<char> out, std::error_code& ec) override {
    for (;;) {
      const auto n = ::pread(fd_.get(), out.data(), out.size(), static_cast<off_t>(offset));
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) {
        ec = last_error();
        return 0;
      }
    }
  }

 private:
  Fd fd_;
  std::uint64_t size_;
};

// Opens `path` and reads its size; -1 with `ec` set on failure.
int open_sized(const std::filesystem::path& path, int flags, std::uint64_t& size, std::error_code& ec) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  if (fd < 0) {
    ec = last_error();
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ec = last_error();
    ::close(fd);
    return -1;
  }
  size = static_cast<std::uint64_t>(st.st_size);
  return fd;
}

std::unique_ptr<BlobReader> open_reader(const std::filesystem::path& path, std::error_code& ec) {
  std::uint64_t size = 0;
  const int fd = open_sized(path, O_RDONLY, size, ec);
  return fd < 0 ? nullptr : std::make_unique<FileReader>(fd, size);
}

// A lock on the whole file held by this open file description (not the process), so a
// second open of the same file is refused in this process as in any other.
bool lock_whole(int fd, short type, std::error_code& ec) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return true;
  ec = errno == EAGAIN || errno == EACCES ? std::make_error_code(std::errc::device_or_resource_busy)
                                          : last_error();
  return false;
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

std::chrono::system_clock::time_point time_of(const struct timespec& t) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::seconds(t.tv_sec) +
                                                                      std::chrono::nanoseconds(t.tv_nsec)));
}

// Where remove_blob puts a blob while it decides: unique per call, so two processes
// removing the same hash never share one.
constexpr std::string_view kAside = ".removing-";
std::filesystem::path aside_path(const std::filesystem::path& blob) {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(random()));
  auto out = blob;
  out += std::string(kAside) + suffix;
  return out;
}

std::error_code fsync_path(const std::filesystem::path& path, int flags) {
  Fd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (fd.get() < 0) return last_error();
  if (::fsync(fd.get()) != 0) return last_error();
  return {};
}

}  // namespace

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

bool from_hex(std::string_view hex, std::span<unsigned char> out) {
  if (hex.size() != out.size() * 2) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    unsigned v = 0;
    const auto* first = hex.data() + 2 * i;
    const auto [end, err] = std::from_chars(first, first + 2, v, 16);
    if (err != std::errc{} || end != first + 2) return false;
    out[i] = static_cast<unsigned char>(v);
  }
  return true;
}

std::string to_hex(const Sha256& hash) {
  return to_hex(std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
}

FsBlobStore::FsBlobStore(std::filesystem::path root) : root_(std::move(root)) {
  for (const auto& dir : {root_, root_ / "staging", root_ / "blobs"}) {
    std::filesystem::create_directories(dir);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  }
}

std::filesystem::path FsBlobStore::staged_path(std::string_view media_id) const {
  return root_ / "staging" / to_hex(media_id);
}

std::filesystem::path FsBlobStore::blob_path(const Sha256& hash) const {
  const auto hex = to_hex(hash);
  return root_ / "blobs" / hex.substr(0, 2) / hex;
}

std::unique_ptr<StagedWriter> FsBlobStore::open_staged(std::string_view media_id,
                                                       std::error_code& ec) {
  const auto path = staged_path(media_id);
  // discard_staged may unlink the file between our open and our lock (it locks first too):
  // what we locked is then gone, and we open what the path names now.
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::uint64_t size = 0;
    Fd fd(open_sized(path, O_WRONLY | O_CREAT, size, ec));
    if (fd.get() < 0) return nullptr;
    if (!lock_whole(fd.get(), F_WRLCK, ec)) return nullptr;
    struct stat mine {}, named {};
    if (::fstat(fd.get(), &mine) != 0) {
      ec = last_error();
      return nullptr;
    }
    if (::stat(path.c_str(), &named) == 0 && same_file(mine, named))
      // The size as of the lock: another process's writer may have appended before it let go.
      return std::make_unique<FileWriter>(fd.release(), static_cast<std::uint64_t>(mine.st_size));
  }
  ec = std::make_error_code(std::errc::device_or_resource_busy);
  return nullptr;
}

std::unique_ptr<BlobReader> FsBlobStore::read_staged(std::string_view media_id,
                                                     std::error_code& ec) {
  return open_reader(staged_path(media_id), ec);
}

bool FsBlobStore::has_free(std::uint64_t bytes) {
  // What an unprivileged writer may still use (root's reserved blocks not counted).
  std::error_code ec;
  const auto available = std::filesystem::space(root_, ec).available;
  return !ec && available >= bytes;
}

std::optional<std::uint64_t> FsBlobStore::idle_staged_size(std::string_view media_id) {
  Fd fd(::open(staged_path(media_id).c_str(), O_RDONLY | O_CLOEXEC));
  // Nothing staged; any other failure is answered as busy (ask again), not as "from 0".
  if (fd.get() < 0) return errno == ENOENT ? std::optional<std::uint64_t>(0) : std::nullopt;
  // Asks whether a writer holds it without taking a lock that would make the writer's next
  // PATCH busy.
  struct flock fl {};
  fl.l_type = F_RDLCK;
  fl.l_whence = SEEK_SET;
  struct stat st {};
  if (::fcntl(fd.get(), F_OFD_GETLK, &fl) != 0 || fl.l_type != F_UNLCK || ::fstat(fd.get(), &st) != 0)
    return std::nullopt;
  return static_cast<std::uint64_t>(st.st_size);
}

std::error_code FsBlobStore::commit_staged(std::string_view media_id, const Sha256& hash) {
  const auto staged = staged_path(media_id);
  const auto target = blob_path(hash);
  // Written now, whatever its pieces' times, should it become the blob: what keeps a
  // removal deciding now in another process off it until this upload's record is in.
  if (::utimensat(AT_FDCWD, staged.c_str(), nullptr, 0) != 0) return last_error();
  if (auto e = fsync_path(staged, O_RDONLY)) return e;
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  if (ec) return ec;
  ::chmod(target.parent_path().c_str(), 0700);
  // Either the blob is there and its time is renewed (so a removal deciding now keeps it:
  // remove_blob), or the staged file becomes it. A removal renaming it aside between the
  // two leaves the name free for the link; a commit elsewhere taking the name first leaves
  // a blob to renew. The blob keeps its inode: a download streaming it is not cut.
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (::utimensat(AT_FDCWD, target.c_str(), nullptr, 0) == 0) return {};
    if (errno != ENOENT) return last_error();
    if (::link(staged.c_str(), target.c_str()) == 0)
      // The new name is durable only once the directory entry is.
      return fsync_path(target.parent_path(), O_RDONLY | O_DIRECTORY);
    if (errno != EEXIST) return last_error();
  }
  return std::make_error_code(std::errc::device_or_resource_busy);
}

void FsBlobStore::drop_staged(std::string_view media_id) { ::unlink(staged_path(media_id).c_str()); }

void FsBlobStore::discard_staged(std::string_view media_id) {
  const auto path = staged_path(media_id);
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  std::error_code ec;
  // Held by a writer of another process: it goes on, and whatever is left is the orphan
  // sweep's. The lock is kept over the unlink, so no writer starts on the file meanwhile.
  if (fd.get() < 0 || !lock_whole(fd.get(), F_WRLCK, ec)) return;
  ::unlink(path.c_str());
}

std::unique_ptr<BlobReader> FsBlobStore::open_blob(const Sha256& hash, std::error_code& ec) {
  return open_reader(blob_path(hash), ec);
}

bool FsBlobStore::remove_blob(const Sha256& hash,
                              std::chrono::system_clock::time_point unless_written_since) {
  // Aside first, then look: a commit of the same bytes after the rename makes a new file at
  // the blob's name, untouched by what follows; one before it shows in the time.
  const auto path = blob_path(hash);
  const auto aside = aside_path(path);
  if (::rename(path.c_str(), aside.c_str()) != 0) return false;  // gone already
  struct stat st {};
  if (::stat(aside.c_str(), &st) == 0 && time_of(st.st_mtim) < unless_written_since) {
    ::unlink(aside.c_str());
    return true;
  }
  put_back(aside, path);
  return false;
}

void FsBlobStore::put_back(const std::filesystem::path& aside, const std::filesystem::path& path) {
  // Linked, not renamed: a commit of the same bytes that took the name meanwhile keeps its
  // file and its newer time. Durably: a record may name it.
  if (::link(aside.c_str(), path.c_str()) == 0) {
    fsync_path(path.parent_path(), O_RDONLY | O_DIRECTORY);
  } else if (errno != EEXIST) {
    // Left aside for the next listing to put back; meanwhile downloads of it fail.
    spdlog::error("event=media_blob_put_back_failed error=\"{}\"", std::strerror(errno));
    return;
  }
  ::unlink(aside.c_str());
}

std::vector<Sha256> FsBlobStore::list_blobs(std::chrono::system_clock::time_point written_before,
                                            const std::optional<Sha256>& after, std::size_t limit) {
  std::vector<Sha256> out;
  const auto cutoff = std::chrono::system_clock::to_time_t(written_before);
  // Prefix directory by prefix directory (blobs/<aa>/), each sorted, from `after`'s on: the
  // hashes come out in ascending order, so the next call resumes after the last one.
  for (unsigned prefix = after ? (*after)[0] : 0; prefix < 256 && out.size() < limit; ++prefix) {
    const char first = static_cast<char>(prefix);
    const auto dir_name = to_hex(std::string_view(&first, 1));
    std::vector<Sha256> here;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(root_ / "blobs" / dir_name, ec), end;
         !ec && it != end; it.increment(ec)) {
      const auto name = it->path().filename().string();
      if (const auto at = name.find(kAside); at != std::string::npos) {
        // Left aside by a remover that stopped between its two renames, or failed to put it
        // back: put back, since a record may name it; if unused, a later sweep removes it.
        // (One a remover is deciding on now is put back too: harmless, the blob is kept.)
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
          put_back(it->path(), it->path().parent_path() / name.substr(0, at));
        continue;
      }
      Sha256 hash{};
      // Only our names (lower-case, as blob_path writes them), in their own directory:
      // anything else is not a blob of ours.
      if (!from_hex(name, hash) || name != to_hex(hash) || hash[0] != prefix) continue;
      if (after && hash <= *after) continue;
      struct stat st {};
      if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_mtime >= cutoff)
        continue;
      here.push_back(hash);
    }
    std::sort(here.begin(), here.end());
    const auto take = std::min(here.size(), limit - out.size());
    out.insert(out.end(), here.begin(), here.begin() + static_cast<std::ptrdiff_t>(take));
  }
  return out;
}

std::vector<std::string> FsBlobStore::list_staged(
    std::chrono::system_clock::time_point written_before, const std::optional<std::string>& after,
    std::size_t limit) {
  std::vector<std::string> out;
  const auto cutoff = std::chrono::system_clock::to_time_t(written_before);
  std::error_code ec;
  for (std::filesystem::directory_iterator it(root_ / "staging", ec), end; !ec && it != end;
       it.increment(ec)) {
    const auto name = it->path().filename().string();
    std::string id(16, '\0');
    // Only our names (lower-case hex of a 16-byte id, as staged_path writes them).
    if (!from_hex(name, {reinterpret_cast<unsigned char*>(id.data()), id.size()}) ||
        name != to_hex(id))
      continue;
    if (after && id <= *after) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_mtime >= cutoff)
      continue;
    out.push_back(std::move(id));
  }
  std::sort(out.begin(), out.end());
  if (out.size() > limit) out.resize(limit);
  return out;
}

std::string to_bytes(const Sha256& hash) {
  return {reinterpret_cast<const char*>(hash.data()), hash.size()};
}

std::optional<Sha256> sha256_from_bytes(std::string_view bytes) {
  Sha256 hash{};
  if (bytes.size() != hash.size()) return std::nullopt;
  std::copy(bytes.begin(), bytes.end(), hash.begin());
  return hash;
}

}  // namespace parley::media
