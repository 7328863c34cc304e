#include "conversation/composer.hpp"

#include <QHBoxLayout>
#include <QIcon>
#include <QKeyEvent>
#include <QTextBlock>
#include <QTextLayout>
#include <QToolButton>

#include "theme/theme.hpp"

namespace parley::app {

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
  QPlainTextEdit::keyPressEvent(e);
}

Composer::Composer(QWidget* parent) : QWidget(parent) {
  const auto& t = Theme::current();
  setObjectName(QStringLiteral("composer"));
  edit_ = new ComposerEdit(this);
  edit_->setObjectName(QStringLiteral("composerEdit"));
  edit_->setTabChangesFocus(true);
  edit_->setFrameShape(QFrame::NoFrame);
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
  auto* h = new QHBoxLayout(this);
  h->setContentsMargins(12, 8, 12, 10);
  h->setSpacing(8);
  h->addWidget(edit_, 1);
  h->addWidget(send_, 0, Qt::AlignBottom);

  idle_.setSingleShot(true);
  idle_.setInterval(kTypingIdleMs);
  connect(&idle_, &QTimer::timeout, this, [this] { setTyping(false); });
  connect(edit_, &ComposerEdit::submitted, this, &Composer::submit);
  connect(send_, &QToolButton::clicked, this, &Composer::submit);
  connect(edit_, &QPlainTextEdit::textChanged, this, &Composer::onTextChanged);
  fitHeight();
}

void Composer::setConversation(const QString& peer, const QString& title) {
  if (peer == peer_) return;
  setTyping(false);
  if (!peer_.isEmpty()) drafts_.insert(peer_, edit_->toPlainText());
  peer_ = peer;
  const QSignalBlocker block(edit_);  // a restored draft is not typing
  edit_->setPlainText(drafts_.take(peer));
  edit_->moveCursor(QTextCursor::End);
  edit_->setPlaceholderText(tr("Message %1").arg(title));
  send_->setEnabled(!edit_->toPlainText().trimmed().isEmpty());
  fitHeight();
}

void Composer::submit() {
  const auto text = edit_->toPlainText().trimmed();
  if (text.isEmpty()) return;
  setTyping(false);
  emit sendRequested(text);
}

void Composer::onTextChanged() {
  const bool empty = edit_->toPlainText().trimmed().isEmpty();
  send_->setEnabled(!empty);
  fitHeight();
  if (empty) return setTyping(false);
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
