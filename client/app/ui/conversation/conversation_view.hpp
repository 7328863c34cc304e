#pragma once
// The right side of the main window: the open conversation's header (name, presence or
// typing, safety number / members), the identity-key-changed banner, the messages (with
// their files: click to open, view or download; drop files anywhere to attach them), the
// uploads under way and the composer. One instance, pointed at one conversation at a time.
//
// Thread: the GUI thread.
#include <QPointer>
#include <QWidget>
#include <functional>
#include <memory>

class QLabel;
class QPushButton;
class QToolButton;
class QFrame;

namespace parley::client {
class Messenger;
class MessageModel;
}  // namespace parley::client

namespace parley::app {

class Composer;
class ImageViewer;
class MessageListView;
class MessageWindow;
class TransferTracker;
class UploadList;
class Forwarder;

class ConversationView : public QWidget {
  Q_OBJECT
 public:
  explicit ConversationView(client::Messenger* messenger, QWidget* parent = nullptr);
  ~ConversationView() override;

  // `unread`: how many of its messages were unread as it opens; they show from the first,
  // under a line saying so (MessageListView::markUnread).
  void open(const QString& peer, const QString& title, int unread = 0);
  void closeConversation();
  const QString& peer() const { return peer_; }
  bool isGroup() const { return peer_.startsWith(QLatin1Char('#')); }
  // Loads history back to the message (a search result), selects it and scrolls to it.
  bool showMessage(qint64 message_id);
  void setTitle(const QString& title);
  // The banner and the header's "verified": after a key change, an accept or a verification.
  void refreshIdentity();
  // Whether the header offers the chat's menu (mark unread, pin, mute): only once the chat
  // is in the list (its first message; a group from its creation).
  void setChatMenuAvailable(bool available);
  QToolButton* chatMenuButton() const { return more_; }
  // Shown while disappearing messages are on, with the timer; a click opens the chat's menu.
  QToolButton* timerButton() const { return timer_; }

  MessageListView* list() const { return list_; }
  Composer* composer() const { return composer_; }
  client::MessageModel* model() const { return model_.get(); }
  QString subtitle() const;
  bool bannerVisible() const;

  // ---- Files ----
  TransferTracker* transfers() const { return transfers_; }
  UploadList* uploads() const { return uploads_; }
  ImageViewer* imageViewer() const;
  // Where received files are saved and pasted pictures kept: a private folder in the
  // profile. "Save as…" copies a file out of it.
  void setFilesDir(const QString& dir);
  // How a file (a file: URL) or a link is opened with the system's application
  // (QDesktopServices by default).
  void setOpener(std::function<bool(const QUrl& url)> opener) { opener_ = std::move(opener); }
  // Opens a link from a message; one whose text may not show where it goes (common/links.hpp)
  // only after the user has seen its real host and agreed. False when it did not open.
  bool openLink(const QUrl& url, bool deceptive);
  // Sends copies of `rows` (oldest first: words, and files on this device as they were sent,
  // with their captions) to the chats chosen in a ForwardDialog, in order (Forwarder). A file
  // not downloaded, moved or changed since is left out, and said so.
  void forward(const QList<QPersistentModelIndex>& rows);
  // What a click on the file of the message at `index` does: view a picture, open a file,
  // or download it first. False with an error shown when it cannot.
  bool activateFile(const QModelIndex& index);
  // Copies the message's file to `path` (downloading it first when needed).
  bool saveFileAs(const QModelIndex& index, const QString& path);

 signals:
  void contactRequested(const QString& peer);
  void membersRequested(const QString& peer);
  // The header's menu button: the chat's menu, opened at `global`.
  void chatMenuRequested(const QString& peer, const QPoint& global);
  // Messages were forwarded to this one other chat: the user may want to go on there.
  void chatRequested(const QString& peer);

 private:
  void send(const QString& text, const QStringList& files);
  void updateSubtitle();
  // The group's members, whose "@name" the messages highlight.
  void updateMembers();
  void updateTimer();
  void refreshBanner();
  void showError(const QString& text);
  // "Delete…": for everyone (ours, within the window) or from this device, as the user picks.
  void confirmDelete(const QModelIndex& index);
  bool download(const QModelIndex& index, int after, const QString& save_as);
  bool openFile(const QString& path, const QString& sender, bool outgoing);
  void viewImage(const QString& path, const QString& title, const QString& sender, bool outgoing);
  bool copyFile(const QString& from, const QString& to);
  void chooseSaveTarget(const QString& suggested_name, const std::function<void(const QString&)>& then);

 protected:
  void dragEnterEvent(QDragEnterEvent* e) override;
  void dragLeaveEvent(QDragLeaveEvent* e) override;
  void dropEvent(QDropEvent* e) override;

  client::Messenger* messenger_;
  QString peer_;
  QString title_;
  std::unique_ptr<client::MessageModel> model_;
  std::unique_ptr<MessageWindow> window_;
  bool online_ = false;
  qint64 last_seen_ = 0;
  bool typing_ = false;

  QLabel* avatar_;
  QLabel* title_label_;
  QLabel* subtitle_;
  QToolButton* contact_;
  QToolButton* members_;
  QToolButton* more_;
  QToolButton* timer_;
  QFrame* banner_;
  QLabel* banner_text_;
  QPushButton* compare_;
  MessageListView* list_;
  QLabel* drop_hint_;
  QLabel* error_;
  UploadList* uploads_;
  Composer* composer_;
  TransferTracker* transfers_;
  QString files_dir_;
  std::function<bool(const QUrl&)> opener_;
  Forwarder* forwarder_ = nullptr;
  int forward_problems_ = 0;  // Forwarder::problem reports so far, to tell whether a forward went
  QPointer<ImageViewer> viewer_;
};

}  // namespace parley::app
