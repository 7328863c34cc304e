#pragma once
// One process at a time per profile. Two messengers on one profile (the desktop app and the
// CLI, say) would each advance the same ratchets and sender keys from their own in-memory
// state over one database, and each take the other's in-flight transfer files for leftovers: a profile is
// held by `<dir>/parley.lock` (QLockFile) for as long as a Messenger has it open. A lock left
// by a process that died is taken over (docs/architecture.md has QLockFile's rules, and the
// one added here: a lock naming this process's pid that it does not hold); one whose process
// still runs is never taken, however old.
#include <QString>
#include <memory>

class QLockFile;

namespace parley::client {

class ProfileLock {
 public:
  // Null with `error` saying who holds it (pid, host, program) when another process does.
  static std::unique_ptr<ProfileLock> acquire(const QString& dir, QString* error);
  ~ProfileLock();
  ProfileLock(const ProfileLock&) = delete;
  ProfileLock& operator=(const ProfileLock&) = delete;

  // Files a process that held this profile and died may have left: an upload's encrypted
  // copy (media-out/*.enc) and a second download's scratch cache (media-in/<id>.<n>.part).
  // Only the holder may remove them (no transfer of its own has started yet); a download's
  // shared cache (media-in/<id>.part) stays, for the next fetch to resume from.
  void removeLeftovers() const;

 private:
  ProfileLock(QString dir, QString key, std::unique_ptr<QLockFile> file);
  QString dir_;
  QString key_;  // the folder as this process's set of held profiles names it
  std::unique_ptr<QLockFile> file_;
};

}  // namespace parley::client
