#include "app_controller.hpp"

#include <QDir>
#include <QFileInfo>
#include <QSettings>
#include <QStandardPaths>

#include "conversation/composer.hpp"
#include "conversation/conversation_view.hpp"
#include "main/main_window.hpp"
#include "messenger.hpp"
#include "parley.pb.h"
#include "parley/username.hpp"
#include "passphrase/unlock_dialog.hpp"
#include "welcome/welcome_window.hpp"

namespace parley::app {
namespace {

QString registration_error(int code, const QString& reason, const QString& name, const QUrl& relay) {
  switch (code) {
    case wire::INVALID_USERNAME:
      return AppController::tr("“%1” can't be used as a username: %2").arg(name, reason);
    case wire::USERNAME_TAKEN:
      return AppController::tr("“%1” is already taken on this relay. Choose another name.").arg(name);
    case wire::UNAVAILABLE:
      return AppController::tr("Can't reach the relay at %1. Check the address and that the relay "
                               "is running. (%2)")
          .arg(relay.toString(), reason);
    case wire::RATE_LIMITED:
      return AppController::tr("The relay is busy; try again in a moment.");
    default:
      return reason.isEmpty() ? AppController::tr("The account could not be created.") : reason;
  }
}

}  // namespace

AppController::AppController(Options options, QObject* parent)
    : QObject(parent), options_(std::move(options)),
      root_(options_.profilesRoot.isEmpty() ? defaultProfilesRoot() : options_.profilesRoot) {}

AppController::~AppController() {
  closeMain();
  delete welcome_.data();
}

WelcomeWindow* AppController::welcome() const { return welcome_.data(); }
MainWindow* AppController::mainWindow() const { return main_.data(); }

QString AppController::defaultProfilesRoot() {
  return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/profiles");
}

QStringList AppController::profileNames() const {
  QStringList out;
  const QDir root(root_);
  for (const auto& name : root.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name))
    if (client::Profile::exists(root.filePath(name))) out << name;
  return out;
}

QString AppController::profileDir(const QString& name_or_path) const {
  if (name_or_path.contains(QLatin1Char('/')) || name_or_path.startsWith(QLatin1Char('.')))
    return QDir(name_or_path).absolutePath();
  return QDir(root_).filePath(name_or_path);
}

void AppController::start() {
  if (!options_.profile.isEmpty()) {
    const auto dir = profileDir(options_.profile);
    if (client::Profile::exists(dir)) return openProfile(dir);
    fixed_dir_ = dir;
    showWelcome();
    if (!options_.profile.contains(QLatin1Char('/'))) welcome_->setUsername(options_.profile);
    return;
  }
  const auto last = QSettings().value(QStringLiteral("lastProfile")).toString();
  if (!last.isEmpty() && client::Profile::exists(last)) return openProfile(last);
  showWelcome();
}

void AppController::showWelcome(const QString& error) {
  if (!welcome_) {
    const QUrl relay = options_.relay.isEmpty() ? QUrl(QStringLiteral("ws://127.0.0.1:7700")) : options_.relay;
    welcome_ = new WelcomeWindow(relay, profileNames());
    welcome_->setAttribute(Qt::WA_DeleteOnClose);
    connect(welcome_, &WelcomeWindow::createRequested, this, &AppController::createAccount);
    connect(welcome_, &WelcomeWindow::openRequested, this,
            [this](const QString& name) { openProfile(profileDir(name)); });
    connect(welcome_, &WelcomeWindow::openDirectoryRequested, this, &AppController::openProfile);
  }
  welcome_->showError(error);
  welcome_->show();
  welcome_->raise();
}

void AppController::createAccount(const QUrl& relay, const QString& username) {
  const auto folded = QString::fromStdString(fold_username(username.toStdString()));
  const auto dir = fixed_dir_.isEmpty() ? QDir(root_).filePath(folded) : fixed_dir_;
  if (client::Profile::exists(dir)) {
    welcome_->showError(tr("There is already a profile for “%1” on this computer: open it below.").arg(folded));
    return;
  }
  QDir().mkpath(root_);
  welcome_->setBusy(true);
  QPointer<AppController> self(this);
  client::Messenger::registerProfile(
      dir, relay, username,
      [self, dir, relay, username](std::unique_ptr<client::Messenger> m, QString error, int code) {
        if (!self) return;
        if (!m) {
          if (self->welcome_) {
            self->welcome_->setBusy(false);
            self->welcome_->showError(registration_error(code, error, username, relay));
          }
          return;
        }
        self->showMain(std::move(m), dir);
      });
}

void AppController::openProfile(const QString& dir) {
  QString error;
  auto status = client::store_key::Status::ok;
  auto m = client::Messenger::open(dir, QString(), &error, &status);
  if (!m && status == client::store_key::Status::locked) {
    m = unlock(dir, &error);
    if (!m && error.isEmpty()) return showWelcome();  // cancelled: back to the profile list
  }
  if (!m) {
    showWelcome(tr("Could not open the profile in %1: %2").arg(dir, error));
    return;
  }
  m->start();
  showMain(std::move(m), dir);
}

std::unique_ptr<client::Messenger> AppController::unlock(const QString& dir, QString* error) {
  error->clear();
  std::unique_ptr<client::Messenger> opened;
  // Whose profile: its username, readable before unlocking; else the folder's name.
  auto name = client::Profile::usernameIn(dir);
  if (name.isEmpty()) name = QFileInfo(dir).fileName().isEmpty() ? dir : QFileInfo(dir).fileName();
  QWidget* over = welcome_ && welcome_->isVisible() ? welcome_.data() : nullptr;
  UnlockDialog dialog(name, [&](const QString& passphrase) {
    auto status = client::store_key::Status::ok;
    QString why;
    opened = client::Messenger::open(dir, passphrase, &why, &status);
    if (opened) return UnlockDialog::Outcome::unlocked;
    if (status == client::store_key::Status::wrong_passphrase) return UnlockDialog::Outcome::wrong_passphrase;
    *error = why;
    return UnlockDialog::Outcome::failed;
  }, over);
  dialog.exec();
  return opened;
}

void AppController::showMain(std::unique_ptr<client::Messenger> m, const QString& dir) {
  closeMain();
  messenger_ = std::move(m);
  QSettings().setValue(QStringLiteral("lastProfile"), dir);
  main_ = new MainWindow(messenger_.get(), dir);
  connect(main_, &MainWindow::switchProfileRequested, this, [this] {
    QSettings().remove(QStringLiteral("lastProfile"));
    fixed_dir_.clear();
    QMetaObject::invokeMethod(this, [this] {
      closeMain();
      showWelcome();
    }, Qt::QueuedConnection);
  });
  main_->show();
  if (welcome_) welcome_->close();
  emit mainWindowShown(main_);
}

void AppController::closeMain() {
  // The window borrows the messenger: it goes first, with the draft being written (a switch
  // of profiles closes no window and quits nothing).
  if (main_) main_->conversationView()->composer()->saveDraft();
  delete main_.data();
  if (messenger_) messenger_->stop();
  messenger_.reset();
}

}  // namespace parley::app
