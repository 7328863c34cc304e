#pragma once
// The app's view of the messenger's file transfers: which upload belongs to which
// conversation and which download to which message, how far each has got, and what to do
// when a download ends (open it, show it, copy it where the user chose). The messenger
// reports transfers by id only; the views ask this by conversation and by message.
//
// Uploads into one conversation go one at a time, in the order the user attached them, so
// their messages arrive in that order (each message is sent when its upload ends); the
// rest wait in the list. Each is in the messenger's queue of files to send from the moment
// it is listed (Messenger::queueFile), so one that was uploading or waiting when the app
// quit is listed, and sent, when it opens again. A failed upload stays listed with its
// reason until the user retries or dismisses it, so a file is never silently not sent.
// Cancelled transfers disappear, and leave the messenger's queue.
//
// Transfers are named by the tracker's own ids (a waiting upload has no messenger id yet).
//
// Thread: the GUI thread.
#include <QHash>
#include <QObject>
#include <QString>

#include "message_origin.hpp"

namespace parley::client {
class Messenger;
}

namespace parley::app {

class TransferTracker : public QObject {
  Q_OBJECT
 public:
  enum class After { Nothing, Open, View, SaveAs };
  struct Transfer {
    qint64 id = 0;        // the tracker's
    qint64 job = 0;       // the messenger's transfer id; 0 while waiting or after failing
    qint64 file = 0;      // uploads: the messenger's queued file
    bool upload = false;
    bool waiting = false; // an upload behind another one in the same conversation
    QString peer;         // the conversation
    QByteArray msgId;     // downloads: the message whose file this is
    QString path;         // uploads: the file being sent
    QString caption;      // uploads
    QString fileName;
    qint64 done = 0;      // ciphertext bytes moved
    qint64 total = 0;     // 0 until the first progress report (an upload encrypts first)
    QString error;        // a failed upload's reason; empty while it runs
    After after = After::Nothing;
    QString saveAs;       // After::SaveAs: where the user wants a copy
  };

  // Lists the files the messenger still has queued to send (from an earlier run) and starts
  // each conversation's first.
  explicit TransferTracker(client::Messenger* messenger, QObject* parent = nullptr);

  // 0 with `error` set when the messenger refuses at once. `reply_to`: the local id of the
  // message the file's message answers (0: none).
  qint64 upload(const QString& peer, const QString& path, const QString& caption, QString* error,
                qint64 reply_to = 0, client::Origin origin = client::Origin::Own);
  qint64 download(const QString& peer, const QByteArray& msg_id, const QString& dir, After after,
                  const QString& save_as, QString* error);
  void cancel(qint64 id);
  // A failed upload: tries again with the same file and caption, or forgets it.
  qint64 retry(qint64 id, QString* error);
  void dismiss(qint64 id);

  const Transfer* downloadOf(const QByteArray& msg_id) const;
  QList<Transfer> uploadsIn(const QString& peer) const;  // oldest first
  const Transfer* find(qint64 id) const;

 signals:
  void progressed(const parley::app::TransferTracker::Transfer& t);
  void uploadsChanged(const QString& peer);
  void downloadChanged(const QByteArray& msg_id);
  // A download saved the file at `path` (on this device, in the profile's files folder).
  void downloaded(const parley::app::TransferTracker::Transfer& t, const QString& path);
  // Only for failures the user did not ask for (not "cancelled").
  void failed(const parley::app::TransferTracker::Transfer& t, const QString& error);

 private:
  Transfer* byJob(qint64 job);
  void onProgress(qint64 job, qint64 done, qint64 total);
  void onFinished(qint64 job, const QString& path);
  void onFailed(qint64 job, const QString& error);
  void announce(const Transfer& t);
  // Lists `t` (a new id) and starts it, or lets it wait behind the one running in its
  // conversation; false with `error` when the messenger refuses it at once.
  bool add(Transfer t, QString* error);
  // Starts the oldest waiting upload of `peer` when none is running there.
  void startNext(const QString& peer);

  client::Messenger* messenger_;
  QHash<qint64, Transfer> transfers_;
  qint64 next_id_ = 1;
};

}  // namespace parley::app
