#pragma once
// The main window: conversations on the left (filter box, list, connection status), the open
// conversation on the right; menus and shortcuts; read receipts when a conversation is
// really in front of the user; notifications for the others.
//
// Thread: the GUI thread. Borrows the Messenger (AppController owns it).
#include <QHash>
#include <QSet>
#include <QMainWindow>
#include <QPointer>
#include <memory>

class QLineEdit;
class QListView;
class QSplitter;
class QStackedWidget;
class QLabel;

namespace parley::client {
class Messenger;
class ConversationListModel;
}  // namespace parley::client

namespace parley::app {

class ArchiveSwitch;
class ConnectionStatus;
class ConversationFilter;
class ConversationView;
class Tray;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  MainWindow(client::Messenger* messenger, const QString& profile_dir, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Opens `peer` ("#hex" for a group) on the right, creating nothing until a message is sent.
  void openConversation(const QString& peer);
  QString currentPeer() const;
  // Shows and selects a message found by search.
  bool showMessage(const QString& peer, qint64 message_id);
  // Back to the placeholder, nothing open (Esc with nothing else to close).
  void closeConversation();

  ConversationView* conversationView() const { return view_; }
  QListView* conversationList() const { return list_; }
  QLineEdit* filterBox() const { return filter_box_; }
  ConnectionStatus* connectionStatus() const { return status_; }
  client::ConversationListModel* conversations() const { return conversations_.get(); }
  Tray* tray() const { return tray_; }
  static QString titleFor(client::Messenger* m, const QString& peer);

 public slots:
  void startNewChat();
  void showSearch();
  void showContact(const QString& peer);
  void jumpToChat();

 signals:
  void switchProfileRequested();

 protected:
  void changeEvent(QEvent* e) override;
  void closeEvent(QCloseEvent* e) override;
  void showEvent(QShowEvent* e) override;
  bool eventFilter(QObject* watched, QEvent* e) override;

 private:
  void buildMenus();
  void markReadIfInFront();
  void onArrived(const QString& peer, const QString& sender, const QByteArray& id);
  // A message changed or taken back: so is its notification, if it is the one showing.
  void onRevised(const QString& peer, const QString& sender, const QByteArray& id);
  QString notificationTitle(const QString& peer, const QString& sender) const;
  void selectInList(const QString& peer);
  // The archived chats in the list (true), or the main list.
  void showArchived(bool archived);
  void showMembers(const QString& peer);
  void createGroup();

  client::Messenger* messenger_;
  QString profile_dir_;
  std::unique_ptr<client::ConversationListModel> conversations_;
  ConversationFilter* filter_;
  QSplitter* splitter_;
  QLineEdit* filter_box_;
  QListView* list_;
  ArchiveSwitch* archive_switch_;
  ConnectionStatus* status_;
  QStackedWidget* right_;
  QWidget* placeholder_;
  ConversationView* view_;
  Tray* tray_;
  // Per conversation, the sender and id of the message its notification shows.
  QHash<QString, std::pair<QString, QByteArray>> notified_;
  // The chats marked unread as last told: only a new mark closes the open chat.
  QSet<QString> marked_;
  // The same for archived chats: only archiving the open chat closes it.
  QSet<QString> archived_;
};

}  // namespace parley::app
