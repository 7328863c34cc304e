#include "welcome/welcome_window.hpp"

#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QIcon>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

#include "parley/username.hpp"
#include "theme/theme.hpp"

namespace parley::app {
namespace {

// ws:// or wss:// with a host: anything else fails before a socket is opened.
QString relay_problem(const QString& text) {
  const QUrl url(text.trimmed(), QUrl::StrictMode);
  if (text.trimmed().isEmpty()) return WelcomeWindow::tr("Enter the relay's address, e.g. ws://127.0.0.1:7700");
  if (!url.isValid() || (url.scheme() != QLatin1String("ws") && url.scheme() != QLatin1String("wss")) ||
      url.host().isEmpty())
    return WelcomeWindow::tr("The relay address must look like ws://host:port or wss://host:port");
  return {};
}

}  // namespace

WelcomeWindow::WelcomeWindow(const QUrl& default_relay, const QStringList& profiles, QWidget* parent)
    : QWidget(parent) {
  setWindowTitle(tr("Welcome to Parley"));
  setObjectName(QStringLiteral("welcome"));
  const auto& t = Theme::current();

  auto* card = new QWidget(this);
  card->setObjectName(QStringLiteral("card"));
  card->setMaximumWidth(440);
  card->setStyleSheet(QStringLiteral("#card { background: %1; border: 1px solid %2; border-radius: 14px; }")
                          .arg(t.window.name(), t.separator.name()));

  auto* logo = new QLabel(card);
  logo->setPixmap(QIcon(QStringLiteral(":/parley/icons/parley.svg")).pixmap(64, 64));
  logo->setAlignment(Qt::AlignCenter);
  auto* title = new QLabel(tr("Welcome to Parley"), card);
  QFont tf = title->font();
  tf.setPointSizeF(tf.pointSizeF() * 1.6);
  tf.setBold(true);
  title->setFont(tf);
  title->setAlignment(Qt::AlignCenter);
  auto* subtitle = new QLabel(tr("End-to-end encrypted chat through a relay you run. "
                                 "Your keys and history stay on this computer."), card);
  subtitle->setWordWrap(true);
  subtitle->setAlignment(Qt::AlignCenter);
  subtitle->setStyleSheet(QStringLiteral("color: %1;").arg(t.muted.name()));

  relay_ = new QLineEdit(default_relay.toString(), card);
  relay_->setObjectName(QStringLiteral("relay"));
  username_ = new QLineEdit(card);
  username_->setObjectName(QStringLiteral("username"));
  username_->setPlaceholderText(tr("e.g. alice"));
  username_->setMaxLength(64);
  hint_ = new QLabel(tr("3–32 letters, digits, “.”, “_” or “-”, starting with a letter."), card);
  hint_->setWordWrap(true);
  hint_->setStyleSheet(QStringLiteral("color: %1; font-size: small;").arg(t.muted.name()));
  auto* form = new QFormLayout;
  form->setLabelAlignment(Qt::AlignRight);
  form->addRow(tr("Relay"), relay_);
  form->addRow(tr("Username"), username_);
  form->addRow(QString(), hint_);

  error_ = new QLabel(card);
  error_->setTextFormat(Qt::PlainText);
  error_->setObjectName(QStringLiteral("error"));
  error_->setWordWrap(true);
  error_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  error_->setStyleSheet(QStringLiteral("color: %1;").arg(t.error.name()));
  error_->hide();

  create_ = new QPushButton(tr("Create account"), card);
  create_->setObjectName(QStringLiteral("create"));
  create_->setDefault(true);
  create_->setMinimumHeight(34);
  create_->setStyleSheet(QStringLiteral("QPushButton { background: %1; color: %2; border: none; border-radius: 8px; "
                                        "font-weight: bold; } QPushButton:disabled { background: %3; }")
                             .arg(t.accent.name(), t.accentText.name(), t.separator.name()));

  auto* existing = new QLabel(tr("Or open a profile on this computer"), card);
  existing->setStyleSheet(QStringLiteral("color: %1; margin-top: 8px;").arg(t.muted.name()));
  profiles_ = new QListWidget(card);
  profiles_->setObjectName(QStringLiteral("profiles"));
  profiles_->addItems(profiles);
  profiles_->setMaximumHeight(96);
  open_ = new QPushButton(tr("Open"), card);
  auto* browse = new QPushButton(tr("Open folder…"), card);
  auto* open_row = new QHBoxLayout;
  open_row->addStretch();
  open_row->addWidget(browse);
  open_row->addWidget(open_);
  const bool have_profiles = !profiles.isEmpty();
  profiles_->setVisible(have_profiles);
  open_->setVisible(have_profiles);
  if (have_profiles) profiles_->setCurrentRow(0);

  auto* v = new QVBoxLayout(card);
  v->setContentsMargins(32, 28, 32, 24);
  v->setSpacing(10);
  v->addWidget(logo);
  v->addWidget(title);
  v->addWidget(subtitle);
  v->addSpacing(8);
  v->addLayout(form);
  v->addWidget(error_);
  v->addWidget(create_);
  v->addWidget(existing);
  v->addWidget(profiles_);
  v->addLayout(open_row);

  auto* outer = new QVBoxLayout(this);
  outer->addStretch();
  auto* row = new QHBoxLayout;
  row->addStretch();
  row->addWidget(card, 1);
  row->addStretch();
  outer->addLayout(row);
  outer->addStretch();
  resize(560, 620);

  connect(create_, &QPushButton::clicked, this, &WelcomeWindow::submit);
  connect(username_, &QLineEdit::returnPressed, this, &WelcomeWindow::submit);
  connect(relay_, &QLineEdit::returnPressed, this, &WelcomeWindow::submit);
  connect(username_, &QLineEdit::textChanged, this, &WelcomeWindow::validate);
  connect(relay_, &QLineEdit::textChanged, this, &WelcomeWindow::validate);
  connect(open_, &QPushButton::clicked, this, [this] {
    if (auto* item = profiles_->currentItem()) emit openRequested(item->text());
  });
  connect(profiles_, &QListWidget::itemActivated, this,
          [this](QListWidgetItem* item) { emit openRequested(item->text()); });
  connect(browse, &QPushButton::clicked, this, [this] {
    const auto dir = QFileDialog::getExistingDirectory(this, tr("Open a Parley profile folder"));
    if (!dir.isEmpty()) emit openDirectoryRequested(dir);
  });
  username_->setFocus();
}

void WelcomeWindow::setUsername(const QString& name) { username_->setText(name); }

void WelcomeWindow::setBusy(bool busy) {
  busy_ = busy;
  create_->setEnabled(!busy);
  relay_->setEnabled(!busy);
  username_->setEnabled(!busy);
  create_->setText(busy ? tr("Creating your account…") : tr("Create account"));
  if (busy) error_->hide();
}

void WelcomeWindow::showError(const QString& text) {
  error_->setText(text);
  error_->setVisible(!text.isEmpty());
}

QString WelcomeWindow::errorText() const { return error_->isVisible() ? error_->text() : QString(); }

void WelcomeWindow::validate() {
  // Only clear an error the user is fixing; problems are reported on submit, not mid-typing.
  if (error_->isVisible()) showError({});
}

void WelcomeWindow::submit() {
  if (busy_) return;
  if (const auto problem = relay_problem(relay_->text()); !problem.isEmpty()) {
    showError(problem);
    relay_->setFocus();
    return;
  }
  std::string why;
  const auto name = username_->text().trimmed();
  if (name.isEmpty()) {
    showError(tr("Choose a username: it is how others start a chat with you."));
    username_->setFocus();
    return;
  }
  if (parley::fold_username(name.toStdString(), &why).empty()) {
    showError(tr("“%1” can't be used: %2").arg(name, QString::fromStdString(why)));
    username_->setFocus();
    return;
  }
  emit createRequested(QUrl(relay_->text().trimmed()), name);
}

}  // namespace parley::app
