#pragma once
// Per-member receipts for one of our group messages: who has it on their device and who has
// read it, with the relay's times (context menu "Receipts…" on the message).
#include <QDialog>

class QTreeWidget;

namespace parley::client {
class Messenger;
}

namespace parley::app {

class ReceiptDetailsDialog : public QDialog {
  Q_OBJECT
 public:
  ReceiptDetailsDialog(client::Messenger* messenger, const QByteArray& group_id, const QByteArray& client_msg_id,
                       const QString& body, QWidget* parent = nullptr);
  QTreeWidget* table() const { return table_; }

 private:
  QTreeWidget* table_;
};

}  // namespace parley::app
