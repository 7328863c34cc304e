#pragma once
// SQL that takes a relay.db made by this relay back to an earlier schema step, so a test can
// check the migrations after it on a file like the ones older relays left. Each undoes one
// step's DDL; the test empties or rewrites the rows the older schema could not hold, and sets
// PRAGMA user_version itself.

// Step 9: the fan-out cursor's range_end.
inline constexpr const char* kUndoStep9 = "ALTER TABLE group_fanout DROP COLUMN range_end;";
// Step 10: range rows in the inbox.
inline constexpr const char* kUndoStep10 =
    "ALTER TABLE inbox DROP COLUMN span; ALTER TABLE inbox DROP COLUMN conv_last;";
// Step 11: each sender's weight in the group logs, and the triggers keeping it.
inline constexpr const char* kUndoStep11 =
    "DROP TRIGGER group_log_weighs_in; DROP TRIGGER group_log_weighs_out;"
    "DROP TABLE group_sender_bytes;";
// Step 12: range rows charged to senders, and the senders' pending counts.
inline constexpr const char* kUndoStep12 =
    "UPDATE group_sender_bytes SET bytes = bytes - 128 * (SELECT COUNT(*) FROM inbox i"
    " WHERE i.conv_last IS NOT NULL AND i.sender_pk = group_sender_bytes.sender_pk);"
    "UPDATE inbox SET sender_pk = 0 WHERE conv_last IS NOT NULL;"
    "ALTER TABLE group_sender_bytes DROP COLUMN pending;";
