#pragma once
// Above the message field while the next message answers an earlier one (whom and what it
// answers, in the quote's colours) or while one of ours is being edited (its words as they
// were), with a cross (or Escape in the field) to stop.
//
// Thread: the GUI thread.
#include <QWidget>

class QLabel;
class QToolButton;

namespace parley::app {

// The message the next one answers, or the one being edited.
struct ReplyTarget {
  qint64 messageId = 0;  // its local id; 0: none
  QString author;
  QString authorShown;   // the name to show ("yourself" for our own message)
  QString text;
  bool editing = false;  // ours, being edited: the field holds its words
  bool file = false;     // a file: its words are a caption, which may be left empty
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
  QColor accent() const;  // the bar's and title's colour

  QLabel* title_;
  QLabel* text_;
  QToolButton* close_;
  ReplyTarget target_;
};

}  // namespace parley::app
