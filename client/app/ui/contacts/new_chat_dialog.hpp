#pragma once
// Start a chat by username (Ctrl+N): type a name, or pick one of the known contacts.
#include <QDialog>

class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;

namespace parley::app {

class NewChatDialog : public QDialog {
  Q_OBJECT
 public:
  NewChatDialog(const QStringList& contacts, const QString& own_name, QWidget* parent = nullptr);
  // The folded username once accepted.
  QString username() const { return chosen_; }
  QLineEdit* nameEdit() const { return name_; }

 private:
  void tryAccept();

  QString own_;
  QString chosen_;
  QLineEdit* name_;
  QListWidget* contacts_;
  QLabel* error_;
};

}  // namespace parley::app
