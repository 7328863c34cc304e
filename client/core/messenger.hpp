#pragma once
// The client's API: everything the GUI and the CLI need, with no protocol or crypto in
// them. Owns the profile, the local store and the relay connection.
//
// Thread: one thread (the one that created it); results arrive as signals on it.
#include <QByteArray>
#include <QHash>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QString>
#include <QTimer>
#include <atomic>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "message_origin.hpp"
#include "net/relay_client.hpp"
#include "parley/group_change.hpp"
#include "profile/profile.hpp"
#include "profile/profile_lock.hpp"
#include "store/database.hpp"

class QNetworkAccessManager;

namespace parley::e2e {
class Content;
class Attachment;
}

namespace parley::client::media {
class TransferJob;
}

namespace parley::client::marks {
struct MarkEffects;
}

namespace parley::client::detail {
struct RevisionTarget;  // messenger_revisions.cpp
}

namespace parley::client {

enum class MessageStatus : int {
  Failed = -1,    // the relay refused it for good (e.g. unknown recipient)
  Queued = 0,     // in the outbox
  Sent = 1,       // the relay stored it (SendAck)
  Delivered = 2,  // a recipient's device has it (the relay's delivery mark covers it)
  Read = 3,       // the recipient has seen it (end-to-end read receipt)
  Received = 10,  // someone else's message, not yet seen here
  Seen = 11,      // someone else's message, read receipt sent
};

// The message a reply answers (Content.quote).
struct Reply {
  QByteArray clientMsgId;  // empty: the message answers none
  QString author;
  // The quoted message's text as this device has it; when it does not have it, what the
  // reply quoted of it (unverified: a view says so), except for a message of ours, which
  // would be here: then empty.
  QString text;
  qint64 messageId = 0;    // the quoted message's local row; 0 when this device does not have it
  bool unsent = false;     // its sender took it back: no words to show
  bool expired = false;    // it disappeared (its timer ran out): no words to show
};

// One person's reaction to a message.
struct Reaction {
  QString reactor;
  QString emoji;
  bool operator==(const Reaction&) const = default;
};

struct StoredMessage {
  qint64 id = 0;
  QString peer;
  QString sender;
  QByteArray clientMsgId;
  qint64 convSeq = -1;  // -1 until the relay has numbered it
  QString body;
  MessageStatus status = MessageStatus::Queued;
  qint64 clientTsMs = 0;
  qint64 serverTsMs = 0;
  bool chainOk = true;  // false: the sender's hash chain did not link (dropped/reordered)
  bool hasAttachment = false;  // Messenger::attachment(clientMsgId) has the file's details
  Reply reply;
  QList<Reaction> reactions;  // by reactor's name
  qint64 editedMs = 0;  // the sender's time of the edit `body` shows; 0: never edited
  bool unsent = false;  // its sender took it back for everyone: no words, file or quote left
  // Not a message but a line saying `sender` set the disappearing-messages timer to this many
  // seconds (0: off); -1 for a message.
  qint64 timerChange = -1;
  qint64 expireS = 0;       // a disappearing message's lifetime in seconds; 0: it stays
  qint64 expiresAtMs = 0;   // when it goes; 0: not counting down yet (or it stays)
  bool forwarded = false;   // a copy of words (or a file) its sender did not write (Forward…)
  bool mentionsMe = false;  // a group message from someone else that names us ("@alice")
};

// One full-text search result (Messenger::search).
struct SearchHit {
  qint64 messageId = 0;
  QString peer;    // the conversation ("#" + hex for a group)
  QString sender;
  qint64 convSeq = -1;
  qint64 timeMs = 0;
  // The matching words with some context; each match is wrapped in kSearchMatchStart /
  // kSearchMatchEnd so a view can highlight it after escaping the text.
  QString snippet;
};
inline constexpr QChar kSearchMatchStart{0x02};
inline constexpr QChar kSearchMatchEnd{0x03};

// A file carried by a message, sent or received (messenger_media.cpp).
struct AttachmentInfo {
  QString sender;
  QString peer;
  QByteArray clientMsgId;
  QString fileName;        // as the sender named it (sanitised again before saving)
  QString mimeType;
  qint64 size = 0;         // of the file itself
  int width = 0;           // images: pixels, else 0
  int height = 0;
  QByteArray thumbnail;    // images: a small JPEG, shown before downloading; may be empty
  QString localPath;       // where the file is on this device; empty until fetched
};

}  // namespace parley::client
Q_DECLARE_METATYPE(parley::client::AttachmentInfo)
namespace parley::client {

struct GroupMember {
  QString username;
  bool admin = false;
};

// A group's name, description and avatar: end-to-end encrypted (GROUP_INFO), set by admins.
struct GroupInfo {
  QString name;
  QString description;
  QByteArray avatar;  // PNG, JPEG or WebP bytes, at most Messenger::kMaxGroupAvatarBytes; empty: none
};

// One member's receipts for one of our group messages. Times are the relay's (ms since the
// epoch); 0 means not yet.
struct MemberReceipt {
  QString member;
  qint64 deliveredMs = 0;  // their device has it (the relay's delivery mark)
  qint64 readMs = 0;       // they have seen it (end-to-end read receipt)
};

struct ReceiptCounts {
  int delivered = 0;
  int read = 0;
  int of = -1;  // the members it went to; -1: not counted here (the members now stand in)
};

// What the user was writing in a chat and has not sent (Messenger::setDraft).
struct Draft {
  QString text;
  qint64 replyTo = 0;  // the local id (StoredMessage::id) of the message it answers; 0: none
};

struct ConversationSummary {
  QString peer;
  QString lastMessage;       // its text; for a file, the caption or else the file's name
  QString lastFileName;      // the last message's file; empty when it has none
  bool lastFileIsImage = false;
  bool lastUnsent = false;   // the last message was taken back by its sender
  QByteArray lastMsgId;      // the last message's client_msg_id; empty when there is none
  QString lastSender;        // who wrote it: our own username for ours
  MessageStatus lastStatus = MessageStatus::Received;  // its ticks, when it is ours
  qint64 lastActivityMs = 0;
  int unread = 0;
  int unreadMentions = 0;    // unread group messages that name us
  bool identityChanged = false;
  qint64 mutedUntilMs = 0;   // Messenger::setMuted; 0: not muted
  bool pinned = false;
  bool markedUnread = false; // Messenger::setMarkedUnread
  bool archived = false;     // Messenger::setArchived
  QString draft;             // Messenger::setDraft's first 300 characters (a preview); empty: none
  qint64 expireTimerS = 0;   // Messenger::setExpireTimer; 0: off
  qint64 lastTimerChange = -1;  // the last entry is a timer line (StoredMessage::timerChange)
  bool mutedAt(qint64 now_ms) const { return mutedUntilMs > now_ms; }
};

class Messenger : public QObject {
  Q_OBJECT
 public:
  using Registered = std::function<void(std::unique_ptr<Messenger>, QString error, int code)>;

