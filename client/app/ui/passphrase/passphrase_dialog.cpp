#include "passphrase/passphrase_dialog.hpp"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QGuiApplication>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>
#include <algorithm>

#include "common/plain_text.hpp"
#include "messenger.hpp"
#include "passphrase/lock_header.hpp"
#include "theme/theme.hpp"

namespace parley::app {

PassphraseDialog::PassphraseDialog(client::Messenger* messenger, const QString& profile_name, QWidget* parent)
    : QDialog(parent), messenger_(messenger), changing_(messenger->hasPassphrase()) {
  setObjectName(QStringLiteral("passphraseDialog"));
  setWindowTitle(changing_ ? tr("Change passphrase") : tr("Protect with a passphrase"));
  const auto& t = Theme::current();

  auto password_field = [this](const QString& name) {
    auto* edit = new QLineEdit(this);
    edit->setObjectName(name);
    edit->setEchoMode(QLineEdit::Password);
    edit->setMinimumHeight(30);
    return edit;
  };
  first_ = password_field(QStringLiteral("passphrase"));
  second_ = password_field(QStringLiteral("repeat"));
  auto* hint = new QLabel(tr("At least %1 characters. A few unrelated words are easy to remember and "
                             "hard to guess.").arg(kMinLength), this);
  hint->setWordWrap(true);
  hint->setStyleSheet(QStringLiteral("color: %1; font-size: small;").arg(t.muted.name()));

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

  auto* form = new QFormLayout;
  form->setLabelAlignment(Qt::AlignRight | Qt::AlignVCenter);
  form->setVerticalSpacing(8);
  form->addRow(changing_ ? tr("New passphrase") : tr("Passphrase"), first_);
  form->addRow(tr("Repeat it"), second_);
  form->addRow(QString(), hint);
  form->addRow(QString(), error_);

  auto* buttons = new QDialogButtonBox(this);
  cancel_ = buttons->addButton(QDialogButtonBox::Cancel);
  save_ = buttons->addButton(changing_ ? tr("Change passphrase") : tr("Protect"), QDialogButtonBox::AcceptRole);
  save_->setObjectName(QStringLiteral("save"));
  save_->setDefault(true);

  const auto title = changing_ ? tr("Change the passphrase of %1").arg(profile_name)
                               : tr("Protect %1 with a passphrase").arg(profile_name);
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(24, 22, 24, 18);
  v->setSpacing(10);
  v->addLayout(lockHeader(this, title,
                          tr("You will be asked for it each time this profile opens, and it cannot be "
                             "recovered if you forget it.")));
  v->addSpacing(6);
  v->addLayout(form);
  v->addStretch(1);  // room a dialog gains (grown for an error, or by the user) goes here
  v->addWidget(buttons);
  fitToWidth(this, 460);

  connect(first_, &QLineEdit::textChanged, error_, &QLabel::hide);
  connect(second_, &QLineEdit::textChanged, error_, &QLabel::hide);
  // Not QDialogButtonBox::accepted: the dialog closes only once the passphrase is saved.
  connect(save_, &QPushButton::clicked, this, &PassphraseDialog::trySave);
  connect(cancel_, &QPushButton::clicked, this, &PassphraseDialog::reject);
  first_->setFocus();
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
  const auto passphrase = first_->text();
  if (passphrase.isEmpty()) {
    showError(tr("Type the passphrase in both fields."));
    first_->setFocus();
    return;
  }
  // Characters as a person counts them: a surrogate pair is one.
  const auto length = std::count_if(passphrase.begin(), passphrase.end(), [](QChar c) { return !c.isLowSurrogate(); });
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
  first_->clear();
  second_->clear();
  setBusy(true);
  // setPassphrase only reads what Messenger::open fixed (the folder, the store key) and
  // rewrites store.key, so it may run beside the GUI thread's use of the Messenger.
  worker_.reset(QThread::create([this, passphrase] { ok_ = messenger_->setPassphrase(passphrase, &failure_); }));
  connect(worker_.get(), &QThread::finished, this, &PassphraseDialog::saved);
  worker_->start();
}

void PassphraseDialog::saved() {
  // finished() is emitted from the worker just before it ends: wait, then it can go.
  worker_->wait();
  worker_.reset();
  setBusy(false);
  if (ok_) {
    accept();
    return;
  }
  askPlain(this, QMessageBox::Warning, windowTitle(),
           tr("The passphrase could not be saved; the profile still opens as before.\n\n%1").arg(failure_),
           QMessageBox::Ok, QMessageBox::Ok);
  first_->setFocus();
}

void PassphraseDialog::setBusy(bool busy) {
  first_->setEnabled(!busy);
  second_->setEnabled(!busy);
  cancel_->setEnabled(!busy);
  save_->setEnabled(!busy);
  if (busy) {
    save_->setText(changing_ ? tr("Changing…") : tr("Protecting…"));
    QGuiApplication::setOverrideCursor(Qt::WaitCursor);
  } else {
    save_->setText(changing_ ? tr("Change passphrase") : tr("Protect"));
    QGuiApplication::restoreOverrideCursor();
  }
}

}  // namespace parley::app
