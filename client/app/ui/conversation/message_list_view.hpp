#pragma once
// The conversation's QListView: newest at the bottom and kept there while the user is at
// the bottom, older pages loaded when the user scrolls to the top (keeping what is on
// screen in place), Ctrl+C and a context menu to copy messages; a click on a file opens,
// shows or downloads it (ConversationView decides which). Scrolled up, a round button goes
// back down (JumpButton); a conversation opened with unread messages shows from the first.
//
// The view is given a MessageWindow, which hides the model's canFetchMore from Qt's own
// "fetch when the last row is visible" logic: in a chat the last row is always visible, so
// that logic would pull in the whole history page by page.
#include <QIdentityProxyModel>
#include <QListView>
#include <QUrl>
#include <functional>

class QMenu;

namespace parley::client {
class MessageModel;
}

namespace parley::app {

class JumpButton;
class MessageDelegate;

class MessageWindow : public QIdentityProxyModel {
  Q_OBJECT
 public:
  explicit MessageWindow(client::MessageModel* model, QObject* parent = nullptr);
  bool canFetchMore(const QModelIndex&) const override { return false; }
  bool hasOlder() const;
  bool isGroup() const;
  void fetchOlder();
  // Editable only so that the delegate's read-only text field can open for selecting text.
  Qt::ItemFlags flags(const QModelIndex& index) const override;
  client::MessageModel* messages() const { return model_; }

 private:
  client::MessageModel* model_;
};

class MessageListView : public QListView {
  Q_OBJECT
 public:
  explicit MessageListView(QWidget* parent = nullptr);
  MessageDelegate* messageDelegate() const { return delegate_; }
  void setWindow(MessageWindow* window);
  void scrollToNewest();
  bool atBottom() const { return at_bottom_; }
  // Marks where the `count` newest messages from others begin (what was unread as the
  // conversation opened) and shows them from there; 0 takes the mark away.
  void markUnread(int count);
  // Shown while scrolled up from the newest message; counts what arrives below meanwhile.
  JumpButton* jumpButton() const { return jump_; }
  // Whole messages of the selected rows, oldest first.
  QString selectedText() const;
  // Which of Edit and Delete… the context menu offers for a message (the messenger knows:
  // whose it is, how old, whether the relay has it).
  struct Changes {
    bool edit = false;
    bool remove = false;  // for everyone, or from this device
  };
  void setChangesAllowed(std::function<Changes(const QModelIndex&)> f) { changes_ = std::move(f); }

 signals:
  // "Receipts…" in the context menu of one of our group messages.
  void receiptsRequested(const QModelIndex& index);
  // "Reply" in a message's context menu; a click on a reply's quote.
  void replyRequested(const QModelIndex& index);
  void quoteActivated(const QModelIndex& index);
  // "React" in the context menu (an empty emoji: "Remove my reaction"), or a click on one of
  // the message's reaction pills (adds ours, or takes ours back).
  void reactRequested(const QModelIndex& index, const QString& emoji);
  void reactionClicked(const QModelIndex& index, const QString& emoji);
  // A click on a message's file (open, view or download it), on the cross of its download
  // in progress, or "Save as…" in its context menu.
  void fileActivated(const QModelIndex& index);
  void fileCancelRequested(const QModelIndex& index);
  void fileSaveRequested(const QModelIndex& index);
  // "Forward…" in a message's context menu: the selected messages, oldest first.
  void forwardRequested(const QList<QPersistentModelIndex>& rows);
  // "Edit" and "Delete…" in a message's context menu.
  void editRequested(const QModelIndex& index);
  void deleteRequested(const QModelIndex& index);
  // A click on a link in a message's text, or "Open link" in its context menu. `deceptive`:
  // what it shows may not be where it goes (common/links.hpp).
  void linkActivated(const QUrl& url, bool deceptive);

 protected:
  void keyPressEvent(QKeyEvent* e) override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseReleaseEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void mouseDoubleClickEvent(QMouseEvent* e) override;
  void contextMenuEvent(QContextMenuEvent* e) override;
  void resizeEvent(QResizeEvent* e) override;
  void verticalScrollbarValueChanged(int value) override;
  void rowsInserted(const QModelIndex& parent, int start, int end) override;
  void reset() override;

 private:
  void fetchOlder();
  void updateJump();
  void addLinkActions(QMenu& menu, const QModelIndex& index, const QPoint& pos);

  MessageDelegate* delegate_;
  MessageWindow* window_ = nullptr;
  std::function<Changes(const QModelIndex&)> changes_;
  bool at_bottom_ = true;
  JumpButton* jump_ = nullptr;
  int unseen_ = 0;  // from others, arrived below while scrolled up
  int placed_ = 0;  // counts markUnread's scrolls, which a resize's deferred one must not undo
  bool fetching_ = false;
  QPersistentModelIndex pressed_file_;  // a press on a file, activated on release over it
  qsizetype pressed_link_ = -1;         // where in its text the link pressed on starts
};

}  // namespace parley::app
