// parley: the desktop app. Everything lives in parley_client_ui; this only reads the command
// line and hands over to the AppController.
#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QIcon>
#include <QSettings>
#include <QTimer>
#include <cstdio>

#include "app_controller.hpp"
#include "main/main_window.hpp"
#include "startup_probe.hpp"
#include "theme/theme.hpp"

int main(int argc, char** argv) {
  QElapsedTimer since_start;
  since_start.start();
  QApplication::setAttribute(Qt::AA_DontShowIconsInMenus, false);
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("parley"));
  QApplication::setApplicationDisplayName(QStringLiteral("Parley"));
  QApplication::setApplicationVersion(QStringLiteral(PARLEY_VERSION));
  QApplication::setDesktopFileName(QStringLiteral("parley"));

  QCommandLineParser cli;
  cli.setApplicationDescription(QStringLiteral("Parley: end-to-end encrypted messenger"));
  cli.addHelpOption();
  cli.addVersionOption();
  QCommandLineOption profile(QStringLiteral("profile"),
                             QStringLiteral("Profile to open or create: a name (kept under %1) or a folder path.")
                                 .arg(parley::app::AppController::defaultProfilesRoot()),
                             QStringLiteral("name|dir"));
  QCommandLineOption relay(QStringLiteral("relay"), QStringLiteral("Relay the welcome screen suggests."),
                           QStringLiteral("url"), QStringLiteral("ws://127.0.0.1:7700"));
  QCommandLineOption theme(QStringLiteral("theme"), QStringLiteral("system, light or dark (default: the saved choice)."),
                           QStringLiteral("mode"));
  cli.addOptions({profile, relay, theme});
  cli.process(app);

  const auto mode = cli.isSet(theme) ? cli.value(theme)
                                     : QSettings().value(QStringLiteral("theme"), QStringLiteral("system")).toString();
  parley::app::Theme::apply(parley::app::Theme::modeFromString(mode));
  QApplication::setWindowIcon(QIcon(QStringLiteral(":/parley/icons/parley.svg")));

  parley::app::AppController controller({cli.value(profile), QUrl(cli.value(relay)), {}});
  parley::app::StartupProbe probe(&controller, since_start);
  controller.start();
  return app.exec();
}
