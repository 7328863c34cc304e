#pragma once
// First run: pick a relay and a username and create the account, or open a profile that
// exists on this computer. Validation that needs no network happens here, as the user types;
// the relay's answer comes back through showError() or the window is replaced.
//
// Thread: the GUI thread.
#include <QUrl>
#include <QWidget>

class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;

namespace parley::app {

class WelcomeWindow : public QWidget {
  Q_OBJECT
 public:
  WelcomeWindow(const QUrl& default_relay, const QStringList& profiles, QWidget* parent = nullptr);

  void setUsername(const QString& name);
  void setBusy(bool busy);
  void showError(const QString& text);
  QString errorText() const;

  QLineEdit* relayEdit() const { return relay_; }
  QLineEdit* usernameEdit() const { return username_; }
  QPushButton* createButton() const { return create_; }
  QListWidget* profileList() const { return profiles_; }

 signals:
  void createRequested(const QUrl& relay, const QString& username);
  void openRequested(const QString& profile);  // a name from the list
  void openDirectoryRequested(const QString& dir);

 private:
  void submit();
  void validate();

  QLineEdit* relay_;
  QLineEdit* username_;
  QPushButton* create_;
  QLabel* error_;
  QLabel* hint_;
  QListWidget* profiles_;
  QPushButton* open_;
  bool busy_ = false;
};

}  // namespace parley::app
