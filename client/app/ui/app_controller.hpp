#pragma once
// Which screen the app shows: the welcome screen until a profile is open, then the main
// window; a profile kept under a passphrase asks for it first (passphrase/unlock_dialog.hpp).
// Owns the Messenger (the main window only borrows it) and resolves --profile.
//
// Profiles live under profilesRoot() (~/.local/share/parley/profiles), one folder per
// account; --profile takes a name there or a path to a folder anywhere.
//
// Thread: the GUI thread.
#include <QObject>
#include <QPointer>
#include <QUrl>
#include <memory>

namespace parley::client {
class Messenger;
}

namespace parley::app {

class MainWindow;
class WelcomeWindow;

class AppController : public QObject {
  Q_OBJECT
 public:
  struct Options {
    QString profile;        // --profile: a name under profilesRoot or a folder path
    QUrl relay;             // the welcome screen's default relay
    QString profilesRoot;   // empty: the standard location
  };
  explicit AppController(Options options, QObject* parent = nullptr);
  ~AppController() override;

  // Opens the chosen (or last used) profile, or shows the welcome screen.
  void start();

  static QString defaultProfilesRoot();
  QString profilesRoot() const { return root_; }
  QStringList profileNames() const;
  QString profileDir(const QString& name_or_path) const;

  WelcomeWindow* welcome() const;
  MainWindow* mainWindow() const;
  client::Messenger* messenger() const { return messenger_.get(); }

 signals:
  void mainWindowShown(parley::app::MainWindow* window);

 private:
  void showWelcome(const QString& error = {});
  void createAccount(const QUrl& relay, const QString& username);
  void openProfile(const QString& dir);
  // Asks for the passphrase of the locked profile in `dir` until it opens or the user gives
  // up: null then, with `error` empty when they cancelled.
  std::unique_ptr<client::Messenger> unlock(const QString& dir, QString* error);
  void showMain(std::unique_ptr<client::Messenger> m, const QString& dir);
  void closeMain();

  Options options_;
  QString root_;
  QString fixed_dir_;  // --profile named a folder that holds no profile yet: register there
  std::unique_ptr<client::Messenger> messenger_;
  QPointer<WelcomeWindow> welcome_;
  QPointer<MainWindow> main_;
};

}  // namespace parley::app
