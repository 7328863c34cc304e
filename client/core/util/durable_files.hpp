#pragma once
// What encryption at rest needs of the file system beyond Qt: syncing a file or a folder, and
// overwriting the bytes of a file being replaced or removed, so a secret kept as it was (a
// store key before its passphrase, a plain store, a plain identity key) is not left in the
// file system's free blocks. (A flash drive may still keep copies where it remapped them.)
#include <QFile>
#include <QString>

namespace parley::client::files {

bool syncPath(const QString& path);  // a file, or a folder's entries
// Writes zeros over all of `file` (open for writing) and syncs it.
bool overwrite(QFile& file);
// Overwrites and removes the file at `path`, then syncs its folder. True when nothing is left.
bool shred(const QString& path);

}  // namespace parley::client::files
