#pragma once
// Sends forwarded copies to a chat in the order they were written. Words go at once, but a
// file goes through encryption and upload first (TransferTracker, one at a time per chat), so
// the copies after a file wait until its upload has ended and its message is on its way.
//
// Thread: the GUI thread.
#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QString>

#include "message_origin.hpp"

namespace parley::client {
class Messenger;
}

namespace parley::app {

class TransferTracker;

class Forwarder : public QObject {
  Q_OBJECT
 public:
  struct Copy {
    QString text;  // the words; a file's caption
    QString file;  // a path on this device; empty: words only
    client::Origin origin = client::Origin::Forwarded;  // Own: the words were ours to begin with
  };
  Forwarder(client::Messenger* messenger, TransferTracker* transfers, QObject* parent = nullptr);

  // Queues `copies` for chat `to` ("#" + hex for a group) behind any still going there.
  void forward(const QString& to, const QList<Copy>& copies);
  // Copies still waiting for a file before them, in all chats.
  int waiting() const;

 signals:
  // A copy refused (by the messenger, or its upload failed), in words for the user.
  void problem(const QString& text);

 private:
  struct Queue {
    QList<Copy> copies;
    qint64 upload = 0;  // the tracker's id of the file being waited for; 0: none
  };
  void pump(const QString& to);
  void pumpOne(const QString& to);

  client::Messenger* messenger_;
  TransferTracker* transfers_;
  QHash<QString, Queue> queues_;
  bool pumping_ = false;
  QSet<QString> again_;  // chats to look at once the one being pumped is done
};

}  // namespace parley::app
