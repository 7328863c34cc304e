#pragma once
// Above the message field while the next message answers an earlier one: whom and what it
// answers, in the quote's colours, and a cross (or Escape in the field) to stop replying.
//
// Thread: the GUI thread.
#include <QWidget>

class QLabel;
class QToolButton;

namespace parley::app {

// The message the next one answers.
struct ReplyTarget {
  qint64 messageId = 0;  // its local id; 0: no reply
  QString author;
  QString authorShown;   // the name to show ("yourself" for our own message)
  QString text;
};

class ReplyBar : public QWidget {
  Q_OBJECT
 public:
  explicit ReplyBar(QWidget* parent = nullptr);

  void setTarget(const ReplyTarget& target);
  void clear();
  const ReplyTarget& target() const { return target_; }
  qint64 messageId() const { return target_.messageId; }
  QString quotedText() const { return target_.text; }
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
  ReplyTarget target_;
};

}  // namespace parley::app
