#include "contacts/new_chat_dialog.hpp"

#include <QDialogButtonBox>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

#include "common/avatar.hpp"
#include "parley/username.hpp"
#include "theme/theme.hpp"

namespace parley::app {

NewChatDialog::NewChatDialog(const QStringList& contacts, const QString& own_name, QWidget* parent)
    : QDialog(parent), own_(own_name) {
  setWindowTitle(tr("New chat"));
  name_ = new QLineEdit(this);
  name_->setObjectName(QStringLiteral("newChatName"));
  name_->setPlaceholderText(tr("Username, e.g. bob"));
  contacts_ = new QListWidget(this);
  for (const auto& c : contacts) {
    if (c == own_name) continue;
    auto* item = new QListWidgetItem(QIcon(avatarPixmap(c, c, 28, devicePixelRatioF())), c, contacts_);
    item->setSizeHint({0, 36});
  }
  contacts_->setVisible(contacts_->count() > 0);
  contacts_->setIconSize({28, 28});
  error_ = new QLabel(this);
  error_->setTextFormat(Qt::PlainText);
  error_->setWordWrap(true);
  error_->setStyleSheet(QStringLiteral("color: %1;").arg(Theme::current().error.name()));
  error_->hide();
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  buttons->button(QDialogButtonBox::Ok)->setText(tr("Start chat"));
  auto* v = new QVBoxLayout(this);
  v->addWidget(new QLabel(tr("Who do you want to write to?"), this));
  v->addWidget(name_);
  v->addWidget(error_);
  if (contacts_->count() > 0) v->addWidget(new QLabel(tr("Contacts"), this));
  v->addWidget(contacts_);
  v->addWidget(buttons);
  resize(360, contacts_->count() > 0 ? 420 : 160);
  connect(buttons, &QDialogButtonBox::accepted, this, &NewChatDialog::tryAccept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(name_, &QLineEdit::textChanged, error_, &QLabel::hide);
  connect(contacts_, &QListWidget::currentTextChanged, name_, &QLineEdit::setText);
  connect(contacts_, &QListWidget::itemActivated, this, &NewChatDialog::tryAccept);
}

void NewChatDialog::tryAccept() {
  std::string why;
  const auto folded = QString::fromStdString(fold_username(name_->text().trimmed().toStdString(), &why));
  QString problem;
  if (name_->text().trimmed().isEmpty()) problem = tr("Type a username.");
  else if (folded.isEmpty()) problem = tr("“%1” is not a valid username: %2").arg(name_->text().trimmed(), QString::fromStdString(why));
  else if (folded == own_) problem = tr("That is you. Pick someone else.");
  if (!problem.isEmpty()) {
    error_->setText(problem);
    error_->show();
    return;
  }
  chosen_ = folded;
  accept();
}

}  // namespace parley::app