  // Creates a profile in `dir` and registers `name` on `server`. Until the relay accepts the
  // name only the folder and its lock exist, removed again on a refusal (left if the process
  // dies meanwhile). `code` is the wire ErrorCode on failure. Refusals made before any
  // connection (a bad name, a profile already there, the folder locked) are reported at once;
  // every other outcome from the event loop.
  // `passphrase`, unless empty, protects the new profile's store key from the start.
  static void registerProfile(const QString& dir, const QUrl& server, const QString& name,
                              Registered done, const QString& passphrase = QString());
  // Opens an existing profile (does not connect yet), unlocking it with `passphrase` (empty:
  // it has none). On failure `status`, when given, tells a passphrase to ask for (locked,
  // wrong_passphrase) from every other failure.
  static std::unique_ptr<Messenger> open(const QString& dir, const QString& passphrase,
                                         QString* error, store_key::Status* status = nullptr);
  static std::unique_ptr<Messenger> open(const QString& dir, QString* error) {
    return open(dir, QString(), error);
  }
  // The passphrase the profile's store key is kept under: setting, changing or (empty)
  // removing it rewrites store.key only, so it is quick whatever the history's size.
  bool hasPassphrase() const;
  bool setPassphrase(const QString& passphrase, QString* error);
  // Whether `candidate` is the passphrase the store key is kept under now: asked before the
  // passphrase is changed or removed, so an unlocked profile left alone is not enough for
  // that. False with `error` empty for another passphrase (or a profile without one), with
  // `error` set when it could not be told (store.key unreadable or damaged, no memory for
  // the derivation). Derives a key (~0.7 s); like setPassphrase, safe beside the GUI
  // thread's use.
  bool passphraseIs(const QString& candidate, QString* error) const;
  // A page of the store failed its check since this was opened: what reads returned since
  // may be incomplete. True from inside the read that met it; storeDamageFound() follows
  // once, after that read's caller is done.
  bool storeDamaged() const { return store_damaged_; }
  // What to tell the user of it: what is wrong and what to do.
  QString storeDamageReport() const;
  ~Messenger() override;

  void start();  // connect, log in, stay connected
  void stop();
  RelayClient::State state() const { return relay_->state(); }
  const QString& username() const { return profile_.username; }

  // Why `peer`'s queued messages (a group: "#" + hex id) have not gone yet, in a sentence
  // for the user; empty when nothing holds them but the round trip itself.
  QString whyQueued(const QString& peer);
  // Writes the message to the outbox and returns its client_msg_id; sending follows.
  // `reply_to`, unless 0, is the local id (StoredMessage::id) of a message of this
  // conversation that this one answers: the message carries its sender, id and first words.
  std::optional<QByteArray> sendText(const QString& peer, const QString& text, QString* error,
                                     qint64 reply_to = 0, Origin origin = Origin::Own);
  // The user has seen `peer`'s messages: sends one read receipt for all of them. For a group
  // (peer "#" + hex id) that is one group message (sender key) naming every unseen message.
  // Clears a mark the user set with setMarkedUnread.
  void markRead(const QString& peer);
  void setTyping(const QString& peer, bool active);
  // Adds `peers` to the people whose presence (and typing) this profile follows. The relay
  // replaces its set with each request, so the whole set goes every time, and only when it
  // grew or after a new login.
  void subscribePresence(const QStringList& peers);

  QList<StoredMessage> history(const QString& peer);
  // Every conversation: the pinned ones first (the newest pin at the top), then the rest,
  // most recent activity first.
  QList<ConversationSummary> conversations();

  // ---- This device's settings of a conversation (messenger_chat_settings.cpp) ----
  // Nobody else learns of them. Each fails with `error` when there is no such conversation.
  // Muted until `until_ms` (ms since the epoch; kMutedForever: until unmuted; 0 or a time
  // past: unmuted): its messages raise no notification and stay out of the unread total,
  // though the conversation still counts its own.
  static constexpr qint64 kMutedForever = std::numeric_limits<qint64>::max();
  bool setMuted(const QString& peer, qint64 until_ms, QString* error);
  // 0 when not muted now.
  qint64 mutedUntil(const QString& peer);
  // Pinned conversations come first in conversations(), the one pinned last at the top; at
  // most kMaxPinned at once, so the list keeps room for the rest.
  static constexpr int kMaxPinned = 5;
  bool setPinned(const QString& peer, bool pinned, QString* error);
  // Marked unread by the user, to come back to (counts as one unread where nothing else is);
  // markRead clears it. Nothing is sent: the peer's read receipts stay as they were.
  bool setMarkedUnread(const QString& peer, bool marked, QString* error);
  // Archived: out of the main list, in a list of its own. Archiving unpins. It comes back by
  // itself when a message is sent there, or arrives while it is not muted.
  bool setArchived(const QString& peer, bool archived, QString* error);

  // ---- Drafts (messenger_drafts.cpp) ----
  // What the user was writing in `peer`'s chat and has not sent, kept on this device only
  // (never sent) so it outlives the window, and shown in conversations() until it is sent or
  // emptied. Only spaces is no draft; a reply to a message that is not (or no longer) in the
  // conversation is dropped from it. Fails with `error` for a peer with no conversation yet
  // (the app keeps that one in memory) or a text over kMaxDraftChars.
  static constexpr int kMaxDraftChars = 1 << 20;
  bool setDraft(const QString& peer, const Draft& draft, QString* error);
  Draft draft(const QString& peer);

