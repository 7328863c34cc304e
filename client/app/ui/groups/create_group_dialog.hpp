#pragma once
// New group (Ctrl+G): a name and the members, picked from contacts or typed as usernames.
#include <QDialog>

class QLabel;
class QLineEdit;
class QListWidget;

namespace parley::app {

class CreateGroupDialog : public QDialog {
  Q_OBJECT
 public:
  CreateGroupDialog(const QStringList& contacts, const QString& own_name, QWidget* parent = nullptr);
  QString name() const;
  QStringList members() const { return members_; }
  QLineEdit* nameEdit() const { return name_; }
  QLineEdit* othersEdit() const { return others_; }
  QListWidget* contactList() const { return contacts_; }
  void showError(const QString& text);

 private:
  void tryAccept();

  QString own_;
  QLineEdit* name_;
  QListWidget* contacts_;
  QLineEdit* others_;
  QLabel* error_;
  QStringList members_;
};

}  // namespace parley::app
