#pragma once
// A picture at full size: scaled down to fit the window (never up past 100 %), on a dark
// backdrop, with "Save as…" and "Open with…" (the system's viewer). Esc closes it.
//
// Thread: the GUI thread.
#include <QDialog>
#include <QImage>

class QLabel;

namespace parley::app {

class ImageViewer : public QDialog {
  Q_OBJECT
 public:
  // `path`: the decrypted file on this device; `title`: the name the sender gave it.
  ImageViewer(const QString& path, const QString& title, QWidget* parent = nullptr);

  bool loaded() const { return !image_.isNull(); }
  QString error() const { return error_; }

 signals:
  void saveRequested();
  void openRequested();

 protected:
  void resizeEvent(QResizeEvent* e) override;

 private:
  void rescale();

  QImage image_;
  QString error_;
  QLabel* picture_;
};

}  // namespace parley::app