  // ---- Disappearing messages (messenger_disappearing.cpp) ----
  // Unlike the settings above, the conversation's own: the change goes to the peer (or the
  // group), and both sides show it as a line in the history. Every message sent in it from
  // then on carries the timer and disappears from each device `seconds` after it is read
  // there (our own: after the relay took it). 0 turns it off. At most kMaxExpireTimerS. Of
  // two changes that cross, the one the relay numbered later holds on both sides.
  // Fails with `error` for a peer with no conversation, or a group we are not in.
  static constexpr int kMaxExpireTimerS = 365 * 24 * 3600;
  bool setExpireTimer(const QString& peer, int seconds, QString* error);
  int expireTimer(const QString& peer);  // 0: off
  // The timer a chat we start gets, as its first change: our first message to someone we
  // have no conversation with, or a group we create. 0: none. This device's choice (kept in
  // its store); a chat the other side starts keeps theirs.
  bool setDefaultExpireTimer(int seconds, QString* error);
  int defaultExpireTimer();
  void setProxy(const QNetworkProxy& proxy);
  QStringList contacts();
  // conv_seq numbers missing in the conversation that are not our own unacknowledged sends.
  // from_seq > 1: only holes after the first number seen at or above it (a view's window).
  // Bounded: at most the last kMaxListedPerHole numbers of each hole, kMaxListedGaps in all.
  QList<qint64> gaps(const QString& peer, qint64 from_seq = 1);
  static constexpr qint64 kMaxListedPerHole = 1000;
  static constexpr qsizetype kMaxListedGaps = 10000;
  int outboxSize();
  // 60 digits, or empty with `error` when the peer's identity key is not known yet.
  QString safetyNumber(const QString& peer, QString* error);
  bool identityKeyChanged(const QString& peer);
  // The changed identity key waiting for the user's decision, and the safety number it would
  // give: what the user compares before accepting it. Empty when no key is pending (or the
  // pending one is damaged; `error` says which).
  struct PendingIdentityKey {
    QByteArray key;
    QString safety_number;
  };
  std::optional<PendingIdentityKey> pendingIdentityKey(const QString& peer, QString* error);
  // Trusts `key`, the pending key the user compared, in place of the old one. False with
  // `error` when no key is pending or another one arrived since: accepting whatever is
  // pending at the click would trust a key nobody looked at.
  bool acceptIdentityKey(const QString& peer, const QByteArray& key, QString* error);

  // ---- History windows, search, verification (messenger_history.cpp) ----
  // Numbered messages with from_seq <= conv_seq < before_seq (before_seq < 0: no upper bound,
  // and then our not yet numbered sends follow them), at most the `limit` newest of those
  // (limit < 0: all), in history() order. Lets a view load a long conversation a page at a
  // time instead of all of it.
  QList<StoredMessage> historySlice(const QString& peer, qint64 from_seq, qint64 before_seq,
                                    int limit);
  // One message of `peer`'s conversation by its local id, as history() has it; nullopt when
  // it is not, or no longer, on this device.
  std::optional<StoredMessage> message(const QString& peer, qint64 id);
  // The same by its sender and client_msg_id (what messageReceived and messageRevised name).
  std::optional<StoredMessage> message(const QString& peer, const QString& sender, const QByteArray& client_msg_id);
  // Full-text search over every local conversation (SQLite FTS5), newest first. Each word of
  // `text` matches as a prefix; FTS5 operators in it are taken literally. Empty with `error`
  // set when the query cannot run.
  QList<SearchHit> search(const QString& text, int limit, QString* error);
  // The user compared the safety number with `peer` (in person, or the QR code) and marks the
  // current identity key verified; a later key change clears it. False with `error` when no
  // identity key is known for `peer` yet.
  bool setVerified(const QString& peer, bool verified, QString* error);
  bool isVerified(const QString& peer);

  // ---- Groups (messenger_groups.cpp, messenger_groups_receive.cpp; docs/protocol.md, End-to-end envelope, Groups) ----
  // A group's messages live under the conversation peer groupPeer(id) = "#" + hex(id), so
  // history(), gaps(), markRead-free models and conversations() work per group.
  static QString groupPeer(const QByteArray& group_id);
  static QByteArray groupIdOf(const QString& peer);  // groupPeer's inverse
  // `error` empty on success. Membership changes need the relay (online).
  using GroupDone = std::function<void(const QByteArray& group_id, const QString& error)>;
  using Done = std::function<void(const QString& error)>;
  // Creates the group on the relay (we are its admin); `done` gets its 16-byte id. Our
  // sender key then goes to every member pairwise.
  void createGroup(const QString& name, const QStringList& members, GroupDone done);
  void addMembers(const QByteArray& group_id, const QStringList& users, Done done);
  void removeMembers(const QByteArray& group_id, const QStringList& users, Done done);
  void leaveGroup(const QByteArray& group_id, Done done);
  // Encrypts with our sender key (a new one first if a member left since the last message),
  // writes the outbox and returns the client_msg_id; the GroupSend follows. `reply_to` as
  // for sendText.
  std::optional<QByteArray> groupSend(const QByteArray& group_id, const QString& text, QString* error,
                                      qint64 reply_to = 0, Origin origin = Origin::Own);
  // Reacts to message `message_id` (its local id) of conversation `peer` ("#" + hex for a
  // group) with `emoji`, replacing our earlier reaction to it; an empty `emoji` takes ours
  // back. Stored here at once and sent to the conversation; false with `error` when the
  // message is not there or the emoji is not one (at most 32 bytes, no control characters).
  bool react(const QString& peer, qint64 message_id, const QString& emoji, QString* error);
  // Edits and deletion (messenger_revisions.cpp). Our message `message_id` of conversation
  // `peer` gets new words (a file: its caption, empty for none), or is taken back for
  // everyone: here at once, and sent to the conversation. Only within kReviseWindowMs of its
  // sending, and not one taken back; false with `error` otherwise.
  static constexpr qint64 kReviseWindowMs = 24LL * 3600 * 1000;
  bool editMessage(const QString& peer, qint64 message_id, const QString& text, QString* error);
  bool unsendMessage(const QString& peer, qint64 message_id, QString* error);
  // Deletes message `message_id` (anyone's) from this device only: its words, file and
  // reactions go, and it no longer shows. Not one of ours the relay has not taken yet.
  bool deleteLocally(const QString& peer, qint64 message_id, QString* error);
  // Deletes every message of conversation `peer` from this device, as deleteLocally does one
  // (words, files, reactions; lines of timer changes too), but for ours the relay has not
  // taken yet, which are on their way. The chat stays in the list, empty and read; nothing
  // is sent. The number of entries deleted, or -1 with `error`.
  int clearHistory(const QString& peer, QString* error);
  // What may be done to the message now, for a view's menu.
  struct Revisable {
    bool edit = false;    // ours, a text or a file, not taken back, within the window
    bool unsend = false;  // ours, not taken back, within the window
    bool remove = false;  // here, and not one of ours still waiting in the outbox
  };
  Revisable revisable(const QString& peer, qint64 message_id);
  // The local id of the message `client_msg_id` in conversation `peer` ("#" + hex for a
  // group), for naming it in reply_to; 0 when there is none, or when two senders' messages
  // there share the id (then `ambiguous` is set).
  qint64 messageIdOf(const QString& peer, const QByteArray& client_msg_id, bool* ambiguous = nullptr);
  QList<GroupMember> groupMembers(const QByteArray& group_id);
  // A signed change to the members did not follow from the ones known here (one was missed):
  // nothing is sent to the group until an admin removes us and adds us again.
  bool groupOutOfStep(const QByteArray& group_id);
  QList<QByteArray> groups();  // groups we are a member of
  static constexpr int kMaxGroupAvatarBytes = 64 * 1024;
  GroupInfo groupInfo(const QByteArray& group_id);
  QString groupName(const QByteArray& group_id);
  QString groupDescription(const QByteArray& group_id);
  QByteArray groupAvatar(const QByteArray& group_id);
  // Admins only (checked against the local member list; members ignore it from anyone
  // else): sends the group's new name, description and avatar to every member as one
  // GROUP_INFO group message and applies it here. The relay never sees any of them. The
  // avatar is the encoded image as it should be shown (the app scales it first).
  bool setGroupInfo(const QByteArray& group_id, const GroupInfo& info, QString* error);
  // setGroupInfo keeping the avatar / keeping the name and description.
  bool renameGroup(const QByteArray& group_id, const QString& name, const QString& description,
                   QString* error);
  bool setGroupAvatar(const QByteArray& group_id, const QByteArray& avatar, QString* error);
  // Why `avatar` cannot be a group avatar, or empty when it can (empty bytes: no avatar).
  static QString groupAvatarProblem(const QByteArray& avatar);

