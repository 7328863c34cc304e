#pragma once
// Above the message field while the next message answers an earlier one: whom and what it
// answers, in the quote's colours, and a cross (or Escape in the field) to stop replying.
//
// Thread: the GUI thread.
#include <QWidget>

class QLabel;
class QToolButton;

namespace parley::app {

class ReplyBar : public QWidget {
  Q_OBJECT
 public:
  explicit ReplyBar(QWidget* parent = nullptr);

  // `author_shown`: the name to show ("You" for our own message).
  void setTarget(qint64 message_id, const QString& author, const QString& author_shown, const QString& text);
  void clear();
  qint64 messageId() const { return message_id_; }
  QString quotedText() const;
  QToolButton* closeButton() const { return close_; }

 signals:
  void cancelled();

 protected:
  void paintEvent(QPaintEvent* e) override;
  void resizeEvent(QResizeEvent* e) override;

 private:
  void elide();

  QLabel* title_;
  QLabel* text_;
  QToolButton* close_;
  qint64 message_id_ = 0;
  QString author_;
  QString full_text_;
};

}  // namespace parley::app
