#include "passphrase/passphrase_actions.hpp"

#include <QAction>
#include <QMenu>

#include "messenger.hpp"
#include "passphrase/passphrase_dialog.hpp"

namespace parley::app {

PassphraseActions::PassphraseActions(client::Messenger* messenger, QMenu* menu, QWidget* window)
    : QObject(window), messenger_(messenger), window_(window) {
  protect_ = menu->addAction(tr("Protect with a passphrase…"));
  protect_->setObjectName(QStringLiteral("protectWithPassphrase"));
  change_ = menu->addAction(tr("Change passphrase…"));
  change_->setObjectName(QStringLiteral("changePassphrase"));
  remove_ = menu->addAction(tr("Remove passphrase…"));
  remove_->setObjectName(QStringLiteral("removePassphrase"));
  connect(protect_, &QAction::triggered, this, &PassphraseActions::setOrChange);
  connect(change_, &QAction::triggered, this, &PassphraseActions::setOrChange);
  connect(remove_, &QAction::triggered, this, &PassphraseActions::remove);
  refresh();
}

void PassphraseActions::refresh() {
  const bool has = messenger_->hasPassphrase();
  protect_->setVisible(!has);
  change_->setVisible(has);
  remove_->setVisible(has);
}

void PassphraseActions::setOrChange() {
  const bool had = messenger_->hasPassphrase();
  PassphraseDialog dialog(messenger_, had ? PassphraseDialog::Mode::change : PassphraseDialog::Mode::protect,
                          messenger_->username(), window_);
  const bool saved = dialog.exec() == QDialog::Accepted;
  refresh();
  if (saved)
    emit changed(had ? tr("The passphrase is changed.") : tr("This profile is now protected by a passphrase."));
}

void PassphraseActions::remove() {
  PassphraseDialog dialog(messenger_, PassphraseDialog::Mode::remove, messenger_->username(), window_);
  const bool removed = dialog.exec() == QDialog::Accepted;
  refresh();
  if (removed) emit changed(tr("This profile no longer has a passphrase."));
}

}  // namespace parley::app