  // Receipts for our group messages (messenger_group_receipts.cpp), counting the members each
  // went to as its ticks do (sync/group_ticks.hpp): members now who joined before it.
  // Both counts and the M of one message (M: the members now for one not numbered yet).
  ReceiptCounts receiptsOf(const QByteArray& group_id, const QByteArray& client_msg_id);
  // Those whose device has our group message (a relay delivery mark, or their read receipt):
  // "delivered to N of M".
  int deliveredCount(const QByteArray& group_id, const QByteArray& client_msg_id);
  // Those who sent an end-to-end read receipt for it: "read by N of M".
  int readCount(const QByteArray& group_id, const QByteArray& client_msg_id);
  // The group's members other than us, now: the M of a message not numbered yet.
  int recipientCount(const QByteArray& group_id);
  // For every one of our numbered messages in the group: both counts and its M (three
  // queries, whatever the number of messages).
  QHash<QByteArray, ReceiptCounts> receiptCounts(const QByteArray& group_id);
  // Per member, for a "message info" view: every current member other than us (and anyone
  // no longer a member who had received it), read ones first, then delivered, then waiting.
  QList<MemberReceipt> receiptDetails(const QByteArray& group_id, const QByteArray& client_msg_id);

  // ---- Files (messenger_media.cpp; docs/protocol.md, Media) ----
  // A transfer runs in the background and is named by the id these return (0 on an error
  // found at once, with `error` set). While bytes move, transferProgress reports ciphertext
  // bytes done of total (an upload is preceded by encryption at disk speed, not reported);
  // it ends with exactly one transferFinished or transferFailed, whose text is for the user.
  // Nothing is sent or saved by a failed or cancelled transfer.
  //
  // Encrypts `path` under a fresh key (streaming, on a worker thread), uploads the
  // ciphertext (resuming after dropped connections) and then sends `peer` the message that
  // carries the key, hash, name, type and (images) a thumbnail. transferFinished names the
  // new message's client_msg_id; its delivery is reported like a text's.
  // The file is kept in the profile's queue of files to send (below) until its message is
  // queued, so one the app was sending when it quit or crashed is still there when it opens;
  // a transfer that fails leaves the queue, since its caller hears why. The same file to the
  // same conversation with the same caption, left queued by an earlier process that stopped
  // part-way (a command run again), goes on instead of being queued twice.
  qint64 sendFile(const QString& peer, const QString& path, const QString& caption, QString* error,
                  qint64 reply_to = 0);
  // sendFile in two steps, for a view that sends a conversation's files one at a time:
  // queueFile checks the file and records it (its id, 0 with `error`); sendQueuedFile starts
  // it (a transfer id, as sendFile returns). A queued file stays until its message is queued,
  // its transfer is cancelled, or forgetFile; a failed transfer leaves it queued, to try again.
  // queuedFiles lists them oldest first, each with the client_msg_id its message will have.
  struct QueuedFile {
    qint64 id = 0;
    QString peer;
    QString path;
    QString caption;
    QByteArray clientMsgId;
    QByteArray quote;  // a serialised e2e::Quote when the file's message answers another
    Origin origin = Origin::Own;
  };
  // `reply_to` as for sendText: the quote is taken now, and goes with the file's message.
  qint64 queueFile(const QString& peer, const QString& path, const QString& caption, QString* error,
                   qint64 reply_to = 0, Origin origin = Origin::Own);
  qint64 sendQueuedFile(qint64 file, QString* error);
  void forgetFile(qint64 file);
  QList<QueuedFile> queuedFiles();
  // Downloads the file of message `clientMsgId` (Range requests, resumable), checks its
  // SHA-256, decrypts it and saves it in `dir` under its (sanitised) name, never overwriting
  // an existing file. transferFinished names the saved path.
  qint64 fetchAttachment(const QByteArray& clientMsgId, const QString& dir, QString* error);
  // Stops a transfer; transferFailed(id, "cancelled") follows. Unknown ids are ignored.
  void cancelTransfer(qint64 id);
  std::optional<AttachmentInfo> attachment(const QByteArray& clientMsgId);

