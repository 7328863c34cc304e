#include "conversation/conversation_view.hpp"

#include <QDateTime>
#include <QCoreApplication>
#include <QDesktopServices>
#include <QDir>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFrame>
#include <QHBoxLayout>
#include <QIcon>
#include <QLabel>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QStandardPaths>
#include <QTimer>
#include <QToolButton>
#include <QUrl>
#include <QVBoxLayout>

#include "common/avatar.hpp"
#include "common/chat_title.hpp"
#include "common/links.hpp"
#include "common/plain_text.hpp"
#include "common/plural.hpp"
#include "common/time_format.hpp"
#include "common/disappearing.hpp"
#include "conversation/composer.hpp"
#include "conversation/forward_dialog.hpp"
#include "conversation/forwarder.hpp"
#include "conversation/reply_bar.hpp"
#include "conversation/message_delegate.hpp"
#include "conversation/message_list_view.hpp"
#include "conversation/pending_files.hpp"
#include "conversation/upload_list.hpp"
#include "groups/receipt_details_dialog.hpp"
#include "media/attachment_block.hpp"
#include "media/image_viewer.hpp"
#include "media/transfer_tracker.hpp"
#include "messenger.hpp"
#include "models/message_model.hpp"
#include "theme/theme.hpp"

namespace parley::app {

using client::MessageModel;
using client::Messenger;

namespace {

// Files that run code when opened; from someone else, opening one asks first.
bool runs_code(const QString& path) {
  static const QStringList kinds = {
      QStringLiteral("exe"), QStringLiteral("msi"), QStringLiteral("bat"), QStringLiteral("cmd"),
      QStringLiteral("com"), QStringLiteral("scr"), QStringLiteral("ps1"), QStringLiteral("vbs"),
      QStringLiteral("js"), QStringLiteral("jar"), QStringLiteral("sh"), QStringLiteral("run"),
      QStringLiteral("bin"), QStringLiteral("desktop"), QStringLiteral("appimage"), QStringLiteral("deb"),
      QStringLiteral("rpm"), QStringLiteral("dmg"), QStringLiteral("pkg"), QStringLiteral("app"),
      QStringLiteral("command"), QStringLiteral("lnk"), QStringLiteral("py"), QStringLiteral("pl"),
      QStringLiteral("hta"), QStringLiteral("cpl"), QStringLiteral("msc"), QStringLiteral("reg"),
      QStringLiteral("wsf"), QStringLiteral("wsh"), QStringLiteral("vbe"), QStringLiteral("jse"),
      QStringLiteral("pif"), QStringLiteral("scf"), QStringLiteral("url"), QStringLiteral("chm"),
      QStringLiteral("iso"), QStringLiteral("img"), QStringLiteral("vhd"), QStringLiteral("vhdx"),
      QStringLiteral("msix"), QStringLiteral("appx"), QStringLiteral("ps1xml"), QStringLiteral("psm1")};
  const QFileInfo info(path);
  return kinds.contains(info.suffix().toLower()) || info.isExecutable();
}

bool is_local(const client::AttachmentInfo& a) { return !a.localPath.isEmpty() && QFileInfo::exists(a.localPath); }
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
  // Names, file names and errors come from peers: a QLabel would render them as HTML
  // (Qt::AutoText), e.g. a group named <img src="/dev/zero">.
  title_label_->setTextFormat(Qt::PlainText);
  title_label_->setObjectName(QStringLiteral("conversationTitle"));
  QFont tf = title_label_->font();
  tf.setBold(true);
  tf.setPointSizeF(tf.pointSizeF() * 1.1);
  title_label_->setFont(tf);
  subtitle_ = new QLabel(header);
  subtitle_->setTextFormat(Qt::PlainText);
  subtitle_->setObjectName(QStringLiteral("subtitle"));
  auto* titles = new QVBoxLayout;
  titles->setSpacing(0);
  titles->addWidget(title_label_);
  titles->addWidget(subtitle_);
  const auto header_button = [header](const char* name, const char* icon, const QString& tip) {
    auto* b = new QToolButton(header);
    b->setObjectName(QLatin1String(name));
    b->setIcon(QIcon(QStringLiteral(":/parley/icons/%1.svg").arg(QLatin1String(icon))));
    b->setIconSize({22, 22});
    b->setAutoRaise(true);
    b->setToolTip(tip);
    return b;
  };
  contact_ = header_button("safetyNumber", "shield", tr("Safety number and verification"));
  members_ = header_button("members", "group", tr("Group name and members"));
  more_ = header_button("chatMenu", "more", tr("Mark unread, pin or mute this chat"));
  more_->hide();
  // Disappearing messages on: the timer, always in sight while writing under it.
  timer_ = header_button("disappearingTimer", "timer", tr("Disappearing messages: click to change"));
  timer_->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  timer_->setIconSize({18, 18});
  timer_->hide();
  auto* hh = new QHBoxLayout(header);
  hh->setContentsMargins(16, 10, 12, 10);
  hh->setSpacing(12);
  hh->addWidget(avatar_);
  hh->addLayout(titles, 1);
  hh->addWidget(timer_);
  hh->addWidget(contact_);
  hh->addWidget(members_);
  hh->addWidget(more_);

