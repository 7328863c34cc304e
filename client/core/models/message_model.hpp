#pragma once
// One conversation's messages as a model for a QListView with a delegate (never a widget per
// message): relay order, our unacknowledged sends last, live status updates.
//
// A conversation can hold 100,000 messages: the model holds a window, the newest kPageSize
// first, and a view asks for older pages (canFetchMore/fetchMore) as it scrolls up. New
// messages, acknowledgements and statuses change the window in place (inserted rows,
// dataChanged), so a view keeps its scroll position and selection.
//
// Thread: the messenger's thread.
#include <QAbstractListModel>
#include <set>

#include "messenger.hpp"

namespace parley::client {

class MessageModel : public QAbstractListModel {
  Q_OBJECT
 public:
  enum Role {
    BodyRole = Qt::UserRole + 1,
    SenderRole,
    OutgoingRole,
    StatusRole,       // MessageStatus as int
    ClientTimeRole,   // ms since the epoch
    ServerTimeRole,
    ConvSeqRole,      // -1 until numbered
    ChainOkRole,
    ClientMsgIdRole,
    // Our messages in a group ("#" peer); 0 elsewhere. "Delivered to N of M", "read by N of M";
    // Messenger::receiptDetails() has the per-member list behind them.
    DeliveredCountRole,
    ReadCountRole,
    RecipientCountRole,  // M: the members it went to still in (the members now, not yet numbered)
    MessageIdRole,    // the local row id (search results name messages by it)
    TimeRole,         // what to show: the relay's time once numbered, our clock before
    GapBeforeRole,    // conv_seq numbers still missing just before this message (0: none)
    HasAttachmentRole,
    // The message's file (AttachmentInfo: name, size, type, thumbnail, local path), read on
    // first use and cached; re-read when a download saves it. Invalid for a plain text.
    AttachmentRole,
    // What the sender wrote with a file (empty when they wrote nothing); the text otherwise.
    CaptionRole,
    // A reply: who wrote the message it answers (empty: no reply), whether that was us, its
    // text (this device's copy, else the quoted words), and its local id (0: not here).
    ReplyAuthorRole,
    ReplyFromMeRole,
    ReplyTextRole,
    ReplyMessageIdRole,
    // The reactions, one entry per emoji in order of first appearance by reactor name:
    // QVariantMap{"emoji": QString, "count": int, "mine": bool, "who": QStringList}.
    ReactionsRole,
    EditedRole,        // the sender's time of the edit shown (ms since the epoch); 0: never edited
    UnsentRole,        // its sender took it back for everyone: nothing of it is left but that
    ReplyUnsentRole,   // the message this one answers was taken back by its sender
    ReplyExpiredRole,  // the message this one answers disappeared (disappearing messages)
    // Not a message: a line saying the sender set the disappearing-messages timer to this
    // many seconds (0: off). -1 for a message.
    TimerChangeRole,
    ExpireRole,        // a disappearing message's lifetime in seconds; 0: it stays
    ExpiresAtRole,     // when it goes (ms since the epoch); 0: not counting down yet
    ForwardedRole,     // a copy of words (or a file) its sender did not write (Forward…)
  };
  static constexpr int kPageSize = 200;

  MessageModel(Messenger* messenger, QString peer, QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;
  bool canFetchMore(const QModelIndex& parent) const override;
  void fetchMore(const QModelIndex& parent) override;

  const QString& peer() const { return peer_; }
  // Back to the newest page (a reset).
  void reload();
  // Loads older pages until the message with local id `message_id` is in the window; its
  // row, or -1 when it is not in this conversation.
  int loadMessage(qint64 message_id);
  int rowOfMessage(qint64 message_id) const;

 private:
  void updateReceipts(const QByteArray& client_msg_id, const ReceiptCounts& counts);
  // Re-reads the window (from the oldest loaded number on) and applies the difference.
  void refresh();
  void apply(QList<StoredMessage> fresh);
  qint64 oldestLoadedSeq() const;

  Messenger* messenger_;
  QString peer_;
  QByteArray group_id_;  // empty for a 1:1 conversation
  QList<StoredMessage> rows_;
  QHash<QByteArray, ReceiptCounts> receipts_;  // our group messages that have any
  int recipients_ = 0;
  bool at_start_ = true;       // the window reaches the conversation's first message
  std::set<qint64> gaps_;      // missing numbers inside the window
  mutable QHash<QByteArray, AttachmentInfo> attachments_;  // client_msg_id -> file, as read
};

}  // namespace parley::client
