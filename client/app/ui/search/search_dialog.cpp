#include "search/search_dialog.hpp"

#include <QAbstractTextDocumentLayout>
#include <QDateTime>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPainter>
#include <QStyledItemDelegate>
#include <QTextDocument>
#include <QVBoxLayout>

#include "common/plural.hpp"
#include "common/time_format.hpp"
#include "main/main_window.hpp"
#include "messenger.hpp"
#include "theme/theme.hpp"

namespace parley::app {
namespace {

constexpr int kMaxResults = 200;
constexpr int kPeerRole = Qt::UserRole + 1;
constexpr int kIdRole = Qt::UserRole + 2;
constexpr int kHtmlRole = Qt::UserRole + 3;

// The snippet's match markers become <b>, after the text itself is escaped.
QString snippet_html(const QString& snippet) {
  QString html = snippet.toHtmlEscaped();
  html.replace(client::kSearchMatchStart, QStringLiteral("<b>"));
  html.replace(client::kSearchMatchEnd, QStringLiteral("</b>"));
  return html;
}

class ResultDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  void paint(QPainter* p, const QStyleOptionViewItem& option, const QModelIndex& index) const override {
    QStyleOptionViewItem o = option;
    initStyleOption(&o, index);
    o.text.clear();
    o.widget->style()->drawControl(QStyle::CE_ItemViewItem, &o, p, o.widget);
    QTextDocument doc;
    doc.setDefaultFont(option.font);
    doc.setHtml(index.data(kHtmlRole).toString());
    doc.setTextWidth(option.rect.width() - 16);
    p->save();
    p->translate(option.rect.topLeft() + QPoint(8, 6));
    QAbstractTextDocumentLayout::PaintContext ctx;
    ctx.palette.setColor(QPalette::Text, (option.state & QStyle::State_Selected)
                                             ? option.palette.color(QPalette::HighlightedText)
                                             : option.palette.color(QPalette::Text));
    doc.documentLayout()->draw(p, ctx);
    p->restore();
  }
  QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex&) const override {
    return {option.rect.width(), QFontMetrics(option.font).lineSpacing() * 2 + 14};
  }
};

}  // namespace

SearchDialog::SearchDialog(client::Messenger* messenger, QWidget* parent)
    : QDialog(parent), messenger_(messenger) {
  setWindowTitle(tr("Search messages"));
  setObjectName(QStringLiteral("searchDialog"));
  query_ = new QLineEdit(this);
  query_->setObjectName(QStringLiteral("searchQuery"));
  query_->setPlaceholderText(tr("Search all conversations"));
  query_->setClearButtonEnabled(true);
  query_->addAction(QIcon(QStringLiteral(":/parley/icons/search.svg")), QLineEdit::LeadingPosition);
  results_ = new QListWidget(this);
  results_->setObjectName(QStringLiteral("searchResults"));
  results_->setItemDelegate(new ResultDelegate(results_));
  results_->setUniformItemSizes(true);
  summary_ = new QLabel(this);
  summary_->setTextFormat(Qt::PlainText);
  summary_->setStyleSheet(QStringLiteral("color: %1;").arg(Theme::current().muted.name()));
  auto* v = new QVBoxLayout(this);
  v->addWidget(query_);
  v->addWidget(summary_);
  v->addWidget(results_, 1);
  resize(520, 560);

  debounce_.setSingleShot(true);
  debounce_.setInterval(150);
  connect(&debounce_, &QTimer::timeout, this, &SearchDialog::runSearch);
  connect(query_, &QLineEdit::textChanged, this, [this] { debounce_.start(); });
  connect(query_, &QLineEdit::returnPressed, this, [this] {
    if (debounce_.isActive()) runSearch();
    if (!results_->currentItem() && results_->count() > 0) results_->setCurrentRow(0);
    choose();
  });
  connect(results_, &QListWidget::itemActivated, this, &SearchDialog::choose);
  query_->installEventFilter(this);
}

void SearchDialog::runSearch() {
  debounce_.stop();
  results_->clear();
  const auto text = query_->text().trimmed();
  if (text.isEmpty()) {
    summary_->clear();
    return;
  }
  QString error;
  const auto hits = messenger_->search(text, kMaxResults, &error);
  if (!error.isEmpty()) {
    summary_->setText(error);
    return;
  }
  summary_->setText(hits.isEmpty() ? tr("No messages match “%1”.").arg(text)
                                   : counted(hits.size(), tr("message"), tr("messages")) +
                                         (hits.size() == kMaxResults ? tr(" (the newest %1)").arg(kMaxResults) : QString()));
  const auto now = QDateTime::currentDateTime();
  for (const auto& h : hits) {
    auto* item = new QListWidgetItem(results_);
    const auto where = MainWindow::titleFor(messenger_, h.peer);
    const auto who = h.peer.startsWith(QLatin1Char('#')) ? h.sender + QStringLiteral(" in ") + where : where;
    item->setData(kHtmlRole, QStringLiteral("<b>%1</b> <span style='color:%2'>· %3</span><br>%4")
                                 .arg(who.toHtmlEscaped(), Theme::current().muted.name(),
                                      listTime(h.timeMs, now).toHtmlEscaped(), snippet_html(h.snippet)));
    item->setData(kPeerRole, h.peer);
    item->setData(kIdRole, h.messageId);
    item->setToolTip(fullTime(h.timeMs));
  }
  if (results_->count() > 0) results_->setCurrentRow(0);
}

bool SearchDialog::eventFilter(QObject* watched, QEvent* e) {
  if (watched == query_ && e->type() == QEvent::KeyPress) {
    const int key = static_cast<QKeyEvent*>(e)->key();
    if ((key == Qt::Key_Down || key == Qt::Key_Up) && results_->count() > 0) {
      const int row = std::clamp(results_->currentRow() + (key == Qt::Key_Down ? 1 : -1), 0, results_->count() - 1);
      results_->setCurrentRow(row);
      return true;
    }
  }
  return QDialog::eventFilter(watched, e);
}

void SearchDialog::choose() {
  auto* item = results_->currentItem();
  if (!item) return;
  emit messageChosen(item->data(kPeerRole).toString(), item->data(kIdRole).toLongLong());
  accept();
}

}  // namespace parley::app
