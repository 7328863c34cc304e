#include "passphrase/passphrase_dialog.hpp"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QGuiApplication>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>
#include <algorithm>
#include <utility>

#include "common/plain_text.hpp"
#include "messenger.hpp"
#include "passphrase/lock_header.hpp"
#include "theme/theme.hpp"

namespace parley::app {

PassphraseDialog::PassphraseDialog(client::Messenger* messenger, Mode mode, const QString& profile_name,
                                   QWidget* parent)
    : QDialog(parent), messenger_(messenger), mode_(mode) {
  setObjectName(QStringLiteral("passphraseDialog"));
  setWindowTitle(mode_ == Mode::protect  ? tr("Protect with a passphrase")
                 : mode_ == Mode::change ? tr("Change passphrase")
                                         : tr("Remove passphrase"));
  const auto& t = Theme::current();

  auto password_field = [this](const QString& name) {
    auto* edit = new QLineEdit(this);
    edit->setObjectName(name);
    edit->setEchoMode(QLineEdit::Password);
    edit->setMinimumHeight(30);
    return edit;
  };
  auto* form = new QFormLayout;
  form->setLabelAlignment(Qt::AlignRight | Qt::AlignVCenter);
  form->setVerticalSpacing(8);
  if (mode_ != Mode::protect) {
    current_ = password_field(QStringLiteral("current"));
    form->addRow(tr("Current passphrase"), current_);
  }
  if (mode_ != Mode::remove) {
    first_ = password_field(QStringLiteral("passphrase"));
    second_ = password_field(QStringLiteral("repeat"));
    auto* hint = new QLabel(tr("At least %1 characters. A few unrelated words are easy to remember and "
                               "hard to guess.").arg(kMinLength), this);
    hint->setWordWrap(true);
    hint->setStyleSheet(QStringLiteral("color: %1; font-size: small;").arg(t.muted.name()));
    form->addRow(mode_ == Mode::change ? tr("New passphrase") : tr("Passphrase"), first_);
    form->addRow(tr("Repeat it"), second_);
    form->addRow(QString(), hint);
  }

  error_ = new QLabel(this);
  error_->setObjectName(QStringLiteral("error"));
  error_->setTextFormat(Qt::PlainText);
  error_->setWordWrap(true);
  error_->setStyleSheet(QStringLiteral("color: %1;").arg(t.error.name()));
  // Its line is kept while hidden, so the buttons do not jump when it appears.
  auto keep = error_->sizePolicy();
  keep.setRetainSizeWhenHidden(true);
  error_->setSizePolicy(keep);
  error_->hide();
  form->addRow(QString(), error_);

  auto* buttons = new QDialogButtonBox(this);
  cancel_ = buttons->addButton(QDialogButtonBox::Cancel);
  save_ = buttons->addButton(saveLabel(false), QDialogButtonBox::AcceptRole);
  save_->setObjectName(QStringLiteral("save"));
  save_->setDefault(true);

  const auto title = mode_ == Mode::protect  ? tr("Protect %1 with a passphrase").arg(profile_name)
                     : mode_ == Mode::change ? tr("Change the passphrase of %1").arg(profile_name)
                                             : tr("Remove the passphrase of %1").arg(profile_name);
  const auto subtitle = mode_ == Mode::remove
                            ? tr("The profile will open without asking, and anyone who can read your files on "
                                 "this computer can read its messages.")
                            : tr("You will be asked for it each time this profile opens, and it cannot be "
                                 "recovered if you forget it.");
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(24, 22, 24, 18);
  v->setSpacing(10);
  v->addLayout(lockHeader(this, title, subtitle));
  v->addSpacing(6);
  v->addLayout(form);
  v->addStretch(1);  // room a dialog gains (grown for an error, or by the user) goes here
  v->addWidget(buttons);
  fitToWidth(this, 460);

  for (auto* edit : {current_, first_, second_})
    if (edit) connect(edit, &QLineEdit::textChanged, error_, &QLabel::hide);
  // Not QDialogButtonBox::accepted: the dialog closes only once the passphrase is saved.
  connect(save_, &QPushButton::clicked, this, &PassphraseDialog::trySave);
  connect(cancel_, &QPushButton::clicked, this, &PassphraseDialog::reject);
  (current_ ? current_ : first_)->setFocus();
}

PassphraseDialog::~PassphraseDialog() {
  // The worker uses the Messenger and this object's members until it ends.
  if (!worker_) return;
  worker_->wait();
  QGuiApplication::restoreOverrideCursor();
}

QString PassphraseDialog::errorText() const { return error_->isVisible() ? error_->text() : QString(); }

void PassphraseDialog::reject() {
  if (!worker_) QDialog::reject();
}

void PassphraseDialog::showError(const QString& text) {
  error_->setText(text);
  error_->show();
  // A message on two lines needs more than the one kept for it.
  if (heightForWidth(width()) > height()) fitToWidth(this, width());
}

void PassphraseDialog::trySave() {
  if (worker_) return;
  const QString current = current_ ? current_->text() : QString();
  if (current_ && current.isEmpty()) {
    showError(tr("Type the passphrase this profile has now."));
    current_->setFocus();
    return;
  }
  const QString passphrase = first_ ? first_->text() : QString();
  if (first_) {
    if (passphrase.isEmpty()) {
      showError(tr("Type the new passphrase in both fields."));
      first_->setFocus();
      return;
    }
    // Characters as a person counts them: a surrogate pair is one.
    const auto length =
        std::count_if(passphrase.begin(), passphrase.end(), [](QChar c) { return !c.isLowSurrogate(); });
    if (length < kMinLength) {
      showError(tr("Use at least %1 characters: a shorter passphrase is quick to guess.").arg(kMinLength));
      first_->setFocus();
      return;
    }
    if (second_->text() != passphrase) {
      second_->clear();  // before the error: editing a field hides it
      showError(tr("The two passphrases don't match. Type it again in the second field."));
      second_->setFocus();
      return;
    }
  }
  for (auto* edit : {current_, first_, second_})
    if (edit) edit->clear();
  next_ = passphrase;
  setBusy(true);
  // setPassphrase and passphraseIs only read what Messenger::open fixed (the folder, the
  // store key) and read or rewrite store.key, so they may run beside the GUI thread's use of
  // the Messenger.
  worker_.reset(QThread::create([this, check = current_ != nullptr, current, passphrase] {
    ok_ = wrong_current_ = check_failed_ = false;
    failure_.clear();
    if (check && !messenger_->passphraseIs(current, &failure_)) {
      (failure_.isEmpty() ? wrong_current_ : check_failed_) = true;
      return;
    }
    ok_ = messenger_->setPassphrase(passphrase, &failure_);
  }));
  connect(worker_.get(), &QThread::finished, this, &PassphraseDialog::saved);
  worker_->start();
}

void PassphraseDialog::saved() {
  // finished() is emitted from the worker just before it ends: wait, then it can go.
  worker_->wait();
  worker_.reset();
  setBusy(false);
  const QString next = std::exchange(next_, QString());
  if (ok_) {
    accept();
    return;
  }
  if (wrong_current_) {
    if (first_) {  // typed twice already and found fine: kept
      first_->setText(next);
      second_->setText(next);
    }
    showError(tr("That is not this profile's passphrase. Nothing was changed."));
    current_->setFocus();
    return;
  }
  const QString what = check_failed_ ? tr("The current passphrase could not be checked; nothing was changed.")
                      : mode_ == Mode::remove
                          ? tr("The passphrase could not be removed; the profile still asks for it.")
                          : tr("The passphrase could not be saved; the profile still opens as before.");
  askPlain(this, QMessageBox::Warning, windowTitle(), what + QStringLiteral("\n\n") + failure_, QMessageBox::Ok,
           QMessageBox::Ok);
  (current_ ? current_ : first_)->setFocus();
}

QString PassphraseDialog::saveLabel(bool busy) const {
  switch (mode_) {
    case Mode::protect: return busy ? tr("Protecting…") : tr("Protect");
    case Mode::change: return busy ? tr("Changing…") : tr("Change passphrase");
    case Mode::remove: return busy ? tr("Removing…") : tr("Remove passphrase");
  }
  return {};
}

void PassphraseDialog::setBusy(bool busy) {
  for (auto* edit : {current_, first_, second_})
    if (edit) edit->setEnabled(!busy);
  cancel_->setEnabled(!busy);
  save_->setEnabled(!busy);
  save_->setText(saveLabel(busy));
  if (busy)
    QGuiApplication::setOverrideCursor(Qt::WaitCursor);
  else
    QGuiApplication::restoreOverrideCursor();
}

}  // namespace parley::app
