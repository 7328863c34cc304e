#pragma once
// The message field under a conversation: multi-line, Enter sends, Shift+Enter starts a new
// line, grows up to six lines, keeps a draft per conversation, and reports typing (started
// on the first keystroke, stopped after five quiet seconds or on send). Emoji and other
// scripts come through the system input method like in any Qt text field.
//
// Thread: the GUI thread.
#include <QHash>
#include <QPlainTextEdit>
#include <QTimer>

class QToolButton;

namespace parley::app {

class ComposerEdit : public QPlainTextEdit {
  Q_OBJECT
 public:
  using QPlainTextEdit::QPlainTextEdit;

 signals:
  void submitted();

 protected:
  void keyPressEvent(QKeyEvent* e) override;
};

class Composer : public QWidget {
  Q_OBJECT
 public:
  explicit Composer(QWidget* parent = nullptr);

  // Switches to another conversation, keeping the current draft for when it comes back.
  void setConversation(const QString& peer, const QString& title);
  ComposerEdit* editor() const { return edit_; }
  QToolButton* sendButton() const { return send_; }
  bool typing() const { return typing_; }
  static constexpr int kTypingIdleMs = 5000;

 signals:
  void sendRequested(const QString& text);
  void typingChanged(bool active);

 private:
  void submit();
  void onTextChanged();
  void setTyping(bool active);
  void fitHeight();

  ComposerEdit* edit_;
  QToolButton* send_;
  QTimer idle_;
  bool typing_ = false;
  QString peer_;
  QHash<QString, QString> drafts_;
};

}  // namespace parley::app
