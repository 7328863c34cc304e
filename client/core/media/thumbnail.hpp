#pragma once
// A small preview of an image attachment, sent inline (inside the end-to-end encryption) so
// the recipient sees it before downloading. Uses QtGui's image readers (no display needed):
// the one reason client core links Qt Gui. Never Widgets.
//
// Thread: any (QImage is reentrant); meant for the encrypting worker thread.
#include <QByteArray>
#include <QString>

namespace parley::client::media {

inline constexpr int kThumbnailMaxSide = 320;           // pixels
inline constexpr qsizetype kThumbnailMaxBytes = 16 * 1024;

struct ImagePreview {
  int width = 0;       // of the original image; 0 when it is not a readable image
  int height = 0;
  QByteArray jpeg;     // at most kThumbnailMaxBytes; empty if none could be made
};

ImagePreview make_preview(const QString& path);

}  // namespace parley::client::media
