#pragma once
// Ctrl+F: full-text search over the local history of every conversation (the core's FTS5
// index), newest first; Enter or a click jumps to the message.
#include <QDialog>
#include <QTimer>

class QLabel;
class QLineEdit;
class QListWidget;

namespace parley::client {
class Messenger;
}

namespace parley::app {

class SearchDialog : public QDialog {
  Q_OBJECT
 public:
  explicit SearchDialog(client::Messenger* messenger, QWidget* parent = nullptr);
  QLineEdit* queryEdit() const { return query_; }
  QListWidget* results() const { return results_; }
  void runSearch();  // now, without waiting for the typing pause

 signals:
  void messageChosen(const QString& peer, qint64 message_id);

 protected:
  // Up/Down in the query field move through the results.
  bool eventFilter(QObject* watched, QEvent* e) override;

 private:
  void choose();

  client::Messenger* messenger_;
  QLineEdit* query_;
  QListWidget* results_;
  QLabel* summary_;
  QTimer debounce_;
};

}  // namespace parley::app
