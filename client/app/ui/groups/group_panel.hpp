#pragma once
// A group's page: its name and description (admins edit them), the members with their role,
// and for admins adding and removing members; anyone can leave. Membership changes go to
// the relay, so they need a connection; errors are shown here.
#include <QDialog>

class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;

namespace parley::client {
class Messenger;
}

namespace parley::app {

class GroupPanel : public QDialog {
  Q_OBJECT
 public:
  GroupPanel(client::Messenger* messenger, const QByteArray& group_id, QWidget* parent = nullptr);
  QListWidget* memberList() const { return members_; }
  QLineEdit* addEdit() const { return add_edit_; }
  QPushButton* addButton() const { return add_; }
  QPushButton* removeButton() const { return remove_; }
  QLineEdit* nameEdit() const { return name_; }
  QPushButton* saveButton() const { return save_; }
  // Scales an image file for a group picture (square, JPEG, under the core's size cap);
  // empty with `error` set when it cannot be read.
  static QByteArray encodeAvatar(const QString& file, QString* error);
  QString message() const;

 signals:
  void left();

 private:
  void refresh();
  void setBusy(bool busy, const QString& message = {});

  client::Messenger* messenger_;
  QByteArray group_id_;
  bool admin_ = false;
  QLabel* picture_;
  QPushButton* set_picture_;
  QLineEdit* name_;
  QLineEdit* description_;
  QPushButton* save_;
  QListWidget* members_;
  QLineEdit* add_edit_;
  QPushButton* add_;
  QPushButton* remove_;
  QPushButton* leave_;
  QLabel* message_;
};

}  // namespace parley::app