 signals:
  void transferProgress(qint64 id, qint64 done, qint64 total);
  // The connection dropped and the transfer continues at `offset`, keeping what already moved.
  void transferResumed(qint64 id, qint64 offset);
  void transferFinished(qint64 id, const QByteArray& clientMsgId, const QString& path);
  void transferFailed(qint64 id, const QString& error);
  void stateChanged(parley::client::RelayClient::State state);
  void messageReceived(const QString& peer, const QByteArray& clientMsgId);
  void messageSent(const QString& peer, const QByteArray& clientMsgId);  // queued locally
  // The reactions to message (sender, clientMsgId) of conversation `peer` changed (ours or
  // someone else's).
  void reactionsChanged(const QString& peer, const QString& sender, const QByteArray& clientMsgId);
  // Message (sender, clientMsgId) of conversation `peer` was edited, taken back by its
  // sender, or deleted from this device.
  void messageRevised(const QString& peer, const QString& sender, const QByteArray& clientMsgId);
  void messageStatusChanged(const QString& peer, const QByteArray& clientMsgId, int status);
  void typingChanged(const QString& peer, bool active);
  void presenceChanged(const QString& peer, bool online, qint64 lastSeenMs);
  void identityKeyChangedFor(const QString& peer);
  void chainBroken(const QString& peer, const QByteArray& clientMsgId);
  void outboxDrained();
  // Groups. kind: the wire GroupEvent.Kind (CREATED, ADDED, REMOVED, LEFT, ADMIN_CHANGED).
  void groupOutOfStepChanged(const QByteArray& group_id, bool outOfStep);
  void groupChanged(const QByteArray& group_id, int kind, const QString& actor,
                    const QStringList& targets);
  void groupMessageReceived(const QByteArray& group_id, const QString& sender,
                            const QByteArray& clientMsgId);
  void groupDeliveryChanged(const QByteArray& group_id, const QByteArray& clientMsgId, int delivered);
  // `reader` sent a read receipt for our group message; `read` is readCount() now.
  void groupReadChanged(const QByteArray& group_id, const QByteArray& clientMsgId,
                        const QString& reader, int read);
  // An admin (`actor`; us included) changed the group's name, description or avatar
  // (groupAvatar() has the new one), or a member's sender key gave us the group's name and
  // description for the first time (`actor` is that member).
  void groupInfoChanged(const QByteArray& group_id, const QString& actor, const QString& name,
                        const QString& description);
  void problem(const QString& text);  // for the user; never contains secrets
  // The store is damaged (storeDamaged()): said once per messenger, with storeDamageReport().
  void storeDamageFound(const QString& report);
  void verificationChanged(const QString& peer, bool verified);
  // setMuted, setPinned, setMarkedUnread or setArchived changed `peer`'s settings (and
  // markRead, the mark), a message sent or received there brought it out of the archive, or
  // its disappearing-messages timer changed, from here or from the other side (a line in its
  // history with it).
  void chatSettingsChanged(const QString& peer);
  // Read here just now, messages of `peer` under a disappearing-messages timer began their
  // countdown (StoredMessage::expiresAtMs).
  void countdownsStarted(const QString& peer);
  // clearHistory emptied `peer`'s history on this device.
  void historyCleared(const QString& peer);
  // setDraft changed what is kept as `peer`'s draft.
  void draftChanged(const QString& peer);

 private:
  Messenger(std::unique_ptr<ProfileLock> lock, Profile profile, std::unique_ptr<Database> db);
  // `stored_key` as kept in contacts; empty with `error` when it is not a key.
  QString safetyNumberWith(const QString& peer, const QByteArray& stored_key, QString* error) const;
  // contacts.pending_identity_key; nullopt when none, or when the read failed (`failure` set).
  std::optional<QByteArray> pendingKeyOf(const QString& peer, QString* failure);
  void wireRelay();
  void onLoggedIn(const wire::ServerFrame& f);
  void onPush(const wire::ServerFrame& f);
  // Received messages are stored in batches: one commit (one fsync) per event-loop turn, and
  // always before a frame leaves (RelayClient::beforeSend), so an ack never names an entry
  // that is not on disk.
  void beginReceiveBatch();
  bool commitReceiveBatch();  // false: the commit failed, nothing of the batch is stored
  // Where each chat setting starts (messenger_chat_settings.cpp): a receive batch still open
  // committed, then whether `peer`'s conversation is pinned; nullopt with `error` when it
  // could not be committed or there is no such conversation.
  std::optional<bool> chatSettingTarget(const QString& peer, QString* error);
  // A received entry could not be stored (`what`, for the user).
  void receiveFailed(const QString& what);
  // Nothing of the receive batch is kept or acknowledged; a new login has the relay send it
  // all again from the last saved ack.
  void refetchFromLastAck(const QString& why);

  // messenger_prekeys.cpp
  bool createPrekeys(int one_time_count);
  void uploadPrekeys(bool include_signed, std::function<void(bool)> done = {});
  void topUpPrekeys(std::uint32_t left);
  void rotateSignedPrekeyIfDue();
  // Once a day at most (at login, and checked hourly): skipped message keys past their age
  // leave every stored session and sender key.
  void expireSkippedKeysIfDue();

  // messenger_send.cpp
  // `client_msg_id`: the id the message takes (a queued file's); a new one when empty.
  std::optional<QByteArray> enqueue(const QString& peer, e2e::Content content, QString* error,
                                    const QByteArray& group_id = {},
                                    const QByteArray& client_msg_id = {});
  void flushOutbox();
  void sendOutboxEntry(qint64 seq);
  void encryptEntry(qint64 seq, const QString& peer, const QByteArray& content);
  void onSendAck(qint64 seq, const wire::ServerFrame& f);
  // Takes an entry that can never go out of the outbox, tells the user why and marks its
  // message Failed.
  void failOutboxEntry(qint64 seq, const QString& problem_text);

  // messenger_receive.cpp
  void onDeliver(const wire::Deliver& d);
  // The plaintext, and the session change that produced it. `save` runs inside the
  // transaction that stores the message: the ratchet never moves past a key unless the
  // message it opened is stored (or knowingly dropped) in the same commit.
  struct Decrypted {
    QByteArray plaintext;
    std::function<bool()> save;
  };
  std::optional<Decrypted> decrypt(const QString& sender, std::uint32_t device,
                                   const QByteArray& envelope);
  void scheduleAck(std::uint64_t seq);
  // Sends the whole presence_watched_ set (the relay replaces its set with each request).
  void sendPresenceSet();
  // An entry handled without storing anything (a duplicate, a relay's mistake): the cursor
  // moves past it, `problem_text` (if any) goes to the user, and it is acknowledged.
  void dropEntry(std::uint64_t seq, const QString& problem_text);
  void noteEvictions(const QString& peer, const QString& sender, int by_share, int by_total);

