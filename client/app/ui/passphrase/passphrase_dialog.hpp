#pragma once
// Sets, changes or removes the passphrase the open profile's store key is kept under. A new
// one is typed twice, at least kMinLength characters; changing or removing asks for the
// current one first, so a profile left unlocked is not enough to take its protection away.
// Each check or new key takes a derivation (~0.7 s, Argon2id), so saving runs on a worker
// thread while the dialog shows itself busy; it accepts once store.key is rewritten. A wrong
// current passphrase is said in the dialog, a failure to write in a message box.
//
// Thread: the GUI thread. Borrows the Messenger; the destructor waits for a save in flight,
// so the Messenger must outlive the dialog (the main window that owns it is deleted first).
#include <QDialog>
#include <QThread>
#include <memory>

class QLabel;
class QLineEdit;
class QPushButton;

namespace parley::client {
class Messenger;
}

namespace parley::app {

class PassphraseDialog : public QDialog {
  Q_OBJECT
 public:
  static constexpr int kMinLength = 8;
  enum class Mode { protect, change, remove };

  PassphraseDialog(client::Messenger* messenger, Mode mode, const QString& profile_name,
                   QWidget* parent = nullptr);
  ~PassphraseDialog() override;

  // Null where the mode has no such field: current in protect, new ones in remove.
  QLineEdit* currentEdit() const { return current_; }
  QLineEdit* passphraseEdit() const { return first_; }
  QLineEdit* repeatEdit() const { return second_; }
  QPushButton* saveButton() const { return save_; }
  QString errorText() const;

  // Not while saving: the dialog stays until the file is written or the write failed.
  void reject() override;

 private:
  void trySave();
  void saved();
  void setBusy(bool busy);
  void showError(const QString& text);
  QString saveLabel(bool busy) const;

  client::Messenger* messenger_;
  Mode mode_;
  QLineEdit* current_ = nullptr;
  QLineEdit* first_ = nullptr;
  QLineEdit* second_ = nullptr;
  QLabel* error_;
  QPushButton* save_;
  QPushButton* cancel_;
  std::unique_ptr<QThread> worker_;
  // Written by the worker, read on the GUI thread once it has finished.
  bool ok_ = false;
  bool wrong_current_ = false;
  bool check_failed_ = false;  // the current passphrase could not be checked (failure_ says why)
  QString failure_;
  QString next_;  // the new passphrase while it is saved: back in its fields if `current` was wrong
};

}  // namespace parley::app
