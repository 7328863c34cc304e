#pragma once
// Profiles from before encryption at rest kept their store as a plain SQLite file. The first
// open with a store key seals it: a sealed copy is made beside it and checked, then takes its
// place in one rename, and the plain file's bytes are overwritten. Until the rename the plain
// file is untouched, so a crash at any point leaves one whole store.
#include <QString>

namespace parley::client {
namespace sealed {
class KeyBinding;
}

enum class PlainFile {
  none,        // no file, an empty one, or one already sealed
  plain,       // a plain SQLite database: to be sealed
  unreadable,  // exists but cannot be read
};
PlainFile plainFileState(const QString& path);

bool sealPlainFile(const QString& path, const sealed::KeyBinding& key, QString* error);

}  // namespace parley::client