  // messenger_marks.cpp: delivery marks (sync/delivery_marks.hpp) applied and announced.
  void onDeliveryMarks(const wire::DeliveryMarks& frame);
  // After a SendAck numbered our message: marks that arrived before it may cover it already.
  void applyStoredMarks(const QString& peer, const QByteArray& group_id, const QByteArray& id,
                        qint64 conv_seq);
  void announceMarks(const marks::MarkEffects& fx);  // after the commit
  // Tells views our messages' ticks moved: queued until the current handling and its receive
  // batch have committed, and only what the store then holds (a change rolled back, or
  // passed by a later one, is not told).
  void announceTicks(const QString& peer, const QList<QPair<QByteArray, MessageStatus>>& moved);
  void flushTicks();
  struct TickNews {
    QString peer;
    QByteArray client_msg_id;
    MessageStatus status;
  };
  QList<TickNews> tick_news_;

  // groups: messenger_groups_receive.cpp (receiving), messenger_groups.cpp (sending, membership)
  struct GroupEntry {
    QByteArray group_id;
    QString sender;
    QByteArray client_msg_id;
    qint64 conv_seq = 0;
    qint64 server_ts_ms = 0;
    QByteArray ciphertext;
  };
  enum class GroupOpen { Stored, Duplicate, NoKey, Bad, NotMember, StoreFailed };
  void onGroupDeliver(const wire::Deliver& d);
  void onGroupEvent(const wire::Deliver& d);
  // Decrypts and stores one group message; `extra` runs inside the same transaction.
  // `fresh`: just delivered (its sender's membership is checked), not kept waiting for a key.
  GroupOpen openGroupMessage(const GroupEntry& e, const std::function<bool()>& extra, bool fresh);
  // Called (inside the receiving transaction) for a pairwise SENDER_KEY Content.
  // `info_changed`: the group's name or description was set from it (we had none yet).
  bool storeSenderKey(const QString& sender, const e2e::Content& content, bool* info_changed);
  void retryPendingGroupMessages(const QByteArray& group_id, const QString& sender);
  // Makes our sender key for the group (a new one if rotation is due or `rotate`) and
  // enqueues it pairwise to every member who lacks it.
  bool distributeSenderKey(const QByteArray& group_id, bool rotate = false);
  // Inside a transaction: we no longer send to the group, nor keep what we gave its members.
  bool dropOwnSenderKey(const QByteArray& group_id);
  // A sender key that never came (messenger_sender_key_requests.cpp): asks the owners of the
  // keys that group messages wait for here to send them again, each when due; then sets
  // key_request_timer_ for the next one.
  void requestMissingSenderKeys();
  void armKeyRequests(qint64 delay_ms);
  void keyAwaited();  // a message was kept for its key: the sweep runs when it is due
  // `member` asked for our key to a group again (SENDER_KEY_REQUEST): sent as we once sent
  // it to them, if we did and it is still ours.
  void answerSenderKeyRequest(const QString& member, const e2e::Content& request);
  // Encrypts `content` (GROUP_TEXT, READ_RECEIPT, GROUP_INFO) with our sender key and queues
  // it as a GroupSend; `text` non-empty: also stored as our visible message.
  std::optional<QByteArray> enqueueGroup(const QByteArray& group_id, e2e::Content content,
                                         const QString& text, QString* error,
                                         const QByteArray& client_msg_id = {});
  // Sets name, description and avatar from a GROUP_INFO if `seq` is newer than the one that
  // set them (inside a transaction); true when it changed.
  bool applyGroupInfo(const QByteArray& group_id, const e2e::Content& info, qint64 seq);
  // Queues a GROUP_INFO carrying `info` to the group (messenger_group_info.cpp).
  bool announceGroupInfo(const QByteArray& group_id, const GroupInfo& info, QString* error);
  bool isAdmin(const QByteArray& group_id, const QString& username);

  // messenger_group_membership.cpp: signed membership changes, ours and the relay's events.
  struct GroupState {
    bool member = false;
    bool out_of_step = false;  // groups.out_of_step is set (the epoch of a change we could not take)
    qint64 epoch = 0;  // of the last change we took (0: none)
    GroupSeats seats;  // joining order; empty unless member
  };
  GroupState groupState(const QByteArray& group_id);
  struct SignedGroupChange {
    std::string signature;
    GroupSeats after;
    qint64 epoch = 0;  // the group's after it
  };
  // Our change, made from the members we know and signed; nullopt with `why` if the rules
  // refuse it (not an admin, not a member, nothing changes).
  std::optional<SignedGroupChange> signGroupChange(const QByteArray& group_id, GroupChange change, QString* why);
  // Signs `change`, asks the relay for it and, once made, applies it here with `applied`
  // (inside the same transaction) before `done`, unless its event came back first.
  using ChangeDone = std::function<bool()>;
  void changeGroup(const QByteArray& group_id, GroupChange change, ChangeDone applied, Done done);
  // Writes `after` as the group's members and `epoch` as its epoch (inside a transaction);
  // joining, fills an empty name and description from what its members' keys offered.
  // `joined_seq`: the group seq of the change, which members it adds joined at (0 for a new
  // group's first members). Members it drops no longer hold back our messages' ticks; members
  // it adds regrade those numbered after it (sync/group_ticks.hpp).
  bool saveGroupSeats(const QByteArray& group_id, const GroupSeats& after, qint64 epoch, qint64 joined_seq);
  bool isMember(const QByteArray& group_id, const QString& name);
  // Whether a message from `sender` numbered `conv_seq` may open now: a member, or one we
  // removed whose removal (at a later seq) has not come back to us yet.
  bool mayWrite(const QByteArray& group_id, const QString& sender, qint64 conv_seq);
  // The key `actor`'s changes must be signed with: ours, the contact's, or (a stranger) `offered`.
  std::optional<crypto::PublicKey> actorKey(const QString& actor, const std::string& offered);
  struct EventCheck {
    enum Outcome { Refused, AlreadyApplied, Apply } outcome = Refused;
    GroupChange change;
    GroupSeats after;
    crypto::PublicKey actor_key;
    bool out_of_step = false;  // Refused: signed, but we missed a change before it
    bool echo = false;         // AlreadyApplied: our own latest change coming back
    QString problem;           // Refused: why, with %1 for the group
  };
  EventCheck checkGroupEvent(const QByteArray& group_id, const wire::Deliver& d);
  // Groups joined before member lists were signed: takes the relay's order of the members if
  // they and their admin flags are exactly ours (order adds no one); otherwise the group is
  // out of step.
  void adoptRelayOrder();

