// Opening inputs without surprises. Every file Cook reads (checkpoints, configs, token shards,
// tokenizer files, masks) is opened here: a path that names a FIFO, a device or a socket is refused
// before open() could block on it (a FIFO with no writer blocks open() for ever) or read an
// endless stream, and a folder is refused with a message that says so.
#pragma once
#include <string>

namespace cook {

// Opens `path` read-only (O_CLOEXEC) and returns the descriptor, which the caller closes. Throws
// cook::Error naming the path when it is missing, unreadable or not a regular file.
int open_input_file(const std::string& path);
// The whole of a regular file, with the same checks.
std::string read_input_file(const std::string& path);
// The same checks without keeping the file open (for readers that open it themselves).
void check_input_file(const std::string& path);
// "a FIFO (named pipe)", "a folder", "a character device", ... for a stat() st_mode.
std::string file_type_description(unsigned mode);

}  // namespace cook
