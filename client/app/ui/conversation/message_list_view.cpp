#include "conversation/message_list_view.hpp"

#include <QApplication>
#include <QClipboard>
#include <QContextMenuEvent>
#include <QMenu>
#include <QMouseEvent>
#include <QScrollBar>
#include <QTimer>
#include <algorithm>

#include "common/time_format.hpp"
#include "conversation/jump_button.hpp"
#include "conversation/message_delegate.hpp"
#include "messenger.hpp"
#include "models/message_model.hpp"

namespace parley::app {

using client::MessageModel;

MessageWindow::MessageWindow(MessageModel* model, QObject* parent)
    : QIdentityProxyModel(parent), model_(model) {
  setSourceModel(model);
}

bool MessageWindow::hasOlder() const { return model_->canFetchMore({}); }

bool MessageWindow::isGroup() const { return model_->peer().startsWith(QLatin1Char('#')); }

void MessageWindow::fetchOlder() {
  if (model_->canFetchMore({})) model_->fetchMore({});
}

Qt::ItemFlags MessageWindow::flags(const QModelIndex& index) const {
  return QIdentityProxyModel::flags(index) | Qt::ItemIsEditable;
}

MessageListView::MessageListView(QWidget* parent) : QListView(parent) {
  setObjectName(QStringLiteral("messages"));
  delegate_ = new MessageDelegate(this);
  setItemDelegate(delegate_);
  setVerticalScrollMode(QAbstractItemView::ScrollPerPixel);
  setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  setSelectionMode(QAbstractItemView::ExtendedSelection);
  setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
  setResizeMode(QListView::Adjust);
  setUniformItemSizes(false);
  setFrameShape(QFrame::NoFrame);
  setMouseTracking(true);
  verticalScrollBar()->setSingleStep(24);
  connect(verticalScrollBar(), &QScrollBar::rangeChanged, this, [this](int, int max) {
    if (at_bottom_) verticalScrollBar()->setValue(max);
  });
  // Over the viewport, not in it: the viewport's children move with what it scrolls.
  jump_ = new JumpButton(this);
  jump_->hide();
  connect(jump_, &QAbstractButton::clicked, this, &MessageListView::scrollToNewest);
}

void MessageListView::setWindow(MessageWindow* window) {
  window_ = window;
  delegate_->clearCache();
  delegate_->setUnreadMark(0, 0);
  setModel(window);
  at_bottom_ = true;
  scrollToNewest();
}

void MessageListView::scrollToNewest() {
  at_bottom_ = true;
  doItemsLayout();
  verticalScrollBar()->setValue(verticalScrollBar()->maximum());
  updateJump();
}

namespace {
bool from_others(const QModelIndex& i) {
  return !i.data(MessageModel::OutgoingRole).toBool() && i.data(MessageModel::TimerChangeRole).toLongLong() < 0;
}
}  // namespace

void MessageListView::markUnread(int count) {
  qint64 from = 0;
  if (count > 0 && window_) {
    const auto unread = [this](int r) {
      const auto i = model()->index(r, 0);
      return from_others(i) && i.data(MessageModel::StatusRole).toInt() == static_cast<int>(client::MessageStatus::Received);
    };
    const auto oldest_from_others = [this] {
      for (int r = 0; r < model()->rowCount(); ++r)
        if (from_others(model()->index(r, 0))) return r;
      return -1;
    };
    // Where what is unread begins: the oldest message from others not seen yet. It is looked
    // for by its status, not counted from the end: one can be numbered before messages read
    // already (a gap filled late, a group message that waited for its sender's key). Older
    // pages come in while the oldest loaded message from others is still unread, within
    // reason; past that the line goes on the oldest loaded.
    constexpr int kMaxRowsLoaded = 1000;
    for (;;) {
      const int oldest = oldest_from_others();
      const bool more_above = oldest < 0 || unread(oldest);
      if (!more_above || !window_->hasOlder() || model()->rowCount() >= kMaxRowsLoaded) break;
      window_->fetchOlder();
    }
    for (int r = 0; r < model()->rowCount() && from == 0; ++r)
      if (unread(r)) from = model()->index(r, 0).data(MessageModel::MessageIdRole).toLongLong();
  }
  delegate_->setUnreadMark(from, count);
  ++placed_;
  doItemsLayout();
  viewport()->update();
  if (from == 0) return;
  for (int r = model()->rowCount() - 1; r >= 0; --r)
    if (model()->index(r, 0).data(MessageModel::MessageIdRole).toLongLong() == from) {
      // The first unread at the top, unless they all fit below what came before.
      scrollTo(model()->index(r, 0), QAbstractItemView::PositionAtTop);
      break;
    }
  at_bottom_ = verticalScrollBar()->value() >= verticalScrollBar()->maximum() - 4;
  updateJump();
}

void MessageListView::reset() {
  QListView::reset();
  unseen_ = 0;
  updateJump();
}

void MessageListView::updateJump() {
  if (!jump_) return;  // still being built
  const bool show = !at_bottom_ && model() && model()->rowCount() > 0;
  if (!show) {
    unseen_ = 0;
    jump_->setCount(0);
  }
  if (show) {
    const QRect v = viewport()->geometry();
    jump_->move(v.right() - jump_->width() - 14, v.bottom() - jump_->height() - 10);
    jump_->raise();
  }
  jump_->setVisible(show);
}

void MessageListView::verticalScrollbarValueChanged(int value) {
  // Not the base class: it fetches more when the bottom is reached (see the header).
  at_bottom_ = value >= verticalScrollBar()->maximum() - 4;
  updateJump();
  if (value <= verticalScrollBar()->minimum() && window_ && window_->hasOlder() && !fetching_)
    QTimer::singleShot(0, this, &MessageListView::fetchOlder);
}

void MessageListView::fetchOlder() {
  if (!window_ || !window_->hasOlder() || fetching_) return;
  fetching_ = true;
  auto* bar = verticalScrollBar();
  const int from_bottom = bar->maximum() - bar->value();
  window_->fetchOlder();
  doItemsLayout();
  bar->setValue(bar->maximum() - from_bottom);
  fetching_ = false;
}

void MessageListView::rowsInserted(const QModelIndex& parent, int start, int end) {
  QListView::rowsInserted(parent, start, end);
  // Arrivals below what is on screen while the user reads further up (not an older page
  // coming in above, nor a hole filled above).
  if (!at_bottom_ && !fetching_ && jump_) {
    const auto last_shown = indexAt(viewport()->rect().bottomLeft() + QPoint(1, -1));
    if (!last_shown.isValid() || start > last_shown.row()) {
      for (int r = start; r <= end; ++r) unseen_ += from_others(model()->index(r, 0, parent)) ? 1 : 0;
      jump_->setCount(unseen_);
    }
  }
  if (at_bottom_) QTimer::singleShot(0, this, [this] {
      if (at_bottom_) verticalScrollBar()->setValue(verticalScrollBar()->maximum());
    });
}

void MessageListView::resizeEvent(QResizeEvent* e) {
  const bool bottom = at_bottom_;
  delegate_->clearCache();
  QListView::resizeEvent(e);
  updateJump();
  // Unless the view was put somewhere on purpose meanwhile (markUnread).
  if (bottom) QTimer::singleShot(0, this, [this, placed = placed_] {
      if (placed == placed_) scrollToNewest();
    });
}

QString MessageListView::selectedText() const {
  auto rows = selectionModel() ? selectionModel()->selectedRows() : QModelIndexList{};
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.row() < b.row(); });
  if (rows.size() == 1) return rows.first().data(MessageModel::BodyRole).toString();
  QStringList out;
  for (const auto& i : rows)
    if (i.data(MessageModel::TimerChangeRole).toLongLong() < 0)  // a timer line holds no words
      out << QStringLiteral("[%1] %2: %3")
               .arg(fullTime(i.data(MessageModel::TimeRole).toLongLong()),
                    i.data(MessageModel::SenderRole).toString(), i.data(MessageModel::BodyRole).toString());
  return out.join(QLatin1Char('\n'));
}