  // messenger_media.cpp
  struct Transfer {
    QPointer<media::TransferJob> job;  // null while encrypting
    std::shared_ptr<std::atomic<bool>> cancelled;
    QString temp_path;                 // removed when it ends or the messenger closes: a
                                       // second download's scratch, a cancelled upload's copy
    QString reserved_path;             // a download's target, made empty when it started
    QString cache_path;                // a download's ciphertext, as it collects
    qint64 file = 0;                   // an upload's row in file_sends
    bool forget_on_failure = false;    // sendFile's: the caller reports a failure, not the queue
    QByteArray msg_id;                 // a download's message
  };
  // After a message with a file was taken back or deleted here: its downloads stop, and what
  // this device keeps of it goes (a copy downloaded inside the profile folder, the partial
  // ciphertext kept for resuming); a copy saved outside the profile is the user's and stays.
  void dropFileOf(const QByteArray& msg_id, const QByteArray& media_id, const QString& local_path,
                  bool stop_downloads);
  // Noted by reviseRow inside its transaction, carried out after it (settleRemovals): a
  // removal that was rolled back drops nothing; one made just before the messenger closes,
  // or by a command that never runs the event loop, is carried out when it closes.
  struct FileDrop {
    QString sender;
    QByteArray msg_id, media_id;
    QString local_path;
  };
  std::vector<FileDrop> file_drops_;
  bool scrub_due_ = false;
  void settleRemovals(bool closing = false);
  QNetworkAccessManager& nam();
  // `earlier`: the media id of an upload of this copy begun by an earlier try, to go on with.
  void uploadEncrypted(qint64 id, const QueuedFile& file, std::shared_ptr<e2e::Attachment> attachment,
                       const QByteArray& earlier);
  std::optional<QueuedFile> queuedFile(qint64 file);
  // The conversation a file goes to, as file_sends names it: a folded username, or a group
  // we are a member of; nullopt with `error` otherwise.
  std::optional<QString> filePeer(const QString& raw_peer, QString* error);
  // A queued file's encrypted copy, `<profile>/media-out/file-<id>.enc`: made once, kept with
  // the row (its attachment and upload's media id in file_sends), so a later try goes on
  // uploading it instead of starting again under a new key.
  QString copyOf(qint64 file) const;
  std::optional<std::pair<e2e::Attachment, QByteArray>> copyRecordOf(qint64 file);
  void removeStaleCopies();
  // A transfer's own files when it ends (unfinished: failed, cancelled or cut off by close).
  static void removeFilesOf(const Transfer& t, bool unfinished);
  void endTransfer(qint64 id, const QString& error, const QByteArray& msg_id = {},
                   const QString& path = {});
  // Inside the transaction that stores message (sender, id): its attachment row.
  bool storeAttachment(const QString& sender, const QString& peer, const QByteArray& id,
                       const e2e::Attachment& a, const QString& local_path);
  static bool validAttachment(const e2e::Attachment& a);
  // Another sender's file already has this message id. Files are looked up by id alone
  // (attachment(), fetchAttachment()), so a second one under the same id (a member copying
  // the id of a message it saw) would stand in for the first: such a message is refused.
  bool attachmentIdTaken(const QByteArray& id, const QString& sender);
  static QString attachmentBody(const e2e::Content& c);
  // Replies (messenger_replies.cpp). Sets content's quote from message `reply_to` of the
  // conversation `peer`; false with `error` when it is not there.
  bool quoteMessage(const QString& peer, qint64 reply_to, e2e::Content& content, QString* error);
  // A received content's quote, kept if well-formed and naming someone who can be quoted in
  // this conversation (`parties`, empty: anyone, as in a group); otherwise cleared, and the
  // user told that `sender`'s reply is shown without it. The message itself is kept.
  // A quote of a message of `peer` taken back keeps no words.
  void checkQuote(e2e::Content& content, const QString& peer, const QString& sender, const QStringList& parties);
  // The quote's words go when its message is gone for everyone (taken back, or disappeared):
  // for a reply received after that, or one of ours queued after it (a file still uploading
  // when it went).
  void dropGoneQuote(const QString& peer, e2e::Content& content);
  // Reactions (messenger_reactions.cpp). Inside the transaction that handles a received
  // REACTION in conversation `peer` from `reactor`: stores it unless malformed (said to the
  // user) or older than the reactor's last one to that message; `parties` as for checkQuote.
  bool storeReaction(const QString& peer, const QString& reactor, const e2e::Content& content,
                     const QStringList& parties);
  // Inside a transaction: reactor's reaction (empty: taken back) as of at_ms, unless an
  // equally new or newer one is stored; true also when it was older (nothing to do).
  bool saveReaction(const QString& peer, const QString& target_sender, const QByteArray& target_id,
                    const QString& reactor, const QString& emoji, qint64 at_ms);

  // Edits and deletion (messenger_revisions.cpp). Inside the transaction that handles a
  // received EDIT or UNSEND from `sender` in conversation `peer`, delivered by the relay at
  // `relay_ms`: applies it to the sender's message unless malformed or too late (said to the
  // user), older than the edit shown, or the message is not here.
  bool storeRevision(const QString& peer, const QString& sender, const e2e::Content& content,
                     qint64 relay_ms);
  // Inside the transaction that stores a group message which waited for its sender's key:
  // the change to it that waited too, if any.
  bool applyHeldRevision(const QString& peer, const QString& sender, const QByteArray& client_msg_id);
  // Checks a received change against message `t` (window, not emptying a text) and applies it.
  bool applyRevision(const detail::RevisionTarget& t, const QString& peer, bool unsend, const QString& text,
                     qint64 at_ms, qint64 relay_ms);
  bool refuseRevision(const QString& sender, const QString& why);  // tells the user; true
  // Expire: its time (disappearing messages) is up: gone here, and from the replies quoting it.
  enum class Revision { Edit, Unsend, DeleteHere, Withdraw, Expire };
  // Inside a transaction: applies `kind` to message `t` of conversation `peer`; an edit only
  // if `at_ms` is not older than the one shown, and only to a message still there.
  bool reviseRow(const detail::RevisionTarget& t, const QString& peer, Revision kind, const QString& text,
                 qint64 at_ms);
  // What the user sees of message `t` now: its text, or a file's caption (empty: none).
  QString currentWords(const detail::RevisionTarget& t);
  // Our queued message `t`, never handed to the relay, taken out of the outbox and deleted
  // here; the 1:1 messages queued after it are linked to what preceded it.
  enum class Withdrawal { Done, NotPossible, Failed };
  Withdrawal withdrawQueued(const QString& peer, const detail::RevisionTarget& t);
  // Our EDIT or UNSEND of our message `message_id`: checked, queued, then applied here.
  bool sendRevision(const QString& peer, qint64 message_id, Revision kind, const QString& text, QString* error);

