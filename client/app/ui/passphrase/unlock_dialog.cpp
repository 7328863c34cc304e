#include "passphrase/unlock_dialog.hpp"

#include <QDialogButtonBox>
#include <QGuiApplication>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include "passphrase/lock_header.hpp"
#include "theme/theme.hpp"

namespace parley::app {

UnlockDialog::UnlockDialog(const QString& profile_name, Attempt attempt, QWidget* parent)
    : QDialog(parent), attempt_(std::move(attempt)) {
  const auto title = tr("Unlock %1").arg(profile_name);
  setWindowTitle(title);
  setObjectName(QStringLiteral("unlockDialog"));

  edit_ = new QLineEdit(this);
  edit_->setObjectName(QStringLiteral("passphrase"));
  edit_->setEchoMode(QLineEdit::Password);
  edit_->setPlaceholderText(tr("Passphrase"));
  edit_->setMinimumHeight(32);

  error_ = new QLabel(this);
  error_->setObjectName(QStringLiteral("error"));
  error_->setTextFormat(Qt::PlainText);
  error_->setStyleSheet(QStringLiteral("color: %1;").arg(Theme::current().error.name()));
  // Its line is kept while hidden, so the buttons do not jump when it appears.
  auto keep = error_->sizePolicy();
  keep.setRetainSizeWhenHidden(true);
  error_->setSizePolicy(keep);
  error_->hide();

  auto* buttons = new QDialogButtonBox(this);
  cancel_ = buttons->addButton(QDialogButtonBox::Cancel);
  unlock_ = buttons->addButton(tr("Unlock"), QDialogButtonBox::AcceptRole);
  unlock_->setObjectName(QStringLiteral("unlock"));
  unlock_->setDefault(true);
  unlock_->setEnabled(false);

  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(24, 22, 24, 18);
  v->setSpacing(10);
  v->addLayout(lockHeader(this, title, tr("This profile is protected by a passphrase.")));
  v->addSpacing(6);
  v->addWidget(edit_);
  v->addWidget(error_);
  v->addStretch(1);  // room a dialog gains (grown for an error, or by the user) goes here
  v->addWidget(buttons);
  fitToWidth(this, 400);

  connect(edit_, &QLineEdit::textChanged, this, [this](const QString& text) {
    unlock_->setEnabled(!text.isEmpty());
    if (!text.isEmpty()) error_->hide();
  });
  // Not QDialogButtonBox::accepted: that would close the dialog on a wrong passphrase.
  connect(unlock_, &QPushButton::clicked, this, &UnlockDialog::tryUnlock);
  connect(cancel_, &QPushButton::clicked, this, &QDialog::reject);
  edit_->setFocus();
}

QString UnlockDialog::errorText() const { return error_->isVisible() ? error_->text() : QString(); }

void UnlockDialog::tryUnlock() {
  if (edit_->text().isEmpty()) return;
  setBusy(true);
  const auto outcome = attempt_(edit_->text());
  edit_->clear();
  setBusy(false);
  switch (outcome) {
    case Outcome::unlocked:
      accept();
      return;
    case Outcome::failed:
      reject();
      return;
    case Outcome::wrong_passphrase:
      error_->setText(tr("Wrong passphrase — try again."));
      error_->show();
      edit_->setFocus();
      return;
  }
}

void UnlockDialog::setBusy(bool busy) {
  edit_->setEnabled(!busy);
  cancel_->setEnabled(!busy);
  unlock_->setEnabled(!busy && !edit_->text().isEmpty());
  unlock_->setText(busy ? tr("Unlocking…") : tr("Unlock"));
  if (busy) {
    error_->hide();
    QGuiApplication::setOverrideCursor(Qt::WaitCursor);
    // The attempt holds the GUI thread: paint the busy state now, not after it.
    repaint();
  } else {
    QGuiApplication::restoreOverrideCursor();
  }
}

}  // namespace parley::app
