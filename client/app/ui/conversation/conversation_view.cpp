#include "conversation/conversation_view.hpp"

#include <QDateTime>
#include <QFrame>
#include <QHBoxLayout>
#include <QIcon>
#include <QLabel>
#include <QPushButton>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include "common/avatar.hpp"
#include "common/plural.hpp"
#include "common/time_format.hpp"
#include "conversation/composer.hpp"
#include "conversation/message_delegate.hpp"
#include "conversation/message_list_view.hpp"
#include "groups/receipt_details_dialog.hpp"
#include "messenger.hpp"
#include "models/message_model.hpp"
#include "theme/theme.hpp"

namespace parley::app {

using client::MessageModel;
using client::Messenger;

namespace {
QByteArray group_id(const QString& peer) { return QByteArray::fromHex(peer.mid(1).toLatin1()); }
}  // namespace

ConversationView::ConversationView(Messenger* messenger, QWidget* parent)
    : QWidget(parent), messenger_(messenger) {
  const auto& t = Theme::current();
  setObjectName(QStringLiteral("conversation"));

  auto* header = new QWidget(this);
  header->setObjectName(QStringLiteral("conversationHeader"));
  header->setAutoFillBackground(true);
  avatar_ = new QLabel(header);
  avatar_->setFixedSize(40, 40);
  title_label_ = new QLabel(header);
  QFont tf = title_label_->font();
  tf.setBold(true);
  tf.setPointSizeF(tf.pointSizeF() * 1.1);
  title_label_->setFont(tf);
  subtitle_ = new QLabel(header);
  subtitle_->setObjectName(QStringLiteral("subtitle"));
  auto* titles = new QVBoxLayout;
  titles->setSpacing(0);
  titles->addWidget(title_label_);
  titles->addWidget(subtitle_);
  contact_ = new QToolButton(header);
  contact_->setObjectName(QStringLiteral("safetyNumber"));
  contact_->setIcon(QIcon(QStringLiteral(":/parley/icons/shield.svg")));
  contact_->setIconSize({22, 22});
  contact_->setAutoRaise(true);
  contact_->setToolTip(tr("Safety number and verification"));
  members_ = new QToolButton(header);
  members_->setObjectName(QStringLiteral("members"));
  members_->setIcon(QIcon(QStringLiteral(":/parley/icons/group.svg")));
  members_->setIconSize({22, 22});
  members_->setAutoRaise(true);
  members_->setToolTip(tr("Group name and members"));
  auto* hh = new QHBoxLayout(header);
  hh->setContentsMargins(16, 10, 12, 10);
  hh->setSpacing(12);
  hh->addWidget(avatar_);
  hh->addLayout(titles, 1);
  hh->addWidget(contact_);
  hh->addWidget(members_);

  banner_ = new QFrame(this);
  banner_->setObjectName(QStringLiteral("identityBanner"));
  banner_->setStyleSheet(QStringLiteral("#identityBanner { background: %1; border-bottom: 1px solid %2; }"
                                        "#identityBanner QLabel { color: %3; }")
                             .arg(t.warningBg.name(), t.separator.name(), t.warning.name()));
  banner_text_ = new QLabel(banner_);
  banner_text_->setWordWrap(true);
  auto* compare = new QPushButton(tr("Compare safety number"), banner_);
  auto* accept = new QPushButton(tr("Accept new key"), banner_);
  accept->setObjectName(QStringLiteral("acceptKey"));
  auto* bh = new QHBoxLayout(banner_);
  bh->setContentsMargins(16, 8, 12, 8);
  bh->addWidget(banner_text_, 1);
  bh->addWidget(compare);
  bh->addWidget(accept);
  banner_->hide();

  list_ = new MessageListView(this);
  list_->setStyleSheet(QStringLiteral("QListView { background: %1; }").arg(t.window.name()));
  error_ = new QLabel(this);
  error_->setObjectName(QStringLiteral("sendError"));
  error_->setWordWrap(true);
  error_->setStyleSheet(QStringLiteral("color: %1; padding: 4px 16px;").arg(t.error.name()));
  error_->hide();
  composer_ = new Composer(this);

  auto* line = new QFrame(this);
  line->setFrameShape(QFrame::HLine);
  line->setStyleSheet(QStringLiteral("color: %1;").arg(t.separator.name()));
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(0, 0, 0, 0);
  v->setSpacing(0);
  v->addWidget(header);
  v->addWidget(line);
  v->addWidget(banner_);
  v->addWidget(list_, 1);
  v->addWidget(error_);
  v->addWidget(composer_);

  list_->messageDelegate()->setStatusDetail([](const QModelIndex& index) -> QString {
    const int of = index.data(MessageModel::RecipientCountRole).toInt();
    if (of <= 0) return {};  // not our group message
    return tr("Delivered to %1 of %2 · read by %3 of %2")
        .arg(index.data(MessageModel::DeliveredCountRole).toInt())
        .arg(of)
        .arg(index.data(MessageModel::ReadCountRole).toInt());
  });
  connect(list_, &MessageListView::receiptsRequested, this, [this](const QModelIndex& index) {
    ReceiptDetailsDialog dialog(messenger_, group_id(peer_), index.data(MessageModel::ClientMsgIdRole).toByteArray(),
                                index.data(MessageModel::BodyRole).toString(), this);
    dialog.exec();
  });

  connect(contact_, &QToolButton::clicked, this, [this] { emit contactRequested(peer_); });
  connect(compare, &QPushButton::clicked, this, [this] { emit contactRequested(peer_); });
  connect(members_, &QToolButton::clicked, this, [this] { emit membersRequested(peer_); });
  connect(accept, &QPushButton::clicked, this, [this] {
    messenger_->acceptIdentityKey(peer_);
    refreshBanner();
  });
  connect(composer_, &Composer::sendRequested, this, &ConversationView::send);
  connect(composer_, &Composer::typingChanged, this, [this](bool active) {
    if (!peer_.isEmpty() && !isGroup()) messenger_->setTyping(peer_, active);
  });
  connect(messenger_, &Messenger::presenceChanged, this, [this](const QString& p, bool online, qint64 seen) {
    if (p != peer_) return;
    online_ = online;
    last_seen_ = seen;
    updateSubtitle();
  });
  connect(messenger_, &Messenger::typingChanged, this, [this](const QString& p, bool active) {
    if (p != peer_) return;
    typing_ = active;
    updateSubtitle();
  });
  connect(messenger_, &Messenger::identityKeyChangedFor, this, [this](const QString& p) {
    if (p == peer_) refreshBanner();
  });
  connect(messenger_, &Messenger::groupChanged, this, [this] { updateSubtitle(); });
}

ConversationView::~ConversationView() {
  // The view's model goes before the model itself.
  list_->setModel(nullptr);
}

void ConversationView::open(const QString& peer, const QString& title) {
  if (peer == peer_) return setTitle(title);
  list_->setModel(nullptr);
  peer_ = peer;
  online_ = false;
  last_seen_ = 0;
  typing_ = false;
  error_->hide();
  model_ = std::make_unique<MessageModel>(messenger_, peer);
  window_ = std::make_unique<MessageWindow>(model_.get());
  list_->messageDelegate()->setGroup(isGroup());
  list_->setWindow(window_.get());
  contact_->setVisible(!isGroup());
  members_->setVisible(isGroup());
  composer_->setConversation(peer, title);
  setTitle(title);
  refreshBanner();
  updateSubtitle();
  if (!isGroup()) messenger_->subscribePresence({peer});
  composer_->editor()->setFocus();
}

void ConversationView::closeConversation() {
  composer_->setConversation(QString(), QString());
  list_->setModel(nullptr);
  window_.reset();
  model_.reset();
  peer_.clear();
}

void ConversationView::setTitle(const QString& title) {
  title_ = title;
  title_label_->setText(title);
  QPixmap picture;
  if (isGroup()) picture = imageAvatar(messenger_->groupAvatar(group_id(peer_)), 40, devicePixelRatioF());
  avatar_->setPixmap(picture.isNull() ? avatarPixmap(peer_, title, 40, devicePixelRatioF()) : picture);
}

void ConversationView::refreshBanner() {
  const bool changed = !isGroup() && !peer_.isEmpty() && messenger_->identityKeyChanged(peer_);
  banner_text_->setText(tr("<b>%1's safety number has changed.</b> They may have reinstalled Parley, or "
                           "someone may be intercepting. Messages to %1 are held until you accept the new key.")
                            .arg(peer_.toHtmlEscaped()));
  banner_->setVisible(changed);
}

bool ConversationView::bannerVisible() const { return !banner_->isHidden(); }

QString ConversationView::subtitle() const { return subtitle_->text(); }

void ConversationView::updateSubtitle() {
  const auto& t = Theme::current();
  QString text;
  QColor color = t.muted;
  if (isGroup()) {
    const auto n = messenger_->groupMembers(group_id(peer_)).size();
    text = counted(static_cast<qint64>(n), tr("member"), tr("members"));
  } else if (typing_) {
    text = tr("typing…");
    color = t.accent;
  } else if (online_) {
    text = tr("online");
    color = t.online;
  } else if (last_seen_ > 0) {
    text = tr("last seen %1").arg(listTime(last_seen_, QDateTime::currentDateTime()).toLower());
    if (localDay(last_seen_) == QDate::currentDate()) text = tr("last seen at %1").arg(clockTime(last_seen_));
  } else if (messenger_->isVerified(peer_)) {
    text = tr("verified");
  }
  if (!isGroup() && !typing_ && messenger_->isVerified(peer_) && text != tr("verified"))
    text += tr(" · verified");
  subtitle_->setText(text);
  subtitle_->setStyleSheet(QStringLiteral("color: %1;").arg(color.name()));
}

void ConversationView::showError(const QString& text) {
  error_->setText(text);
  error_->show();
  QTimer::singleShot(8000, error_, &QLabel::hide);
}

void ConversationView::send(const QString& text) {
  if (peer_.isEmpty()) return;
  QString error;
  const auto id = isGroup() ? messenger_->groupSend(group_id(peer_), text, &error)
                            : messenger_->sendText(peer_, text, &error);
  if (!id) return showError(tr("Not sent: %1").arg(error));
  error_->hide();
  composer_->editor()->clear();
  list_->scrollToNewest();
  emit sent(peer_);
}

bool ConversationView::showMessage(qint64 message_id) {
  if (!model_) return false;
  const int row = model_->loadMessage(message_id);
  if (row < 0) return false;
  const auto index = window_->index(row, 0);
  list_->doItemsLayout();
  list_->setCurrentIndex(index);
  list_->scrollTo(index, QAbstractItemView::PositionAtCenter);
  return true;
}

}  // namespace parley::app