void MessageListView::keyPressEvent(QKeyEvent* e) {
  if (e->matches(QKeySequence::Copy) && state() != QAbstractItemView::EditingState) {
    const auto text = selectedText();
    if (!text.isEmpty()) QApplication::clipboard()->setText(text);
    return;
  }
  QListView::keyPressEvent(e);
}

void MessageListView::mousePressEvent(QMouseEvent* e) {
  pressed_file_ = QPersistentModelIndex();
  const auto index = indexAt(e->position().toPoint());
  if (e->button() == Qt::LeftButton && e->modifiers() == Qt::NoModifier &&
      delegate_->hitTest(visualRect(index), index, e->position().toPoint()) != MessageDelegate::Hit::None) {
    // A file or a link is a button: pressing it does not start a selection.
    pressed_file_ = index;
    const auto link = delegate_->linkAt(visualRect(index), index, e->position().toPoint());
    pressed_link_ = link.url.isEmpty() ? -1 : link.start;
    e->accept();
    return;
  }
  QListView::mousePressEvent(e);
}

void MessageListView::mouseReleaseEvent(QMouseEvent* e) {
  if (!pressed_file_.isValid()) return QListView::mouseReleaseEvent(e);
  const QModelIndex index = pressed_file_;
  pressed_file_ = QPersistentModelIndex();
  const auto hit = delegate_->hitTest(visualRect(index), index, e->position().toPoint());
  if (hit == MessageDelegate::Hit::Cancel) emit fileCancelRequested(index);
  if (hit == MessageDelegate::Hit::File) emit fileActivated(index);
  if (hit == MessageDelegate::Hit::Quote) emit quoteActivated(index);
  if (hit == MessageDelegate::Hit::Reaction)
    emit reactionClicked(index, delegate_->reactionAt(visualRect(index), index, e->position().toPoint()));
  if (hit == MessageDelegate::Hit::Link) {
    // Released over the link it was pressed on: a press that slid onto another opens nothing.
    const auto link = delegate_->linkAt(visualRect(index), index, e->position().toPoint());
    if (!link.url.isEmpty() && link.start == pressed_link_) emit linkActivated(link.url, link.deceptive);
  }
  e->accept();
}

