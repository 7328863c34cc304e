#pragma once
// The right side of the main window: the open conversation's header (name, presence or
// typing, safety number / members), the identity-key-changed banner, the messages and the
// composer. One instance, pointed at one conversation at a time.
//
// Thread: the GUI thread.
#include <QPointer>
#include <QWidget>
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
class MessageListView;
class MessageWindow;

class ConversationView : public QWidget {
  Q_OBJECT
 public:
  explicit ConversationView(client::Messenger* messenger, QWidget* parent = nullptr);
  ~ConversationView() override;

  void open(const QString& peer, const QString& title);
  void closeConversation();
  const QString& peer() const { return peer_; }
  bool isGroup() const { return peer_.startsWith(QLatin1Char('#')); }
  // Loads history back to the message (a search result), selects it and scrolls to it.
  bool showMessage(qint64 message_id);
  void setTitle(const QString& title);
  void refreshBanner();

  MessageListView* list() const { return list_; }
  Composer* composer() const { return composer_; }
  client::MessageModel* model() const { return model_.get(); }
  QString subtitle() const;
  bool bannerVisible() const;

 signals:
  void contactRequested(const QString& peer);
  void membersRequested(const QString& peer);
  void sent(const QString& peer);

 private:
  void send(const QString& text);
  void updateSubtitle();
  void showError(const QString& text);

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
  QFrame* banner_;
  QLabel* banner_text_;
  MessageListView* list_;
  QLabel* error_;
  Composer* composer_;
};

}  // namespace parley::app
