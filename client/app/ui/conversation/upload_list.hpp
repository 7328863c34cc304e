#pragma once
// The open conversation's files on their way out, under the messages: encrypting, then a
// progress bar with the bytes sent and a Cancel button; a failed one stays with its reason
// and Retry / Dismiss. Once a file is uploaded its message appears in the conversation and
// its row here goes.
//
// Thread: the GUI thread.
#include <QHash>
#include <QWidget>

#include "media/transfer_tracker.hpp"

class QVBoxLayout;

namespace parley::app {

class UploadList : public QWidget {
  Q_OBJECT
 public:
  UploadList(TransferTracker* tracker, QWidget* parent = nullptr);
  ~UploadList() override;
  void setConversation(const QString& peer);
  int rows() const { return static_cast<int>(rows_.size()); }

 signals:
  void problem(const QString& text);

 private:
  struct Row;
  void rebuild();
  void update(const TransferTracker::Transfer& t);

  TransferTracker* tracker_;
  QString peer_;
  QVBoxLayout* layout_;
  QHash<qint64, Row*> rows_;
};

}  // namespace parley::app
