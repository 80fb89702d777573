// A fuzz input that stands for several files (a token-data folder, a tokenizer folder, a
// checkpoint with its config.json): one text-delimited byte string, so that the fuzzer mutates
// every file and the names that say which reader runs.
//
//   @@file manifest.json\n<its bytes>\n@@file train.index\n<its bytes>...
//
// A file's bytes run to the next "\n@@file " or the end. A record whose name is empty, too long or
// not made of [A-Za-z0-9._-] (no "/", so nothing is written outside the folder) is dropped, and so
// is anything before the first record. Header-only: the fuzz targets (clang, sanitizers) and the
// seed writers (the normal build) both include it.
#pragma once
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <string_view>

namespace cook::fuzz {

inline constexpr std::string_view kRecordMark = "@@file ";

using Bundle = std::map<std::string, std::string>;  // file name → bytes

inline bool valid_file_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

inline std::string pack_bundle(const Bundle& files) {
  std::string out;
  for (const auto& [name, bytes] : files) {
    if (!out.empty()) out += '\n';
    out.append(kRecordMark).append(name).append("\n").append(bytes);
  }
  return out;
}

// The files of `input`; a name given twice keeps its last bytes.
inline Bundle unpack_bundle(std::string_view input) {
  Bundle files;
  std::string_view rest = input;
  if (rest.substr(0, kRecordMark.size()) != kRecordMark) {
    const size_t first = rest.find(std::string("\n").append(kRecordMark));
    if (first == std::string_view::npos) return files;
    rest.remove_prefix(first + 1);
  }
  while (!rest.empty()) {
    rest.remove_prefix(kRecordMark.size());
    const size_t name_end = rest.find('\n');
    const std::string_view name = rest.substr(0, name_end);
    if (name_end == std::string_view::npos) {
      rest = {};
      if (valid_file_name(name)) files[std::string(name)] = "";
      break;
    }
    std::string_view body = rest.substr(name_end + 1);
    const size_t next = body.find(std::string("\n").append(kRecordMark));
    const std::string_view bytes = body.substr(0, next);
    if (valid_file_name(name)) files[std::string(name)] = std::string(bytes);
    rest = next == std::string_view::npos ? std::string_view{} : body.substr(next + 1);
  }
  return files;
}

// A folder of this process's own, emptied and refilled for each input (on /dev/shm when there is
// one: fuzzing writes files thousands of times a second).
class ScratchFolder {
 public:
  ScratchFolder() {
    const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    std::string templ = std::string(base) + "/cook-fuzz-XXXXXX";
    if (!mkdtemp(templ.data())) {
      perror("cook fuzz: mkdtemp");
      abort();
    }
    path_ = templ;
  }
  ~ScratchFolder() {
    clear();
    rmdir(path_.c_str());
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Empties the folder and writes the bundle's files into it.
  void fill(const Bundle& files) {
    clear();
    for (const auto& [name, bytes] : files) {
      FILE* f = fopen(file(name).c_str(), "wb");
      if (!f || fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || fclose(f) != 0) {
        perror("cook fuzz: writing a scratch file");
        abort();
      }
    }
  }

 private:
  void clear() {
    DIR* d = opendir(path_.c_str());
    if (!d) return;
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") unlink(file(name).c_str());
    }
    closedir(d);
  }

  std::string path_;
};

// Reads the files of a folder the seed writers filled (plain files only) into a bundle.
inline Bundle bundle_of_folder(const std::string& folder) {
  Bundle files;
  DIR* d = opendir(folder.c_str());
  if (!d) return files;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    struct stat st {};
    if (!valid_file_name(name) || stat((folder + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    FILE* f = fopen((folder + "/" + name).c_str(), "rb");
    if (!f) continue;
    std::string bytes;
    char buf[1 << 14];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
    fclose(f);
    files[name] = std::move(bytes);
  }
  closedir(d);
  return files;
}

// Writes one seed: the bundle packed into the file `path`. False when it cannot be written.
inline bool write_seed(const std::string& path, const Bundle& files) {
  const std::string bytes = pack_bundle(files);
  FILE* f = fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return fclose(f) == 0 && ok;
}

}  // namespace cook::fuzz
