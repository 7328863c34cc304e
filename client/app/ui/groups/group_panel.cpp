#include "groups/group_panel.hpp"

#include <QBuffer>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QImage>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPointer>
#include <QPushButton>
#include <QRegularExpression>
#include <QVBoxLayout>

#include "common/avatar.hpp"
#include "common/plain_text.hpp"
#include "messenger.hpp"
#include "parley/username.hpp"
#include "theme/theme.hpp"

namespace parley::app {

GroupPanel::GroupPanel(client::Messenger* messenger, const QByteArray& group_id, QWidget* parent)
    : QDialog(parent), messenger_(messenger), group_id_(group_id) {
  setObjectName(QStringLiteral("groupPanel"));
  picture_ = new QLabel(this);
  picture_->setFixedSize(56, 56);
  set_picture_ = new QPushButton(tr("Picture…"), this);
  set_picture_->setToolTip(tr("Choose the group's picture (admins)"));
  name_ = new QLineEdit(this);
  name_->setObjectName(QStringLiteral("groupPanelName"));
  name_->setMaxLength(100);
  description_ = new QLineEdit(this);
  description_->setPlaceholderText(tr("Description"));
  description_->setMaxLength(500);
  save_ = new QPushButton(tr("Save"), this);
  members_ = new QListWidget(this);
  members_->setObjectName(QStringLiteral("groupMembers"));
  members_->setIconSize({28, 28});
  add_edit_ = new QLineEdit(this);
  add_edit_->setPlaceholderText(tr("Add members by username"));
  add_ = new QPushButton(tr("Add"), this);
  remove_ = new QPushButton(tr("Remove selected"), this);
  leave_ = new QPushButton(tr("Leave group"), this);
  message_ = new QLabel(this);
  message_->setTextFormat(Qt::PlainText);
  message_->setWordWrap(true);

  auto* name_row = new QHBoxLayout;
  name_row->addWidget(picture_);
  name_row->addWidget(name_, 1);
  name_row->addWidget(save_);
  name_row->addWidget(set_picture_);
  auto* add_row = new QHBoxLayout;
  add_row->addWidget(add_edit_, 1);
  add_row->addWidget(add_);
  auto* bottom = new QHBoxLayout;
  bottom->addWidget(remove_);
  bottom->addStretch();
  bottom->addWidget(leave_);
  auto* close = new QDialogButtonBox(QDialogButtonBox::Close, this);
  auto* v = new QVBoxLayout(this);
  v->addLayout(name_row);
  v->addWidget(description_);
  v->addWidget(new QLabel(tr("Members"), this));
  v->addWidget(members_, 1);
  v->addLayout(add_row);
  v->addLayout(bottom);
  v->addWidget(message_);
  v->addWidget(close);
  resize(400, 520);

  connect(close, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(save_, &QPushButton::clicked, this, [this] {
    QString error;
    if (!messenger_->renameGroup(group_id_, name_->text().trimmed(), description_->text().trimmed(), &error))
      return setBusy(false, error);
    setBusy(false, tr("Saved: members see the new name."));
  });
  connect(set_picture_, &QPushButton::clicked, this, [this] {
    const auto file = QFileDialog::getOpenFileName(this, tr("Group picture"), QString(),
                                                   tr("Images (*.png *.jpg *.jpeg *.webp *.gif *.bmp)"));
    if (file.isEmpty()) return;
    QString error;
    const auto bytes = encodeAvatar(file, &error);
    if (bytes.isEmpty() || !messenger_->setGroupAvatar(group_id_, bytes, &error)) return setBusy(false, error);
    setBusy(false, tr("Picture set: members see it."));
    refresh();
  });
  auto run = [this](auto call, const QStringList& users, const QString& done_text) {
    setBusy(true, tr("Asking the relay…"));
    QPointer<GroupPanel> self(this);
    (messenger_->*call)(group_id_, users, [self, done_text](const QString& error) {
      if (!self) return;
      self->setBusy(false, error.isEmpty() ? done_text : error);
      self->refresh();
    });
  };
  connect(add_, &QPushButton::clicked, this, [this, run] {
    QStringList users;
    for (const auto& raw : add_edit_->text().split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts)) {
      std::string why;
      const auto folded = QString::fromStdString(fold_username(raw.toStdString(), &why));
      if (folded.isEmpty()) return setBusy(false, tr("“%1” is not a valid username: %2").arg(raw, QString::fromStdString(why)));
      users << folded;
    }
    if (users.isEmpty()) return;
    add_edit_->clear();
    run(&client::Messenger::addMembers, users, tr("Added %1.").arg(users.join(QStringLiteral(", "))));
  });
  connect(remove_, &QPushButton::clicked, this, [this, run] {
    QStringList users;
    for (auto* item : members_->selectedItems()) users << item->data(Qt::UserRole).toString();
    users.removeAll(messenger_->username());
    if (users.isEmpty()) return;
    run(&client::Messenger::removeMembers, users, tr("Removed %1.").arg(users.join(QStringLiteral(", "))));
  });
  connect(leave_, &QPushButton::clicked, this, [this] {
    if (askPlain(this, QMessageBox::Question, tr("Leave group"),
                 tr("Leave “%1”? You will stop receiving its messages.").arg(messenger_->groupName(group_id_)),
                 QMessageBox::Yes | QMessageBox::No, QMessageBox::No) != QMessageBox::Yes)
      return;
    setBusy(true, tr("Leaving…"));
    QPointer<GroupPanel> self(this);
    messenger_->leaveGroup(group_id_, [self](const QString& error) {
      if (!self) return;
      if (!error.isEmpty()) return self->setBusy(false, error);
      emit self->left();
      self->accept();
    });
  });
  connect(messenger_, &client::Messenger::groupChanged, this,
          [this](const QByteArray& gid) { if (gid == group_id_) refresh(); });
  connect(messenger_, &client::Messenger::groupInfoChanged, this,
          [this](const QByteArray& gid) { if (gid == group_id_) refresh(); });
  refresh();
}

QString GroupPanel::message() const { return message_->text(); }

QByteArray GroupPanel::encodeAvatar(const QString& file, QString* error) {
  QImage image(file);
  if (image.isNull()) {
    *error = tr("%1 is not an image Parley can read.").arg(file);
    return {};
  }
  const int side = std::min(image.width(), image.height());
  image = image.copy((image.width() - side) / 2, (image.height() - side) / 2, side, side);
  // Smaller and lower quality until it fits: members get it inside an end-to-end message.
  for (int px : {256, 192, 128, 96}) {
    const QImage scaled = image.scaled(px, px, Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
    for (int quality : {85, 70, 55}) {
      QByteArray out;
      QBuffer buffer(&out);
      buffer.open(QIODevice::WriteOnly);
      scaled.convertToFormat(QImage::Format_RGB32).save(&buffer, "JPEG", quality);
      if (out.size() <= client::Messenger::kMaxGroupAvatarBytes) return out;
    }
  }
  *error = tr("That image does not shrink below 64 KiB.");
  return {};
}

void GroupPanel::setBusy(bool busy, const QString& message) {
  for (auto* w : std::initializer_list<QWidget*>{add_, remove_, leave_, save_, set_picture_}) w->setEnabled(!busy);
  message_->setText(message);
}

void GroupPanel::refresh() {
  const auto name = messenger_->groupName(group_id_);
  setWindowTitle(name.isEmpty() ? tr("Group") : name);
  if (!name_->hasFocus()) name_->setText(name);
  if (!description_->hasFocus()) description_->setText(messenger_->groupDescription(group_id_));
  const auto picture = imageAvatar(messenger_->groupAvatar(group_id_), 56, devicePixelRatioF());
  picture_->setPixmap(picture.isNull() ? avatarPixmap(client::Messenger::groupPeer(group_id_), name, 56, devicePixelRatioF())
                                       : picture);
  const auto members = messenger_->groupMembers(group_id_);
  admin_ = false;
  members_->clear();
  for (const auto& m : members) {
    if (m.username == messenger_->username()) admin_ = m.admin;
    QString label = m.username;
    if (m.username == messenger_->username()) label += tr(" (you)");
    if (m.admin) label += tr(" · admin");
    auto* item = new QListWidgetItem(QIcon(avatarPixmap(m.username, m.username, 28, devicePixelRatioF())), label, members_);
    item->setData(Qt::UserRole, m.username);
  }
  members_->setSelectionMode(admin_ ? QAbstractItemView::ExtendedSelection : QAbstractItemView::NoSelection);
  for (auto* w : std::initializer_list<QWidget*>{add_edit_, add_, remove_, save_, set_picture_}) w->setVisible(admin_);
  name_->setReadOnly(!admin_);
  description_->setReadOnly(!admin_);
}

}  // namespace parley::app
