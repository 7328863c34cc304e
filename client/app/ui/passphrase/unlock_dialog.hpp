#pragma once
// Asks for the passphrase of a profile that has one, before it opens. A wrong passphrase
// keeps the dialog open (the field cleared, a line in the error colour); Cancel rejects it.
//
// The attempt runs on the GUI thread (Messenger::open creates the profile's database
// connections, which belong to the thread that opens them): the dialog shows itself busy for
// the ~0.7 s the key derivation takes.
//
// Thread: the GUI thread.
#include <QDialog>
#include <functional>

class QLabel;
class QLineEdit;
class QPushButton;

namespace parley::app {

class UnlockDialog : public QDialog {
  Q_OBJECT
 public:
  enum class Outcome { unlocked, wrong_passphrase, failed };
  // Tries `passphrase`. unlocked accepts the dialog, failed rejects it (the caller keeps the
  // reason), wrong_passphrase asks again.
  using Attempt = std::function<Outcome(const QString& passphrase)>;

  UnlockDialog(const QString& profile_name, Attempt attempt, QWidget* parent = nullptr);

  QLineEdit* passphraseEdit() const { return edit_; }
  QPushButton* unlockButton() const { return unlock_; }
  QPushButton* cancelButton() const { return cancel_; }
  QString errorText() const;

 private:
  void tryUnlock();
  void setBusy(bool busy);

  Attempt attempt_;
  QLineEdit* edit_;
  QLabel* error_;
  QPushButton* unlock_;
  QPushButton* cancel_;
};

}  // namespace parley::app
