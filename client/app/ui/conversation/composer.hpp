#pragma once
// The message field under a conversation: multi-line, Enter sends, Shift+Enter starts a new
// line, grows up to six lines, keeps a draft per conversation (in the messenger's store, so
// it outlives the window: saved a second after typing stops, on switching chats and on
// quitting; a chat with no conversation yet keeps it in memory), and reports typing (started
// on the first keystroke, stopped after five quiet seconds or on send). Emoji and other
// scripts come through the system input method like in any Qt text field.
//
// Files come in three ways — the paperclip button, dropping them, pasting them (or a
// copied picture, saved as a PNG first) — and wait above the text field (PendingFiles)
// until the message is sent; the text then goes with the last one as its caption. A reply
// shows what it answers above them (ReplyBar).
//
// Thread: the GUI thread.
#include <QHash>
#include <QImage>
#include <QPlainTextEdit>
#include <QStringList>
#include <QTimer>
#include <functional>
#include <utility>

#include "conversation/reply_bar.hpp"

class QMimeData;
class QToolButton;

namespace parley::app {

class MentionCompleter;
class PendingFiles;

// What a drop or a paste carries that Parley sends as files: local files, or else a picture.
struct DroppedFiles {
  QStringList paths;
  QImage image;
  bool empty() const { return paths.isEmpty() && image.isNull(); }
};
DroppedFiles filesIn(const QMimeData* mime);

class ComposerEdit : public QPlainTextEdit {
  Q_OBJECT
 public:
  using QPlainTextEdit::QPlainTextEdit;
  // While set, Escape is the field's (escaped()) rather than the window's shortcut, which
  // closes the conversation: it stops a reply first.
  void setClaimsEscape(bool claims) { claims_escape_ = claims; }
  // While it offers names, Enter, Tab and Esc are its (take one, or dismiss), not the field's.
  void setMentions(const MentionCompleter* mentions) { mentions_ = mentions; }

 signals:
  void submitted();
  void escaped();
  void filesInserted(const parley::app::DroppedFiles& files);

 protected:
  bool event(QEvent* e) override;
  void keyPressEvent(QKeyEvent* e) override;
  bool canInsertFromMimeData(const QMimeData* source) const override;
  void insertFromMimeData(const QMimeData* source) override;

 private:
  bool claims_escape_ = false;
  const MentionCompleter* mentions_ = nullptr;
};

class Composer : public QWidget {
  Q_OBJECT
 public:
  explicit Composer(QWidget* parent = nullptr);

  // Switches to another conversation, keeping the current draft for when it comes back.
  void setConversation(const QString& peer, const QString& title);
  // Whom "@" offers in this conversation (a group's other members; none in a 1:1 chat).
  void setMentionable(const QStringList& names);
  MentionCompleter* mentions() const { return mentions_; }
  // Where drafts are kept beyond this window (the messenger's store). `save` returns false
  // when it cannot keep one (a chat with no conversation yet), which then stays in memory;
  // `load` gives a kept one back, with the message it answers. Unset: drafts live as long as
  // the window.
  struct DraftKeeper {
    std::function<bool(const QString& peer, const QString& text, qint64 reply_to)> save;
    std::function<std::pair<QString, ReplyTarget>(const QString& peer)> load;
  };
  void setDraftKeeper(DraftKeeper keeper) { keeper_ = std::move(keeper); }
  // Keeps the open conversation's words and reply as its draft now (a pause in typing does
  // so after kDraftSaveMs).
  void saveDraft();
  static constexpr int kDraftSaveMs = 1000;
  ComposerEdit* editor() const { return edit_; }
  QToolButton* sendButton() const { return send_; }
  QToolButton* attachButton() const { return attach_; }
  PendingFiles* pendingFiles() const { return pending_; }
  // Where a pasted picture is written before it is sent (the profile's files folder).
  void setPasteDir(const QString& dir) { paste_dir_ = dir; }
  // Adds files to the next message; reports each refused one through problem().
  void addFiles(const QStringList& paths);
  void addImage(const QImage& image);
  void add(const DroppedFiles& files);
  // After a send: empties the text and the files that went.
  void clearSent(bool text, const QStringList& files);
  // The next message answers `target`; shown above the field until it is sent or the user
  // stops replying, and kept with the conversation's draft while another is open.
  void setReply(const ReplyTarget& target);
  void clearReply();
  qint64 replyTo() const;
  // Edits our message `target` (target.editing): the field takes its words until the edit is
  // sent (finishEdit) or given up (Escape, the cross, another conversation); then the draft
  // and the reply that were there come back.
  void startEdit(const ReplyTarget& target);
  void finishEdit();
  qint64 editing() const { return editing_.messageId; }
  ReplyBar* replyBar() const { return reply_; }
  bool typing() const { return typing_; }
  static constexpr int kTypingIdleMs = 5000;

 signals:
  void sendRequested(const QString& text, const QStringList& files);
  // Send while editing: the message's new words (empty only for a file's caption).
  void editRequested(qint64 message_id, const QString& text);
  void typingChanged(bool active);
  void problem(const QString& text);

 private:
  void submit();
  void onTextChanged();
  void setTyping(bool active);
  void fitHeight();
  void updateSendEnabled();
  void chooseFiles();

  ComposerEdit* edit_;
  QToolButton* send_;
  QToolButton* attach_;
  PendingFiles* pending_;
  MentionCompleter* mentions_;
  ReplyBar* reply_;
  QString paste_dir_;
  QHash<QString, QStringList> draft_files_;
  QTimer idle_;
  bool typing_ = false;
  QString peer_;
  // Drafts the keeper could not take, and what pending_ held, by conversation.
  QHash<QString, QString> drafts_;
  QHash<QString, ReplyTarget> draft_replies_;
  DraftKeeper keeper_;
  QTimer save_;  // a pause in typing, or a reply set or stopped: saveDraft
  // While editing: the message, and the draft and reply it set aside.
  ReplyTarget editing_;
  QString text_before_edit_;
  ReplyTarget reply_before_edit_;
};

}  // namespace parley::app