void MessageListView::mouseDoubleClickEvent(QMouseEvent* e) {
  const auto index = indexAt(e->position().toPoint());
  // The first click already acted on the file; the second must not open the text editor.
  if (delegate_->hitTest(visualRect(index), index, e->position().toPoint()) != MessageDelegate::Hit::None) {
    e->accept();
    return;
  }
  QListView::mouseDoubleClickEvent(e);
}

void MessageListView::mouseMoveEvent(QMouseEvent* e) {
  const auto index = indexAt(e->position().toPoint());
  const bool over_file = e->buttons() == Qt::NoButton &&
                         delegate_->hitTest(visualRect(index), index, e->position().toPoint()) != MessageDelegate::Hit::None;
  viewport()->setCursor(over_file ? Qt::PointingHandCursor : Qt::ArrowCursor);
  if (!pressed_file_.isValid()) QListView::mouseMoveEvent(e);
}

// The link under the pointer, or else the message's links (so the keyboard's menu key
// reaches them too): open, or copy the address.
void MessageListView::addLinkActions(QMenu& menu, const QModelIndex& index, const QPoint& pos) {
  auto links = QList<Link>{delegate_->linkAt(visualRect(index), index, pos)};
  if (links[0].url.isEmpty()) links = MessageDelegate::linksOf(index);
  if (links.isEmpty()) return;
  const auto open = [this](const Link& link) { return [this, link] { emit linkActivated(link.url, link.deceptive); }; };
  const auto copy = [](const Link& link) {
    return [url = link.url] { QApplication::clipboard()->setText(url.toString()); };
  };
  if (links.size() == 1) {
    menu.addAction(tr("Open link"), this, open(links[0]))->setObjectName(QStringLiteral("openLink"));
    menu.addAction(tr("Copy link address"), this, copy(links[0]))->setObjectName(QStringLiteral("copyLink"));
  } else {
    auto* opens = menu.addMenu(tr("Open link"));
    auto* copies = menu.addMenu(tr("Copy link address"));
    constexpr int kListed = 10;
    for (const auto& link : links.first(std::min<qsizetype>(links.size(), kListed))) {
      // Where it really goes (one that may imitate another site, encoded as it is looked up);
      // '&' doubled, or the menu takes it for a shortcut's mark and drops it.
      auto label = fontMetrics().elidedText(shownAddress(link.url, link.deceptive), Qt::ElideMiddle, 360);
      label.replace(QLatin1Char('&'), QStringLiteral("&&"));
      opens->addAction(label, this, open(link));
      copies->addAction(label, this, copy(link));
    }
  }
  menu.addSeparator();
}

