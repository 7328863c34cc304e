#pragma once
// The file part of a message bubble, painted (the conversation view has no widget per
// message): an image's thumbnail, scaled to keep its shape, or a file row with a round
// action button, the name and the size. While the file moves, a progress ring with a cancel
// cross takes the button's place (over the middle of an image).
#include <QPixmap>
#include <QRect>
#include <QString>

#include "media/transfer_tracker.hpp"
#include "messenger.hpp"

class QFont;
class QPainter;

namespace parley::app {

// "840 B", "12.5 KB", "3.1 MB", "1.2 GB" (decimal units, as file managers show them).
QString sizeText(qint64 bytes);

// Shown as a picture: the sender made a thumbnail, so it is an image we could read.
bool isImage(const client::AttachmentInfo& a);

// The block's size when a bubble's content may be `max_width` wide.
QSize attachmentSize(const client::AttachmentInfo& a, int max_width, const QFont& font);

// The round button (files) or the middle of the image: where a click cancels a transfer.
QRect actionRect(const QRect& block, bool image);

struct AttachmentLook {
  bool outgoing = false;
  bool local = false;  // the file is on this device (ours, or downloaded)
  const TransferTracker::Transfer* transfer = nullptr;  // a download in progress
  QPixmap thumbnail;   // images
};

void paintAttachment(QPainter& p, const QRect& block, const client::AttachmentInfo& a,
                     const AttachmentLook& look, const QFont& font);

}  // namespace parley::app
