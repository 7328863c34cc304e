#pragma once
// Paints one conversation list row: avatar with initials and presence dot, name, last
// message (or what kind of file it was) or "typing…", time of last activity, unread badge (grey
// when muted), a warning for a changed key, a crossed-out bell when muted and a pin when
// pinned. The last message, when ours, carries its ticks; in a group it is
// headed by who wrote it ("bob: ", "You: ").
#include <QStyledItemDelegate>

namespace parley::app {

class ConversationDelegate : public QStyledItemDelegate {
  Q_OBJECT
 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  static constexpr int kRowHeight = 64;
  void paint(QPainter* p, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
  QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override;
  // The last message as the list shows it: "Photo · caption", "File · name", or the text.
  static QString previewText(const QModelIndex& index);
  // Who wrote the last message, as a group's row heads it: "You", a member's name, or empty
  // (a one-to-one chat, or no message yet).
  static QString previewSender(const QModelIndex& index);
  // What a screen reader says after the chat's name: pinned, muted, unread count, typing or
  // the last message as the row shows it, e.g. "muted, 2 unread, bob: Count me in!".
  static QString accessibleDescription(const QModelIndex& index);
  // Whether an archived chat carries an "archived" tag after its name: in the main list,
  // where one shows only among a search's results; not in the archived list, where all are.
  void setTagsArchived(bool on) { tag_archived_ = on; }
  // The tag's words, and where it is drawn in a row (null when the row carries none).
  static QString archivedTag();
  QRect archivedTagRect(const QStyleOptionViewItem& option, const QModelIndex& index) const;

 private:
  // Where the name line's parts go: the name (elided), the muted bell, the tag.
  struct NameLine {
    QString name;
    QRect name_rect, muted, tag;
  };
  NameLine nameLine(const QStyleOptionViewItem& option, const QModelIndex& index) const;
  bool tag_archived_ = true;
};

}  // namespace parley::app