  banner_ = new QFrame(this);
  banner_->setObjectName(QStringLiteral("identityBanner"));
  banner_->setStyleSheet(QStringLiteral("#identityBanner { background: %1; border-bottom: 1px solid %2; }"
                                        "#identityBanner QLabel { color: %3; }")
                             .arg(t.warningBg.name(), t.separator.name(), t.warning.name()));
  banner_text_ = new QLabel(banner_);
  banner_text_->setWordWrap(true);
  // No accept here: the key is accepted on the contact page, beside the number it gives.
  compare_ = new QPushButton(tr("Compare and accept…"), banner_);
  compare_->setObjectName(QStringLiteral("compareKey"));
  auto* bh = new QHBoxLayout(banner_);
  bh->setContentsMargins(16, 8, 12, 8);
  bh->addWidget(banner_text_, 1);
  bh->addWidget(compare_);
  banner_->hide();

  list_ = new MessageListView(this);
  list_->setStyleSheet(QStringLiteral("QListView { background: %1; }").arg(t.window.name()));
  error_ = new QLabel(this);
  error_->setTextFormat(Qt::PlainText);
  error_->setObjectName(QStringLiteral("sendError"));
  error_->setWordWrap(true);
  error_->setStyleSheet(QStringLiteral("color: %1; padding: 4px 16px;").arg(t.error.name()));
  error_->hide();
  drop_hint_ = new QLabel(tr("Drop files to send them"), list_);
  drop_hint_->setObjectName(QStringLiteral("dropHint"));
  drop_hint_->setAlignment(Qt::AlignCenter);
  drop_hint_->setStyleSheet(QStringLiteral("#dropHint { background: %1; color: %2; border: 2px dashed %3;"
                                           " border-radius: 14px; font-size: 14pt; }")
                                .arg(t.panel.name(), t.accent.name(), t.accent.name()));
  drop_hint_->hide();
  transfers_ = new TransferTracker(messenger_, this);
  uploads_ = new UploadList(transfers_, this);
  composer_ = new Composer(this);
  setAcceptDrops(true);
  opener_ = [](const QUrl& url) { return QDesktopServices::openUrl(url); };

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
  v->addWidget(uploads_);
  v->addWidget(composer_);

