#include "conversation/composer.hpp"
#include "conversation/mention_completer.hpp"

#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QIcon>
#include <QKeyEvent>
#include <QMimeData>
#include <QStandardPaths>
#include <QTextBlock>
#include <QTextLayout>
#include <QToolButton>
#include <QUrl>
#include <QVBoxLayout>
#include <utility>

#include "conversation/pending_files.hpp"
#include "conversation/reply_bar.hpp"
#include "theme/theme.hpp"

namespace parley::app {

DroppedFiles filesIn(const QMimeData* mime) {
  DroppedFiles out;
  if (!mime) return out;
  if (mime->hasUrls()) {
    for (const auto& url : mime->urls())
      if (url.isLocalFile()) out.paths << url.toLocalFile();
    // A mix of files and web links is text to paste, not an attachment.
    if (out.paths.size() != mime->urls().size()) out.paths.clear();
  }
  if (out.paths.isEmpty() && mime->hasImage()) out.image = qvariant_cast<QImage>(mime->imageData());
  return out;
}

bool ComposerEdit::canInsertFromMimeData(const QMimeData* source) const {
  return !filesIn(source).empty() || QPlainTextEdit::canInsertFromMimeData(source);
}

void ComposerEdit::insertFromMimeData(const QMimeData* source) {
  auto files = filesIn(source);
  if (files.empty()) return QPlainTextEdit::insertFromMimeData(source);
  emit filesInserted(files);
}

bool ComposerEdit::event(QEvent* e) {
  if (e->type() == QEvent::KeyPress && mentions_ && mentions_->offering()) {
    const int key = static_cast<QKeyEvent*>(e)->key();
    if (key == Qt::Key_Return || key == Qt::Key_Enter || key == Qt::Key_Tab || key == Qt::Key_Backtab ||
        key == Qt::Key_Escape) {
      e->ignore();  // the completer, which passed it here first, acts on it
      return true;
    }
  }
  if (e->type() == QEvent::ShortcutOverride && claims_escape_ &&
      static_cast<QKeyEvent*>(e)->key() == Qt::Key_Escape &&
      static_cast<QKeyEvent*>(e)->modifiers() == Qt::NoModifier) {
    e->accept();
    return true;
  }
  return QPlainTextEdit::event(e);
}

void ComposerEdit::keyPressEvent(QKeyEvent* e) {
  const bool enter = e->key() == Qt::Key_Return || e->key() == Qt::Key_Enter;
  if (enter && !(e->modifiers() & Qt::ShiftModifier)) {
    emit submitted();
    return;
  }
  if (enter) {
    insertPlainText(QStringLiteral("\n"));
    return;
  }
  if (e->key() == Qt::Key_Escape && e->modifiers() == Qt::NoModifier && claims_escape_) {
    emit escaped();
    return;
  }
  QPlainTextEdit::keyPressEvent(e);
}

Composer::Composer(QWidget* parent) : QWidget(parent) {
  const auto& t = Theme::current();
  setObjectName(QStringLiteral("composer"));
  edit_ = new ComposerEdit(this);
  edit_->setObjectName(QStringLiteral("composerEdit"));
  edit_->setTabChangesFocus(true);
  edit_->setFrameShape(QFrame::NoFrame);
  mentions_ = new MentionCompleter(edit_);
  edit_->setMentions(mentions_);
  edit_->setStyleSheet(QStringLiteral("QPlainTextEdit { background: %1; border: 1px solid %2; border-radius: 18px;"
                                      " padding: 6px 10px; }")
                           .arg(t.window.name(), t.separator.name()));
  edit_->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  send_ = new QToolButton(this);
  send_->setObjectName(QStringLiteral("send"));
  send_->setIcon(QIcon(QStringLiteral(":/parley/icons/send.svg")));
  send_->setIconSize({20, 20});
  send_->setFixedSize(38, 38);
  send_->setToolTip(tr("Send (Enter)"));
  send_->setStyleSheet(QStringLiteral("QToolButton { background: %1; border: none; border-radius: 19px; }"
                                      "QToolButton:disabled { background: %2; }")
                           .arg(t.accent.name(), t.separator.name()));
  send_->setEnabled(false);
  attach_ = new QToolButton(this);
  attach_->setObjectName(QStringLiteral("attach"));
  attach_->setIcon(QIcon(QStringLiteral(":/parley/icons/attach.svg")));
  attach_->setIconSize({22, 22});
  attach_->setFixedSize(38, 38);
  attach_->setAutoRaise(true);
  attach_->setToolTip(tr("Attach files (or drop or paste them here)"));
  pending_ = new PendingFiles(this);
  reply_ = new ReplyBar(this);
  auto* h = new QHBoxLayout;
  h->setContentsMargins(12, 8, 12, 10);
  h->setSpacing(8);
  h->addWidget(attach_, 0, Qt::AlignBottom);
  h->addWidget(edit_, 1);
  h->addWidget(send_, 0, Qt::AlignBottom);
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(0, 0, 0, 0);
  v->setSpacing(0);
  v->addWidget(pending_);
  v->addWidget(reply_);
  v->addLayout(h);
  connect(edit_, &ComposerEdit::escaped, this, [this] { editing() ? finishEdit() : clearReply(); });
  connect(reply_, &ReplyBar::cancelled, this, [this] {
    if (editing()) return finishEdit();
    edit_->setClaimsEscape(false);
    save_.start();
  });
  connect(attach_, &QToolButton::clicked, this, &Composer::chooseFiles);
  connect(pending_, &PendingFiles::changed, this, &Composer::updateSendEnabled);
  connect(edit_, &ComposerEdit::filesInserted, this, &Composer::add);

  idle_.setSingleShot(true);
  idle_.setInterval(kTypingIdleMs);
  connect(&idle_, &QTimer::timeout, this, [this] { setTyping(false); });
  connect(edit_, &ComposerEdit::submitted, this, &Composer::submit);
  connect(send_, &QToolButton::clicked, this, &Composer::submit);
  connect(edit_, &QPlainTextEdit::textChanged, this, &Composer::onTextChanged);
  save_.setSingleShot(true);
  save_.setInterval(kDraftSaveMs);
  connect(&save_, &QTimer::timeout, this, &Composer::saveDraft);
  fitHeight();
}

void Composer::saveDraft() {
  save_.stop();
  if (peer_.isEmpty()) return;
  // While one of ours is being edited, the draft is what the edit set aside.
  const QString text = editing() ? text_before_edit_ : edit_->toPlainText();
  const ReplyTarget reply = editing() ? reply_before_edit_ : reply_->target();
  if (keeper_.save && keeper_.save(peer_, text, reply.messageId)) {
    drafts_.remove(peer_);
    draft_replies_.remove(peer_);
    return;
  }
  drafts_.insert(peer_, text);
  if (reply.messageId != 0)
    draft_replies_.insert(peer_, reply);
  else
    draft_replies_.remove(peer_);
}

void Composer::setConversation(const QString& peer, const QString& title) {
  if (peer == peer_) return;
  setTyping(false);
  finishEdit();  // an edit is of a message here: given up
  if (!peer_.isEmpty()) {
    saveDraft();
    if (!pending_->isEmpty()) draft_files_.insert(peer_, pending_->files());
  }
  peer_ = peer;
  // A reply answers a message of the conversation it was started in: it goes and comes back
  // with that conversation's draft.
  QString text;
  ReplyTarget reply;
  if (drafts_.contains(peer) || draft_replies_.contains(peer)) {
    text = drafts_.take(peer);
    reply = draft_replies_.take(peer);
  } else if (keeper_.load && !peer.isEmpty()) {
    std::tie(text, reply) = keeper_.load(peer);
  }
  clearReply();
  if (reply.messageId != 0) setReply(reply);
  const QSignalBlocker block(edit_);  // a restored draft is not typing
  edit_->setPlainText(text);
  edit_->moveCursor(QTextCursor::End);
  save_.stop();  // nothing changed yet
  edit_->setPlaceholderText(tr("Message %1").arg(title));
  pending_->setFiles(draft_files_.take(peer));
  updateSendEnabled();
  fitHeight();
}

void Composer::setMentionable(const QStringList& names) { mentions_->setNames(names); }

void Composer::submit() {
  const auto text = edit_->toPlainText().trimmed();
  if (editing()) {
    if (text.isEmpty() && !editing_.file) return;
    return emit editRequested(editing_.messageId, text);
  }
  if (text.isEmpty() && pending_->isEmpty()) return;
  setTyping(false);
  emit sendRequested(text, pending_->files());
}

void Composer::startEdit(const ReplyTarget& target) {
  if (!editing()) {
    text_before_edit_ = edit_->toPlainText();
    reply_before_edit_ = reply_->target();
  }
  editing_ = target;
  editing_.editing = true;
  reply_->setTarget(editing_);
  {
    const QSignalBlocker block(edit_);  // the message's own words are not typing
    edit_->setPlainText(target.text);
  }
  edit_->moveCursor(QTextCursor::End);
  edit_->setClaimsEscape(true);
  attach_->setEnabled(false);  // an edit changes words only
  updateSendEnabled();
  fitHeight();
  edit_->setFocus();
}

void Composer::finishEdit() {
  if (!editing()) return;
  editing_ = {};
  {
    const QSignalBlocker block(edit_);
    edit_->setPlainText(text_before_edit_);
  }
  edit_->moveCursor(QTextCursor::End);
  text_before_edit_.clear();
  attach_->setEnabled(true);
  if (const auto reply = std::exchange(reply_before_edit_, {}); reply.messageId != 0)
    setReply(reply);
  else
    clearReply();
  updateSendEnabled();
  fitHeight();
}

void Composer::clearSent(bool text, const QStringList& files) {
  if (text) edit_->clear();
  for (const auto& f : files) pending_->remove(f);
  updateSendEnabled();
  saveDraft();  // what went is no draft any more, at once
}

void Composer::setReply(const ReplyTarget& target) {
  finishEdit();  // a reply is a new message: the edit under way is given up first
  reply_->setTarget(target);
  edit_->setClaimsEscape(true);
  edit_->setFocus();
  save_.start();
}

void Composer::clearReply() {
  reply_->clear();
  edit_->setClaimsEscape(false);
  save_.start();
}

qint64 Composer::replyTo() const { return reply_->messageId(); }

void Composer::updateSendEnabled() {
  if (editing()) return send_->setEnabled(editing_.file || !edit_->toPlainText().trimmed().isEmpty());
  send_->setEnabled(!edit_->toPlainText().trimmed().isEmpty() || !pending_->isEmpty());
}

void Composer::chooseFiles() {
  static QString last_dir = QStandardPaths::writableLocation(QStandardPaths::HomeLocation);
  const auto paths = QFileDialog::getOpenFileNames(this, tr("Send files"), last_dir);
  if (paths.isEmpty()) return;
  last_dir = QFileInfo(paths.first()).absolutePath();
  addFiles(paths);
  edit_->setFocus();
}

void Composer::addFiles(const QStringList& paths) {
  for (const auto& path : paths) {
    QString error;
    if (!pending_->add(path, &error)) emit problem(error);
  }
}

void Composer::addImage(const QImage& image) {
  // A copied picture has no file: it becomes one in the profile's files folder, so the
  // message can name it like any other file the user sent.
  if (paste_dir_.isEmpty() || !QDir().mkpath(paste_dir_)) {
    emit problem(tr("Cannot keep the pasted picture: no folder to write it to"));
    return;
  }
  const auto stamp = QDateTime::currentDateTime().toString(QStringLiteral("yyyy-MM-dd HH.mm.ss"));
  QString path = QDir(paste_dir_).filePath(tr("Pasted image %1.png").arg(stamp));
  for (int n = 2; QFileInfo::exists(path); ++n)
    path = QDir(paste_dir_).filePath(tr("Pasted image %1 (%2).png").arg(stamp).arg(n));
  if (!image.save(path, "PNG")) {
    emit problem(tr("Cannot save the pasted picture to %1").arg(path));
    return;
  }
  addFiles({path});
}

void Composer::add(const DroppedFiles& files) {
  if (editing()) return emit problem(tr("Finish or stop the edit before adding files"));
  if (!files.paths.isEmpty())
    addFiles(files.paths);
  else if (!files.image.isNull())
    addImage(files.image);
  edit_->setFocus();
}

void Composer::onTextChanged() {
  if (!editing()) save_.start();
  const bool empty = edit_->toPlainText().trimmed().isEmpty();
  updateSendEnabled();
  fitHeight();
  // Rewording a sent message is not writing to the peer.
  if (empty || editing()) return setTyping(false);
  setTyping(true);
  idle_.start();
}

void Composer::setTyping(bool active) {
  if (!active) idle_.stop();
  if (active == typing_) return;
  typing_ = active;
  emit typingChanged(active);
}

void Composer::fitHeight() {
  const QFontMetrics fm(edit_->font());
  int lines = 0;
  for (auto b = edit_->document()->begin(); b.isValid(); b = b.next())
    lines += std::max(1, b.layout() ? b.layout()->lineCount() : 1);
  // Grows with the text up to six lines, then scrolls.
  edit_->setVerticalScrollBarPolicy(lines > 6 ? Qt::ScrollBarAsNeeded : Qt::ScrollBarAlwaysOff);
  lines = std::clamp(lines, 1, 6);
  edit_->setFixedHeight(lines * fm.lineSpacing() + 24);
}

}  // namespace parley::app
