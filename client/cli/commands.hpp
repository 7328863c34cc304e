#pragma once
#include <string>
#include <vector>

namespace parley::cli {

// Exit codes, for scripts.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNameTaken = 3;
inline constexpr int kExitUnreachable = 4;
inline constexpr int kExitUnknownContact = 5;
inline constexpr int kExitIdentityChanged = 6;
inline constexpr int kExitQueued = 7;  // not acknowledged in time; stays in the outbox
inline constexpr int kExitLocked = 8;  // the profile's passphrase was not given, or was wrong
// Done, but a page of the profile's store did not open on the way (said on stderr): what was
// printed may be incomplete. Anything the command changed was changed.
inline constexpr int kExitDamaged = 9;
inline constexpr int kKeepRunning = -1;

// The exit code for a run that ended with `code`: kExitDamaged instead of kExitOk when the
// profile's store showed damage, which is said on stderr by now if it was not already.
int finish(int code);

struct Options {
  std::string command;
  std::string profile;
  std::string server;
  std::string name;
  std::string text;
  std::string path;                // send-file: the file; fetch: the directory
  std::string msg_id;              // fetch: hex client_msg_id
  std::string reply_to;            // send, group send: hex client_msg_id of the message answered
  std::string proxy;
  std::vector<std::string> subscribe;
  std::string group_action;        // group: create, add, remove, leave, send, members, rename
  std::string description;         // group rename: --description
  bool has_description = false;    // --description given (it may be empty)
  bool clear = false;              // group avatar, mark-unread: --clear
  bool for_everyone = false;       // delete: --for-everyone
  std::vector<std::string> args;   // group: the action's arguments
  int timeout_s = 0;
  int count = 0;
  bool mark_read = false;
  std::string accept;              // verify --accept: the safety number the user compared
  long long forget = 0;            // queued --forget: a queued file's id
  std::string duration;            // mute --for, disappear --after: e.g. 8h
  bool has_duration = false;       // --for / --after given (mute: else until unmuted)
  bool off = false;                // disappear --off
  std::string passphrase_file;     // --passphrase-file: the profile's passphrase, first line
  std::string passphrase_action;   // passphrase: set or remove
  std::string new_passphrase_file; // passphrase set --new-passphrase-file
};

// Starts the command; returns an exit code, or kKeepRunning when it finishes later by
// calling QCoreApplication::exit(code).
int run(const Options& o);

}  // namespace parley::cli