  list_->messageDelegate()->setTransfers(transfers_);
  connect(transfers_, &TransferTracker::progressed, this, [this](const TransferTracker::Transfer& moving) {
    if (!moving.upload && moving.peer == peer_) list_->viewport()->update();
  });
  connect(transfers_, &TransferTracker::downloadChanged, this, [this] { list_->viewport()->update(); });
  connect(transfers_, &TransferTracker::downloaded, this, [this](const TransferTracker::Transfer& done, const QString& path) {
    const auto a = messenger_->attachment(done.msgId);
    const bool outgoing = a && a->sender == messenger_->username();
    const auto sender = a ? a->sender : QString();
    switch (done.after) {
      case TransferTracker::After::Open: openFile(path, sender, outgoing); break;
      case TransferTracker::After::View: viewImage(path, done.fileName, sender, outgoing); break;
      case TransferTracker::After::SaveAs: copyFile(path, done.saveAs); break;
      case TransferTracker::After::Nothing: break;
    }
  });
  connect(transfers_, &TransferTracker::failed, this, [this](const TransferTracker::Transfer& failed, const QString& e) {
    // A failed upload stays in the upload list with its reason; a download has only this.
    if (!failed.upload) showError(tr("%1 was not downloaded: %2").arg(failed.fileName, e));
  });
  connect(uploads_, &UploadList::problem, this, &ConversationView::showError);
  connect(composer_, &Composer::problem, this, &ConversationView::showError);
  connect(list_, &MessageListView::fileActivated, this, [this](const QModelIndex& i) { activateFile(i); });
  connect(list_, &MessageListView::fileCancelRequested, this, [this](const QModelIndex& i) {
    if (const auto* running = transfers_->downloadOf(i.data(MessageModel::ClientMsgIdRole).toByteArray()))
      transfers_->cancel(running->id);
  });
  connect(list_, &MessageListView::fileSaveRequested, this, [this](const QModelIndex& index) {
    const QPersistentModelIndex keep(index);
    const auto a = index.data(MessageModel::AttachmentRole).value<client::AttachmentInfo>();
    chooseSaveTarget(a.fileName, [this, keep](const QString& path) {
      if (keep.isValid()) saveFileAs(keep, path);
    });
  });

  list_->messageDelegate()->setStatusDetail([this](const QModelIndex& index) -> QString {
    using client::MessageStatus;
    const auto status = static_cast<MessageStatus>(index.data(MessageModel::StatusRole).toInt());
    if (status == MessageStatus::Queued) {
      const auto why = messenger_->whyQueued(peer_);
      return why.isEmpty() ? QString() : tr("Queued — %1").arg(why);
    }
    // The relay refuses a message for good for one reason per kind of conversation.
    if (status == MessageStatus::Failed)
      return isGroup() ? tr("Not sent — you are no longer a member of this group")
                       : tr("Not sent — there is no user %1 on this relay").arg(peer_);
    const int of = index.data(MessageModel::RecipientCountRole).toInt();
    if (of <= 0) return {};  // not our group message
    return tr("Delivered to %1 of %2 · read by %3 of %2")
        .arg(index.data(MessageModel::DeliveredCountRole).toInt())
        .arg(of)
        .arg(index.data(MessageModel::ReadCountRole).toInt());
  });
  connect(list_, &MessageListView::receiptsRequested, this, [this](const QModelIndex& index) {
    ReceiptDetailsDialog dialog(messenger_, Messenger::groupIdOf(peer_), index.data(MessageModel::ClientMsgIdRole).toByteArray(),
                                index.data(MessageModel::BodyRole).toString(), this);
    dialog.exec();
  });