void MessageListView::contextMenuEvent(QContextMenuEvent* e) {
  const auto index = indexAt(e->pos());
  if (!index.isValid()) return;
  if (!selectionModel()->isSelected(index)) setCurrentIndex(index);
  QMenu menu(this);
  // Only a message the relay has numbered can be answered: the answer names it by its id,
  // and one of ours still queued may yet fail.
  // The row may move while the menu is open (a gap filled above it): the action follows it.
  // One its sender took back has nothing left to answer or react to.
  const bool unsent = index.data(MessageModel::UnsentRole).toBool();
  // A line saying the timer changed is nobody's words: only deleting it from here applies.
  const bool line = index.data(MessageModel::TimerChangeRole).toLongLong() >= 0;
  if (index.data(MessageModel::ConvSeqRole).toLongLong() >= 0 && !unsent && !line) {
    connect(menu.addAction(tr("Reply")), &QAction::triggered, this,
            [this, row = QPersistentModelIndex(index)] {
              if (row.isValid()) emit replyRequested(row);
            });
    auto* react = menu.addMenu(tr("React"));
    react->setObjectName(QStringLiteral("reactMenu"));
    for (const auto* emoji : {"👍", "❤️", "😂", "😮", "😢", "🙏"})
      connect(react->addAction(QString::fromUtf8(emoji)), &QAction::triggered, this,
              [this, row = QPersistentModelIndex(index), e = QString::fromUtf8(emoji)] {
                if (row.isValid()) emit reactRequested(row, e);
              });
    bool mine = false;
    for (const auto& r : index.data(MessageModel::ReactionsRole).toList()) mine = mine || r.toMap()["mine"].toBool();
    if (mine) {
      react->addSeparator();
      connect(react->addAction(tr("Remove my reaction")), &QAction::triggered, this,
              [this, row = QPersistentModelIndex(index)] {
                if (row.isValid()) emit reactRequested(row, QString());
              });
    }
    menu.addSeparator();
  }
  addLinkActions(menu, index, e->pos());
  if (!line && !unsent) {
    // The rows selected (the one clicked is among them), oldest first.
    auto* forward = menu.addAction(tr("Forward…"));
    forward->setObjectName(QStringLiteral("forward"));
    connect(forward, &QAction::triggered, this, [this] {
      QList<QPersistentModelIndex> rows;
      for (const auto& i : selectionModel()->selectedRows()) rows << i;
      std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.row() < b.row(); });
      emit forwardRequested(rows);
    });
  }
  if (!line) {
    auto* copy = menu.addAction(tr("Copy"));
    copy->setShortcut(QKeySequence::Copy);
    connect(copy, &QAction::triggered, this, [this] { QApplication::clipboard()->setText(selectedText()); });
    connect(menu.addAction(tr("Select text…")), &QAction::triggered, this, [this, index] { edit(index); });
  }
  if (index.data(MessageModel::HasAttachmentRole).toBool()) {
    menu.addSeparator();
    connect(menu.addAction(tr("Open")), &QAction::triggered, this, [this, index] { emit fileActivated(index); });
    connect(menu.addAction(tr("Save as…")), &QAction::triggered, this,
            [this, index] { emit fileSaveRequested(index); });
  }
  if (window_ && window_->isGroup() && index.data(MessageModel::OutgoingRole).toBool() && !line)
    connect(menu.addAction(tr("Receipts…")), &QAction::triggered, this,
            [this, index] { emit receiptsRequested(index); });
  if (const auto changes = changes_ ? changes_(index) : Changes{}; changes.edit || changes.remove) {
    menu.addSeparator();
    if (changes.edit)
      connect(menu.addAction(tr("Edit")), &QAction::triggered, this, [this, row = QPersistentModelIndex(index)] {
        if (row.isValid()) emit editRequested(row);
      });
    if (changes.remove)
      connect(menu.addAction(tr("Delete…")), &QAction::triggered, this, [this, row = QPersistentModelIndex(index)] {
        if (row.isValid()) emit deleteRequested(row);
      });
  }
  menu.addSeparator();
  auto* all = menu.addAction(tr("Select all"));
  all->setShortcut(QKeySequence::SelectAll);
  connect(all, &QAction::triggered, this, [this] { selectAll(); });
  menu.exec(e->globalPos());
}

}  // namespace parley::app
