#pragma once
// Paints one message of a conversation (never a widget per message): a day separator when
// the day changes, a line above the first of the messages that were unread when the
// conversation opened, a "waiting for earlier messages" marker where the relay's numbering has a
// hole still being filled, a line where the disappearing-messages timer changed, the
// sender's name in groups, "Forwarded" over a copy of words its sender did not write, the
// bubble (ours right, theirs
// left) with its time and status ticks, above a reply's words the message it answers (a
// click there shows that message), and under the bubble its reactions, one pill per emoji
// with its count (a click on one adds or takes back ours). Text metrics are cached per message and width, so
// a long conversation lays out and scrolls without re-measuring.
//
// Web and e-mail addresses in the text are links (common/links.hpp): drawn underlined, a
// click opens them (ConversationView decides how), hovering shows where they go.
//
// Double-click (or F2) opens a read-only text field over the bubble, for selecting part of
// a message; Ctrl+C on selected rows copies whole messages (MessageListView).
#include <QCache>
#include <QHash>
#include <QPixmap>
#include <QSet>
#include <QStyledItemDelegate>
#include <functional>

#include "common/links.hpp"

class QListView;

namespace parley::client {
struct AttachmentInfo;
}

namespace parley::app {

class TransferTracker;

class MessageDelegate : public QStyledItemDelegate {
  Q_OBJECT
 public:
  explicit MessageDelegate(QListView* view);

  void setGroup(bool group) { group_ = group; }
  // A group's members: "@name" of one is drawn in their colour, and "@me" on a tint too
  // (util/mentions.hpp). Colour only, so no row is measured again.
  void setMembers(QSet<QString> members, QString me) {
    members_ = std::move(members);
    me_ = std::move(me);
  }
  // A line "N unread messages" above the message with local id `message_id` (0: none): where
  // what was unread when the conversation opened begins. The view lays its rows out again.
  void setUnreadMark(qint64 message_id, int count) {
    unread_from_ = message_id;
    unread_count_ = count;
  }
  qint64 unreadMark() const { return unread_from_; }
  // Where downloads in progress are looked up, to paint their progress.
  void setTransfers(const TransferTracker* transfers) { transfers_ = transfers; }
  // What a click at `pos` (in view coordinates, for the row at `row`) would hit.
  enum class Hit { None, File, Cancel, Quote, Reaction, Link };
  Hit hitTest(const QRect& row, const QModelIndex& index, const QPoint& pos) const;
  // Where the message's file is drawn, and its round button / the middle of its picture.
  QRect attachmentRect(const QRect& row, const QModelIndex& index) const;
  QRect actionRectFor(const QRect& row, const QModelIndex& index) const;
  // The emoji of the reaction pill at `pos` (empty: none there), and where each pill is.
  QString reactionAt(const QRect& row, const QModelIndex& index, const QPoint& pos) const;
  QList<QPair<QRect, QString>> reactionPills(const QRect& row, const QModelIndex& index) const;
  // The link at `pos` (none: an empty Link::url), and every link in the message's text.
  Link linkAt(const QRect& row, const QModelIndex& index, const QPoint& pos) const;
  static QList<Link> linksOf(const QModelIndex& index);
  // What hovering a link says: where it goes, and what a click does.
  static QString linkTooltip(const Link& link);
  // Extra status text for a tooltip (a group message's "delivered to N of M").
  void setStatusDetail(std::function<QString(const QModelIndex&)> f) { detail_ = std::move(f); }
  void clearCache() {
    cache_.clear();
    meta_.clear();
  }
  static QString statusText(int status);
  // What a timer line says ("You set disappearing messages to 1 hour"), with "— not sent"
  // when the relay refused our change.
  static QString noticeText(const QModelIndex& index);
  static bool noticeFailed(const QModelIndex& index);
  // Text for the tick tooltip of `index` (what a user sees when hovering the ticks).
  QString statusTooltip(const QModelIndex& index) const;

  void paint(QPainter* p, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
  QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override;
  bool helpEvent(QHelpEvent* e, QAbstractItemView* view, const QStyleOptionViewItem& option,
                 const QModelIndex& index) override;

  QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem& option,
                        const QModelIndex& index) const override;
  void setEditorData(QWidget* editor, const QModelIndex& index) const override;
  void setModelData(QWidget*, QAbstractItemModel*, const QModelIndex&) const override {}
  void updateEditorGeometry(QWidget* editor, const QStyleOptionViewItem& option,
                            const QModelIndex& index) const override;

 private:
  struct Text {
    QString source;      // what was measured: an edit changes it
    int width = 0;       // the wrapping width it was measured at
    QSizeF size;
    qreal last_line = 0; // width of the last line, to fit the time beside it
    QList<Link> links;   // in `source`
  };
  // What sizeHint needs of a message besides its text, computed once per shown time (the
  // time changes once, when the relay numbers our message): time zone and locale
  // conversions are the expensive part of laying out thousands of rows.
  struct Meta {
    qint64 time_ms = -1;
    qint64 edited_ms = 0;  // the edit shown ("edited" before the time)
    qint64 day = 0;      // local day (Julian day number)
    QString clock;
    int footer_width = 0;
  };
  struct Layout {
    QRect separator, gap, unread, name, forwarded, quote, bubble, attachment, text, footer;
    QRect notice;  // a line, not a message (a timer change): nothing else is laid out
    QList<QPair<QRect, QString>> pills;  // reactions under the bubble: where, which emoji
    bool footer_inline = false;
    bool image = false;            // the attachment is shown as a picture
    bool footer_on_image = false;  // no caption: the time sits on the picture
    int wrap = 0;                  // the text's line width
    int height = 0;
  };
  QString attachmentTooltip(const QModelIndex& index, const Layout& l) const;
  Link linkIn(const Layout& l, const QModelIndex& index, const QPoint& pos) const;
  QPixmap thumbnail(const QModelIndex& index, const client::AttachmentInfo& a) const;
  Layout layoutFor(const QRect& row, const QModelIndex& index) const;
  const Text& measure(const QModelIndex& index, int max_width) const;
  bool showsSeparator(const QModelIndex& index) const;
  bool showsName(const QModelIndex& index) const;
  bool startsUnread(const QModelIndex& index) const;
  const Meta& meta(const QModelIndex& index) const;

  QListView* view_;
  bool group_ = false;
  QSet<QString> members_;
  QString me_;
  qint64 unread_from_ = 0;
  int unread_count_ = 0;
  std::function<QString(const QModelIndex&)> detail_;
  mutable QHash<qint64, Text> cache_;  // message id -> metrics
  mutable QHash<qint64, Meta> meta_;   // message id -> time-derived parts
  const TransferTracker* transfers_ = nullptr;
  mutable QCache<QByteArray, QPixmap> thumbs_{8 * 1024};  // client_msg_id -> decoded thumbnail (cost: KiB)
};

}  // namespace parley::app
