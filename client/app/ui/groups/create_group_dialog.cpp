#include "groups/create_group_dialog.hpp"

#include <QDialogButtonBox>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QRegularExpression>
#include <QVBoxLayout>

#include "common/avatar.hpp"
#include "parley/username.hpp"
#include "theme/theme.hpp"

namespace parley::app {

CreateGroupDialog::CreateGroupDialog(const QStringList& contacts, const QString& own_name, QWidget* parent)
    : QDialog(parent), own_(own_name) {
  setWindowTitle(tr("New group"));
  name_ = new QLineEdit(this);
  name_->setObjectName(QStringLiteral("groupName"));
  name_->setPlaceholderText(tr("Group name"));
  name_->setMaxLength(100);
  contacts_ = new QListWidget(this);
  for (const auto& c : contacts) {
    if (c == own_name || c.startsWith(QLatin1Char('#'))) continue;
    auto* item = new QListWidgetItem(QIcon(avatarPixmap(c, c, 24, devicePixelRatioF())), c, contacts_);
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    item->setCheckState(Qt::Unchecked);
  }
  others_ = new QLineEdit(this);
  others_->setObjectName(QStringLiteral("groupOthers"));
  others_->setPlaceholderText(tr("Other usernames, separated by commas"));
  error_ = new QLabel(this);
  error_->setTextFormat(Qt::PlainText);
  error_->setWordWrap(true);
  error_->setStyleSheet(QStringLiteral("color: %1;").arg(Theme::current().error.name()));
  error_->hide();
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  buttons->button(QDialogButtonBox::Ok)->setText(tr("Create group"));
  auto* v = new QVBoxLayout(this);
  v->addWidget(name_);
  v->addWidget(new QLabel(tr("Members"), this));
  v->addWidget(contacts_, 1);
  v->addWidget(others_);
  v->addWidget(error_);
  v->addWidget(buttons);
  resize(380, 460);
  connect(buttons, &QDialogButtonBox::accepted, this, &CreateGroupDialog::tryAccept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
}

QString CreateGroupDialog::name() const { return name_->text().trimmed(); }

void CreateGroupDialog::showError(const QString& text) {
  error_->setText(text);
  error_->setVisible(!text.isEmpty());
}

void CreateGroupDialog::tryAccept() {
  if (name().isEmpty()) return showError(tr("Give the group a name."));
  QStringList members;
  for (int i = 0; i < contacts_->count(); ++i)
    if (contacts_->item(i)->checkState() == Qt::Checked) members << contacts_->item(i)->text();
  for (const auto& raw : others_->text().split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts)) {
    std::string why;
    const auto folded = QString::fromStdString(fold_username(raw.toStdString(), &why));
    if (folded.isEmpty())
      return showError(tr("“%1” is not a valid username: %2").arg(raw, QString::fromStdString(why)));
    if (folded != own_ && !members.contains(folded)) members << folded;
  }
  if (members.isEmpty()) return showError(tr("Pick at least one member."));
  members_ = members;
  accept();
}

}  // namespace parley::app
