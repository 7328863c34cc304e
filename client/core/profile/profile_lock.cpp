#include "profile/profile_lock.hpp"

#include <QDir>
#include <QFile>
#include <QLockFile>
#include <QRegularExpression>

namespace parley::client {
namespace {

int remove_matching(const QString& dir, const QRegularExpression& name) {
  int removed = 0;
  const QDir d(dir);
  for (const auto& file : d.entryList(QDir::Files | QDir::Hidden))
    if (name.match(file).hasMatch() && QFile::remove(d.filePath(file))) ++removed;
  return removed;
}

}  // namespace

ProfileLock::ProfileLock(QString dir, std::unique_ptr<QLockFile> file)
    : dir_(std::move(dir)), file_(std::move(file)) {}

ProfileLock::~ProfileLock() = default;  // QLockFile unlocks and removes the file

std::unique_ptr<ProfileLock> ProfileLock::acquire(const QString& dir, QString* error) {
  auto file = std::make_unique<QLockFile>(dir + QStringLiteral("/parley.lock"));
  // Age says nothing here: a messenger holds its profile for days. QLockFile still takes over
  // a lock whose process is gone (same host, pid not running).
  file->setStaleLockTime(0);
  if (file->tryLock(0)) return std::unique_ptr<ProfileLock>(new ProfileLock(dir, std::move(file)));
  switch (file->error()) {
    case QLockFile::LockFailedError: {
      qint64 pid = 0;
      QString host, app;
      if (file->getLockInfo(&pid, &host, &app)) {
        *error = QStringLiteral("this profile is open in another Parley process (%1, pid %2 on %3):"
                                " close it first")
                     .arg(app.isEmpty() ? QStringLiteral("unknown program") : app)
                     .arg(pid)
                     .arg(host.isEmpty() ? QStringLiteral("an unknown host") : host);
      } else {
        *error = QStringLiteral("this profile is open in another Parley process: close it first");
      }
      break;
    }
    case QLockFile::PermissionError:
      *error = QStringLiteral("cannot create %1: permission denied").arg(file->fileName());
      break;
    default:
      *error = QStringLiteral("cannot lock the profile in %1").arg(dir);
      break;
  }
  return nullptr;
}

int ProfileLock::removeLeftovers() const {
  // The names the messenger gives them (messenger_media.cpp): <32 hex>.enc for an upload's
  // copy, <hex media id>.<transfer id>.part for a scratch download.
  static const QRegularExpression upload(QStringLiteral("^[0-9a-f]{32}\\.enc$"));
  static const QRegularExpression scratch(QStringLiteral("^[0-9a-f]+\\.[0-9]+\\.part$"));
  return remove_matching(dir_ + QStringLiteral("/media-out"), upload) +
         remove_matching(dir_ + QStringLiteral("/media-in"), scratch);
}

}  // namespace parley::client
