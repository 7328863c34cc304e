#pragma once
// Sets or changes the passphrase the open profile's store key is kept under: the new one
// typed twice, at least kMinLength characters. Saving derives a key (~0.7 s, Argon2id), so it
// runs on a worker thread while the dialog shows itself busy; it accepts once the new
// passphrase is on disk, and reports a failure in a message box.
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

  PassphraseDialog(client::Messenger* messenger, const QString& profile_name, QWidget* parent = nullptr);
  ~PassphraseDialog() override;

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

  client::Messenger* messenger_;
  bool changing_;
  QLineEdit* first_;
  QLineEdit* second_;
  QLabel* error_;
  QPushButton* save_;
  QPushButton* cancel_;
  std::unique_ptr<QThread> worker_;
  // Written by the worker, read on the GUI thread once it has finished.
  bool ok_ = false;
  QString failure_;
};

}  // namespace parley::app
