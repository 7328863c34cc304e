#include "passphrase/passphrase_actions.hpp"

#include <QMenu>
#include <QMessageBox>
#include <QPushButton>

#include "common/plain_text.hpp"
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
  PassphraseDialog dialog(messenger_, messenger_->username(), window_);
  const bool saved = dialog.exec() == QDialog::Accepted;
  refresh();
  if (saved)
    emit changed(had ? tr("The passphrase is changed.") : tr("This profile is now protected by a passphrase."));
}

void PassphraseActions::remove() {
  QMessageBox box(QMessageBox::Warning, tr("Remove passphrase"),
                  tr("Remove the passphrase of %1?").arg(messenger_->username()), QMessageBox::Cancel, window_);
  box.setTextFormat(Qt::PlainText);
  box.setInformativeText(tr("The profile will open without asking, and anyone who can read your files on "
                            "this computer can read its messages."));
  auto* confirm = box.addButton(tr("Remove passphrase"), QMessageBox::DestructiveRole);
  confirm->setObjectName(QStringLiteral("confirmRemove"));
  box.setDefaultButton(QMessageBox::Cancel);
  box.exec();
  if (box.clickedButton() != confirm) return;
  // No key derivation without a passphrase: this is quick enough for the GUI thread.
  QString error;
  const bool removed = messenger_->setPassphrase(QString(), &error);
  refresh();
  if (!removed) {
    askPlain(window_, QMessageBox::Warning, tr("Remove passphrase"),
             tr("The passphrase could not be removed; the profile still asks for it.\n\n%1").arg(error),
             QMessageBox::Ok, QMessageBox::Ok);
    return;
  }
  emit changed(tr("This profile no longer has a passphrase."));
}

}  // namespace parley::app