  // Inside a transaction: message `id` of `peer` has reached its end (disappearing messages).
  bool expireRow(const QString& peer, qint64 id);

  // Disappearing messages (messenger_disappearing.cpp). Inside a transaction: `sender`'s change
  // of `peer`'s timer to `seconds` (clamped to kMaxExpireTimerS), written at `at_ms` by their
  // clock, with message id `client_msg_id`, numbered `conv_seq` by the relay (-1: ours, not
  // yet). It becomes a line in the history, and the setting (`applied`) when it is ours or
  // numbered after the change in force. False on a store failure.
  bool recordExpireTimer(const QString& peer, const QString& sender, const QByteArray& client_msg_id,
                         qint64 conv_seq, qint64 server_ts, qint64 seconds, qint64 at_ms,
                         bool* applied = nullptr);
  // Inside a transaction: `seconds` becomes `peer`'s timer if numbered `conv_seq` after the
  // change in force (-1: ours, provisionally, until its number comes).
  bool settleTimer(const QString& peer, qint64 seconds, qint64 conv_seq, bool* applied);
  // Inside the transaction of its SendAck: our change to `seconds` was numbered `conv_seq`.
  bool settleOwnTimer(const QString& peer, qint64 seconds, qint64 conv_seq, bool* applied);
  // The same for our entry `client_msg_id`, if it is a timer change; `changed`: the setting moved.
  bool onOwnTimerNumbered(const QString& peer, const QByteArray& client_msg_id, qint64 conv_seq, bool* changed);
  // Inside the transaction that fails its outbox entry: if `client_msg_id` is our timer
  // change, the timer is settled as if it had never been made.
  bool undoRefusedTimer(const QString& peer, const QByteArray& client_msg_id, bool* changed);
  // Inside the transaction of its SendAck (or failure): our message `client_msg_id` starts
  // counting down, if it has a lifetime.
  bool startOwnCountdown(const QString& peer, const QByteArray& client_msg_id);
  // The countdown of `peer`'s unread messages with a lifetime starts now
  // (they are being read). For markRead, before it marks them seen.
  bool startCountdowns(const QString& peer);
  // Deletes what is due, then sets sweep_timer_ for the next one.
  void sweepExpired();
  void armSweep();

  std::uint64_t lastAcked();
  void setStatus(const QString& peer, const QByteArray& id, MessageStatus s, qint64 conv_seq = -1,
                 qint64 server_ts = 0);
  bool noteSeq(const QString& peer, std::uint64_t conv_seq);

  // First, so it is released after the members (the database, the relay connection); the
  // QObject children (network manager, jobs awaiting deleteLater) go after it, harmlessly.
  std::unique_ptr<ProfileLock> lock_;
  Profile profile_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<RelayClient> relay_;
  std::set<qint64> in_flight_;      // outbox seqs sent and not yet answered
  std::set<QString> fetching_bundle_;  // one X3DH per peer at a time; the rest wait for it
  std::uint64_t ack_pending_ = 0;
  // Messages waiting for a sender's key that were dropped in this turn of the event loop, told
  // once at its end: by (group peer, sender) over that sender's share, and the oldest of
  // anyone's over the total.
  std::map<std::pair<QString, QString>, int> evicted_by_share_;
  int evicted_by_total_ = 0;
  // Set when marks may have been lost from the store (a frame or a receive batch failed to
  // commit): later frames would move last_mark_version past them, so every frame is ignored
  // until the reconnect's login asks the relay for them again.
  bool marks_paused_ = false;
  bool ack_scheduled_ = false;
  // An outbox flush waiting for a refusal or a failure to pass (a rate limit, a full inbox, a
  // busy relay): the earliest of the waits the relay asked for. retryOutboxIn starts it.
  QTimer retry_timer_;
  qint64 retry_due_ms_ = 0;
  void retryOutboxIn(std::uint32_t relay_wait_ms, const QString& why);
  // The last such wait but a full inbox's, for whyQueued: "<why>; trying again in N s".
  QString retry_note_;
  qint64 retry_note_until_ms_ = 0;
  // Hourly: a client that stays logged in for weeks still drops expired skipped keys.
  QTimer key_expiry_timer_;
  // Shortly after words were taken out of messages (one run for a burst of changes): the
  // store keeps no copy of them (Database::scrubRemovedWords).
  QTimer scrub_timer_;
  // Due at the next message's end (disappearing messages), and at least once a minute: a
  // QTimer stands still while the machine sleeps.
  QTimer sweep_timer_;
  // Due when the next key that group messages wait for is to be asked for again.
  QTimer key_request_timer_;
  // Peers whose inbox on the relay was full, with the outbox seq of the oldest message
  // refused: only their oldest queued message goes, on each retry, until one from there on
  // is taken; then the rest follow in order. `our_share`: it is our share of that inbox that
  // is full (Error.sender_share_full), not the whole inbox.
  struct FullInbox {
    qint64 oldest_seq;
    bool our_share;
  };
  std::map<QString, FullInbox> inbox_full_;
  // Peers one of whose messages the relay asked to wait (RATE_LIMITED) or could not take
  // (UNAVAILABLE, INTERNAL, a lost connection), with the outbox seq of the oldest refused:
  // handled as a full inbox is, oldest alone until one from there on is taken. The messages
  // sent behind a refused one are refused too (the relay holds the sender for a second,
  // protocol.md "Order behind a refusal"); were they all offered again at once, the first
  // could be refused once more and one behind it taken just as the hold ends, ahead of it.
  std::map<QString, qint64> asked_to_wait_;
  // What to say about a full inbox: "<who> has too many ..." or that our share is full (for a
  // group, always our share of the group logs).
  static QString fullInboxReason(const QString& peer, bool our_share);
  QSet<QString> presence_watched_;  // what subscribePresence was asked for
  bool presence_sent_ = false;      // ... and sent since the last login
  // A received entry failed to store: the rest of this connection's deliveries are ignored
  // until the reconnect refetchFromLastAck() starts (or stop()).
  bool receive_broken_ = false;
  bool outbox_unreadable_ = false;  // said once, until the outbox reads whole again
  bool store_damaged_ = false;  // a page of the store failed its check: said once
  int refetches_ = 0;  // since a receive batch last committed: the reconnect's backoff
  QNetworkAccessManager* nam_ = nullptr;  // made on first use, child of this
  QNetworkProxy proxy_{QNetworkProxy::DefaultProxy};
  std::map<qint64, Transfer> transfers_;
  qint64 next_transfer_ = 1;
};

}  // namespace parley::client
