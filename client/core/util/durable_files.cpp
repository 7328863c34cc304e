#include "util/durable_files.hpp"

#include <QFileInfo>

#ifdef Q_OS_WIN
#include <io.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

namespace parley::client::files {
namespace {

bool sync_descriptor(int fd) {
#ifdef Q_OS_WIN
  return _commit(fd) == 0;
#else
  return ::fsync(fd) == 0;
#endif
}

}  // namespace

bool syncPath(const QString& path) {
#ifdef Q_OS_WIN
  if (QFileInfo(path).isDir()) return true;  // Windows has no folder sync; NTFS journals names
  QFile f(path);
  return f.open(QIODevice::ReadWrite) && sync_descriptor(f.handle());
#else
  const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = sync_descriptor(fd);
  ::close(fd);
  return ok;
#endif
}

bool overwrite(QFile& file) {
  const qint64 size = file.size();
  const QByteArray zeros(64 * 1024, '\0');
  if (!file.seek(0)) return false;
  for (qint64 done = 0; done < size; done += zeros.size())
    if (file.write(zeros.constData(), std::min<qint64>(zeros.size(), size - done)) < 0) return false;
  return file.flush() && sync_descriptor(file.handle());
}

bool shred(const QString& path) {
  QFile f(path);
  if (!f.exists()) return true;
  if (f.open(QIODevice::ReadWrite | QIODevice::Unbuffered)) overwrite(f);
  f.close();
  const bool removed = f.remove();
  syncPath(QFileInfo(path).absolutePath());
  return removed;
}

}  // namespace parley::client::files