  connect(contact_, &QToolButton::clicked, this, [this] { emit contactRequested(peer_); });
  connect(compare_, &QPushButton::clicked, this, [this] { emit contactRequested(peer_); });
  connect(members_, &QToolButton::clicked, this, [this] { emit membersRequested(peer_); });
  connect(more_, &QToolButton::clicked, this,
          [this] { emit chatMenuRequested(peer_, more_->mapToGlobal(QPoint(0, more_->height()))); });
  connect(timer_, &QToolButton::clicked, this,
          [this] { emit chatMenuRequested(peer_, timer_->mapToGlobal(QPoint(0, timer_->height()))); });
  connect(messenger_, &Messenger::chatSettingsChanged, this, [this](const QString& peer) {
    if (peer == peer_) updateTimer();
  });
  connect(composer_, &Composer::sendRequested, this, &ConversationView::send);
  connect(list_, &MessageListView::replyRequested, this, [this](const QModelIndex& index) {
    using client::MessageModel;
    const auto author = index.data(MessageModel::SenderRole).toString();
    const bool mine = index.data(MessageModel::OutgoingRole).toBool();
    composer_->setReply({index.data(MessageModel::MessageIdRole).toLongLong(), author,
                         mine ? tr("yourself") : author, index.data(MessageModel::BodyRole).toString()});
  });
  const auto react = [this](const QModelIndex& index, const QString& emoji) {
    QString error;
    if (!messenger_->react(peer_, index.data(client::MessageModel::MessageIdRole).toLongLong(), emoji, &error))
      showError(tr("Reaction not sent: %1").arg(error));
  };
  connect(list_, &MessageListView::reactRequested, this, react);
  connect(list_, &MessageListView::reactionClicked, this, [react](const QModelIndex& index, const QString& emoji) {
    // A click on a pill adds ours, or takes ours back when it is ours.
    for (const auto& r : index.data(client::MessageModel::ReactionsRole).toList())
      if (r.toMap()["emoji"].toString() == emoji && r.toMap()["mine"].toBool()) return react(index, QString());
    react(index, emoji);
  });
  list_->setChangesAllowed([this](const QModelIndex& index) -> MessageListView::Changes {
    const auto r = messenger_->revisable(peer_, index.data(client::MessageModel::MessageIdRole).toLongLong());
    return {r.edit, r.remove || r.unsend};
  });
  connect(list_, &MessageListView::editRequested, this, [this](const QModelIndex& index) {
    using client::MessageModel;
    ReplyTarget target;
    target.messageId = index.data(MessageModel::MessageIdRole).toLongLong();
    target.author = index.data(MessageModel::SenderRole).toString();
    target.text = index.data(MessageModel::CaptionRole).toString();
    target.editing = true;
    target.file = index.data(MessageModel::HasAttachmentRole).toBool();
    composer_->startEdit(target);
  });
  connect(composer_, &Composer::editRequested, this, [this](qint64 message_id, const QString& text) {
    QString error;
    if (!messenger_->editMessage(peer_, message_id, text, &error)) return showError(tr("Not edited: %1").arg(error));
    error_->hide();
    composer_->finishEdit();
  });
  connect(list_, &MessageListView::deleteRequested, this, &ConversationView::confirmDelete);
  connect(list_, &MessageListView::linkActivated, this, &ConversationView::openLink);
  connect(list_, &MessageListView::forwardRequested, this, &ConversationView::forward);
  forwarder_ = new Forwarder(messenger_, transfers_, this);
  connect(forwarder_, &Forwarder::problem, this, [this](const QString& text) {
    ++forward_problems_;
    showError(text);
  });
  composer_->setDraftKeeper({
      [this](const QString& peer, const QString& text, qint64 reply_to) {
        QString error;
        return messenger_->setDraft(peer, {text, reply_to}, &error);
      },
      [this](const QString& peer) {
        const auto draft = messenger_->draft(peer);
        ReplyTarget reply;
        if (const auto m = draft.replyTo != 0 ? messenger_->message(peer, draft.replyTo) : std::nullopt) {
          const bool mine = m->sender == messenger_->username();
          reply = {m->id, m->sender, mine ? tr("yourself") : m->sender, m->body};
        }
        return std::pair{draft.text, reply};
      }});
  // Closing the window saves it too (MainWindow), but quitting from the tray closes none.
  connect(QCoreApplication::instance(), &QCoreApplication::aboutToQuit, composer_, &Composer::saveDraft);
  connect(list_, &MessageListView::quoteActivated, this, [this](const QModelIndex& index) {
    const auto quoted = index.data(client::MessageModel::ReplyMessageIdRole).toLongLong();
    if (quoted == 0 || !showMessage(quoted))
      showError(tr("The message this answers is not on this device"));
  });
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
    if (p == peer_) refreshIdentity();  // a changed key is no longer the verified one
  });
  connect(messenger_, &Messenger::groupChanged, this, [this](const QByteArray& gid) {
    updateSubtitle();
    // Only this chat's members matter here (reading them is a query, and the list repaints).
    if (isGroup() && Messenger::groupIdOf(peer_) == gid) updateMembers();
  });
  connect(messenger_, &Messenger::groupOutOfStepChanged, this, [this](const QByteArray& gid, bool) {
    if (isGroup() && Messenger::groupIdOf(peer_) == gid) refreshBanner();
  });
}

ConversationView::~ConversationView() {
  // The view's model goes before the model itself.
  list_->setWindow(nullptr);  // the list lets go of the window before it goes
}

void ConversationView::open(const QString& peer, const QString& title, int unread) {
  if (peer == peer_) return setTitle(title);
  list_->setWindow(nullptr);  // the list lets go of the window before it goes
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
  updateMembers();  // after the composer holds this chat's words, which it may offer names for
  uploads_->setConversation(peer);
  setTitle(title);
  refreshBanner();
  updateSubtitle();
  updateTimer();
  if (!isGroup()) messenger_->subscribePresence({peer});
  composer_->editor()->setFocus();
  if (unread > 0) list_->markUnread(unread);
}

