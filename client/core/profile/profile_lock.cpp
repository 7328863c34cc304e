#include "profile/profile_lock.hpp"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLockFile>
#include <QRegularExpression>
#include <QSysInfo>
#include <mutex>
#include <set>

namespace parley::client {
namespace {

void remove_matching(const QString& dir, const QRegularExpression& name) {
  const QDir d(dir);
  for (const auto& file : d.entryList(QDir::Files | QDir::Hidden))
    if (name.match(file).hasMatch()) QFile::remove(d.filePath(file));
}

// The profiles this process holds, by canonical path: a lock naming this process's pid that
// is not among them was left by an earlier process that had the same pid (a container's
// first process, say), which QLockFile cannot tell from this one.
std::mutex held_mutex;
std::set<QString> held;

QString canonical(const QString& dir) {
  const auto path = QFileInfo(dir).canonicalFilePath();
  return path.isEmpty() ? QDir::cleanPath(QDir(dir).absolutePath()) : path;
}

}  // namespace

ProfileLock::ProfileLock(QString dir, QString key, std::unique_ptr<QLockFile> file)
    : dir_(std::move(dir)), key_(std::move(key)), file_(std::move(file)) {}

ProfileLock::~ProfileLock() {
  file_->unlock();  // removes the file
  std::lock_guard lock(held_mutex);
  held.erase(key_);
}

std::unique_ptr<ProfileLock> ProfileLock::acquire(const QString& dir, QString* error) {
  const auto key = canonical(dir);
  std::lock_guard lock(held_mutex);
  if (held.contains(key)) {
    *error = QStringLiteral("this profile is already open, or being registered, in this program");
    return nullptr;
  }
  auto file = std::make_unique<QLockFile>(dir + QStringLiteral("/parley.lock"));
  const auto path = QDir::toNativeSeparators(file->fileName());
  // Age says nothing here: a messenger holds its profile for days. QLockFile still takes over
  // a lock whose process is gone: on the same machine, its pid not running or now another
  // program's, or the machine rebooted since.
  file->setStaleLockTime(0);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (file->tryLock(0)) {
      held.insert(key);
      return std::unique_ptr<ProfileLock>(new ProfileLock(dir, key, std::move(file)));
    }
    if (file->error() != QLockFile::LockFailedError) break;
    qint64 pid = 0;
    QString host, app;
    const bool known = file->getLockInfo(&pid, &host, &app);
    if (known && pid == QCoreApplication::applicationPid() &&
        (host.isEmpty() || host == QSysInfo::machineHostName())) {
      // Our pid, and not ours (see `held`): an earlier process's. removeStaleLockFile still
      // refuses while another process holds the file's own lock.
      if (attempt == 0 && file->removeStaleLockFile()) continue;
    } else if (!known && attempt == 0) {
      continue;  // unreadable: its holder may have been releasing it just then
    }
    *error = known ? QStringLiteral("this profile is open in another Parley process (%1, pid %2 on %3): "
                                    "close it first; if no such process is running, delete %4")
                         .arg(app.isEmpty() ? QStringLiteral("unknown program") : app)
                         .arg(pid)
                         .arg(host.isEmpty() ? QStringLiteral("an unknown host") : host, path)
                   : QStringLiteral("this profile is open in another Parley process: close it "
                                    "first; if none is running, delete %1")
                         .arg(path);
    return nullptr;
  }
  *error = file->error() == QLockFile::PermissionError
               ? QStringLiteral("cannot create %1: permission denied or a read-only disk").arg(path)
               : QStringLiteral("cannot create %1 (is the disk full?)").arg(path);
  return nullptr;
}

void ProfileLock::removeLeftovers() const {
  // The names the messenger gives them (messenger_media.cpp): <hex media id>.<transfer id>.part
  // for a scratch download, and <32 hex>.enc for an upload's copy made before schema 12 (now
  // file-<id>.enc, kept with its queued file: Messenger::removeStaleCopies).
  static const QRegularExpression upload(QStringLiteral("^[0-9a-f]{32}\\.enc$"));
  static const QRegularExpression scratch(QStringLiteral("^[0-9a-f]+\\.[0-9]+\\.part$"));
  remove_matching(dir_ + QStringLiteral("/media-out"), upload);
  remove_matching(dir_ + QStringLiteral("/media-in"), scratch);
}

}  // namespace parley::client
