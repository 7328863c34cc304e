#pragma once
// The round button over the bottom of a conversation scrolled up from its newest message: a
// click goes back down to it; a badge counts the messages that came in meanwhile.
//
// Thread: the GUI thread.
#include <QAbstractButton>

namespace parley::app {

class JumpButton : public QAbstractButton {
  Q_OBJECT
 public:
  explicit JumpButton(QWidget* parent = nullptr);
  // Messages from others that arrived below what is on screen; 0 shows no badge.
  void setCount(int count);
  int count() const { return count_; }
  QSize sizeHint() const override { return {kSize, kSize + kBadgeRise}; }

 protected:
  void paintEvent(QPaintEvent* e) override;

 private:
  static constexpr int kSize = 40;
  static constexpr int kBadgeRise = 10;  // the badge sits on the circle's top edge
  int count_ = 0;
};

}  // namespace parley::app