void ConversationView::setChatMenuAvailable(bool available) { more_->setVisible(available); }

void ConversationView::closeConversation() {
  composer_->setConversation(QString(), QString());
  uploads_->setConversation(QString());
  list_->setWindow(nullptr);  // the list lets go of the window before it goes
  window_.reset();
  model_.reset();
  peer_.clear();
}

void ConversationView::setTitle(const QString& title) {
  title_ = title;
  title_label_->setText(title);
  avatar_->setPixmap(chatPicture(messenger_, peer_, title, 40, devicePixelRatioF()));
}

void ConversationView::refreshIdentity() {
  refreshBanner();
  updateSubtitle();
}

void ConversationView::refreshBanner() {
  if (isGroup()) {
    // Nothing to accept here: only an admin can bring this device back in step.
    compare_->hide();
    banner_text_->setText(tr("<b>A change to this group's members did not reach this device.</b> Ask an "
                             "admin to remove you and add you again; until then nothing you write is sent."));
    banner_->setVisible(messenger_->groupOutOfStep(Messenger::groupIdOf(peer_)));
    return;
  }
  compare_->show();
  const bool changed = !peer_.isEmpty() && messenger_->identityKeyChanged(peer_);
  banner_text_->setText(tr("<b>%1's safety number has changed.</b> They may have reinstalled Parley, or "
                           "someone may be intercepting. Messages to %1 are held until you compare the "
                           "new number with them and accept the new key.")
                            .arg(peer_.toHtmlEscaped()));
  banner_->setVisible(changed);
}

bool ConversationView::bannerVisible() const { return !banner_->isHidden(); }

void ConversationView::updateMembers() {
  QSet<QString> members;
  if (isGroup())
    for (const auto& m : messenger_->groupMembers(Messenger::groupIdOf(peer_))) members.insert(m.username);
  list_->messageDelegate()->setMembers(members, messenger_->username());
  list_->viewport()->update();
  QStringList others(members.cbegin(), members.cend());
  others.removeAll(messenger_->username());
  others.sort();
  composer_->setMentionable(others);
}

void ConversationView::updateTimer() {
  const auto seconds = peer_.isEmpty() ? 0 : messenger_->expireTimer(peer_);
  timer_->setText(seconds > 0 ? timerLabel(seconds) : QString());
  timer_->setToolTip(tr("Messages disappear %1 after they are read. Click to change.").arg(timerLabel(seconds)));
  timer_->setVisible(seconds > 0);
}

QString ConversationView::subtitle() const { return subtitle_->text(); }

