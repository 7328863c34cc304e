#include "conversation/mention_completer.hpp"

#include <QAbstractItemView>
#include <algorithm>
#include <QCompleter>
#include <QPlainTextEdit>
#include <QScrollBar>
#include <QStringListModel>
#include <QTextBlock>

#include "util/mentions.hpp"

namespace parley::app {

using client::isNameChar;
using client::kMaxNameChars;

MentionCompleter::MentionCompleter(QPlainTextEdit* edit)
    : QObject(edit), edit_(edit), names_(new QStringListModel(this)), completer_(new QCompleter(this)) {
  completer_->setModel(names_);
  completer_->setWidget(edit_);
  completer_->setCompletionMode(QCompleter::PopupCompletion);
  completer_->setCaseSensitivity(Qt::CaseInsensitive);
  completer_->setMaxVisibleItems(6);
  completer_->popup()->setObjectName(QStringLiteral("mentionPopup"));
  connect(completer_, qOverload<const QString&>(&QCompleter::activated), this, &MentionCompleter::take);
  // After the edit has its new text (a key typed, a paste, a draft restored).
  connect(edit_, &QPlainTextEdit::textChanged, this, &MentionCompleter::update);
  connect(edit_, &QPlainTextEdit::cursorPositionChanged, this, &MentionCompleter::update);
}

void MentionCompleter::setNames(const QStringList& names) {
  names_->setStringList(names);
  // What is offered now goes, or changes with the members; nothing new is offered unasked.
  if (offering()) update();
}

bool MentionCompleter::offering() const { return completer_->popup()->isVisible(); }

qsizetype MentionCompleter::typedAt(QString* typed) const {
  const auto cursor = edit_->textCursor();
  if (cursor.hasSelection()) return -1;
  const QString line = cursor.block().text();
  const qsizetype at = cursor.positionInBlock();
  qsizetype start = at;
  while (start > 0 && at - start <= kMaxNameChars && isNameChar(line[start - 1])) --start;
  if (start == 0 || line[start - 1] != QLatin1Char('@') || at - start > kMaxNameChars) return -1;
  // Where an "@" mentions nobody ("bob@ex", ".../@x"), nothing is offered.
  if (start >= 2 && !client::mentionMayFollow(line[start - 2])) return -1;
  *typed = line.mid(start, at - start);
  return cursor.block().position() + start - 1;
}

void MentionCompleter::update() {
  QString typed;
  // Only while the field is being written in: a change of members, or of chat, offers nothing
  // by itself (a popup takes the keyboard).
  if (names_->rowCount() == 0 || !edit_->hasFocus() || typedAt(&typed) < 0) {
    completer_->popup()->hide();
    return;
  }
  if (typed != completer_->completionPrefix()) {
    completer_->setCompletionPrefix(typed);
    completer_->popup()->setCurrentIndex(completer_->completionModel()->index(0, 0));
  }
  if (completer_->completionCount() == 0) {
    completer_->popup()->hide();
    return;
  }
  // Under the line being written (cursorRect is the viewport's; the completer's widget is the
  // edit itself), wide enough for a long name.
  QRect under = edit_->cursorRect().translated(edit_->viewport()->pos());
  under.setWidth(std::max(180, completer_->popup()->sizeHintForColumn(0) +
                                   completer_->popup()->verticalScrollBar()->sizeHint().width() + 16));
  completer_->complete(under);
  if (!completer_->popup()->currentIndex().isValid())
    completer_->popup()->setCurrentIndex(completer_->completionModel()->index(0, 0));
}

void MentionCompleter::take(const QString& name) {
  QString typed;
  const auto at = typedAt(&typed);
  if (at < 0) return;
  auto cursor = edit_->textCursor();
  cursor.setPosition(at);
  cursor.setPosition(at + 1 + typed.size(), QTextCursor::KeepAnchor);
  cursor.insertText(QStringLiteral("@") + name + QLatin1Char(' '));
  edit_->setTextCursor(cursor);
  completer_->popup()->hide();
}

}  // namespace parley::app
