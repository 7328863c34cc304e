#pragma once
// "Forward…": the chats to send copies of messages to, at most kMaxChats at once (a chain
// letter should take some effort), picked from a filtered list.
//
// Thread: the GUI thread.
#include <QDialog>
#include <QPixmap>

class QLabel;
class QLineEdit;
class QListWidget;
class QListWidgetItem;
class QPushButton;

namespace parley::app {

class ForwardDialog : public QDialog {
  Q_OBJECT
 public:
  struct Chat {
    QString peer;
    QString title;
    QPixmap avatar;
  };
  static constexpr int kMaxChats = 5;
  ForwardDialog(const QList<Chat>& chats, int messages, QWidget* parent = nullptr);

  // The chats ticked, in the list's order.
  QStringList chosen() const;
  QLineEdit* filterBox() const { return filter_; }
  QListWidget* chatList() const { return list_; }
  QPushButton* sendButton() const { return send_; }

 private:
  bool eventFilter(QObject* watched, QEvent* e) override;
  void refilter();
  void ticked();
  void toggle(QListWidgetItem* item);

  QLineEdit* filter_;
  QListWidget* list_;
  QLabel* note_;
  QPushButton* send_;
};

}  // namespace parley::app