void ConversationView::updateSubtitle() {
  const auto& t = Theme::current();
  QString text;
  QColor color = t.muted;
  if (isGroup()) {
    const auto n = messenger_->groupMembers(Messenger::groupIdOf(peer_)).size();
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

void ConversationView::confirmDelete(const QModelIndex& index) {
  const auto id = index.data(client::MessageModel::MessageIdRole).toLongLong();
  const auto allowed = messenger_->revisable(peer_, id);
  QMessageBox box(QMessageBox::Question, tr("Delete message"), QString(), QMessageBox::Cancel, this);
  box.setObjectName(QStringLiteral("deleteDialog"));
  // Ours, still queued: only for everyone, where it is taken back before it leaves when it can be.
  box.setText(allowed.unsend && !allowed.remove
                  ? tr("This message has not been sent yet. Delete it for everyone?")
              : allowed.unsend ? tr("Delete this message for everyone in the conversation, or only from this device?")
                               : tr("Delete this message from this device? Others keep their copy."));
  QPushButton* everyone = nullptr;
  QPushButton* here = nullptr;
  if (allowed.unsend) {
    everyone = box.addButton(tr("Delete for everyone"), QMessageBox::DestructiveRole);
    everyone->setObjectName(QStringLiteral("deleteForEveryone"));
  }
  if (allowed.remove) {
    here = box.addButton(tr("Delete for me"), QMessageBox::DestructiveRole);
    here->setObjectName(QStringLiteral("deleteHere"));
  }
  box.setDefaultButton(QMessageBox::Cancel);
  box.exec();
  QString error;
  if (everyone && box.clickedButton() == everyone) {
    // Gone from the field too if it was being edited.
    if (composer_->editing() == id) composer_->finishEdit();
    if (!messenger_->unsendMessage(peer_, id, &error)) showError(tr("Not deleted: %1").arg(error));
  } else if (here && box.clickedButton() == here) {
    if (composer_->editing() == id) composer_->finishEdit();
    if (!messenger_->deleteLocally(peer_, id, &error)) showError(tr("Not deleted: %1").arg(error));
  }
}

void ConversationView::showError(const QString& text) {
  error_->setText(text);
  error_->show();
  QTimer::singleShot(8000, error_, &QLabel::hide);
}

void ConversationView::send(const QString& text, const QStringList& files) {
  if (peer_.isEmpty()) return;
  QString error;
  const auto reply_to = composer_->replyTo();
  if (files.isEmpty()) {
    const auto id = isGroup() ? messenger_->groupSend(Messenger::groupIdOf(peer_), text, &error, reply_to)
                              : messenger_->sendText(peer_, text, &error, reply_to);
    if (!id) return showError(tr("Not sent: %1").arg(error));
    error_->hide();
    composer_->clearReply();
    composer_->clearSent(true, {});
    list_->markUnread(0);  // answered: read, and the line no longer says anything
    list_->scrollToNewest();
    return;
  }
  // Each file is its own message; the text goes with the last one as its caption, and so
  // does a reply's quote. A file refused at once stays attached (with the text and the reply,
  // if it was the captioned one).
  QStringList started, problems;
  bool caption_sent = text.isEmpty();
  for (int i = 0; i < files.size(); ++i) {
    const bool last = i == files.size() - 1;
    if (transfers_->upload(peer_, files[i], last ? text : QString(), &error, last ? reply_to : 0)) {
      started << files[i];
      caption_sent = caption_sent || last;
      if (last) composer_->clearReply();
    } else {
      problems << tr("%1: %2").arg(QFileInfo(files[i]).fileName(), error);
    }
  }
  composer_->clearSent(caption_sent, started);
  if (!started.isEmpty()) list_->markUnread(0);
  if (!problems.isEmpty())
    showError(tr("Not sent: %1").arg(problems.join(QStringLiteral("; "))));
  else
    error_->hide();
  list_->scrollToNewest();
}

ImageViewer* ConversationView::imageViewer() const { return viewer_; }

void ConversationView::setFilesDir(const QString& dir) {
  files_dir_ = dir;
  composer_->setPasteDir(dir);
}

bool ConversationView::activateFile(const QModelIndex& index) {
  const auto a = index.data(MessageModel::AttachmentRole).value<client::AttachmentInfo>();
  if (a.clientMsgId.isEmpty()) return false;
  if (transfers_->downloadOf(a.clientMsgId)) return true;  // on its way; the ring shows it
  const bool outgoing = a.sender == messenger_->username();
  if (is_local(a)) {
    if (isImage(a)) {
      viewImage(a.localPath, a.fileName, a.sender, outgoing);
      return true;
    }
    return openFile(a.localPath, a.sender, outgoing);
  }
  // Not here (yet, or any more): a picture is fetched to be shown, a file just fetched
  // (a second click opens it).
  return download(index, static_cast<int>(isImage(a) ? TransferTracker::After::View : TransferTracker::After::Nothing),
                  {});
}

bool ConversationView::saveFileAs(const QModelIndex& index, const QString& path) {
  const auto a = index.data(MessageModel::AttachmentRole).value<client::AttachmentInfo>();
  if (a.clientMsgId.isEmpty() || path.isEmpty()) return false;
  if (is_local(a)) return copyFile(a.localPath, path);
  return download(index, static_cast<int>(TransferTracker::After::SaveAs), path);
}

bool ConversationView::download(const QModelIndex& index, int after, const QString& save_as) {
  const auto id = index.data(MessageModel::ClientMsgIdRole).toByteArray();
  const auto dir = files_dir_.isEmpty() ? QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) +
                                              QStringLiteral("/files")
                                        : files_dir_;
  if (!QDir().mkpath(dir)) {
    showError(tr("Cannot create the folder %1 for received files").arg(dir));
    return false;
  }
  QFile::setPermissions(dir, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
  QString error;
  if (!transfers_->download(peer_, id, dir, static_cast<TransferTracker::After>(after), save_as, &error)) {
    showError(tr("Cannot download: %1").arg(error));
    return false;
  }
  list_->viewport()->update();
  return true;
}

bool ConversationView::openFile(const QString& path, const QString& sender, bool outgoing) {
  if (!outgoing && runs_code(path)) {
    const auto answer = askPlain(
        this, QMessageBox::Warning, tr("Open a program?"),
        tr("%1 can run programs on your computer. Open it only if you trust %2 and expected this file.")
            .arg(QFileInfo(path).fileName(), sender),
        QMessageBox::Open | QMessageBox::Cancel, QMessageBox::Cancel);
    if (answer != QMessageBox::Open) return false;
  }
  if (opener_(QUrl::fromLocalFile(path))) return true;
  showError(tr("No application could open %1").arg(QFileInfo(path).fileName()));
  return false;
}

bool ConversationView::openLink(const QUrl& url, bool deceptive) {
  // Only what common/links makes: never a scheme that would start some other program.
  if (const auto scheme = url.scheme(); scheme != u"https" && scheme != u"http" && scheme != u"mailto") {
    showError(tr("Links of the kind %1: are not opened").arg(scheme));
    return false;
  }
  if (deceptive) {
    const auto answer =
        askPlain(this, QMessageBox::Warning, tr("Open this link?"),
                 tr("The address this link shows may imitate another site's. It goes to:\n\n%1\n\n"
                    "Open it only if that is the site you mean.")
                     .arg(realHost(url)),
                 QMessageBox::Open | QMessageBox::Cancel, QMessageBox::Cancel);
    if (answer != QMessageBox::Open) return false;
  }
  if (opener_(url)) return true;
  // Named as it really is when what it shows may not be.
  showError(tr("No application could open %1")
                .arg(shownAddress(url, deceptive)));
  return false;
}

namespace {

// What forwarding `rows` sends: their words, and their files that are on this device as they
// were sent (a file of ours is read from where it was sent from, which the user may have
// changed since; a received one from the profile's folder). `left_out` names the rest. A copy
// of our own words is ours again; another's, or one that came to us forwarded, says so.
QList<Forwarder::Copy> copies_of(const QList<QPersistentModelIndex>& rows, QStringList* left_out) {
  using client::MessageModel;
  QList<Forwarder::Copy> copies;
  for (const auto& row : rows) {
    if (!row.isValid() || row.data(MessageModel::UnsentRole).toBool() ||
        row.data(MessageModel::TimerChangeRole).toLongLong() >= 0)
      continue;
    const bool ours = row.data(MessageModel::OutgoingRole).toBool();
    const auto origin = ours && !row.data(MessageModel::ForwardedRole).toBool() ? client::Origin::Own
                                                                                 : client::Origin::Forwarded;
    if (!row.data(MessageModel::HasAttachmentRole).toBool()) {
      copies.push_back({row.data(MessageModel::BodyRole).toString(), {}, origin});
      continue;
    }
    const auto a = row.data(MessageModel::AttachmentRole).value<client::AttachmentInfo>();
    const QFileInfo f(a.localPath);
    if (a.localPath.isEmpty() || !f.isFile()) {
      *left_out << (ours ? ConversationView::tr("%1 (no longer where it was sent from)")
                         : ConversationView::tr("%1 (download it first)"))
                       .arg(a.fileName);
    } else if (f.size() != a.size ||
               (ours && f.lastModified().toMSecsSinceEpoch() > row.data(MessageModel::ClientTimeRole).toLongLong())) {
      *left_out << ConversationView::tr("%1 (changed since it was sent)").arg(a.fileName);
    } else {
      copies.push_back({row.data(MessageModel::CaptionRole).toString(), a.localPath, origin});
    }
  }
  return copies;
}

}  // namespace

void ConversationView::forward(const QList<QPersistentModelIndex>& rows) {
  QStringList left_out;
  const auto offered = copies_of(rows, &left_out);
  const auto not_here = [&left_out] {
    return tr("Not forwarded: %1").arg(left_out.join(QStringLiteral(", ")));
  };
  if (offered.isEmpty()) return showError(left_out.isEmpty() ? tr("Nothing here to forward") : not_here());

  // Chats a message can go to now: not a group we left.
  const auto member_of = messenger_->groups();
  QList<ForwardDialog::Chat> chats;
  for (const auto& c : messenger_->conversations()) {
    if (c.peer.startsWith(QLatin1Char('#')) && !member_of.contains(Messenger::groupIdOf(c.peer))) continue;
    const auto title = chatTitle(messenger_, c.peer);
    chats.push_back({c.peer, title, chatPicture(messenger_, c.peer, title, 28, devicePixelRatioF())});
  }
  ForwardDialog dialog(chats, static_cast<int>(offered.size()), this);
  if (dialog.exec() != QDialog::Accepted) return;
  // Looked at again: a message taken back or gone while the dialog was open is not sent.
  left_out.clear();
  const auto copies = copies_of(rows, &left_out);
  const auto targets = dialog.chosen();
  if (copies.isEmpty()) return showError(left_out.isEmpty() ? tr("Nothing here to forward") : not_here());
  const int problems_before = forward_problems_;
  for (const auto& to : targets) forwarder_->forward(to, copies);
  if (!left_out.isEmpty())
    showError(not_here());
  else if (forward_problems_ == problems_before)
    error_->hide();
  if (targets.contains(peer_)) {
    list_->markUnread(0);
    list_->scrollToNewest();
  }
  if (targets.size() == 1 && targets[0] != peer_ && forward_problems_ == problems_before && left_out.isEmpty())
    QTimer::singleShot(0, this, [this, to = targets[0]] { emit chatRequested(to); });
}

void ConversationView::viewImage(const QString& path, const QString& title, const QString& sender, bool outgoing) {
  if (viewer_) viewer_->close();
  viewer_ = new ImageViewer(path, title, this);
  viewer_->setAttribute(Qt::WA_DeleteOnClose);
  connect(viewer_, &ImageViewer::openRequested, this,
          [this, path, sender, outgoing] { openFile(path, sender, outgoing); });
  connect(viewer_, &ImageViewer::saveRequested, this, [this, path, title] {
    chooseSaveTarget(title, [this, path](const QString& to) { copyFile(path, to); });
  });
  viewer_->show();
}

void ConversationView::chooseSaveTarget(const QString& suggested_name,
                                        const std::function<void(const QString&)>& then) {
  static QString last_dir = QStandardPaths::writableLocation(QStandardPaths::DownloadLocation);
  const auto path = QFileDialog::getSaveFileName(this, tr("Save file"), QDir(last_dir).filePath(
                                                                           QFileInfo(suggested_name).fileName()));
  if (path.isEmpty()) return;
  last_dir = QFileInfo(path).absolutePath();
  then(path);
}

bool ConversationView::copyFile(const QString& from, const QString& to) {
  if (QFileInfo(from).absoluteFilePath() == QFileInfo(to).absoluteFilePath()) return true;
  // The save dialog has already asked before replacing a file.
  if (QFileInfo::exists(to) && !QFile::remove(to)) {
    showError(tr("Cannot replace %1").arg(to));
    return false;
  }
  QFile source(from);
  if (!source.copy(to)) {
    showError(tr("Cannot save to %1: %2").arg(to, source.errorString()));
    return false;
  }
  return true;
}

void ConversationView::dragEnterEvent(QDragEnterEvent* e) {
  if (peer_.isEmpty() || filesIn(e->mimeData()).empty()) return e->ignore();
  e->acceptProposedAction();
  drop_hint_->setGeometry(list_->rect().adjusted(16, 16, -16, -16));
  drop_hint_->show();
  drop_hint_->raise();
}

void ConversationView::dragLeaveEvent(QDragLeaveEvent* e) {
  drop_hint_->hide();
  QWidget::dragLeaveEvent(e);
}

void ConversationView::dropEvent(QDropEvent* e) {
  drop_hint_->hide();
  const auto files = filesIn(e->mimeData());
  if (peer_.isEmpty() || files.empty()) return e->ignore();
  e->acceptProposedAction();
  composer_->add(files);
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
